"""The run monitor's widgets: toolbar, loss plot, tabbed secondary plots, samples, log and status strip.

Only building and colouring live here; :class:`~gpt_studio.ui.widgets.run_monitor.RunMonitor` adds the data,
drawing and the reactions (the ``_on_*`` hooks and ``redraw``, which it overrides).
"""

from __future__ import annotations

from typing import Any

import pyqtgraph as pg
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QColor, QFontDatabase, QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QSizePolicy,
    QSlider,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from gpt_studio.ui.widgets import monitor_data as md
from gpt_studio.ui.widgets import monitor_plots as mp
from gpt_studio.ui.widgets.monitor_status import StatusStrip

EMPTY_HINT = "Start a run, or open one from the runs list, to see its curves here."
DEFAULT_BETA = 0.9  # EMA weight of the smoothed train loss at start
TABS = (("perplexity", "perplexity (log scale)", True), ("bits per byte", "bits per byte", False),
        ("learning rate", "learning rate", False), ("tokens/s", "tokens per second", False),
        ("gradient norm", "gradient norm (before clipping)", False),
        ("zero-shot", "zero-shot accuracy (probes)", False))
PROBE_TAB = len(TABS) - 1


class ElidedLabel(QLabel):
    """One line of text that ends in "…" where the room runs out, instead of being cut mid-word.

    ``text()`` keeps the whole line, and so does the tooltip.
    """

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setText(text)

    def setText(self, text: str) -> None:  # noqa: N802 - Qt's name
        """Show ``text`` (elided when drawn) and offer all of it as the tooltip."""
        super().setText(text)
        self.setToolTip(text)

    def paintEvent(self, _event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        """Draw the text elided to the label's width."""
        painter = QPainter(self)
        shown = self.fontMetrics().elidedText(self.text(), Qt.TextElideMode.ElideRight, self.contentsRect().width())
        painter.drawText(self.contentsRect(), int(self.alignment()), shown)


class MonitorView(QWidget):
    """The monitor's widgets and plot items, coloured from the palette (light or dark)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._build()
        self._apply_palette()

    # hooks RunMonitor overrides
    def redraw(self, force: bool = False) -> None:
        """Push data to the plots."""

    def _on_axes_changed(self, mode: str) -> None:
        """The x axis now counts ``mode``."""

    def _on_smoothing_changed(self, value: int) -> None:
        """The smoothing slider moved (0…999 = β·1000)."""

    def _on_mouse_moved(self, widget: pg.PlotWidget, pos: Any) -> None:
        """The mouse moved over ``widget`` (scene coordinates)."""

    def _build(self) -> None:
        """Create every widget and plot item."""
        self.x_mode = QComboBox()
        self.x_mode.addItems(md.X_MODES)
        self.x_mode.setToolTip("What the x axis counts: optimizer steps, training tokens or wall time")
        self.x_mode.currentTextChanged.connect(self._on_axes_changed)
        self.smoothing = QSlider(Qt.Orientation.Horizontal)
        self.smoothing.setRange(0, 999)
        self.smoothing.setValue(round(DEFAULT_BETA * 1000))
        self.smoothing.setMaximumWidth(160)
        # a slider squeezed to its minimum is a 15-pixel square that reads as a checkbox (it happened at 1280 px)
        self.smoothing.setMinimumWidth(self.fontMetrics().averageCharWidth() * 12)
        self.smoothing.setToolTip("EMA weight β of the smoothed train loss (0 = raw); bias-corrected like Adam")
        self.smoothing.valueChanged.connect(self._on_smoothing_changed)
        self._smoothing_label = QLabel(f"{DEFAULT_BETA:.3f}")
        self.readout = ElidedLabel(EMPTY_HINT)
        # the readout takes the room that is left (its text elided, all of it in the tooltip), never the controls
        self.readout.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        bar = QHBoxLayout()
        for widget in (QLabel("x axis"), self.x_mode, QLabel("smoothing"), self.smoothing, self._smoothing_label):
            bar.addWidget(widget)
        bar.addSpacing(12)
        bar.addWidget(self.readout, 1)
        self.loss_plot = mp.make_plot("loss (nats per token)")
        self.loss_plot.getPlotItem().addLegend(offset=(-10, 10))
        self.loss_plot.getPlotItem().setLabel("bottom", md.X_MODES[0])
        self._build_loss_items()
        self.tabs = QTabWidget()
        self.tab_plots: list[pg.PlotWidget] = []
        for title, y_label, log_y in TABS:
            widget = mp.make_plot(y_label, log_y=log_y)
            self.tab_plots.append(widget)
            self.tabs.addTab(widget, title)
        self._build_tab_items()
        self._followers = [mp.ViewFollower(w, log_y=log_y) for w, (_, _, log_y) in
                           zip((self.loss_plot, *self.tab_plots), ((None, None, False), *TABS))]
        self.tabs.currentChanged.connect(lambda _index: self.redraw(force=True))
        self.samples_view, self.log_view = QPlainTextEdit(), QPlainTextEdit()
        fixed = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        for view in (self.samples_view, self.log_view):
            view.setReadOnly(True)
            view.setFont(fixed)
        self.log_view.setMaximumBlockCount(5000)
        self.samples_view.setPlaceholderText("At each evaluation: generated text (GPT models), or the model's top "
                                             "guesses for masked words of a validation text (BERT models).")
        self.log_view.setPlaceholderText("Evaluations, checkpoints, corrections and errors are logged here.")
        side = QTabWidget()
        side.addTab(self.samples_view, "samples")
        side.addTab(self.log_view, "log")
        bottom = QSplitter(Qt.Orientation.Horizontal)
        bottom.addWidget(self.tabs)
        bottom.addWidget(side)
        bottom.setSizes([600, 400])
        self.plots_area = QSplitter(Qt.Orientation.Vertical)
        self.plots_area.addWidget(self.loss_plot)
        self.plots_area.addWidget(bottom)
        self.plots_area.setSizes([600, 350])
        self.status = StatusStrip()
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.plots_area, 1)
        layout.addWidget(self.status)
        self._proxies = [pg.SignalProxy(w.scene().sigMouseMoved, rateLimit=30,
                                        slot=lambda args, w=w: self._on_mouse_moved(w, args[0]))
                         for w in (self.loss_plot, *self.tab_plots)]

    def _build_loss_items(self) -> None:
        plot = self.loss_plot
        self._raw = mp.make_curve(plot, QColor(), width=1)
        self._ema = mp.make_curve(plot, QColor(), width=2, name="train (smoothed)")
        self._val = mp.make_curve(plot, mp.VAL_COLOR, symbol="o", name="validation")
        self._spike_dots = mp.make_dots(plot, mp.SPIKE_COLOR, name="loss spike")
        self._uniform = mp.reference_line(plot, QColor())
        self._uniform.hide()
        self._crosshairs = [self._crosshair(plot)]

    def _build_tab_items(self) -> None:
        ppl, bpb, lr, tps, norm, probes = self.tab_plots
        self._tab_curves: list[list[pg.PlotDataItem]] = [
            [mp.make_curve(ppl, QColor(), name="train (smoothed)"), mp.make_curve(ppl, mp.VAL_COLOR, symbol="o",
                                                                                  name="validation")],
            [mp.make_curve(bpb, QColor(), name="train (smoothed)"), mp.make_curve(bpb, mp.VAL_COLOR, symbol="o",
                                                                                  name="validation")],
            [mp.make_curve(lr, QColor())], [mp.make_curve(tps, QColor(), width=1)], [mp.make_curve(norm, QColor(),
                                                                                                   width=1)],
            []]  # one curve per probe, made as probes arrive
        probes.getPlotItem().addLegend(offset=(-10, 10))
        self.chance_line = mp.chance_line(probes)
        self.probes_hint = pg.TextItem("No zero-shot probes in this run: add one under Advanced › Zero-shot probes "
                                       "(or --probe TASK:FILE) to watch zero-shot accuracy grow with pretraining.",
                                       anchor=(0, 0))
        probes.getPlotItem().addItem(self.probes_hint, ignoreBounds=True)
        for widget in (ppl, bpb):
            widget.getPlotItem().addLegend(offset=(-10, 10))
            for curve in widget.getPlotItem().listDataItems():
                widget.getPlotItem().legend.addItem(curve, curve.name())
        self._crosshairs += [self._crosshair(w) for w in self.tab_plots]

    @staticmethod
    def _crosshair(widget: pg.PlotWidget) -> pg.InfiniteLine:
        line = pg.InfiniteLine(angle=90, movable=False, pen=pg.mkPen((128, 128, 128), style=Qt.PenStyle.DotLine))
        widget.getPlotItem().addItem(line, ignoreBounds=True)
        line.hide()
        return line

    def _apply_palette(self) -> None:
        """Colours from the palette (light or dark), re-applied when the palette changes."""
        palette = self.palette()
        accent, muted = palette.color(QPalette.ColorRole.Highlight), palette.color(QPalette.ColorRole.PlaceholderText)
        for widget in (self.loss_plot, *self.tab_plots):
            mp.style_plot(widget, palette)
            legend = widget.getPlotItem().legend
            if legend is not None:
                legend.setLabelTextColor(palette.color(QPalette.ColorRole.Text))
        self._raw.setPen(pg.mkPen(mp.faint(accent), width=1))
        self._ema.setPen(pg.mkPen(accent, width=2))
        self._uniform.setPen(pg.mkPen(muted, width=1, style=Qt.PenStyle.DashLine))
        self._uniform.label.setColor(muted)
        for curves in self._tab_curves[:PROBE_TAB]:  # probe curves keep their own colours
            curves[0].setPen(pg.mkPen(accent, width=1.5))

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        """Follow light/dark switches."""
        if event.type() == QEvent.Type.PaletteChange:
            self._apply_palette()
        super().changeEvent(event)
