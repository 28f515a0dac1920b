"""A layout that places items left to right and wraps them onto new rows when the width runs out.

Qt has no built-in flow layout; this is its documented example, ported. Rows of figures or settings use it so
a narrow pane gets two short rows instead of one row that forces horizontal scrolling.
"""

from __future__ import annotations

from PySide6.QtCore import QMargins, QPoint, QRect, QSize, Qt, QTimer
from PySide6.QtWidgets import QLayout, QLayoutItem, QSizePolicy, QSpacerItem, QWidget


class FlowLayout(QLayout):
    """Items in reading order, wrapped at the width; :meth:`add_stretch` right-aligns the items after it.

    Like :class:`WrapLabel` it reports no height-for-width (QSplitter would drop it) but a minimum height of the
    rows at its current width, and asks for a new layout when a resize changes the number of rows.
    """

    def __init__(self, parent: QWidget | None = None, h_spacing: int = 24, v_spacing: int = 6) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self._h_spacing, self._v_spacing = h_spacing, v_spacing
        self._height = -1  # of the rows at the current width; -1: not laid out yet (one row)
        self.setContentsMargins(0, 0, 0, 0)

    def addItem(self, item: QLayoutItem) -> None:  # noqa: N802 - Qt's API
        """Take ownership of ``item`` (called by ``addWidget``)."""
        self._items.append(item)

    def add_stretch(self) -> None:
        """Right-align the items that follow on the same row."""
        self.addItem(QSpacerItem(0, 0, QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum))

    def count(self) -> int:
        """Number of items."""
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:  # noqa: N802
        """The item at ``index`` (None past the end)."""
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:  # noqa: N802
        """Remove and return the item at ``index``."""
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def expandingDirections(self) -> Qt.Orientation:  # noqa: N802
        """Never asks for more than its rows need."""
        return Qt.Orientation(0)

    def setGeometry(self, rect: QRect) -> None:  # noqa: N802
        """Place the items inside ``rect``; a changed row count re-runs the layouts around it (once)."""
        super().setGeometry(rect)
        height = self._do_layout(rect)
        if height != self._height:
            self._height = height
            QTimer.singleShot(0, self, self._remeasure)  # not from inside the running layout pass

    def _remeasure(self) -> None:
        self.invalidate()
        parent = self.parentWidget()
        if parent is not None:
            parent.updateGeometry()

    def sizeHint(self) -> QSize:  # noqa: N802
        """All items on one row (as tall as the rows at the current width)."""
        width = sum(i.sizeHint().width() for i in self._items) + self._h_spacing * max(len(self._items) - 1, 0)
        margins = self.contentsMargins()
        return QSize(width + margins.left() + margins.right(), self.minimumSize().height())

    def minimumSize(self) -> QSize:  # noqa: N802
        """As wide as the widest item; as tall as the rows at the current width (one row before the first)."""
        margins = self.contentsMargins()
        width = max((i.sizeHint().width() for i in self._items), default=0) + margins.left() + margins.right()
        if self._height >= 0:
            return QSize(width, self._height)
        row = max((i.sizeHint().height() for i in self._items), default=0)
        return QSize(width, row + margins.top() + margins.bottom())

    def _do_layout(self, rect: QRect) -> int:
        """Place the items row by row; returns the height used (margins included)."""
        margins: QMargins = self.contentsMargins()
        area = rect.marginsRemoved(margins)
        rows: list[list[tuple[QLayoutItem, QSize]]] = [[]]
        x = area.x()
        for item in self._items:
            widget = item.widget()
            if widget is not None and widget.isHidden() and not widget.sizePolicy().retainSizeWhenHidden():
                continue
            hint = QSize(0, 0) if item.spacerItem() is not None else item.sizeHint()
            if rows[-1] and x + hint.width() > area.right() + 1:
                rows.append([])
                x = area.x()
            rows[-1].append((item, hint))
            x += hint.width() + (0 if item.spacerItem() is not None else self._h_spacing)
        y = area.y()
        for row in rows:
            if not row:
                continue
            height = max(hint.height() for _, hint in row)
            self._place_row(row, area, y)
            y += height + self._v_spacing
        return y - self._v_spacing - rect.y() + margins.bottom() if rows[0] else 0

    def _place_row(self, row: list[tuple[QLayoutItem, QSize]], area: QRect, y: int) -> None:
        """Lay one row out left to right; a stretch in it takes the spare width."""
        used = sum(hint.width() + self._h_spacing for item, hint in row if item.spacerItem() is None)
        spare = max(area.width() - (used - self._h_spacing), 0)
        x = area.x()
        for item, hint in row:
            if item.spacerItem() is not None:
                x += spare if item is not row[0][0] else 0
                continue
            item.setGeometry(QRect(QPoint(x, y), hint))
            x += hint.width() + self._h_spacing

