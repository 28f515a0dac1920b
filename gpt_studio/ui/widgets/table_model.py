"""A small base for the widgets' flat table models: fixed column titles over rows the subclass holds.

Every ``QAbstractTableModel`` answers the same questions (how many rows and columns, the header titles);
the sources and vocabulary tables answered them alike, so the answers live here once, and a subclass says
only how many rows it has and what each cell shows.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt

AnyIndex = QModelIndex | QPersistentModelIndex
RIGHT_ALIGNED = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)  # numbers line up by their digits


class ColumnsModel(QAbstractTableModel):
    """A flat table with the column titles in ``columns``; subclasses implement :meth:`row_total` and ``data``."""

    columns: tuple[str, ...] = ()

    def row_total(self) -> int:
        """How many rows the model holds."""
        raise NotImplementedError

    def rowCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008, N802 - Qt's API
        """Number of rows (a flat table: children of a valid index have none)."""
        return 0 if parent.isValid() else self.row_total()

    def columnCount(self, parent: AnyIndex = QModelIndex()) -> int:  # noqa: B008, N802
        """Number of columns."""
        return 0 if parent.isValid() else len(self.columns)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Column titles."""
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return self.columns[section]
        return None
