"""What every Playground tab shares: the tab frame (a reason page or the body), readable pieces, and bar charts.

A tab gets the loaded model through :meth:`PlaygroundTab.set_model`, with a one-line reason instead when the
model does not fit it (a GPT in Fill mask): then the tab shows that reason inside and the pane disables it.
Long work runs through the tab's :class:`JobBar` (progress, cancel, errors relayed as ``failed``), so the GUI
thread never waits for torch.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFontMetrics, QPalette
from PySide6.QtWidgets import QLabel, QSizePolicy, QStackedWidget, QVBoxLayout, QWidget

from gpt_studio.engine.progress import Reporter
from gpt_studio.ui import theme
from gpt_studio.ui.widgets.job_bar import JobBar
from gpt_studio.ui.widgets.monitor_plots import style_plot
from gpt_studio.ui.widgets.wrap_label import WrapLabel

WORD_START = "\u2581"  # SentencePiece's visible space
NO_MODEL_REASON = "Load a model above to use this tab."


def readable_piece(piece: str) -> str:
    """A vocabulary piece as a person reads it on a chart: a word start plain, a word's inner piece after "…".

    Why mark inner pieces: "the" (a word) and "…ing" (the end of a longer word) are different guesses; a
    punctuation mark reads the same either way, so it stays bare.
    """
    if piece.startswith(WORD_START):
        word = piece[len(WORD_START):]
        return word if word.strip() else "␣"
    if piece == "\n":
        return "↵"
    if not piece:
        return "∅"
    return f"…{piece}" if piece[0].isalnum() else piece


def signed(value: float, decimals: int = 2) -> str:
    """A number with a true minus sign (−3.21): easier to read in a column of negative log-probabilities."""
    return f"{value:.{decimals}f}".replace("-", "−")


def percent(probability: float) -> str:
    """12.3 % with one decimal, "<0.1 %" for the tiny ones (a chart label must never say 0 %)."""
    return f"{100 * probability:.1f} %" if probability >= 0.001 else "<0.1 %"


def softmax(scores: Sequence[float]) -> list[float]:
    """Probabilities among the given choices from their log-probability scores (max-shifted, so never inf)."""
    finite = [s for s in scores if math.isfinite(s)]
    if not finite:
        return [1.0 / len(scores)] * len(scores) if scores else []
    top = max(finite)
    weights = [math.exp(s - top) if math.isfinite(s) else 0.0 for s in scores]
    total = sum(weights)
    return [w / total for w in weights]


def muted_label(text: str = "", parent: QWidget | None = None) -> WrapLabel:
    """A wrapping label in the palette's secondary text colour (explanations under a control)."""
    label = WrapLabel(text, parent)
    label.setStyleSheet("color: palette(placeholder-text);")  # re-resolved on a theme switch (unlike a fixed colour)
    return label


def heading(text: str, parent: QWidget | None = None, scale: float = 1.15) -> QLabel:
    """A bold line over a group of controls or a result."""
    label = QLabel(text, parent)
    label.setFont(theme.scaled_font(label, scale, bold=True))
    return label


class PlaygroundTab(QWidget):
    """One tab: the reason it is unavailable, or its body; a job bar for its long work.

    Subclasses build ``body`` (any widget) in ``_build`` and react to a new model in ``_on_model``.
    """

    title = "Tab"
    intro = ""  # one line: what the tab is for (shown until a model is loaded)
    failed = Signal(str, str)  # reason, details: the pane shows the error dialog
    busy_changed = Signal(bool)  # a job started or ended (the pane locks the model picker meanwhile)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.loaded: Any = None  # the LoadedModel when this tab can use it
        self.reason = NO_MODEL_REASON
        self.reason_label = muted_label(NO_MODEL_REASON)
        self.reason_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.reason_label.setObjectName("tabReason")
        self.job_bar = JobBar("")
        self.job_bar.failed.connect(self.failed)
        self.job_bar.running_changed.connect(self._on_running_changed)
        reason_page = QWidget()
        column = QVBoxLayout(reason_page)
        column.addStretch(1)
        column.addWidget(self.reason_label)
        column.addStretch(2)
        self.body = self._build()
        self.stack = QStackedWidget()
        self.stack.addWidget(reason_page)
        self.stack.addWidget(self.body)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self.stack, 1)

    def _build(self) -> QWidget:
        """The tab's controls and results (one widget)."""
        raise NotImplementedError

    @property
    def available(self) -> bool:
        """Whether the tab has a model it can use."""
        return self.loaded is not None

    @property
    def busy(self) -> bool:
        """Whether the tab's job runs."""
        return self.job_bar.is_running

    def set_model(self, loaded: Any, reason: str | None) -> None:
        """Use ``loaded`` (None: no model) unless ``reason`` says why it does not fit this tab."""
        if self.busy:
            self.cancel()
        self.loaded = loaded if reason is None and loaded is not None else None
        self.reason = reason or (NO_MODEL_REASON if loaded is None else "")
        shown = f"{self.intro}\n\n{self.reason}" if self.intro and loaded is None else self.reason
        self.reason_label.setText(shown)
        self.stack.setCurrentIndex(1 if self.available else 0)
        self._on_model(self.loaded)

    def _on_model(self, loaded: Any) -> None:
        """A new model (or none): clear stale results, adapt limits."""

    def run_job(self, fn: Callable[[Reporter], Any], what: str, on_success: Callable[[Any], None]) -> bool:
        """Run ``fn`` on a worker thread unless one runs already; ``on_success`` runs on the GUI thread."""
        if self.busy or self.loaded is None:
            return False
        self.job_bar.run(fn, what, on_success)
        return True

    def cancel(self) -> None:
        """Stop the running job at its next safe point."""
        self.job_bar.cancel()

    def _on_running_changed(self, running: bool) -> None:
        self._set_running(running)
        self.busy_changed.emit(running)

    def _set_running(self, running: bool) -> None:
        """Enable or disable the tab's run buttons (subclasses)."""


