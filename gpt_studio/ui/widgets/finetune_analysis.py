"""How the paper's two analyses look: a pretrained-versus-scratch table and a layers-transferred curve.

Both views take the engine's analysis dicts (``compare_with_scratch`` / ``sweep_layers``, or the partial ones
the worker builds while models are still training), so the live picture and the final one are drawn by the
same code. The sweep plot is GPT-1's Figure 2 (left): validation accuracy against the number of pretrained
blocks transferred, integer ticks 0..n, the y axis fixed at 0..1 so curves from different runs compare at a
glance, and a dashed chance line at 1 / number of classes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gpt_studio.ui import error_dialog
from gpt_studio.ui.widgets import monitor_plots as mp
from gpt_studio.ui.widgets.finetune_common import heading, note

STARTS = (("pretrained", "Pretrained"), ("scratch", "From scratch"))
EXPORT_WIDTH = 1200  # pixels of an exported PNG (the widget's own size is often smaller)


def _figures(regression: bool) -> tuple[tuple[str, str], tuple[str, str]]:
    """(key, name) of the two numbers per model: accuracy and macro-F1, or Pearson and Spearman."""
    if regression:
        return ("pearson", "Pearson r"), ("spearman", "Spearman ρ")
    return ("accuracy", "accuracy"), ("macro_f1", "macro-F1")


def _mean(values: list[Any]) -> float | None:
    numbers = [float(v) for v in values if v is not None]
    return float(np.mean(numbers)) if numbers else None


def _pair(a: float | None, b: float | None) -> str:
    return " · ".join("—" if v is None else f"{v:.3f}" for v in (a, b))


def compare_rows(result: dict[str, Any]) -> list[tuple[str, ...]]:
    """Table cells: one row per start (pretrained, scratch), a column per seed and the mean, "first · second"."""
    (first, _), (second, _) = _figures(result.get("metric") == "pearson")
    runs = result.get("runs") or []
    rows = []
    for key, name in STARTS:
        cells = [name]
        for run in runs:
            cells.append(_pair(run[key].get(first), run[key].get(second)))
        cells.append(_pair(_mean([r[key].get(first) for r in runs]), _mean([r[key].get(second) for r in runs])))
        rows.append(tuple(cells))
    return rows


def compare_sentence(result: dict[str, Any]) -> str:
    """One sentence: which start is better on the main metric, by how much, over how many seeds."""
    runs = result.get("runs") or []
    if not runs:
        return "No seed has finished both models yet, so there is nothing to compare."
    regression = result.get("metric") == "pearson"
    pretrained, scratch = result["pretrained"]["mean"], result["scratch"]["mean"]
    difference = pretrained - scratch
    seeds = f"{len(runs)} seed{'s' if len(runs) > 1 else ''}"
    if regression:
        values = f"Pearson r {pretrained:.3f} vs {scratch:.3f}, mean of {seeds}"
        gap = f"{abs(difference):.3f} in Pearson r"
    else:
        values = f"{pretrained:.1%} vs {scratch:.1%} validation accuracy, mean of {seeds}"
        gap = f"{abs(difference) * 100:.1f} percentage points"
    if abs(difference) < 5e-4:
        return f"The pretrained model and the one trained from scratch score the same ({values})."
    better = "The pretrained model" if difference > 0 else "The model trained from scratch"
    return f"{better} is better by {gap} ({values})."


class CompareView(QWidget):
    """Pretrained against from scratch: per seed and mean, with one sentence saying which wins."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.caption = note()
        self.table = QTableWidget(0, 0)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(self.table.fontMetrics().height() + 10)
        self.table.setSizeAdjustPolicy(QTableWidget.SizeAdjustPolicy.AdjustToContents)
        self.table.setSizePolicy(QSizePolicy.Policy.Maximum, QSizePolicy.Policy.Maximum)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.sentence = note(style="")
        self.sentence.setFont(self.font())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(heading("Pretrained vs from scratch", scale=1.1))
        layout.addWidget(self.caption)
        row = QHBoxLayout()  # the table as wide as its columns, not a white band across the page
        row.addWidget(self.table)
        row.addStretch(1)
        layout.addLayout(row)
        layout.addWidget(self.sentence)
        layout.addStretch(1)

    def show_result(self, result: dict[str, Any]) -> None:
        """Fill the table and the sentence from a compare-scratch dict (complete or partial)."""
        regression = result.get("metric") == "pearson"
        (_, first), (_, second) = _figures(regression)
        self.caption.setText(f"Each cell: validation {first} · {second} of the best evaluation. Same data, steps "
                             "and seeds; “from scratch” starts from random weights (no block, no embedding "
                             "transferred).")
        seeds = [f"seed {run['seed']}" for run in result.get("runs") or []]
        headers = ["Model", *seeds, "Mean"]
        rows = compare_rows(result)
        self.table.clear()
        self.table.setColumnCount(len(headers))
        self.table.setHorizontalHeaderLabels(headers)
        self.table.setRowCount(len(rows))
        for r, cells in enumerate(rows):
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                if c == len(cells) - 1:
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                self.table.setItem(r, c, item)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(False)
        self.sentence.setText(f"<b>{compare_sentence(result)}</b>" if result.get("runs") else
                              compare_sentence(result))

    def cells(self) -> list[tuple[str, ...]]:
        """The table's text, row by row (tests and the report)."""
        return [tuple(self.table.item(r, c).text() for c in range(self.table.columnCount()))
                for r in range(self.table.rowCount())]


