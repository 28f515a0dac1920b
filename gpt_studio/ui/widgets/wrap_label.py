"""A word-wrapping label whose minimum height is the height its text needs at its current width.

Qt's own word-wrapped QLabel reports height-for-width, which QSplitter and QStackedWidget pages do not pass
on: a pane's minimum height then ignores the wrapped lines, and at small window sizes the label is squeezed
onto its neighbours instead of the pane scrolling. This label instead states a plain minimum size (its
wrapped height at the width it has) and asks for a new layout when a resize changes its line count.
"""

from __future__ import annotations

from PySide6.QtCore import QSize
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QLabel, QWidget

MIN_WIDTH_CHARS = 12  # never the widest thing in a row: a narrow label just wraps more


class WrapLabel(QLabel):
    """A QLabel that wraps, is never what makes a pane wide, and is never squeezed below its wrapped height."""

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self.setWordWrap(True)

    def hasHeightForWidth(self) -> bool:  # noqa: N802 - Qt's API
        """No: the minimum height already follows the width (see the module docstring)."""
        return False

    def _wrapped_height(self) -> int:
        return self.heightForWidth(max(self.width(), 1)) if self.text() else 0

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        """A few words wide; as tall as the wrapped text at the current width."""
        width = min(super().minimumSizeHint().width(), self.fontMetrics().averageCharWidth() * MIN_WIDTH_CHARS)
        return QSize(width, max(self._wrapped_height(), self.fontMetrics().height() if self.text() else 0))

    def sizeHint(self) -> QSize:  # noqa: N802
        """The usual width; the wrapped height at the current width."""
        return QSize(super().sizeHint().width(), self.minimumSizeHint().height())

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        """Re-measure when the width changes the number of lines."""
        super().resizeEvent(event)
        if event.oldSize().width() != event.size().width():
            old = self.heightForWidth(max(event.oldSize().width(), 1))
            if old != self._wrapped_height():
                self.updateGeometry()
