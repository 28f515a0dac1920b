"""The live training monitor: loss curves that explain themselves, secondary plots, status, log and samples.

Slots (``add_steps``, ``add_eval``, …) only append to numpy buffers; a GUI-thread timer redraws with
``setData`` when something changed, and only the plots that are visible. This keeps the event loop free
while a run trains on a QThread (see NOTES-qt: redrawing in the slot slowed training up to 10×).

The loss plot shows the raw train loss faintly under a debiased EMA (Adam-style m_t / (1 − β^t), so the
smoothed line starts at the first loss instead of creeping up from 0), validation loss as points, a dashed
"uniform guess" line at ln(vocabulary size) (the loss of a model that knows nothing), red dots on loss
spikes and labelled vertical markers for mid-flight corrections and errors.
"""

from __future__ import annotations

import csv
import math
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QTimer, Slot
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QWidget,
)

from gpt_studio.engine.trainer_config import (
    CheckpointEvent,
    CorrectionEvent,
    ErrorEvent,
    EvalEvent,
    ProbeEvent,
    SampleEvent,
    StepEvent,
)
from gpt_studio.ui.widgets import monitor_data as md
from gpt_studio.ui.widgets import monitor_plots as mp
from gpt_studio.ui.widgets.monitor_status import RunInfo, format_count, readout_text
from gpt_studio.ui.widgets.monitor_view import DEFAULT_BETA, PROBE_TAB, TABS, MonitorView

REDRAW_MS = 80  # the shortest interval between redraws (12/s): smooth to the eye
MAX_REDRAW_MS = 1000  # the longest, however costly a redraw gets
GUI_BUDGET = 0.08  # share of one core that drawing may take while data stream in (see _on_timer)
MAX_SPIKE_DOTS = 2000
MAX_SAMPLES = 20


@dataclass
class ProbeSeries:
    """One zero-shot probe's accuracy at each evaluation, and the curve that draws it."""

    curve: pg.PlotDataItem
    chance: float
    steps: list[int] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)

    def cut_after(self, step: int) -> None:
        """Forget evaluations after ``step`` (a resume from an earlier checkpoint repeats them)."""
        keep = sum(1 for s in self.steps if s <= step)
        del self.steps[keep:], self.accuracy[keep:]
LOG_STEP_EVERY_S = 2.0


