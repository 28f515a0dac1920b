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


def decade_label(value: float) -> str:
    """10 → "10", 1000 → "1k", 1e6 → "1M" (axis labels stay short)."""
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= limit:
            return f"{value / limit:g}{suffix}"
    return f"{value:g}"


class LengthHistogram(pg.PlotWidget):
    """A bar chart of ``manifest["stats"]["doc_length_histogram"]``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bars: pg.BarGraphItem | None = None
        self.median_line: pg.InfiniteLine | None = None
        plot = self.getPlotItem()
        plot.setMouseEnabled(x=False, y=False)
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.setLabel("bottom", "document length (characters, log scale)")
        plot.setLabel("left", "documents")
        plot.getAxis("left").setWidth(44)
        self._apply_palette()

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
        self.bars = self.median_line = None
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
        first, last = math.floor(log_edges[lo]), math.ceil(log_edges[hi])
        plot.getAxis("bottom").setTicks([[(k, decade_label(10.0**k)) for k in range(first, last + 1)], []])
        self._add_median(hist)  # type: ignore[arg-type]
        self.setToolTip(f"{int(counts.sum()):,} documents · shortest {hist['min']:,} · median "  # type: ignore[index]
                        f"{hist['median']:,.0f} · mean {hist['mean']:,.0f} · longest {hist['max']:,} characters")

    def _add_median(self, hist: dict[str, Any]) -> None:
        median = float(hist.get("median") or 0)
        if median <= 0:
            return
        pen = pg.mkPen(self.palette().color(QPalette.ColorRole.Text), width=1, style=Qt.PenStyle.DashLine)
        self.median_line = pg.InfiniteLine(pos=math.log10(median), angle=90, pen=pen, movable=False,
                                           label=f"median {median:,.0f}",
                                           labelOpts={"position": 0.93, "color": pen.color(), "anchors":
                                                      [(0, 0.5), (0, 0.5)]})
        self.getPlotItem().addItem(self.median_line)
