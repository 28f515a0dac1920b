"""Wizard step 4: the labels found in the file, with counts; rename, merge (same new name) or exclude them.

Edits become the engine's :class:`LabelPlan` (applied when the file is read for training). The class-balance
chart and the imbalance warning follow every edit, since what matters is the balance the model will train on.
For similarity a switch chooses regression on the score (the chart then shows the score histogram); for
multiple choice the "labels" are answer positions, shown but not editable.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QHBoxLayout,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gpt_studio.ui.widgets import monitor_plots as mp
from gpt_studio.ui.widgets.finetune_common import WARNING_STYLE, FinetuneChoices, WizardPage, heading, note
from gpt_studio.ui.widgets.wording import plural

IMBALANCE_RATIO = 3.0  # largest / smallest class at which we warn
FEW_EXAMPLES = 10  # a class this small can be neither learned nor measured
SCORE_BINS = 10
COL_LABEL, COL_COUNT, COL_NAME, COL_USE = range(4)


class BalanceChart(pg.PlotWidget):
    """Bars of examples per class (or a score histogram), coloured from the palette; no mouse zoom."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        plot = self.getPlotItem()
        plot.setMouseEnabled(x=False, y=False)
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.setLabel("left", "examples")
        plot.getAxis("left").enableAutoSIPrefix(False)
        self.bars: pg.BarGraphItem | None = None
        self.counts: list[pg.TextItem] = []
        mp.style_plot(self, self.palette())
        self.setMinimumHeight(self.fontMetrics().height() * 12)

    def set_counts(self, counts: dict[str, int]) -> None:
        """One bar per class, named on the x axis."""
        names, heights = list(counts), [counts[n] for n in counts]
        self._draw(np.arange(len(names), dtype=float), np.asarray(heights, dtype=float), 0.6,
                   [[(k, _short(n)) for k, n in enumerate(names)]])

    def set_scores(self, counts: dict[str, int]) -> None:
        """A histogram of numeric labels (regression on a score)."""
        values = np.asarray([float(k) for k in counts], dtype=float)
        weights = np.asarray(list(counts.values()), dtype=float)
        if values.size == 0:
            self._draw(np.empty(0), np.empty(0), 1.0, None)
            return
        heights, edges = np.histogram(values, bins=SCORE_BINS, weights=weights)
        centres, width = (edges[:-1] + edges[1:]) / 2, float(edges[1] - edges[0]) * 0.9 or 0.5
        self._draw(centres, heights, width, None)

    def _draw(self, x: np.ndarray, heights: np.ndarray, width: float, ticks: list | None) -> None:
        """Update the bars and count labels in place.

        Why never remove and re-add: an item taken off the scene belongs to Python, and Python's cyclic garbage
        collector may then destroy it on whatever thread allocates next (a training thread): Qt crashes there.
        """
        plot = self.getPlotItem()
        fill = QColor(self.palette().color(QPalette.ColorRole.Highlight))
        fill.setAlpha(190)
        style = {"x": x, "height": heights, "width": width, "brush": fill, "pen": pg.mkPen(fill.darker(130))}
        if self.bars is None:
            self.bars = pg.BarGraphItem(**style)
            plot.addItem(self.bars)
        else:
            self.bars.setOpts(**style)
        shown = len(x) if ticks is not None else 0  # class bars: the count above each
        text = self.palette().color(QPalette.ColorRole.Text)
        while len(self.counts) < shown:
            label = pg.TextItem("", color=text, anchor=(0.5, 1.0))
            plot.addItem(label)
            self.counts.append(label)
        for k, label in enumerate(self.counts):
            label.setVisible(k < shown)
            if k < shown:
                label.setText(f"{int(heights[k]):,}", color=text)
                label.setPos(float(x[k]), float(heights[k]))
        plot.getAxis("bottom").setTicks(ticks)
        plot.setLabel("bottom", "class" if ticks is not None else "score")
        if x.size:
            plot.setXRange(float(x.min()) - width, float(x.max()) + width, padding=0.02)
            plot.setYRange(0, float(heights.max()) * 1.12 or 1.0, padding=0)  # room for the counts

    def heights(self) -> list[float]:
        """The bar heights drawn (for tests and screenshots)."""
        return [] if self.bars is None else [float(h) for h in self.bars.opts["height"]]


