"""A pane's empty state: what the place is for, what to do next, and the buttons that do it.

House style: every empty state says what to do next, and where one click gets there it offers that click
("Go to Corpus & Tokenizer"). The text is a centred column about 80 characters wide, so a wide window does not
stretch it into one long line.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from gpt_studio.ui.widgets.wrap_label import WrapLabel

COLUMN_CHARS = 80


class EmptyState(QWidget):
    """Rich text over a row of buttons, centred; :meth:`set_text` and :meth:`add_button` fill it."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = WrapLabel(text)  # a plain wrapped QLabel is clipped inside a stacked page (see WrapLabel)
        self.label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.label.setTextFormat(Qt.TextFormat.RichText)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)  # paths get copied
        self.label.setMaximumWidth(self.fontMetrics().averageCharWidth() * COLUMN_CHARS)
        self.buttons: dict[str, QPushButton] = {}
        self._row = QHBoxLayout()
        self._row.addStretch(1)
        self._row.addStretch(1)
        text_row = QHBoxLayout()  # stretches either side, not an alignment: an aligned label would not wrap
        text_row.addStretch(1)
        text_row.addWidget(self.label, 100)
        text_row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addStretch(1)
        layout.addLayout(text_row)
        layout.addLayout(self._row)
        layout.addStretch(1)

    def text(self) -> str:
        """The message as set (rich text)."""
        return self.label.text()

    def set_text(self, text: str) -> None:
        """Replace the message."""
        self.label.setText(text)

    def add_button(self, text: str, slot: Callable[[], object], tip: str = "") -> QPushButton:
        """A button under the text, in the order added; ``buttons[text]`` finds it again."""
        button = QPushButton(text)
        button.setToolTip(tip)
        button.clicked.connect(lambda _checked=False: slot())
        self._row.insertWidget(self._row.count() - 1, button)
        self.buttons[text] = button
        return button

    def show_buttons(self, *texts: str) -> None:
        """Show only the buttons named (the next step differs with what the project already has)."""
        for text, button in self.buttons.items():
            button.setVisible(text in texts)
