"""The table of corpus sources: path, size, detected format, the text field of JSONL/CSV files, import status.

Rows are files (see :mod:`source_scan`); the field choices are read in the scanning job for added paths and
lazily, when an editor opens, for rows restored from a manifest.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import QMimeData, Qt
from PySide6.QtGui import QColor, QPalette, QResizeEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QComboBox,
    QHeaderView,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QTableView,
    QWidget,
)

from gpt_studio.engine.corpus import SourceSpec
from gpt_studio.ui.widgets.source_scan import FIELD_FORMATS, SourceRow, human_size, key_of, sniff_fields, status_of
from gpt_studio.ui.widgets.table_model import RIGHT_ALIGNED, AnyIndex, ColumnsModel

COLUMNS = ("Source", "Size", "Format", "Text field", "Status")

# ------------------------------------------------------------------------------------------------- model

class SourcesModel(ColumnsModel):
    """Source rows for a QTableView; the "Text field" cell is editable for JSONL/CSV/TSV files."""

    columns = COLUMNS

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._rows: list[SourceRow] = []
        self._base: Path | None = None

    def rows(self) -> list[SourceRow]:
        """The rows, in display order."""
        return list(self._rows)

    def row_total(self) -> int:
        """Number of files."""
        return len(self._rows)

    def flags(self, index: AnyIndex) -> Qt.ItemFlag:
        """The field cell of a JSONL/CSV row is editable."""
        base = super().flags(index)
        if index.isValid() and index.column() == 3 and self._rows[index.row()].fmt in FIELD_FORMATS:
            return base | Qt.ItemFlag.ItemIsEditable
        return base

    def data(self, index: AnyIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Cell text, tooltips, alignment and status colours."""
        if not index.isValid():
            return None
        row, col = self._rows[index.row()], index.column()
        if role == Qt.ItemDataRole.EditRole:
            return row.field if col == 3 else self._text(row, col)
        if role == Qt.ItemDataRole.DisplayRole:
            text = self._text(row, col)
            return f"{text}  ▾" if col == 3 and row.fmt in FIELD_FORMATS else text  # ▾: it can be changed
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(row, col)
        if role == Qt.ItemDataRole.ForegroundRole and col == 4:
            return _status_colour(row.status)
        if role == Qt.ItemDataRole.TextAlignmentRole and col == 1:
            return RIGHT_ALIGNED
        return None

    def _text(self, row: SourceRow, col: int) -> str:
        if col == 0:
            return self._display_path(row.path)
        if col == 1:
            return human_size(row.size)
        if col == 2:
            fmt = row.fmt or "—"
            return f"{fmt} · gz" if row.path.name.lower().endswith(".gz") and row.fmt else fmt
        if col == 3:
            return (row.field or "(choose)") if row.fmt in FIELD_FORMATS else ""
        return row.detail

    def _tooltip(self, row: SourceRow, col: int) -> str:
        if col == 2 and row.fmt is None:
            return "Not a known text type (.txt .md .rst .jsonl .csv .tsv, optionally .gz); skipped."
        if col == 3 and row.fmt in FIELD_FORMATS:
            what = "JSON key" if row.fmt == "jsonl" else "column"
            seen = ", ".join(row.choices or [])
            return f"The {what} that holds the text. Double-click to choose; fields seen: {seen}"
        if col == 4:
            return row.tooltip or row.detail
        return str(row.path)

    def _display_path(self, path: Path) -> str:
        if self._base is None:
            return path.name
        try:
            return str(path.relative_to(self._base))
        except ValueError:
            return str(path)

    def setData(self, index: AnyIndex, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:  # noqa: N802
        """Set a row's text field."""
        if not index.isValid() or index.column() != 3 or role != Qt.ItemDataRole.EditRole:
            return False
        row = self._rows[index.row()]
        if row.fmt not in FIELD_FORMATS or not str(value).strip():
            return False
        row.field = str(value).strip()
        self.dataChanged.emit(index, index)
        return True

    def choices(self, row_index: int) -> list[str]:
        """Field names for a row's editor (read from the file now if not read yet: 64 KB, cheap)."""
        row = self._rows[row_index]
        if row.choices is None and row.fmt in FIELD_FORMATS and row.path.exists():
            row.choices, _ = sniff_fields(row.path, row.fmt)
        return list(row.choices or [])

    # --------------------------------------------------------------------------------------- changing rows

    def add_rows(self, rows: list[SourceRow]) -> int:
        """Append rows not already listed; returns how many were new."""
        known = {key_of(r.path) for r in self._rows}
        fresh = []
        for row in rows:
            if key_of(row.path) not in known:
                known.add(key_of(row.path))
                fresh.append(row)
        if fresh:
            self.beginResetModel()
            self._rows.extend(fresh)
            self._update_base()
            self.endResetModel()
        return len(fresh)

    def remove(self, row_indices: list[int]) -> None:
        """Drop rows by index."""
        drop = set(row_indices)
        self.beginResetModel()
        self._rows = [r for i, r in enumerate(self._rows) if i not in drop]
        self._update_base()
        self.endResetModel()

    def clear(self) -> None:
        """Remove every row."""
        self.remove(list(range(len(self._rows))))

    def load_reports(self, reports: list[dict[str, Any]], options: dict[str, Any]) -> None:
        """Replace the rows with a manifest's sources (the files the current corpus was made from)."""
        rows = []
        for report in reports:
            path = Path(report["path"])
            fmt = None if report.get("format") == "unsupported" else report.get("format")
            # "text_field" (the field actually read) is not in manifests yet; the options' default stands in
            default = report.get("text_field") or options.get("jsonl_field" if fmt == "jsonl" else "csv_column")
            row = SourceRow(path=path, size=int(report.get("bytes_in", 0)), fmt=fmt,
                            field=default if fmt in FIELD_FORMATS else None)
            row.status, row.detail, row.tooltip = status_of(report)
            if not path.exists():
                row.status, row.detail = "missing", f"missing (was {row.detail})"
            rows.append(row)
        self.beginResetModel()
        self._rows = rows
        self._update_base()
        self.endResetModel()

    def apply_reports(self, reports: list[dict[str, Any]]) -> None:
        """Show an import's per-source outcome; unsupported files (never sent) are marked skipped here."""
        by_path = {key_of(r["path"]): r for r in reports}
        for row in self._rows:
            report = by_path.get(key_of(row.path))
            if report is not None:
                row.status, row.detail, row.tooltip = status_of(report)
            elif row.fmt is None:
                row.status = "skipped"
                row.detail = row.tooltip = f"skipped: unsupported file type {row.path.suffix or '(none)'}"
        self.dataChanged.emit(self.index(0, 0), self.index(max(len(self._rows) - 1, 0), len(COLUMNS) - 1))

    def specs(self) -> list[SourceSpec]:
        """What to import: every text-type row with its chosen field."""
        out = []
        for row in self._rows:
            if row.fmt is None:
                continue
            out.append(SourceSpec(path=row.path, jsonl_field=row.field if row.fmt == "jsonl" else None,
                                  csv_column=row.field if row.fmt in ("csv", "tsv") else None))
        return out

    def missing(self) -> list[Path]:
        """Rows whose file no longer exists."""
        return [r.path for r in self._rows if not r.path.exists()]

    def _update_base(self) -> None:
        parents = [str(r.path.parent) for r in self._rows]
        self._base = Path(os.path.commonpath(parents)) if parents else None


def _status_colour(status: str) -> QColor | None:
    dark = QApplication.palette().color(QPalette.ColorRole.Base).lightness() < 128
    colours = {"imported": ("#2e7d32", "#81c784"), "skipped": ("#a35f00", "#ffb74d"),
               "missing": ("#c62828", "#ef9a9a")}
    if status in colours:
        return QColor(colours[status][dark])
    return QApplication.palette().color(QPalette.ColorRole.PlaceholderText)


class _MiddleElide(QStyledItemDelegate):
    """Elides in the middle ("books/…/chapter12.txt") instead of cutting off the file name."""

    def initStyleOption(self, option: QStyleOptionViewItem, index: AnyIndex) -> None:  # noqa: N802 - Qt's API
        """Set the elide mode for this column."""
        super().initStyleOption(option, index)
        option.textElideMode = Qt.TextElideMode.ElideMiddle


class FieldDelegate(QStyledItemDelegate):
    """An editable combo of the field names seen in the file (a name not seen can be typed)."""

    def createEditor(self, parent: QWidget, option: QStyleOptionViewItem, index: AnyIndex) -> QWidget:  # noqa: N802
        """A combo filled from the row's field choices."""
        combo = QComboBox(parent)
        combo.setEditable(True)
        combo.addItems(index.model().choices(index.row()))
        combo.activated.connect(lambda _i: self._commit(combo))  # a pick from the list applies at once
        return combo

    def _commit(self, editor: QWidget) -> None:
        self.commitData.emit(editor)
        self.closeEditor.emit(editor)

    def setEditorData(self, editor: QWidget, index: AnyIndex) -> None:  # noqa: N802
        """Select the row's current field."""
        assert isinstance(editor, QComboBox)
        editor.setCurrentText(str(index.data(Qt.ItemDataRole.EditRole) or ""))

    def setModelData(self, editor: QWidget, model: Any, index: AnyIndex) -> None:  # noqa: N802
        """Store the chosen field."""
        assert isinstance(editor, QComboBox)
        model.setData(index, editor.currentText(), Qt.ItemDataRole.EditRole)


def local_paths(mime: QMimeData) -> list[Path]:
    """Local files and folders in dragged data (URLs that are not local files are ignored)."""
    if not mime.hasUrls():
        return []
    return [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]


class SourcesView(QTableView):
    """The sources table with its field-choice delegate (drops are handled by the section around it)."""

    def __init__(self, model: SourcesModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setModel(model)
        self.setItemDelegateForColumn(3, FieldDelegate(self))
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                             | QAbstractItemView.EditTrigger.SelectedClicked
                             | QAbstractItemView.EditTrigger.EditKeyPressed)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.setItemDelegateForColumn(0, _MiddleElide(self))  # keep both ends of a long path
        self.verticalHeader().hide()
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        header = self.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Interactive)
        for col, width in ((1, 70), (2, 62), (3, 84)):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
            self.setColumnWidth(col, width)
        header.setSectionResizeMode(4, QHeaderView.ResizeMode.Stretch)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        model.modelReset.connect(self._update_columns)
        self._update_columns()

    def _update_columns(self) -> None:
        """Show "Text field" only while a JSONL/CSV/TSV file is listed: the status gets the room otherwise."""
        model = self.model()
        assert isinstance(model, SourcesModel)
        self.setColumnHidden(3, not any(row.fmt in FIELD_FORMATS for row in model.rows()))
        self._fit_path_column()

    def selected_rows(self) -> list[int]:
        """Indexes of the selected rows."""
        return sorted({i.row() for i in self.selectionModel().selectedRows()})

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's API
        """Share the free width between the path (40%) and the status (the rest, stretched)."""
        super().resizeEvent(event)
        self._fit_path_column()

    def _fit_path_column(self) -> None:
        fixed = sum(self.columnWidth(c) for c in (1, 2, 3) if not self.isColumnHidden(c))
        self.setColumnWidth(0, max(90, int(0.4 * (self.viewport().width() - fixed))))