class RunMonitor(MonitorView):
    """Live curves, status and log of one run, with faint overlays of others for comparison."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.info = RunInfo()
        self._steps, self._evals = md.Table(len(md.STEP_COLUMNS)), md.Table(len(md.EVAL_COLUMNS))
        self._smoother, self._spikes = md.Smoother(DEFAULT_BETA), md.SpikeDetector()
        self._wall_offset, self._last_elapsed = 0.0, 0.0
        self._markers: list[mp.Marker] = []
        self._overlays: dict[str, mp.Overlay] = {}
        self._samples: deque[SampleEvent] = deque(maxlen=MAX_SAMPLES)
        self._probes: dict[str, ProbeSeries] = {}  # probe name -> its accuracy per evaluation
        self._log_lines: list[str] = []
        self._last_step_log = -math.inf
        self._last_checkpoint: int | None = None
        self._dirty = self._samples_dirty = False
        self._axes_changed = True
        self._stale_tabs: set[int] = set(range(len(TABS)))
        self._cycle_start: tuple[float, float] | None = None  # (wall, GUI thread CPU) when the last redraw began
        self._version = 0  # bumped whenever drawn points may change without their count changing
        self._drawn: dict[int, tuple[Any, ...]] = {}  # id(item) → what it shows (see _set_if_changed)
        self._timer = QTimer(self)
        self._timer.setInterval(REDRAW_MS)
        self._timer.timeout.connect(self._on_timer)
        self._timer.start()

    # ----------------------------------------------------------------------------------------- the run
    def begin_run(self, run_id: str, vocab_size: int, tokens_per_step: int | None = None,
                  max_steps: int | None = None, params: int | None = None, peak_flops: float | None = None) -> None:
        """Clear this run's curves, markers, log and samples (overlays stay) and set the reference line."""
        self.info = RunInfo(run_id, vocab_size, tokens_per_step, max_steps, params, peak_flops)
        self._steps.truncate(0)
        self._evals.truncate(0)
        self._reset_derived()
        self._wall_offset, self._last_elapsed = 0.0, 0.0
        for marker in self._markers:
            self.loss_plot.getPlotItem().removeItem(marker.line)
        self._markers.clear()
        self._samples.clear()
        self._samples_dirty = True
        self._clear_probes()
        self._last_checkpoint, self._last_step_log = None, -math.inf
        self.log_view.clear()
        self.status.clear()
        self.readout.setText("Point at a curve to read its values.")
        self._log_lines = [f"run {run_id}" + (f": {max_steps:,} steps" if max_steps else "")]
        if vocab_size > 1:
            self._uniform.setPos(math.log(vocab_size))
            self._uniform.show()  # before setFormat: a hidden label ignores new text
            self._uniform.label.setFormat(f"uniform guess: ln {vocab_size:,} = {math.log(vocab_size):.2f}")
        self._mark_changed(axes=True)

    def set_max_steps(self, max_steps: int | None) -> None:
        """A resume may extend the run's total."""
        self.info.max_steps = max_steps
        self._mark_changed()

    @Slot(object)
    def add_steps(self, events: Sequence[StepEvent]) -> None:
        """Append steps (no drawing here). A step at or before the last one means a resume: later rows go."""
        if not events:
            return
        if self._steps.n and events[0].step <= self._steps.rows[-1, md.S_STEP]:
            self._cut_after(events[0].step - 1)
        rows, self._wall_offset, self._last_elapsed = md.step_rows(events, self._wall_offset, self._last_elapsed)
        self._steps.append(rows)
        self._mark_changed()

    def add_step_rows(self, raw: np.ndarray) -> None:
        """Append steps given as rows in ``md.EVENT_FIELDS`` order (a loaded history: no event per step).

        As :meth:`add_steps`: a first step at or before the last one held means a resume, and later rows go.
        """
        if len(raw) == 0:
            return
        if self._steps.n and raw[0, md.S_STEP] <= self._steps.rows[-1, md.S_STEP]:
            self._cut_after(int(raw[0, md.S_STEP]) - 1)
        rows, self._wall_offset, self._last_elapsed = md.wall_rows(raw, self._wall_offset, self._last_elapsed)
        self._steps.append(rows)
        # A history arrives in bulk: extend the smoothed curve and the spike scan now, a chunk at a time,
        # so the next redraw only draws (both are incremental; the redraw finds them up to date).
        loss = self._steps.column(md.S_LOSS)
        self._smoother.update(loss)
        self._spikes.update(loss)
        self._mark_changed()

    @Slot(object)
    def add_eval(self, event: EvalEvent) -> None:
        """Append an evaluation; logged."""
        if self._evals.n and event.step <= self._evals.rows[-1, md.E_STEP]:
            self._evals.truncate(int(np.searchsorted(self._evals.column(md.E_STEP), event.step)))
            self._version += 1
        wall = self._wall_offset if event.step == 0 else float(md.step_to_x([event.step], self._steps, "wall time")[0])
        self._evals.append(md.eval_row(event, wall))
        bpb = f", {event.val_bits_per_byte:.3f} bits/byte" if event.val_bits_per_byte is not None else ""
        self._log(f"step {event.step:,}: val loss {event.val_loss:.4f}, perplexity {event.val_perplexity:.2f}{bpb}")

    @Slot(object)
    def add_sample(self, event: SampleEvent) -> None:
        """Keep the newest samples (shown newest first)."""
        self._samples.append(event)
        self._samples_dirty = True
        self._mark_changed()

    @Slot(object)
    def add_probe(self, event: ProbeEvent) -> None:
        """Append a zero-shot probe's accuracy at an evaluation; logged, plotted in the zero-shot tab."""
        series = self._probes.get(event.name)
        if series is None:
            color = QColor(mp.OVERLAY_COLORS[len(self._probes) % len(mp.OVERLAY_COLORS)])
            curve = mp.make_curve(self.tab_plots[PROBE_TAB], color, symbol="o", name=event.name)
            self.tab_plots[PROBE_TAB].getPlotItem().legend.addItem(curve, event.name)
            self._tab_curves[PROBE_TAB].append(curve)
            series = self._probes[event.name] = ProbeSeries(curve, event.chance)
        series.cut_after(event.step - 1)
        series.steps.append(event.step)
        series.accuracy.append(event.accuracy)
        self._log(f"step {event.step:,}: zero-shot {event.name} {event.accuracy:.1%} on {event.n} items "
                  f"(chance {event.chance:.0%})")
        self._mark_changed()

    def _clear_probes(self) -> None:
        plot = self.tab_plots[PROBE_TAB].getPlotItem()
        for series in self._probes.values():
            plot.legend.removeItem(series.curve)
            plot.removeItem(series.curve)
        self._probes.clear()
        self._tab_curves[PROBE_TAB].clear()

    @Slot(object)
    def add_checkpoint(self, event: CheckpointEvent) -> None:
        """Log a checkpoint and show it in the status strip."""
        self._last_checkpoint = event.step
        self._log(f"step {event.step:,}: checkpoint {event.path}")

    @Slot(object)
    def add_correction(self, event: CorrectionEvent) -> None:
        """A labelled dashed vertical marker where a mid-flight change took effect."""
        text = mp.correction_text(event.changes)
        self._add_marker(event.step, text, self.palette().color(QPalette.ColorRole.Text), dashed=True)
        self._log(f"step {event.step:,}: correction {text}")

    @Slot(object)
    def add_error(self, event: ErrorEvent) -> None:
        """A red marker where the run stopped on an error, and the message in the log."""
        self._add_marker(event.step, {"nan": "loss not finite", "oom": "out of memory"}.get(event.reason, "error"),
                         mp.SPIKE_COLOR, dashed=False)
        self._log(f"step {event.step:,}: ERROR {event.message}")

    def add_events(self, events: Iterable[Any]) -> None:
        """Dispatch a mixed list (e.g. ``MetricsFollower.load_all()``) to the add_* slots, steps in batches.

        A loaded history brings runs of steps as blocks (``kind == "steps"``: a float array ``rows`` whose
        columns are the StepEvent fields named in ``fields``); they are appended as arrays.
        """
        batch: list[StepEvent] = []
        handlers = {"eval": self.add_eval, "sample": self.add_sample, "checkpoint": self.add_checkpoint,
                    "correction": self.add_correction, "error": self.add_error, "probe": self.add_probe}
        for event in events:
            if event.kind == "step":
                batch.append(event)
                continue
            self.add_steps(batch)
            batch = []
            if event.kind == "steps":
                self.add_step_rows(md.in_event_order(event.rows, event.fields))
            elif event.kind in handlers:
                handlers[event.kind](event)
            elif event.kind == "end":
                self._log(f"step {event.step:,}: run ended ({event.reason})")  # type: ignore[union-attr]
        self.add_steps(batch)

    def log_message(self, text: str) -> None:
        """Add a line to the log (the pane's own notes: started, paused, resumed…)."""
        self._log(text)

    # ------------------------------------------------------------------------------------------ overlays
    def overlay_run(self, run_id: str, steps: Sequence[Any], evals: Sequence[EvalEvent]) -> None:
        """Draw another run faintly in its own colour (replacing an earlier overlay of the same run).

        ``steps``: StepEvents, or the step blocks a history reader hands over (taken as arrays).
        """
        if run_id in self._overlays:
            self._overlays.pop(run_id).remove_from(self.loss_plot)
        color = QColor(mp.OVERLAY_COLORS[len(self._overlays) % len(mp.OVERLAY_COLORS)])
        overlay = mp.Overlay(run_id, color)
        overlay.steps.append(md.wall_rows(md.step_array(steps), 0.0, 0.0)[0])
        for event in evals:
            wall = float(md.step_to_x([event.step], overlay.steps, "wall time")[0])
            overlay.evals.append(md.eval_row(event, wall))
        overlay.train_curve = mp.make_curve(self.loss_plot, mp.faint(color, 170), width=1.5, name=run_id)
        overlay.val_curve = mp.make_curve(self.loss_plot, mp.faint(color, 170), width=1, symbol="t", dashed=True)
        self._overlays[run_id] = overlay
        self._mark_changed(axes=True)

    def clear_overlays(self) -> None:
        """Remove every overlay."""
        for overlay in self._overlays.values():
            overlay.remove_from(self.loss_plot)
        self._overlays.clear()
        self._mark_changed()

    # ------------------------------------------------------------------------------------------- export
    def export_csv(self, path: str | Path) -> int:
        """Write one row per step (val columns filled at evaluations); returns the number of rows."""
        smoothed = self._smoother.update(self._steps.column(md.S_LOSS))
        rows = md.csv_rows(self._steps, smoothed, self._evals)
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(md.CSV_HEADER)
            writer.writerows(rows)
        return len(rows)

    def export_png(self, path: str | Path) -> bool:
        """Save the plots as they are now (loss plot and the visible tab) as a PNG; True on success."""
        self.redraw(force=True)
        return self.plots_area.grab().save(str(path), "PNG")

    # ------------------------------------------------------------------------------------------- drawing
    @property
    def step_count(self) -> int:
        """Steps held in the buffer."""
        return self._steps.n

    @property
    def redraw_pending(self) -> bool:
        """Whether data arrived that the plots do not show yet (the timer draws it while the monitor is visible)."""
        return self._dirty

    def buffer(self, column: str) -> np.ndarray:
        """A copy of one step column (``step``, ``loss``, ``lr``, …) as buffered, for tests and exports."""
        return self._steps.column(md.STEP_COLUMNS.index(column)).copy()

    def _on_timer(self) -> None:
        """Redraw when something changed, no more often than the drawing budget allows.

        Why a budget: a live pyqtgraph update (setData, then the paint of the plot and its axes) costs the
        GUI thread ≈10–20 ms; at 12/s that is a fifth of a core, and on a 2-core machine it comes straight
        out of training (CPU and the GIL: measured 30% fewer tokens/s, docs/BENCHMARKS.md). So the next
        redraw waits until the GUI thread's CPU time since the last one began (that redraw, its paint and
        whatever else the GUI did) is at most GUI_BUDGET of the elapsed time.
        """
        if not self._dirty or not self.isVisible():
            return
        now, cpu = time.monotonic(), time.thread_time()
        if self._cycle_start is not None:
            started, cpu_start = self._cycle_start
            wait = min(max((cpu - cpu_start) / GUI_BUDGET, REDRAW_MS / 1000), MAX_REDRAW_MS / 1000)
            if now - started < wait:
                return
        self._cycle_start = (now, cpu)
        self.redraw()

    def redraw(self, force: bool = False) -> None:
        """Push buffered data to the visible plots with setData (the timer calls this when data changed)."""
        if not (self._dirty or force):
            return
        self._dirty = False
        col = md.x_column(self.x_mode.currentText())
        x, loss = self._steps.column(col), self._steps.column(md.S_LOSS)
        ema = self._smoother.update(loss)
        self._raw.setData(x, loss)
        self._ema.setData(x, ema)
        spikes = np.asarray(self._spikes.update(loss)[-MAX_SPIKE_DOTS:], dtype=np.int64)
        self._set_if_changed(self._spike_dots, (col, len(spikes)), x[spikes], loss[spikes])
        ex, val = self._evals.column(col), self._evals.column(md.E_LOSS)
        self._set_if_changed(self._val, (col, len(ex)), ex, val)
        if self._axes_changed:
            self._redraw_overlays(col)
            for marker in self._markers:
                marker.line.setPos(float(md.step_to_x([marker.step], self._steps, self.x_mode.currentText())[0]))
            self._axes_changed = False
        others = [c.getData() for o in self._overlays.values() for c in (o.train_curve, o.val_curve)]
        reference = [np.array([self._uniform.value()])] if self._uniform.isVisible() else []
        self._followers[0].fit([x, ex, *(d[0] for d in others)], [loss, val, *(d[1] for d in others), *reference])
        self._stale_tabs = set(range(len(TABS)))
        self._refresh_tab(self.tabs.currentIndex(), x, ema)
        self._redraw_text()

    def _set_if_changed(self, item: Any, key: tuple[Any, ...], x: np.ndarray, y: np.ndarray) -> None:
        """Call setData only when ``key`` changed: points with symbols are rebuilt one by one (slow in pyqtgraph)."""
        key = (self._version, *key)
        if self._drawn.get(id(item)) != key:
            self._drawn[id(item)] = key
            item.setData(x, y)

    def _refresh_tab(self, index: int, x: np.ndarray, ema: np.ndarray) -> None:
        """Only the visible secondary plot is drawn; the others when their tab is shown."""
        if index not in self._stale_tabs:
            return
        self._stale_tabs.discard(index)
        curves, ex = self._tab_curves[index], self._evals.column(md.x_column(self.x_mode.currentText()))
        series = self._fill_tab(index, curves, x, ex, ema)
        self._followers[index + 1].fit([s[0] for s in series], [s[1] for s in series])

    def _fill_tab(self, index: int, curves: list[pg.PlotDataItem], x: np.ndarray, ex: np.ndarray,
                  ema: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Set the tab's curves; returns the (x, y) series given, for the follower to fit the range to.

        Not ``curve.getData()``: on a log axis (perplexity) it hands back log10 values, and the follower,
        which takes logs itself, showed a log-of-log range with the curves far outside it.
        """
        if index == PROBE_TAB:
            return self._fill_probes()
        if index == 0:
            series = [(x, np.exp(np.minimum(ema, 50.0))), (ex, self._evals.column(md.E_PPL))]
            curves[0].setData(*series[0])
            self._set_if_changed(curves[1], (ex.size,), *series[1])
        elif index == 1:
            bpb = self._evals.column(md.E_BPB)
            known = np.isfinite(bpb) & (self._evals.column(md.E_LOSS) > 0)
            factor = float(bpb[known][-1] / self._evals.column(md.E_LOSS)[known][-1]) if known.any() else math.nan
            train = (x, ema * factor) if known.any() else (np.empty(0), np.empty(0))
            series = [train, (ex[known], bpb[known])]
            curves[0].setData(*train)
            self._set_if_changed(curves[1], (ex.size,), *series[1])
        else:
            series = [(x, self._steps.column({2: md.S_LR, 3: md.S_TPS, 4: md.S_GRAD}[index]))]
            curves[0].setData(*series[0])
        return series

    def _fill_probes(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Each probe's accuracy against the x axis, with its chance level dashed; a hint when there are none."""
        series = []
        for probe in self._probes.values():
            x = md.step_to_x(probe.steps, self._steps, self.x_mode.currentText()) if self._steps.n else \
                np.asarray(probe.steps, dtype=np.float64)
            y = np.asarray(probe.accuracy, dtype=np.float64)
            probe.curve.setData(x, y)
            series.append((x, y))
        self.probes_hint.setVisible(not self._probes)
        self.chance_line.setVisible(bool(self._probes))
        if self._probes:
            chance = next(iter(self._probes.values())).chance
            self.chance_line.setPos(chance)
            series.append((np.array([], dtype=np.float64), np.array([0.0, 1.0])))  # keep 0..1 in view
        return series

    def _redraw_overlays(self, col: int) -> None:
        for overlay in self._overlays.values():
            smooth = md.Smoother(self._smoother.beta).update(overlay.steps.column(md.S_LOSS))
            overlay.train_curve.setData(overlay.steps.column(col), smooth)
            overlay.val_curve.setData(overlay.evals.column(col), overlay.evals.column(md.E_LOSS))

    def _redraw_text(self) -> None:
        self.status.update_from(self._steps, self.info)
        if self._last_checkpoint is not None:
            self.status.set_checkpoint(self._last_checkpoint)
        if self._steps.n and self._last_step_log + LOG_STEP_EVERY_S <= self._steps.rows[-1, md.S_WALL]:
            self._last_step_log = self._steps.rows[-1, md.S_WALL]
            self._log_lines.append(self._step_line(self._steps.n - 1))
        if self._log_lines:
            self.log_view.appendPlainText("\n".join(self._log_lines))
            self._log_lines = []
        if self._samples_dirty:
            self._samples_dirty = False
            self.samples_view.setPlainText("\n\n".join(f"— step {s.step:,} —\n{s.text}"
                                                        for s in reversed(self._samples)))

    def _step_line(self, i: int) -> str:
        r = self._steps.rows[i]
        total = f"/{self.info.max_steps:,}" if self.info.max_steps else ""
        return (f"step {int(r[md.S_STEP]):,}{total}: loss {r[md.S_LOSS]:.4f}, lr {r[md.S_LR]:.2e}, "
                f"{format_count(r[md.S_TPS])} tokens/s")

    # ------------------------------------------------------------------------------------------ helpers
    def _mark_changed(self, axes: bool = False) -> None:
        self._dirty = True
        if axes:  # a new run, a cut, another x axis or β: every item may show other points
            self._axes_changed = True
            self._version += 1

    def _log(self, line: str) -> None:
        self._log_lines.append(line)
        self._mark_changed()

    def _reset_derived(self) -> None:
        self._smoother.reset()
        self._spikes.reset()

    def _cut_after(self, step: int) -> None:
        """Drop rows after ``step`` (a resume from an earlier checkpoint); the clock continues from there."""
        keep = int(np.searchsorted(self._steps.column(md.S_STEP), step, side="right"))
        self._steps.truncate(keep)
        self._evals.truncate(int(np.searchsorted(self._evals.column(md.E_STEP), step, side="right")))
        for probe in self._probes.values():
            probe.cut_after(step)
        self._wall_offset = float(self._steps.rows[-1, md.S_WALL]) if keep else 0.0
        self._last_elapsed = 0.0
        self._reset_derived()
        self._mark_changed(axes=True)

    def _add_marker(self, step: int, text: str, color: QColor, dashed: bool) -> None:
        line = mp.make_marker(self.loss_plot, text, color, dashed=dashed)
        line.setPos(float(md.step_to_x([step], self._steps, self.x_mode.currentText())[0]))
        self._markers.append(mp.Marker(step, line))

    def _on_axes_changed(self, _mode: str) -> None:
        self._mark_changed(axes=True)
        for follower in self._followers:
            follower.following = True
        self.loss_plot.getPlotItem().setLabel("bottom", _mode)
        self.redraw()

    def _on_smoothing_changed(self, value: int) -> None:
        beta = value / 1000
        self._smoothing_label.setText(f"{beta:.3f}")
        self._smoother.reset(beta)
        self._mark_changed(axes=True)  # overlays are smoothed with the same β

    def _on_mouse_moved(self, widget: pg.PlotWidget, pos: Any) -> None:
        """Crosshair: a vertical line on every plot and a readout of the values under the mouse."""
        box = widget.getPlotItem().vb
        if not box.sceneBoundingRect().contains(pos) or self._steps.n == 0:
            return
        x = box.mapSceneToView(pos).x()
        for line in self._crosshairs:
            line.setPos(x)
            line.show()
        text = readout_text(self._steps, self._evals, self._smoother.values.column(0), self.x_mode.currentText(), x)
        self.readout.setText(text)
