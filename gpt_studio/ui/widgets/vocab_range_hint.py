"""The line under the tokenizer settings that says which vocab sizes the corpus can fill, before training.

SentencePiece itself is asked (:mod:`gpt_studio.engine.vocab_range`) in a short job whenever the corpus or the
settings that move the limits change (model type, coverage, byte fallback); the vocab size only re-judges the
known range. A size outside it is named in red with a link that sets the nearest size that trains.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QTimer, Signal, Slot
from PySide6.QtWidgets import QWidget

from gpt_studio.engine.project import Project
from gpt_studio.engine.tokenizer import TokenizerSettings
from gpt_studio.engine.vocab_range import VocabRange, vocab_range
from gpt_studio.ui.widgets.field_editor import ERROR_STYLE
from gpt_studio.ui.widgets.wrap_label import WrapLabel
from gpt_studio.workers import Job

CHECK_DEBOUNCE_MS = 300  # settings changed in quick succession (spinning the coverage) start one check
CHECKING = "Checking which vocab sizes this corpus can fill…"


class VocabRangeHint(WrapLabel):
    """Shows the feasible vocab range for the project's corpus and flags a size outside it.

    ``use_size(n)`` asks for the vocab size to be set to ``n`` (the link in the warning); ``found(range)`` comes
    when a check ends.
    """

    use_size = Signal(int)
    found = Signal(object)  # a VocabRange, when a check ends

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("", parent)
        self.range: VocabRange | None = None
        self.job: Job | None = None
        self._project: Project | None = None
        self._settings: TokenizerSettings | None = None
        self._vocab_size = 0
        self._failure = ""
        self._debounce = QTimer(self, singleShot=True, interval=CHECK_DEBOUNCE_MS)
        self._debounce.timeout.connect(self._start)
        self.linkActivated.connect(lambda href: self.use_size.emit(int(href)))
        self.setToolTip("Asked of SentencePiece on the corpus: a larger size has nothing left to merge, a "
                        "smaller one cannot hold the characters the coverage keeps.")

    @property
    def is_checking(self) -> bool:
        """Whether a check is waiting or under way."""
        return self._debounce.isActive() or self.job is not None

    def check(self, project: Project | None, model_type: str, coverage: float, byte_fallback: bool) -> None:
        """Find the range for these settings (soon, off the GUI thread); forget it when there is no corpus."""
        self.cancel()
        self.range, self._failure, self._project = None, "", project
        if project is None:
            self.clear()
            return
        self._settings = TokenizerSettings(model_type=model_type, vocab_size=0 if model_type == "char" else 1000,
                                           character_coverage=coverage, byte_fallback=byte_fallback)
        self._render()
        self._debounce.start()

    def judge(self, vocab_size: int) -> None:
        """Re-judge ``vocab_size`` against the known range (cheap: no new check)."""
        self._vocab_size = vocab_size
        self._render()

    def cancel(self) -> None:
        """Stop a pending or running check; its result is dropped."""
        self._debounce.stop()
        if self.job is not None:
            self.job.cancel()
            self.job = None
            self.clear()

    def _start(self) -> None:
        project, settings = self._project, self._settings
        if project is None or settings is None:
            return
        job = Job(lambda reporter: vocab_range(project, settings, reporter), "checking the vocab sizes")
        job.quiet = True  # type: ignore[attr-defined]  # reads only, ends within seconds: quitting need not ask
        # bound slots, not lambdas: Qt drops the connection if this label is deleted before the job answers
        job.succeeded.connect(self._on_found)
        job.failed.connect(self._on_failed)
        self.job = job
        job.start()

    @Slot(object)
    def _on_found(self, found: Any) -> None:
        if self.sender() is self.job:  # else a later check replaced this one: its answer is for other settings
            self.job, self.range = None, found
            self._render()
            self.found.emit(found)

    @Slot(str, str)
    def _on_failed(self, reason: str, _details: str) -> None:
        if self.sender() is self.job:
            self.job, self._failure = None, reason
            self._render()

    def _render(self) -> None:
        if self._failure:
            self.setStyleSheet("color: palette(placeholder-text);")
            self.setText(f"Could not check the feasible vocab sizes: {self._failure}")
            return
        if self.range is None:
            self.setStyleSheet("color: palette(placeholder-text);")
            self.setText(CHECKING if self._project is not None else "")
            return
        problem = self.range.problem(self._vocab_size)
        if problem is None:
            self.setStyleSheet("color: palette(placeholder-text);")
            self.setText(self.range.describe())
            return
        nearest = self.range.minimum if self._vocab_size < self.range.minimum else self.range.maximum
        self.setStyleSheet(ERROR_STYLE)
        self.setText(f"{problem} <a href='{nearest}'>Use {nearest:,}</a>")
