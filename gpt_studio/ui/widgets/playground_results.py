"""The Zero-shot tab's dataset results: accuracy against chance, big and clear; per-class figures; every row.

The headline says the one thing that matters first: how often the model was right, on how many rows, and how
that compares with guessing. The rows table (a model, not one widget per cell: thousands of rows stay quick)
shows each row's prediction, the gold answer and whether they match, and can be narrowed to the mistakes.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHeaderView,
    QLabel,
    QTableView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gpt_studio.ui import theme
from gpt_studio.ui.widgets.playground_common import ProbabilityBars, muted_label, percent, signed

COLUMNS = ("row", "text", "predicted", "gold", "correct", "scores")
RIGHT, WRONG = QColor("#2e7d32"), QColor("#c62828")
TEXT_CHARS = 160  # of a row's text in its cell (the tooltip has it all)
COUNT_KEYS = ("support", "n", "count")  # per-class figures that are counts, not ratios

Index = QModelIndex | QPersistentModelIndex


def format_scores(scores: Any, choices: Any = None) -> str:
    """A row's scores on one line: "positive −3.21 · negative −4.02" (with the choices' names) or "−3.21 · −4.02"."""
    if isinstance(scores, dict):
        return " · ".join(f"{k} {signed(float(v))}" for k, v in scores.items())
    if isinstance(scores, (list, tuple)):
        names = list(choices) if isinstance(choices, (list, tuple)) and len(choices) == len(scores) else None
        if names and all(len(str(n)) <= 12 for n in names):
            return " · ".join(f"{n} {signed(float(v))}" for n, v in zip(names, scores, strict=True))
        return " · ".join(signed(float(v)) for v in scores)
    return "" if scores is None else str(scores)


def headline_text(report: Any) -> tuple[str, str]:
    """(big line, line under it): "62.0 % correct", "on 30 rows · chance 50.0 % · 12.0 points above chance"."""
    accuracy, chance = float(report.accuracy), float(report.chance)
    delta = 100 * (accuracy - chance)
    side = "above" if delta > 0 else "below" if delta < 0 else "exactly at"
    compare = f"{abs(delta):.1f} points {side} chance" if delta else "exactly at chance"
    rows = f"{report.n:,} row{'s' if report.n != 1 else ''}"
    return f"{percent(accuracy)} correct", f"on {rows} · chance {percent(chance)} · {compare}"


class RowsModel(QAbstractTableModel):
    """The report's rows: index, text, predicted, gold, correct (✓/✗ in colour), scores."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, Any]] = []

    def set_rows(self, rows: list[dict[str, Any]]) -> None:
        """Replace the rows."""
        self.beginResetModel()
        self.rows = list(rows)
        self.endResetModel()

    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008 - Qt's API
        """Rows shown."""
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: N802, B008
        """See COLUMNS."""
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        """Column names."""
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        """Cell text, the full text as tooltip, ✓/✗ coloured, numbers sortable."""
        if not index.isValid():
            return None
        row, column = self.rows[index.row()], COLUMNS[index.column()]
        correct = bool(row.get("correct"))
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, column, correct)
        if role == Qt.ItemDataRole.ToolTipRole and column == "text":
            return str(row.get("text", ""))
        if role == Qt.ItemDataRole.ToolTipRole and column == "scores":
            return format_scores(row.get("scores"), row.get("choices"))
        if role == Qt.ItemDataRole.ForegroundRole and column == "correct":
            return RIGHT if correct else WRONG
        if role == Qt.ItemDataRole.UserRole:  # sort key
            return row.get("row", row.get("index", index.row())) if column == "row" else \
                self._display(row, column, correct)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in ("row", "correct"):
            return int(Qt.AlignmentFlag.AlignCenter)
        return None

    @staticmethod
    def _display(row: dict[str, Any], column: str, correct: bool) -> str:
        if column == "row":  # the file's own row number (CSV header = row 1), so a row can be found in the file
            return str(row.get("row", row.get("index", "")))
        if column == "text":
            text = " ".join(str(row.get("text", "")).split())
            return text if len(text) <= TEXT_CHARS else text[:TEXT_CHARS - 1] + "…"
        if column == "correct":
            return "✓" if correct else "✗"
        if column == "scores":  # numbers only in the cell (the names are in the tooltip)
            return format_scores(row.get("scores"))
        return str(row.get(column, ""))


