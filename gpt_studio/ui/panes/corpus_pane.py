"""The Corpus & Tokenizer pane: corpus import on the left, tokenizer and token shards on the right.

It subscribes to :class:`AppState` (project opened, a part rewritten, the sample corpus requested) and tells
it when it rewrote the corpus, the tokenizer or the shards. One job runs at a time in the pane, since every
stage reads the files the one before it writes. Errors go to the app's error dialog through the module-level
:func:`show_error`, which tests replace to capture them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFileDialog,
    QMessageBox,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from gpt_studio.engine.errors import StudioError
from gpt_studio.engine.project import Project, init_project
from gpt_studio.engine.samples import prepare_sample_project
from gpt_studio.ui.state import AppState
from gpt_studio.ui.widgets.corpus_section import CorpusSection
from gpt_studio.ui.widgets.tokenizer_section import TokenizerSection
from gpt_studio.ui.widgets.wording import plural
from gpt_studio.ui.widgets.wrap_label import WrapLabel

SAMPLE_FOLDER = "python-docs-sample"  # made inside a chosen folder that already holds other files


def show_error(parent: QWidget | None, reason: str, details: str = "") -> None:
    """Show an error: the app's error dialog when it exists, else a plain message box (non-blocking)."""
    try:
        from gpt_studio.ui.error_dialog import show_error as app_show_error
    except ImportError:
        box = QMessageBox(QMessageBox.Icon.Critical, "GPT Studio", reason, QMessageBox.StandardButton.Ok, parent)
        if details:
            box.setDetailedText(details)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        return
    app_show_error(parent, reason, details)


def confirm(parent: QWidget | None, question: str, accept_text: str) -> bool:
    """Ask a yes/no question (the app's dialog when it exists)."""
    try:
        from gpt_studio.ui.error_dialog import confirm as app_confirm
    except ImportError:
        answer = QMessageBox.question(parent, "GPT Studio", question)
        return answer == QMessageBox.StandardButton.Yes
    return app_confirm(parent, question, accept_text)


