"""The Playground's Generate tab: a prompt, the sampling controls, and the continuation streamed as it comes.

The engine's ``generate_stream`` runs on a :class:`~gpt_studio.workers.playground.GenerationJob`; its coalesced
pieces are appended at the end of the output in the slot (no re-layout of the whole text), and the rate is
shown live. Stop ends generation after the current token; what came so far stays.
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QKeySequence, QShortcut, QTextCharFormat, QTextCursor
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from gpt_studio.ui import theme
from gpt_studio.ui.widgets.flow_layout import FlowLayout
from gpt_studio.ui.widgets.playground_common import PlaygroundTab, heading, muted_label
from gpt_studio.workers.playground import GenerationJob

DEFAULT_PROMPT = "ROMEO:\nBut soft, what light"
MAX_NEW_TOKENS = 4096
TOOLTIPS = {
    "temperature": "How adventurous sampling is. Logits are divided by it: below 1 the likely tokens win more often, "
                   "above 1 rarer ones come up. 0 = greedy: always the most likely token, the same text every time.",
    "top_k": "Sample only among the k most likely next tokens (0 = no limit). Cuts off the long tail of unlikely "
             "tokens that makes text drift into nonsense.",
    "top_p": "Nucleus sampling: sample among the fewest tokens whose probabilities add up to p (1 = no limit). "
             "Adapts to the model's confidence: few candidates when it is sure, many when it is not.",
    "max_tokens": "The most tokens to generate (a token is a word or a piece of one).",
    "stop": "Stop as soon as the text contains this (it is not shown). Several: separate them with |. "
            "Write \\n for a line break, e.g. \\n\\n stops at the first empty line.",
    "seed": "Fixes the random choices, so the same prompt and settings give the same text again. "
            "“random”: different text every time.",
}


def parse_stops(text: str) -> list[str]:
    r"""Stop strings from the field: separated by ``|``, with ``\n`` and ``\t`` written as escapes; blanks dropped."""
    stops = []
    for part in text.split("|"):
        stop = part.replace("\\n", "\n").replace("\\t", "\t")
        if stop:
            stops.append(stop)
    return stops


def _spin(low: int, high: int, value: int, tooltip: str) -> QSpinBox:
    box = QSpinBox()
    box.setRange(low, high)
    box.setValue(value)
    box.setToolTip(tooltip)
    box.setAccelerated(True)
    return box


def _double(low: float, high: float, step: float, value: float, tooltip: str) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setRange(low, high)
    box.setSingleStep(step)
    box.setDecimals(2)
    box.setValue(value)
    box.setToolTip(tooltip)
    return box


class GenerateTab(PlaygroundTab):
    """Prompt → streamed continuation, with temperature, top-k, top-p, length, stop text and seed."""

    title = "Generate"
    intro = "Generate: type the start of a text and watch a GPT model continue it, token by token."
    generation_finished = Signal(object)  # the stats dict (tokens, seconds, tokens_per_second, text, reason)

    def __init__(self, parent: QWidget | None = None) -> None:
        self.job: GenerationJob | None = None
        self._first_piece_at: float | None = None
        self._first_tokens = 0
        super().__init__(parent)

    # ------------------------------------------------------------------------------------------ building

    def _build(self) -> QWidget:
        body = QWidget()
        self.prompt = QPlainTextEdit(DEFAULT_PROMPT)
        self.prompt.setPlaceholderText("Type the beginning of a text; the model continues it.")
        self.prompt.setFixedHeight(self.prompt.fontMetrics().lineSpacing() * 5 + 12)
        self.temperature = _double(0.0, 2.0, 0.1, 0.8, TOOLTIPS["temperature"])
        self.top_k = _spin(0, 100_000, 40, TOOLTIPS["top_k"])
        self.top_k.setSpecialValueText("off")
        self.top_p = _double(0.05, 1.0, 0.05, 1.0, TOOLTIPS["top_p"])
        self.max_tokens = _spin(1, MAX_NEW_TOKENS, 100, TOOLTIPS["max_tokens"])
        self.stop_text = QLineEdit()
        self.stop_text.setPlaceholderText(r"e.g. \n\n")
        self.stop_text.setToolTip(TOOLTIPS["stop"])
        self.seed = _spin(-1, 2**31 - 1, -1, TOOLTIPS["seed"])
        self.seed.setSpecialValueText("random")
        self.generate_button = QPushButton("Generate")
        self.generate_button.setDefault(True)
        self.generate_button.setToolTip("Continue the prompt with the loaded model (Ctrl+Enter in the prompt).")
        self.generate_button.clicked.connect(self.start)
        for keys in ("Ctrl+Return", "Ctrl+Enter"):  # Enter alone is a line break in the prompt
            shortcut = QShortcut(QKeySequence(keys), self.prompt)
            shortcut.setContext(Qt.ShortcutContext.WidgetShortcut)
            shortcut.activated.connect(self.start)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop after the current token; the text so far stays.")
        self.stop_button.clicked.connect(self.stop)
        self.stop_button.setEnabled(False)
        self.rate = muted_label("")
        self.output = QPlainTextEdit()
        self.output.setReadOnly(True)
        self.output.setPlaceholderText("The continuation appears here as the model writes it.")
        self.output.setFont(theme.scaled_font(self.output, 1.05))
        layout = QVBoxLayout(body)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(heading("Prompt"))
        layout.addWidget(self.prompt)
        layout.addLayout(self._settings_row())
        buttons = QHBoxLayout()
        buttons.addWidget(self.generate_button)
        buttons.addWidget(self.stop_button)
        buttons.addWidget(self.rate, 1)
        layout.addLayout(buttons)
        layout.addWidget(heading("Output"))
        layout.addWidget(self.output, 1)
        return body

    def _settings_row(self) -> FlowLayout:
        """Label-and-field pairs at their natural widths, wrapping onto a second row in a narrow window."""
        row = FlowLayout(h_spacing=18, v_spacing=6)
        chars = self.fontMetrics().averageCharWidth()
        cells = (("Temperature", self.temperature), ("Top-k", self.top_k), ("Top-p", self.top_p),
                 ("Max tokens", self.max_tokens), ("Seed", self.seed), ("Stop text", self.stop_text))
        for text, editor in cells:
            editor.setFixedWidth(chars * (22 if editor is self.stop_text else 12))
            label = QLabel(f"{text}:")
            label.setToolTip(editor.toolTip())
            label.setBuddy(editor)
            pair = QWidget()
            line = QHBoxLayout(pair)
            line.setContentsMargins(0, 0, 0, 0)
            line.addWidget(label)
            line.addWidget(editor)
            row.addWidget(pair)
        return row

    # ------------------------------------------------------------------------------------------- running

    @property
    def busy(self) -> bool:
        """Whether text is being generated."""
        return self.job is not None

    def options(self) -> Any:
        """The engine's GenerateOptions from the controls."""
        from gpt_studio.engine.generate import GenerateOptions

        return GenerateOptions(max_new_tokens=self.max_tokens.value(), temperature=self.temperature.value(),
                               top_k=self.top_k.value() or None, top_p=self.top_p.value(),
                               stop=parse_stops(self.stop_text.text()),
                               seed=None if self.seed.value() < 0 else self.seed.value())

    def start(self) -> GenerationJob | None:
        """Generate a continuation of the prompt; returns the job (None when busy or no model fits)."""
        from gpt_studio.engine.generate import generate_stream

        if self.busy or self.loaded is None:
            return None
        try:
            options = self.options()
        except ValueError as exc:
            self.failed.emit(f"Cannot generate: {exc}", "")
            return None
        prompt = self.prompt.toPlainText()
        self._show_prompt(prompt)
        self.job = job = GenerationJob(generate_stream, self.loaded.model, self.loaded.tokenizer, prompt, options)
        job.text_streamed.connect(self._on_text)
        job.failed.connect(self.failed)
        job.finished.connect(self._on_finished)
        self._first_piece_at = None
        self.rate.setText("Reading the prompt…")
        self._set_running(True)
        self.busy_changed.emit(True)
        return job.start()

    def stop(self) -> None:
        """Stop after the current token."""
        if self.job is not None:
            self.job.stop()
            self.stop_button.setEnabled(False)
            self.rate.setText("Stopping…")

    def cancel(self) -> None:
        """Same as :meth:`stop` (the pane cancels every tab's work the same way)."""
        self.stop()
        super().cancel()

    def _show_prompt(self, prompt: str) -> None:
        """The prompt in bold, so where the model's words begin is plain."""
        self.output.clear()
        cursor = self.output.textCursor()
        bold = QTextCharFormat()
        bold.setFontWeight(QFont.Weight.Bold)
        cursor.insertText(prompt, bold)
        cursor.setCharFormat(QTextCharFormat())
        self.output.setTextCursor(cursor)

    def _on_text(self, text: str, tokens: int) -> None:
        """Append the new pieces at the end (cheap: no re-layout of what is there); keep the end in view."""
        now = time.perf_counter()
        if self._first_piece_at is None:
            self._first_piece_at, self._first_tokens = now, tokens
        cursor = self.output.textCursor()
        cursor.movePosition(QTextCursor.MoveOperation.End)
        cursor.insertText(text, QTextCharFormat())
        self.output.setTextCursor(cursor)
        self.output.ensureCursorVisible()
        if self.stop_button.isEnabled():
            elapsed = now - self._first_piece_at
            rate = f" · {(tokens - self._first_tokens) / elapsed:,.1f} tokens/s" if elapsed > 0.2 else ""
            self.rate.setText(f"Generating… {tokens:,} tokens{rate}")

    def _on_finished(self, stats: dict[str, Any]) -> None:
        self.job = None
        self._set_running(False)
        self.busy_changed.emit(False)
        self.rate.setText(_stats_text(stats))
        self.generation_finished.emit(stats)

    def _set_running(self, running: bool) -> None:
        self.generate_button.setEnabled(not running)
        self.stop_button.setEnabled(running)

    def _on_model(self, loaded: Any) -> None:
        if loaded is not None:
            self.rate.setText(f"The model reads up to {loaded.model.config.context_length:,} tokens at a time.")


ENDINGS = {"max_tokens": "reached the maximum tokens", "stop": "found the stop text",
           "eos": "the model ended the text", "cancelled": "stopped", "error": "ended with an error"}


def _stats_text(stats: dict[str, Any]) -> str:
    """One line: how many tokens, how fast, and why it ended."""
    tokens, rate = stats.get("tokens", 0), stats.get("tokens_per_second", 0.0)
    line = f"{tokens:,} token{'s' if tokens != 1 else ''} in {stats.get('seconds', 0.0):.1f} s"
    if rate > 0:
        line += f" · {rate:,.1f} tokens/s"
    ending = ENDINGS.get(stats.get("reason", ""))
    return line + (f" · {ending}." if ending else ".")