class LabelsPage(WizardPage):
    """The label table (rename / merge / exclude), the class-balance chart and warnings."""

    title = "Labels"

    def __init__(self, choices: FinetuneChoices, parent: QWidget | None = None) -> None:
        super().__init__(choices, parent)
        self._counts_ref: dict[str, int] | None = None
        self._filling = False
        self.regression = QCheckBox("Regression on the score: predict the number (mean squared error) instead "
                                    "of a class")
        self.regression.setToolTip("For similarity scores such as STS-B's 0–5: the head outputs one number, "
                                   "and results report Pearson and Spearman correlation.")
        self.regression.toggled.connect(self._on_regression)
        self.table = QTableWidget(0, 4)
        self.table.setHorizontalHeaderLabels(["Label in the file", "Examples", "Train as", "Use"])
        self.table.setToolTip("Double-click a name under \"Train as\" to rename a class; give two classes the same "
                              "name to merge them; untick \"Use\" to leave a class's rows out.")
        self.table.verticalHeader().hide()
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(COL_LABEL, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(COL_NAME, QHeaderView.ResizeMode.Stretch)
        for column in (COL_COUNT, COL_USE):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.table.itemChanged.connect(self._on_item_changed)
        self.chart = BalanceChart()
        self.summary = note()
        self.warning = note(style=WARNING_STYLE)
        self.explain = note()
        left = QVBoxLayout()
        left.addWidget(self.table, 1)
        left.addWidget(self.explain)
        right = QVBoxLayout()
        right.addWidget(self.chart, 1)
        right.addWidget(self.summary)
        right.addWidget(self.warning)
        row = QHBoxLayout()
        row.addLayout(left, 2)
        row.addLayout(right, 3)
        body = QWidget()
        body.setLayout(row)
        body.setMaximumHeight(self.fontMetrics().height() * 28)  # a few classes should not fill a tall window
        layout = QVBoxLayout(self)
        layout.addWidget(heading("Labels"))
        layout.addWidget(note("These are the labels found in the training file, with how many rows carry each. "
                              "Rename a class, merge two by giving them the same name, or leave one out."))
        layout.addWidget(self.regression)
        layout.addWidget(body, 1)
        layout.addStretch(1)

    # ---------------------------------------------------------------------------------------- entering

    def enter(self) -> None:
        """Rebuild the table when the data page read the file again; otherwise keep the edits."""
        is_similarity = self.choices.task == "similarity"
        self.regression.setVisible(is_similarity)
        if self._counts_ref is not self.choices.label_counts:
            self._counts_ref = self.choices.label_counts
            self._fill()
        self.regression.blockSignals(True)
        self.regression.setChecked(is_similarity and self.choices.regression)
        self.regression.blockSignals(False)
        if not is_similarity:
            self.choices.regression = False
        self._update()

    def _fill(self) -> None:
        self._filling = True
        editable = self.choices.task != "multiple-choice"
        self.table.setRowCount(len(self.choices.label_counts))
        for r, (label, count) in enumerate(self.choices.label_counts.items()):
            original = QTableWidgetItem(label or "(empty)")
            original.setData(Qt.ItemDataRole.UserRole, label)
            original.setFlags(Qt.ItemFlag.ItemIsEnabled)
            number = QTableWidgetItem(f"{count:,}")
            number.setFlags(Qt.ItemFlag.ItemIsEnabled)
            number.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            name = QTableWidgetItem(self.choices.plan.rename.get(label, label))
            use = QTableWidgetItem()
            flags = Qt.ItemFlag.ItemIsEnabled
            can_edit = editable and label != ""  # rows without a label can only stay out
            name.setFlags(flags | Qt.ItemFlag.ItemIsEditable if can_edit else flags)
            use.setFlags(flags | Qt.ItemFlag.ItemIsUserCheckable if can_edit else flags)
            excluded = label in self.choices.plan.exclude
            use.setCheckState(Qt.CheckState.Unchecked if excluded else Qt.CheckState.Checked)
            for column, item in ((COL_LABEL, original), (COL_COUNT, number), (COL_NAME, name), (COL_USE, use)):
                self.table.setItem(r, column, item)
        self._filling = False

    # ------------------------------------------------------------------------------------------ editing

    def rename(self, label: str, new_name: str) -> None:
        """Train ``label``'s rows as ``new_name`` (a name another class has merges the two)."""
        self.table.item(self._row_of(label), COL_NAME).setText(new_name)

    def set_used(self, label: str, used: bool) -> None:
        """Keep or leave out ``label``'s rows."""
        state = Qt.CheckState.Checked if used else Qt.CheckState.Unchecked
        self.table.item(self._row_of(label), COL_USE).setCheckState(state)

    def _row_of(self, label: str) -> int:
        return list(self.choices.label_counts).index(label)

    def _on_item_changed(self, item: QTableWidgetItem) -> None:
        if self._filling:
            return
        label = self.table.item(item.row(), COL_LABEL).data(Qt.ItemDataRole.UserRole)
        plan = self.choices.plan
        if item.column() == COL_NAME:
            new = item.text().strip()
            if new and new != label:
                plan.rename[label] = new
            else:
                plan.rename.pop(label, None)
        elif item.column() == COL_USE:
            if item.checkState() == Qt.CheckState.Checked:
                plan.exclude.discard(label)
            else:
                plan.exclude.add(label)
        self._update()

    def _on_regression(self, on: bool) -> None:
        self.choices.regression = on
        self._update()

    # ------------------------------------------------------------------------------------------ showing

    def counts(self) -> dict[str, int]:
        """Examples per class as they will be trained (after renames, merges and exclusions)."""
        return self.choices.effective_counts()

    def _update(self) -> None:
        regression, task = self.choices.regression, self.choices.task
        self.table.setEnabled(not regression)
        warning = ""
        if regression:
            values = [float(k) for k in self.choices.label_counts]
            total = sum(self.choices.label_counts.values())
            self.chart.set_scores(self.choices.label_counts)
            self.summary.setText(f"{plural(total, 'example')} with scores from {min(values, default=0):g} to "
                                 f"{max(values, default=0):g}." if values else "No scores found.")
            self.explain.setText("Regression uses the score itself; the table of classes does not apply.")
        else:
            counts = self.counts()
            self.chart.set_counts(counts)
            kept, total = sum(counts.values()), sum(self.choices.label_counts.values())
            self.summary.setText(f"{plural(len(counts), 'class', 'classes')}, {plural(kept, 'example')} used"
                                 + (f" ({total - kept:,} left out)." if kept < total else "."))
            warning = _imbalance_warning(counts) if task != "multiple-choice" else ""
            self.explain.setText("Multiple choice: the \"labels\" are the positions of the right answer (0 = the "
                                 "first). A balanced spread keeps the model from learning a favourite position."
                                 if task == "multiple-choice" else "")
        self.warning.setText(warning)
        self.warning.setVisible(bool(warning))
        self.explain.setVisible(bool(self.explain.text()))
        self.changed.emit()

    def reason(self) -> str:
        """At least two classes must remain (regression: at least two different scores)."""
        if not self.choices.label_counts:
            return "No labels were found; check the label column on the previous page."
        if self.choices.regression:
            return "" if len(self.choices.label_counts) >= 2 else "Every row has the same score; nothing to learn."
        if self.choices.task == "multiple-choice":
            return ""  # the answers compete with each other: one right position throughout still trains
        counts = self.counts()
        if len(counts) < 2:
            return "Keep at least two classes: a model cannot learn to tell one class from nothing."
        return ""


def _imbalance_warning(counts: dict[str, int]) -> str:
    """A warning when the largest class dwarfs the smallest, or a class is too small to learn or measure."""
    if len(counts) < 2:
        return ""
    big = max(counts, key=counts.__getitem__)
    small = min(counts, key=counts.__getitem__)
    parts = []
    if counts[small] and counts[big] / counts[small] >= IMBALANCE_RATIO:
        share = counts[big] / sum(counts.values())
        parts.append(f"Imbalanced: “{big}” has {counts[big] / counts[small]:.1f}× as many examples as “{small}”. "
                     f"Always answering “{big}” would already score {share:.0%} accuracy, so judge the model by "
                     "macro-F1 on the results page, or merge or leave out small classes.")
    tiny = [name for name, n in counts.items() if n < FEW_EXAMPLES]
    if tiny:
        parts.append(f"Too few examples to learn or measure: {', '.join(f'“{n}” ({counts[n]})' for n in tiny)}.")
    return " ".join(parts)


def _short(name: str, limit: int = 16) -> str:
    return name if len(name) <= limit else name[:limit - 1] + "…"