class SweepView(QWidget):
    """Validation metric against layers transferred (GPT-1 Figure 2, left), with a chance line and PNG export."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.plot = mp.make_plot("validation accuracy")
        mp.style_plot(self.plot, self.palette())
        item = self.plot.getPlotItem()
        item.setLabel("bottom", "layers transferred")
        item.getAxis("left").enableAutoSIPrefix(False)
        item.showGrid(y=True, alpha=0.15)  # a handful of points: the grid's repaint cost does not matter here
        item.setMenuEnabled(False)
        self.plot.setMouseEnabled(x=False, y=False)
        accent = self.palette().color(QPalette.ColorRole.Highlight)
        self.curve = item.plot([], [], pen=pg.mkPen(accent, width=2), symbol="o", symbolSize=9,
                               symbolBrush=pg.mkBrush(accent), symbolPen=pg.mkPen(self.palette().color(
                                   QPalette.ColorRole.Base), width=1))
        self.spread = pg.ErrorBarItem(x=np.zeros(0), y=np.zeros(0), height=np.zeros(0), beam=0.12,
                                      pen=pg.mkPen(accent, width=1))
        item.addItem(self.spread)
        muted = mp.faint(self.palette().color(QPalette.ColorRole.Text), 170)
        self.chance = pg.InfiniteLine(pos=0.5, angle=0, movable=False,
                                      pen=pg.mkPen(muted, width=1.5, style=Qt.PenStyle.DashLine),
                                      label="chance", labelOpts={"position": 0.97, "color": muted, "movable": False,
                                                                 "anchors": [(1, 1), (1, 1)]})
        item.addItem(self.chance, ignoreBounds=True)
        self.chance.hide()
        self.caption = note()
        self.export_button = QPushButton("Export PNG…")
        self.export_button.setToolTip("Save the plot as a PNG image (e.g. for a report).")
        self.export_button.clicked.connect(self._on_export)
        self.export_button.setEnabled(False)
        header = QHBoxLayout()
        header.addWidget(heading("Layers transferred", scale=1.1))
        header.addStretch(1)
        header.addWidget(self.export_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(header)
        layout.addWidget(self.caption)
        layout.addWidget(self.plot, 1)
        self.set_layers(0)

    def set_layers(self, n_layer: int) -> None:
        """Integer ticks 0..n and a fixed x range, before any point arrives (the axis shows what will come)."""
        axis = self.plot.getPlotItem().getAxis("bottom")
        axis.setTicks([[(k, str(k)) for k in range(n_layer + 1)], []])
        self.plot.setXRange(-0.3, max(n_layer, 1) + 0.3, padding=0)

    def set_classes(self, classes: int | None, regression: bool = False) -> None:
        """A dashed line at 1 / ``classes`` (what guessing at random scores); the y range for the metric."""
        self.plot.getPlotItem().setLabel("left", "validation Pearson r" if regression else "validation accuracy")
        low = -1.0 if regression else 0.0
        self.plot.setYRange(low, 1.0, padding=0.02)
        ticks = np.linspace(low, 1.0, 5 if regression else 6)
        self.plot.getPlotItem().getAxis("left").setTicks([[(float(v), f"{v:.1f}") for v in ticks], []])
        if classes and classes >= 2 and not regression:
            self.chance.setPos(1 / classes)
            self.chance.label.setFormat(f"chance ({1 / classes:.0%})")
            self.chance.show()
        else:
            self.chance.hide()

    def show_result(self, result: dict[str, Any]) -> None:
        """Draw a sweep-layers dict (complete or partial): one point per layer count, the seeds' spread as bars."""
        points = result.get("points") or []
        x = np.asarray([p["layers"] for p in points], dtype=float)
        y = np.asarray([p["metric"] for p in points], dtype=float)
        sd = np.asarray([p.get("sd") or 0.0 for p in points], dtype=float)
        self.curve.setData(x, y)
        seeds = len(result.get("seeds") or [])
        self.spread.setData(x=x, y=y, height=2 * sd)
        self.spread.setVisible(seeds > 1)  # with one seed there is no spread, only a stray beam at each point
        self.set_layers(int(result.get("n_layer") or 0))
        name = "Pearson r" if result.get("metric") == "pearson" else "accuracy"
        spread = f"mean of {seeds} seeds, bars ±1 sd" if seeds > 1 else f"seed {result['seeds'][0]}" if seeds else ""
        zero = ("0 = only the embeddings transferred" if result.get("transfer_embeddings", True)
                else "embeddings not transferred, so 0 = nothing pretrained")
        self.caption.setText(f"Validation {name} of the best evaluation when the first k pretrained blocks are "
                             f"transferred and the rest start from random weights ({spread}; {zero}).")
        self.export_button.setEnabled(bool(points))

    def points(self) -> tuple[np.ndarray, np.ndarray]:
        """The plotted (x, y) (tests)."""
        x, y = self.curve.getData()
        return (np.zeros(0) if x is None else np.asarray(x)), (np.zeros(0) if y is None else np.asarray(y))

    def chance_level(self) -> float | None:
        """Where the chance line is drawn, or None when hidden."""
        return float(self.chance.value()) if self.chance.isVisible() else None

    def export_png(self, path: str | Path) -> Path:
        """Render the plot (axes, curve, chance line) to ``path`` with pyqtgraph's ImageExporter."""
        from pyqtgraph.exporters import ImageExporter

        exporter = ImageExporter(self.plot.getPlotItem())
        exporter.parameters()["width"] = EXPORT_WIDTH
        exporter.export(str(path))
        return Path(path)

    def _on_export(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export the sweep plot", "layers-transferred.png",
                                              "PNG images (*.png)")
        if not path:
            return
        if not path.lower().endswith(".png"):
            path += ".png"
        try:
            self.export_png(path)
        except Exception as exc:  # noqa: BLE001 - a full disk or a bad folder becomes a message
            error_dialog.show_error(self, f"Could not save the plot to {path}: {exc}")

