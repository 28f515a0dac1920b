"""Building blocks of the run monitor's plots: palette-aware plot widgets, fast curves, markers, overlays.

Every curve downsamples by peaks and clips to the view, so 100k-point curves redraw in a few ms; grids are
left off (they cost ≈9–15 ms per repaint on the big plot, see docs/BENCHMARKS.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette

from gpt_studio.ui.widgets.monitor_data import EVAL_COLUMNS, STEP_COLUMNS, Table

VAL_COLOR = QColor("#e8710a")  # orange: readable on light and dark backgrounds, distinct from the accent
SPIKE_COLOR = QColor("#d62728")
OVERLAY_COLORS = ("#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f", "#1f77b4")


def faint(color: QColor, alpha: int = 70) -> QColor:
    """The same colour, mostly transparent (raw curves under their smoothed line)."""
    out = QColor(color)
    out.setAlpha(alpha)
    return out


def make_plot(y_label: str, *, log_y: bool = False) -> pg.PlotWidget:
    """A plot widget with a y label; palette colours are applied by :func:`style_plot`."""
    widget = pg.PlotWidget()
    item = widget.getPlotItem()
    item.setLabel("left", y_label)
    item.getAxis("left").setWidth(52)
    if log_y:
        item.setLogMode(y=True)
    return widget


def style_plot(widget: pg.PlotWidget, palette: QPalette) -> None:
    """Follow the widget palette (pyqtgraph's own default is a black background)."""
    widget.setBackground(palette.color(QPalette.ColorRole.Base))
    text = palette.color(QPalette.ColorRole.Text)
    for name in ("bottom", "left"):
        axis = widget.getPlotItem().getAxis(name)
        axis.setPen(pg.mkPen(palette.color(QPalette.ColorRole.Mid)))
        axis.setTextPen(pg.mkPen(text))


def make_curve(widget: pg.PlotWidget, color: QColor, *, width: float = 1.5, name: str | None = None,
               symbol: str | None = None, dashed: bool = False) -> pg.PlotDataItem:
    """An empty curve that downsamples by peaks (the keyword is ``method``) and clips to the view."""
    pen = pg.mkPen(color, width=width, style=Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine)
    extra: dict[str, Any] = {}
    if symbol:
        extra = {"symbol": symbol, "symbolSize": 6, "symbolBrush": pg.mkBrush(color), "symbolPen": None}
    curve = widget.getPlotItem().plot([], [], pen=pen, name=name, **extra)
    curve.setDownsampling(auto=True, method="peak")
    curve.setClipToView(True)
    return curve


def make_dots(widget: pg.PlotWidget, color: QColor, name: str | None = None) -> pg.ScatterPlotItem:
    """Red dots for loss spikes."""
    dots = pg.ScatterPlotItem(size=7, brush=pg.mkBrush(color), pen=None, name=name)
    widget.getPlotItem().addItem(dots)
    return dots


def make_marker(widget: pg.PlotWidget, text: str, color: QColor, *, dashed: bool = True) -> pg.InfiniteLine:
    """A vertical line with a label near the top (corrections, errors)."""
    pen = pg.mkPen(color, width=1, style=Qt.PenStyle.DashLine if dashed else Qt.PenStyle.SolidLine)
    line = pg.InfiniteLine(pos=0, angle=90, movable=False, pen=pen, label=text,
                           labelOpts={"position": 0.92, "color": color, "movable": False, "anchors": [(0, 0), (0, 0)]})
    widget.getPlotItem().addItem(line, ignoreBounds=True)
    return line


def reference_line(widget: pg.PlotWidget, color: QColor) -> pg.InfiniteLine:
    """The dashed horizontal "uniform guess" line at ln(vocabulary size)."""
    line = pg.InfiniteLine(pos=0, angle=0, movable=False, pen=pg.mkPen(color, width=1, style=Qt.PenStyle.DashLine),
                           label="uniform guess", labelOpts={"position": 0.3, "color": color, "movable": False,
                                                             "anchors": [(0.5, 0), (0.5, 0)]})
    widget.getPlotItem().addItem(line)
    return line


def chance_line(widget: pg.PlotWidget) -> pg.InfiniteLine:
    """A dashed horizontal line at a probe's chance level (hidden until a probe arrives)."""
    color = QColor("#7f7f7f")
    line = pg.InfiniteLine(pos=0.5, angle=0, movable=False, pen=pg.mkPen(color, width=1, style=Qt.PenStyle.DashLine),
                           label="chance", labelOpts={"position": 0.05, "color": color, "movable": False,
                                                      "anchors": [(0, 1), (0, 1)]})
    widget.getPlotItem().addItem(line)
    line.hide()
    return line


@dataclass
class Marker:
    """A vertical marker at a step; its x is recomputed when the x axis changes."""

    step: int
    line: pg.InfiniteLine


@dataclass
class Overlay:
    """Another run drawn faintly for comparison: its tables and its two curves on the loss plot."""

    run_id: str
    color: QColor
    steps: Table = field(default_factory=lambda: Table(len(STEP_COLUMNS)))
    evals: Table = field(default_factory=lambda: Table(len(EVAL_COLUMNS)))
    train_curve: pg.PlotDataItem | None = None
    val_curve: pg.PlotDataItem | None = None

    def remove_from(self, widget: pg.PlotWidget) -> None:
        """Take the curves (and their legend entries) off the plot."""
        for curve in (self.train_curve, self.val_curve):
            if curve is not None:
                widget.getPlotItem().removeItem(curve)


def correction_text(changes: dict[str, Any]) -> str:
    """A short label for a mid-flight correction: "lr ×0.5", "lr → 1e-03", "clip 0.5", "eval every 50"."""
    parts = []
    if "lr_scale" in changes:
        parts.append(f"lr ×{float(changes['lr_scale']):g}")
    if "lr" in changes:
        parts.append(f"lr → {float(changes['lr']):.0e}")
    for key in ("schedule", "min_lr", "warmup_steps"):
        if key in changes:
            parts.append(f"{key} {changes[key]}")
    if "grad_clip" in changes:
        parts.append(f"clip {float(changes['grad_clip']):g}")
    if "eval_interval" in changes:
        parts.append(f"eval every {int(changes['eval_interval'])}")
    return ", ".join(parts) or "correction"


class ViewFollower:
    """Keeps a plot showing all its data by setting the range itself, until the user pans or zooms.

    Why not pyqtgraph's auto-range: it re-ranges while painting, and the range change queues a second
    full paint of the plot each time data arrive (measured: two paints per update, ≈2× the GUI cost of a
    live plot). Setting the range once before the paint costs one. Clicking the plot's "A" button (which
    turns pyqtgraph's auto-range back on) or changing the x axis resumes following.
    """

    def __init__(self, widget: pg.PlotWidget, *, log_y: bool = False) -> None:
        self.widget, self.log_y = widget, log_y
        self.following = True
        self.box = widget.getPlotItem().vb
        self.box.disableAutoRange()
        self.box.sigRangeChangedManually.connect(self._on_user_range)

    def _on_user_range(self, _mask: object) -> None:
        self.following = False

    def fit(self, xs: list[np.ndarray], ys: list[np.ndarray]) -> None:
        """Show every finite point of the given series (with a little padding)."""
        if any(self.box.state["autoRange"]):  # the user clicked "A": follow again, our way
            self.box.disableAutoRange()
            self.following = True
        if not self.following:
            return
        x = np.concatenate([np.asarray(a, dtype=np.float64).ravel() for a in xs] or [np.empty(0)])
        y = np.concatenate([np.asarray(a, dtype=np.float64).ravel() for a in ys] or [np.empty(0)])
        x, y = x[np.isfinite(x)], y[np.isfinite(y)]
        if self.log_y:
            y = np.log10(y[y > 0])
        if x.size == 0 or y.size == 0:
            return
        x0, x1, y0, y1 = float(x.min()), float(x.max()), float(y.min()), float(y.max())
        self.box.setRange(xRange=(x0, x1 if x1 > x0 else x0 + 1), yRange=(y0, y1 if y1 > y0 else y0 + 1e-3),
                          padding=0.03)