class CorpusPane(QWidget):
    """Corpus import, tokenizer training and encoding for the open project."""

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self._notifying = False
        self._running = 0
        self.corpus = CorpusSection()
        self.tokenizer = TokenizerSection()
        self._build()
        self.corpus.imported.connect(self._on_imported)
        self.tokenizer.trained.connect(self._on_trained)
        self.tokenizer.encoded.connect(lambda _meta: self._notify("data"))
        self.corpus.sample_clicked.connect(self._on_sample_requested)
        for section in (self.corpus, self.tokenizer):
            section.error_raised.connect(self._show_error)
            section.running_changed.connect(self._on_running_changed)
        state.project_changed.connect(self.set_project)
        state.part_changed.connect(self._on_part_changed)
        sample_requested = getattr(state, "sample_requested", None)
        if sample_requested is not None:
            sample_requested.connect(self._on_sample_requested)
        self.set_project(state.project)

    def shutdown(self) -> None:
        """Stop the vocab-size check (the main window calls this before it waits for jobs and quits)."""
        self.tokenizer.range_hint.cancel()

    def _build(self) -> None:
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.corpus)
        self.splitter.addWidget(self.tokenizer)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([1, 1])  # halves whatever the width (relative weights), not the size hints
        self.splitter.setChildrenCollapsible(False)
        self.stack = QStackedWidget()
        self.stack.addWidget(self._no_project_page())
        self.stack.addWidget(self.splitter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self.stack)

    def _no_project_page(self) -> QWidget:
        page = QWidget()
        text = WrapLabel("<h3>Corpus &amp; Tokenizer</h3>Open or create a project to import text, train a tokenizer "
                      "and encode the corpus — or start from the sample corpus (the Python documentation, "
                      "no download needed).")
        text.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.no_project_sample_button = QPushButton("Use sample corpus…")
        self.no_project_sample_button.clicked.connect(self._on_sample_requested)
        layout = QVBoxLayout(page)
        layout.addStretch(1)
        layout.addWidget(text)
        layout.addWidget(self.no_project_sample_button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addStretch(1)
        return page

    # ------------------------------------------------------------------------------------------- project

    @property
    def busy(self) -> bool:
        """Whether a job of this pane is running."""
        return self._running > 0

    def set_project(self, project: Project | None) -> None:
        """Show ``project`` (or the no-project page)."""
        self.stack.setCurrentIndex(0 if project is None else 1)
        self.corpus.set_project(project)
        self.tokenizer.set_project(project, self.corpus.manifest)
        self.corpus.stats.set_chars_per_token(self.tokenizer.chars_per_token())

    def reload(self) -> None:
        """Re-read everything from the open project."""
        self.set_project(self.state.project)

    def _on_part_changed(self, part: str) -> None:
        if self._notifying or self.busy or part not in ("corpus", "tokenizer", "data"):
            return
        self.reload()  # rewritten elsewhere (another window, the command line)

    def _notify(self, part: str) -> None:
        self._notifying = True
        try:
            self.state.notify_changed(part)
        finally:
            self._notifying = False

    def _on_imported(self, manifest: dict[str, Any]) -> None:
        self.tokenizer.set_project(self.state.project, manifest)
        self._notify("corpus")

    def _on_trained(self, meta: dict[str, Any]) -> None:
        self.corpus.stats.set_chars_per_token(self.tokenizer.chars_per_token())
        self._notify("tokenizer")

    def _on_running_changed(self, running: bool) -> None:
        self._running += 1 if running else -1
        self.corpus.set_locked(self.busy)
        self.tokenizer.set_locked(self.busy)
        self.no_project_sample_button.setEnabled(not self.busy)

    def _show_error(self, reason: str, details: str) -> None:
        show_error(self, reason, details)

    # -------------------------------------------------------------------------------------------- sample

    def _on_sample_requested(self) -> None:
        """Ask where (no project open) or whether to replace the corpus (one is open), then build the sample."""
        if self.busy:
            show_error(self, "Wait for the running job to finish (or cancel it) before building the sample.")
            return
        project = self.state.project
        if project is None:
            folder = QFileDialog.getExistingDirectory(self, "Choose a folder for the sample project")
            if folder:
                self.use_sample_corpus(Path(folder))
            return
        if self.corpus.manifest is not None and not confirm(
                self, f"Replace the corpus, tokenizer and shards of {project.name} with the Python documentation "
                "sample?", "Replace"):
            return
        self.use_sample_corpus(project.root)

    def use_sample_corpus(self, folder: str | Path) -> None:
        """Make ``folder`` a project (a subfolder if it holds other files) and build the sample in it, in a job."""
        try:
            project = self._sample_project(Path(folder))
        except StudioError as exc:
            show_error(self, str(exc))
            return
        if self.state.project != project:
            self.state.set_project(project)
        self.corpus.bar.run(lambda reporter: prepare_sample_project(project, reporter),
                            "building the sample project", self._on_sample_built)

    @staticmethod
    def _sample_project(folder: Path) -> Project:
        try:
            return init_project(folder)
        except StudioError:
            if not folder.is_dir():
                raise
            return init_project(folder / SAMPLE_FOLDER)  # the chosen folder holds other files: use a new one

    def _on_sample_built(self, result: dict[str, Any]) -> None:
        self.reload()
        for part in ("corpus", "tokenizer", "data"):
            self._notify(part)
        tokens = sum(s["tokens"] for s in result["data"]["splits"].values())
        self.corpus.bar.set_message(f"Sample ready: {plural(result['manifest']['stats']['documents'], 'document')}, "
                                    f"a {result['tokenizer']['vocab_size']:,}-piece tokenizer and "
                                    f"{plural(tokens, 'token')}.")