class MistakesFilter(QSortFilterProxyModel):
    """Sorts by the user role and can hide the correct rows."""

    def __init__(self) -> None:
        super().__init__()
        self.only_mistakes = False
        self.setSortRole(Qt.ItemDataRole.UserRole)

    def set_only_mistakes(self, on: bool) -> None:
        """Show only the rows the model got wrong."""
        self.beginFilterChange()
        self.only_mistakes = on
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:  # noqa: N802 - Qt's API
        """Everything, or only the wrong rows."""
        if not self.only_mistakes:
            return True
        model = self.sourceModel()
        assert isinstance(model, RowsModel)
        return not model.rows[source_row].get("correct")


class DatasetResults(QWidget):
    """Accuracy against chance (big), a model-vs-chance bar pair, per-class figures and the rows."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.report: Any = None
        self.headline = QLabel("")
        self.headline.setFont(theme.scaled_font(self.headline, 2.0, bold=True))
        self.subline = QLabel("")
        self.subline.setFont(theme.scaled_font(self.subline, 1.2))
        self.bars = ProbabilityBars()
        self.per_class = QTableWidget(0, 0)
        self.per_class.verticalHeader().setVisible(False)
        self.per_class.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.per_class.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.rows = RowsModel()
        self.proxy = MistakesFilter()
        self.proxy.setSourceModel(self.rows)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)  # the text takes what is left
        header.setMaximumSectionSize(self.fontMetrics().averageCharWidth() * 24)  # long answers: see the tooltip
        self.mistakes = QCheckBox("Show only the mistakes")
        self.mistakes.toggled.connect(self.proxy.set_only_mistakes)
        self.note = muted_label("")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.headline)
        layout.addWidget(self.subline)
        layout.addWidget(self.bars)
        layout.addWidget(self.note)
        layout.addWidget(self.per_class)
        layout.addWidget(self.mistakes)
        layout.addWidget(self.table, 1)
        self.clear()

    def clear(self) -> None:
        """No report yet."""
        self.report = None
        self.headline.setText("")
        self.subline.setText("")
        self.note.setText("Choose a file and click “Score dataset”: accuracy against chance and every row "
                          "appear here.")
        self.bars.set_bars([], [])
        self.bars.setVisible(False)
        self.per_class.setVisible(False)
        self.mistakes.setVisible(False)
        self.table.setVisible(False)
        self.rows.set_rows([])

    def set_report(self, report: Any, note: str = "") -> None:
        """Show a ZeroShotReport."""
        self.report = report
        big, small = headline_text(report)
        self.headline.setText(big)
        self.subline.setText(small)
        good = self.palette().color(QPalette.ColorRole.Text) if report.accuracy == report.chance else (
            RIGHT if report.accuracy > report.chance else WRONG)
        palette = self.headline.palette()
        palette.setColor(QPalette.ColorRole.WindowText, good)
        self.headline.setPalette(palette)
        majority = getattr(report, "majority", 0.0)
        if majority:
            note += f" · always giving the most common answer would score {percent(majority)}"
        seconds = getattr(report, "seconds", 0.0)
        if seconds:
            note += f" · scored in {seconds:.1f} s"
        self.note.setText(note)
        self.bars.setVisible(True)
        self.bars.set_bars(["this model", "chance"], [report.accuracy, report.chance],
                           [percent(report.accuracy), percent(report.chance)], highlight=0, x_max=1.0)
        self._fill_per_class(report.per_class)
        self.rows.set_rows(report.rows)
        self.mistakes.setVisible(True)
        self.table.setVisible(True)
        self.table.resizeColumnToContents(0)

    def _fill_per_class(self, per_class: dict[str, dict[str, float]]) -> None:
        keys = list(dict.fromkeys(k for figures in per_class.values() for k in figures))
        self.per_class.clear()
        self.per_class.setColumnCount(len(keys) + 1)
        self.per_class.setRowCount(len(per_class))
        self.per_class.setHorizontalHeaderLabels(["class", *keys])
        for r, (label, figures) in enumerate(per_class.items()):
            self.per_class.setItem(r, 0, QTableWidgetItem(str(label)))
            for c, key in enumerate(keys, 1):
                value = figures.get(key)
                text = "" if value is None else f"{value:,.0f}" if key in COUNT_KEYS else f"{value:.3f}"
                item = QTableWidgetItem(text)
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.per_class.setItem(r, c, item)
        self.per_class.setVisible(bool(per_class))
        rows = len(per_class)
        self.per_class.setFixedHeight(self.per_class.horizontalHeader().height()
                                      + sum(self.per_class.rowHeight(r) for r in range(rows)) + 4)
