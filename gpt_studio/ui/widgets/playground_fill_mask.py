"""The Playground's Fill mask tab: text with one or more [MASK], and a small bar chart of the top-k per mask.

Each mask gets its own card (the words around it, then its guesses as horizontal bars, best on top), so a
sentence with three masks reads as three small answers instead of one crowded chart.
"""

from __future__ import annotations

import html
import re
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from gpt_studio.engine.progress import Reporter
from gpt_studio.ui.widgets.playground_common import (
    PlaygroundTab,
    ProbabilityBars,
    heading,
    muted_label,
    percent,
    readable_piece,
)

MASK = "[MASK]"
DEFAULT_TEXT = "To be, or not to [MASK], that is the [MASK]."
CONTEXT_WORDS = 5  # shown on each side of a mask in its card's title
COLUMNS = 2


def mask_contexts(text: str, words: int = CONTEXT_WORDS) -> list[str]:
    """For each [MASK], the words around it as rich text, every mask numbered and this one in bold.

    E.g. "…or not to <b>[MASK 1]</b>, that is the [MASK 2]:…": a card says which gap it answers.
    """
    count = 0

    def number(_match: re.Match[str]) -> str:
        nonlocal count
        count += 1
        return f" [MASK {count}] "

    numbered = re.sub(re.escape(MASK), number, text.replace("\n", " ↵ "))
    tokens = re.findall(r"\[MASK \d+\]|\S+", numbered)  # a numbered mask is one word
    glue = re.compile(r"^[,.;:!?)\]’”]")  # punctuation that follows a word without a space
    out = []
    for n in range(1, count + 1):
        at = tokens.index(f"[MASK {n}]")
        window = tokens[max(0, at - words):at + words + 1]
        parts = []
        for k, token in enumerate(window, max(0, at - words)):
            shown = f"<b>{html.escape(token)}</b>" if k == at else html.escape(token)
            parts.append(shown if not parts or glue.match(token) else " " + shown)
        lead = "… " if at > words else ""
        tail = " …" if at + words + 1 < len(tokens) else ""
        out.append(lead + "".join(parts) + tail)
    return out


class MaskCard(QFrame):
    """One mask: where it is, then its guesses as bars."""

    def __init__(self, title: str, guess: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.title = QLabel(title)
        self.title.setWordWrap(True)
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.chart = ProbabilityBars()
        probs = list(guess.probabilities)
        self.chart.set_bars([readable_piece(p) for p in guess.pieces], probs, [percent(p) for p in probs],
                            highlight=0, x_max=max(probs, default=1.0))
        self.chart.setToolTip("\n".join(f"{piece!r} · id {token_id} · {percent(p)}"
                                        for piece, token_id, p in zip(guess.pieces, guess.ids, probs, strict=True)))
        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.chart)


class FillMaskTab(PlaygroundTab):
    """Predict every [MASK] of a text with a masked (BERT-style) model."""

    title = "Fill mask"
    intro = "Fill mask: hide words with [MASK] and see a BERT model's best guesses for each, with their probabilities."
    predicted = Signal(object)  # the list of MaskGuess

    def __init__(self, parent: QWidget | None = None) -> None:
        self.cards: list[MaskCard] = []
        super().__init__(parent)

    def _build(self) -> QWidget:
        body = QWidget()
        self.text = QPlainTextEdit(DEFAULT_TEXT)
        self.text.setPlaceholderText(f"Type a sentence and put {MASK} where a word is missing (one or more).")
        self.text.setFixedHeight(self.text.fontMetrics().lineSpacing() * 4 + 12)
        self.text.textChanged.connect(self._update_count)
        self.insert_button = QPushButton(f"Insert {MASK}")
        self.insert_button.setToolTip(f"Put {MASK} at the cursor (or in place of the selected text).")
        self.insert_button.clicked.connect(self.insert_mask)
        self.top_k = QSpinBox()
        self.top_k.setRange(1, 50)
        self.top_k.setValue(5)
        self.top_k.setPrefix("top ")
        self.top_k.setToolTip("How many guesses to show for each mask, most likely first.")
        self.predict_button = QPushButton("Predict")
        self.predict_button.setDefault(True)
        self.predict_button.clicked.connect(self.predict)
        self.count = muted_label("")
        row = QHBoxLayout()
        for widget in (self.insert_button, self.top_k, self.predict_button):
            row.addWidget(widget)
        row.addWidget(self.count, 1)
        self.cards_box = QWidget()
        self.grid = QGridLayout(self.cards_box)
        self.grid.setContentsMargins(0, 0, 0, 0)
        self.grid.setAlignment(Qt.AlignmentFlag.AlignTop)
        self.empty = muted_label("The guesses for each mask appear here, one small chart per mask.")
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(self.cards_box)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(heading("Text with masks"))
        layout.addWidget(self.text)
        layout.addLayout(row)
        layout.addWidget(self.job_bar)
        layout.addWidget(heading("Guesses"))
        layout.addWidget(self.empty)
        layout.addWidget(scroll, 1)
        self._update_count()
        return body

    def masks(self) -> int:
        """How many [MASK] the text holds."""
        return self.text.toPlainText().count(MASK)

    def insert_mask(self) -> None:
        """Put [MASK] at the cursor, with a space before it when it would stick to a word."""
        cursor = self.text.textCursor()
        before = self.text.toPlainText()[:cursor.selectionStart()]
        cursor.insertText((" " if before and not before[-1].isspace() else "") + MASK)
        self.text.setTextCursor(cursor)
        self.text.setFocus()

    def _update_count(self) -> None:
        n = self.masks()
        self.count.setText(f"{n} mask{'s' if n != 1 else ''} in the text." if n else
                           f"No {MASK} yet: click “Insert {MASK}” where a word should be guessed.")
        self._set_running(self.busy)

    def predict(self) -> bool:
        """Ask the model for the top-k tokens at every mask (on a worker); False when nothing can run."""
        from gpt_studio.engine.scoring import fill_mask

        text, top_k, loaded = self.text.toPlainText(), self.top_k.value(), self.loaded
        if not self.masks() or loaded is None:
            return False

        def work(reporter: Reporter) -> list[Any]:
            reporter.progress(0, 0, "Predicting the masked words…")
            return fill_mask(loaded.model, loaded.tokenizer, text, top_k=top_k)

        return self.run_job(work, "predicting the masks", lambda guesses: self.show_guesses(text, guesses))

    def show_guesses(self, text: str, guesses: list[Any]) -> None:
        """One card per mask, two to a row."""
        self.clear_cards()
        titles = mask_contexts(text)
        for i, guess in enumerate(guesses):
            card = MaskCard(titles[i] if i < len(titles) else f"[MASK {i + 1}]", guess)
            self.grid.addWidget(card, i // COLUMNS, i % COLUMNS)
            self.cards.append(card)
        self.empty.setVisible(not self.cards)
        self.job_bar.set_message("")
        self.predicted.emit(guesses)

    def clear_cards(self) -> None:
        """Remove the charts of an earlier prediction."""
        for card in self.cards:
            self.grid.removeWidget(card)
            card.deleteLater()
        self.cards = []
        self.empty.setVisible(True)

    def _set_running(self, running: bool) -> None:
        self.predict_button.setEnabled(not running and self.masks() > 0)

    def _on_model(self, loaded: Any) -> None:
        self.clear_cards()