class ProbabilityBars(pg.PlotWidget):
    """Horizontal bars, first item on top, labels on the left axis and each bar's value written after it.

    Static (no mouse zoom): a chart to read, not to explore. Its height follows the number of bars.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.labels: list[str] = []
        self.values: list[float] = []
        self.bars: pg.BarGraphItem | None = None
        self.texts: list[pg.TextItem] = []
        plot = self.getPlotItem()
        plot.setMouseEnabled(x=False, y=False)
        plot.setMenuEnabled(False)
        plot.hideButtons()
        plot.hideAxis("bottom")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        style_plot(self, self.palette())
        self._fit_height(3)

    def row_height(self) -> int:
        """One bar's share of the height: a line of text and some air."""
        return round(QFontMetrics(self.font()).height() * 1.7)

    def _fit_height(self, rows: int) -> None:
        self.setFixedHeight(max(rows, 1) * self.row_height() + 14)

    def set_bars(self, labels: Sequence[str], values: Sequence[float], texts: Sequence[str] | None = None,
                 highlight: int | None = None, x_max: float | None = None) -> None:
        """Draw one bar per label (``values`` ≥ 0); ``texts`` after the bars; ``highlight`` drawn in the accent."""
        plot = self.getPlotItem()
        plot.clear()
        self.labels, self.values = list(labels), [max(float(v), 0.0) for v in values]
        self.texts = []
        self.bars = None
        n = len(self.values)
        self._fit_height(n)
        if n == 0:
            return
        ys = np.arange(n, dtype=float)[::-1]  # the first label at the top
        accent = self.palette().color(QPalette.ColorRole.Highlight)
        plain = QColor(accent)
        plain.setAlpha(90)
        brushes = [pg.mkBrush(accent if i == highlight else plain) for i in range(n)]
        self.bars = pg.BarGraphItem(x0=0.0, y=ys, height=0.62, width=self.values, brushes=brushes,
                                    pen=pg.mkPen(accent.darker(130), width=1))
        plot.addItem(self.bars)
        ink = self.palette().color(QPalette.ColorRole.Text)
        for y, value, text in zip(ys, self.values, texts or [""] * n, strict=True):
            item = pg.TextItem(text, color=ink, anchor=(0, 0.5))
            item.setPos(value, y)
            plot.addItem(item)
            self.texts.append(item)
        axis = plot.getAxis("left")
        axis.setStyle(tickLength=0)
        axis.setTicks([[(float(y), label) for y, label in zip(ys, self.labels, strict=True)], []])
        metrics = QFontMetrics(self.font())
        axis.setWidth(min(max(metrics.horizontalAdvance(s) for s in self.labels) + 16, 260))
        top = x_max if x_max is not None else max(self.values) or 1.0
        longest = max((metrics.horizontalAdvance(t) for t in texts or []), default=0)
        # room on the right for the value text: a share of the range that grows with the text's width
        plot.setXRange(0.0, top * (1.0 + min(0.2 + longest / 260, 0.9)), padding=0)
        plot.setYRange(-0.6, n - 0.4, padding=0)
