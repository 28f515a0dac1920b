"""The document-length histogram: bars over log10 bin edges, with decade tick labels and a median marker.

The manifest stores counts on log-spaced bins (4 per decade); drawing the bars between log10(edges) keeps
them equally wide, and the axis labels the decades in characters (10, 100, 1k, …). Static: no mouse zoom.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QWidget

# the x-axis title, longest first: the longest one that fits the plot's width is shown
AXIS_TITLES = ("document length (characters, log scale)", "characters per document", "characters")


def decade_label(value: float) -> str:
    """10 → "10", 1000 → "1k", 1e6 → "1M" (axis labels stay short)."""
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= limit:
            return f"{value / limit:g}{suffix}"
    return f"{value:g}"


def short_count(value: float) -> str:
    """Three significant digits with a k/M/G suffix: 1115388 → "1.12M", 523 → "523" (labels inside a plot)."""
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= limit:
            return f"{value / limit:.3g}{suffix}"
    return f"{value:.3g}"


class LengthHistogram(pg.PlotWidget):
    """A bar chart of ``manifest["stats"]["doc_length_histogram"]``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bars: pg.BarGraphItem | None = None
        self.median_line: pg.InfiniteLine | None = None
        self.median_label: pg.TextItem | None = None
        plot = self.getPlotItem()
        plot.setMouseEnabled(x=False, y=False)
        plot.setMenuEnabled(False)
        plot.hideButtons()
        self._axis_title = ""
        plot.setLabel("left", "documents")
        plot.getViewBox().sigResized.connect(self._on_resized)
        self._apply_palette()
        self._fit_axis_title()

    def _apply_palette(self) -> None:
        """Follow the application palette (pyqtgraph's default is a black background)."""
        palette = self.palette()
        self.setBackground(palette.color(QPalette.ColorRole.Base))
        text = palette.color(QPalette.ColorRole.Text)
        for name in ("bottom", "left"):
            axis = self.getPlotItem().getAxis(name)
            axis.setPen(pg.mkPen(palette.color(QPalette.ColorRole.Mid)))
            axis.setTextPen(pg.mkPen(text))
        self._accent = palette.color(QPalette.ColorRole.Highlight)

    def set_histogram(self, hist: dict[str, Any] | None) -> None:
        """Draw a histogram dict ``{edges, counts, median, …}``; None or empty clears the plot."""
        plot = self.getPlotItem()
        plot.clear()
        self.bars = self.median_line = self.median_label = None
        counts = np.asarray((hist or {}).get("counts") or [], dtype=float)
        if counts.size == 0 or counts.sum() == 0:
            self.setToolTip("")
            return
        log_edges = np.log10(np.asarray(hist["edges"], dtype=float))  # type: ignore[index]
        nonzero = np.flatnonzero(counts)
        lo, hi = max(int(nonzero[0]) - 1, 0), min(int(nonzero[-1]) + 2, counts.size)
        fill = QColor(self._accent)
        fill.setAlpha(170)
        self.bars = pg.BarGraphItem(x0=log_edges[lo:hi], x1=log_edges[lo + 1:hi + 1], height=counts[lo:hi],
                                    brush=pg.mkBrush(fill), pen=pg.mkPen(self._accent.darker(130), width=1))
        plot.addItem(self.bars)
        plot.setXRange(log_edges[lo], log_edges[hi], padding=0.02)
        plot.setYRange(0, counts.max() * 1.12, padding=0)
        # a handful of documents: whole-number ticks (the automatic ones would say 0.2 documents)
        top = int(counts.max())
        plot.getAxis("left").setTicks([[(k, str(k)) for k in range(0, top + 1)], []] if top <= 5 else None)
        first, last = math.floor(log_edges[lo]), math.ceil(log_edges[hi])
        plot.getAxis("bottom").setTicks([[(k, decade_label(10.0**k)) for k in range(first, last + 1)], []])
        self._add_median(hist)  # type: ignore[arg-type]
        self.setToolTip(f"{int(counts.sum()):,} documents · shortest {hist['min']:,} · median "  # type: ignore[index]
                        f"{hist['median']:,.0f} · mean {hist['mean']:,.0f} · longest {hist['max']:,} characters")

    def _add_median(self, hist: dict[str, Any]) -> None:
        median = float(hist.get("median") or 0)
        if median <= 0:
            return
        text = self.palette().color(QPalette.ColorRole.Text)
        pen = pg.mkPen(text, width=1, style=Qt.PenStyle.DashLine)
        self.median_line = pg.InfiniteLine(pos=math.log10(median), angle=90, pen=pen, movable=False)
        fill = QColor(self.palette().color(QPalette.ColorRole.Base))
        fill.setAlpha(210)  # readable over the bars
        self.median_label = pg.TextItem(f"median {short_count(median)}", color=text, fill=pg.mkBrush(fill))
        self.median_label.setZValue(10)
        plot = self.getPlotItem()
        plot.addItem(self.median_line)
        plot.addItem(self.median_label, ignoreBounds=True)
        self._place_median_label()

    def _on_resized(self) -> None:
        self._fit_axis_title()
        self._place_median_label()

    def _fit_axis_title(self) -> None:
        """Shorten the x-axis title rather than let the plot's edges cut it."""
        axis, width = self.getPlotItem().getAxis("bottom"), self.getPlotItem().getViewBox().width()
        for title in AXIS_TITLES:
            if title != self._axis_title:
                axis.setLabel(title)
                self._axis_title = title
            if axis.label.boundingRect().width() + 16 <= width:  # the label item as drawn: its font and margins
                break
        axis.resizeEvent()  # re-centres the label (pyqtgraph only does that on a resize)

    def _place_median_label(self) -> None:
        """Put the label at the top, right of the line if it fits there, else left of it, else inside the edge."""
        if self.median_line is None or self.median_label is None:
            return
        view = self.getPlotItem().getViewBox()
        (x0, x1), (_, y1) = view.viewRange()
        width, line = view.width(), self.median_line.value()
        label_width = self.median_label.textItem.boundingRect().width()
        if width <= 0 or x1 <= x0 or label_width <= 0:
            return
        line_px, gap = (line - x0) / (x1 - x0) * width, 4.0
        if line_px + gap + label_width <= width:
            left = line_px + gap
        elif line_px - gap - label_width >= 0:
            left = line_px - gap - label_width
        else:
            left = max(0.0, width - label_width)  # a narrow plot: stay inside, over the line
        self.median_label.setAnchor(((line_px - left) / label_width, 0.0))  # anchor is a fraction of the text
        self.median_label.setPos(line, y1)
