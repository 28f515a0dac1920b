"""The compute planner beside the run form: parameters, tokens, FLOPs, PF-days, memory, time and cost.

Everything comes from :func:`gpt_studio.engine.compute.plan`, recomputed (debounced) as the form changes. Wall
time needs a throughput, which only the machine can tell: "Measure" times a few training steps of the
configured model on random tokens (:func:`gpt_studio.engine.compute.measure_throughput`) in a
:class:`~gpt_studio.workers.Job`, off the GUI thread. The chart puts
the run's PF-days on a log scale beside published runs (BERT-Base, RoBERTa, GPT-3), so the scale is visible.
"""

from __future__ import annotations

import dataclasses
import math
import os
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from gpt_studio.engine.compute import (
    CHINCHILLA_TOKENS_PER_PARAM,
    MEASURE_STEPS,
    PUBLISHED_RUNS,
    Plan,
    measure_throughput,
    plan,
)
from gpt_studio.engine.model import ModelConfig
from gpt_studio.engine.progress import Reporter
from gpt_studio.engine.trainer_config import TrainConfig
from gpt_studio.ui.widgets.field_editor import format_count
from gpt_studio.ui.widgets.job_bar import JobBar

DEBOUNCE_MS = 150
THIS_RUN = "This run"
ROWS = ("parameters", "tokens_per_step", "tokens", "flops", "pf_days", "memory", "throughput", "wall", "cost",
        "optimal")
LABELS = ("Parameters", "Tokens per step", "Total tokens", "Training FLOPs", "PF-days", "Memory", "Throughput",
          "Wall time", "Cost", "Compute-optimal")


def device_memory(device_name: str) -> tuple[int | None, str]:
    """Memory of the device training would use: a CUDA GPU's total memory, else the machine's RAM."""
    from gpt_studio.engine import devices
    from gpt_studio.engine.errors import StudioError

    try:
        device = devices.resolve_device(device_name)
    except StudioError:
        return None, "device"
    if device.type == "cuda":
        import torch

        return int(torch.cuda.get_device_properties(device).total_memory), "GPU memory"
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"), "RAM"
    except (ValueError, OSError, AttributeError):  # Windows has no sysconf
        try:
            import psutil

            return int(psutil.virtual_memory().total), "RAM"
        except ImportError:
            return None, "RAM"


def format_seconds(seconds: float) -> str:
    """12 s, 4 min 10 s, 3 h 20 min, 5.2 days."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    if seconds < 3600:
        return f"{seconds // 60:.0f} min {seconds % 60:.0f} s"
    if seconds < 2 * 86400:
        return f"{seconds // 3600:.0f} h {seconds % 3600 / 60:.0f} min"
    return f"{seconds / 86400:.1f} days"


def format_bytes(n: float) -> str:
    """Bytes in MiB or GiB."""
    return f"{n / 2**30:.2f} GiB" if n >= 2**30 else f"{n / 2**20:.1f} MiB"


class PlannerPanel(QWidget):
    """What the configured run costs, recomputed as the form changes; ``measured(tokens/s)`` after Measure."""

    measured = Signal(float)
    failed = Signal(str, str)  # a measurement failed: reason, details (for the error dialog)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model: ModelConfig | None = None
        self.train: TrainConfig | None = None
        self.plan: Plan | None = None
        self.tokens_per_second: float | None = None
        self._measured_for: Any = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(DEBOUNCE_MS)
        self._timer.timeout.connect(self.update_now)
        self._build()
        self.update_now()

    def _build(self) -> None:
        self.values: dict[str, QLabel] = {}
        form = QFormLayout()
        for key, label in zip(ROWS, LABELS):
            value = QLabel("—")  # no word wrap: wrapped labels get squeezed in a scroll area; texts break lines
            value.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
            self.values[key] = value
            form.addRow(label, value)
        self.measure_button = QPushButton("Measure")
        self.measure_button.setToolTip("Time a few training steps of this model on this device (random tokens) to "
                                       "estimate the wall time. Takes seconds for small models.")
        self.measure_button.clicked.connect(self.measure)
        self.job_bar = JobBar("")
        self.job_bar.failed.connect(self.failed)
        self.job_bar.running_changed.connect(lambda running: self.measure_button.setEnabled(not running))
        self.price = QDoubleSpinBox()
        self.price.setRange(0, 1000)
        self.price.setDecimals(2)
        self.price.setPrefix("$")
        self.price.setSuffix(" per GPU-hour")
        self.price.setValue(2.0)
        self.price.setToolTip("Rental price of the machine per hour, for the cost estimate.")
        self.price.valueChanged.connect(self.schedule_update)
        measure_row = QHBoxLayout()
        measure_row.addWidget(self.measure_button)
        measure_row.addWidget(self.job_bar, 1)
        form.addRow("", measure_row)
        form.addRow("Price", self.price)
        self.chart = _ScaleChart()
        self.table = self._published_table()
        self.scale_tabs = QTabWidget()
        self.scale_tabs.addTab(self.chart, "Scale")
        self.scale_tabs.addTab(self.table, "Published runs")
        self.scale_tabs.setTabToolTip(0, "This run's compute beside published models, on a log scale.")
        self.message = QLabel("Fix the settings marked in red to see the plan.")
        self.message.setStyleSheet("color: palette(placeholder-text);")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.message)
        layout.addLayout(form)
        layout.addWidget(self.scale_tabs, 1)

    def _published_table(self) -> QTableWidget:
        table = QTableWidget(len(PUBLISHED_RUNS) + 1, 4)
        table.setHorizontalHeaderLabels(["Run", "Parameters", "Tokens", "PF-days"])
        table.verticalHeader().setVisible(False)
        table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        for row, run in enumerate(PUBLISHED_RUNS):
            for column, text in enumerate((run.name, format_count(run.params), format_count(run.tokens),
                                           f"{run.pf_days:,g}")):
                item = QTableWidgetItem(text)
                item.setToolTip(run.source)
                table.setItem(row, column, item)
        for column, text in enumerate((THIS_RUN, "—", "—", "—")):
            table.setItem(len(PUBLISHED_RUNS), column, QTableWidgetItem(text))
        return table

    # ------------------------------------------------------------------------------------------ inputs

    def set_inputs(self, model: ModelConfig | None, train: TrainConfig | None) -> None:
        """Plan ``model`` trained with ``train`` (None: the form is invalid); debounced."""
        self.model, self.train = model, train
        self.schedule_update()

    @property
    def is_settled(self) -> bool:
        """Whether the numbers shown are the current inputs' (no recompute pending, no measurement running)."""
        return not self._timer.isActive() and not self.job_bar.is_running

    def schedule_update(self) -> None:
        """Recompute after the fields stop changing for a moment."""
        self._timer.start()

    def update_now(self) -> None:
        """Recompute the plan and every number, the chart and the table."""
        self._timer.stop()
        if self.model is None or self.train is None:
            self.plan = None
            self.message.setVisible(True)
            for value in self.values.values():
                value.setText("—")
            self.chart.show_run(None)
            return
        self.message.setVisible(False)
        self.plan = self._make_plan(self.model, self.train)
        self._show(self.plan, self.train)
        self.chart.show_run(self.plan.pf_days)
        self._show_this_run_row(self.plan)

    def _make_plan(self, model: ModelConfig, train: TrainConfig) -> Plan:
        memory, _kind = device_memory(train.device)
        tokens = float(train.max_steps * train.batch_size * train.grad_accum * model.context_length)
        rate = self.tokens_per_second if self._measured_for == self._signature() else None
        return plan(model, tokens=tokens, batch_size=train.batch_size, precision=train.precision,
                    device_memory_bytes=memory, tokens_per_second=rate,
                    price_per_gpu_hour=self.price.value())

    def _signature(self) -> Any:
        """What a throughput measurement depends on: the model, the micro-batch, the device and precision."""
        if self.model is None or self.train is None:
            return None
        return (tuple(sorted(dataclasses.asdict(self.model).items())), self.train.batch_size, self.train.device,
                self.train.precision)

    # ---------------------------------------------------------------------------------------- showing

    def _show(self, p: Plan, train: TrainConfig) -> None:
        per_step = train.batch_size * train.grad_accum * p.seq_len
        v = self.values
        v["memory"].setStyleSheet("")
        v["parameters"].setText(f"{p.parameters:,} ({p.non_embedding_parameters:,} without embeddings)")
        v["tokens_per_step"].setText(f"{per_step:,} = {train.batch_size} × {train.grad_accum} × {p.seq_len}")
        v["tokens"].setText(f"{format_count(p.tokens)} ({train.max_steps:,} steps)")
        v["flops"].setText(f"{p.flops:.3g} (6·N·D {p.flops_6nd:.3g} + attention)")
        v["pf_days"].setText(f"{p.pf_days:.3g}\n{scale_note(p.pf_days)}")
        v["memory"].setText(self._memory_text(p, train.device))
        v["throughput"].setText(self._throughput_text())
        v["wall"].setText(format_seconds(p.wall_seconds) if p.wall_seconds is not None else "Measure to estimate")
        v["cost"].setText(f"${p.cost:,.2f} at ${p.price_per_gpu_hour:g}/h" if p.cost is not None
                          else "Measure to estimate")
        steps_needed = math.ceil(p.chinchilla_tokens / per_step)
        per_param = f"{CHINCHILLA_TOKENS_PER_PARAM:.0f} per parameter"
        v["optimal"].setText(f"{format_count(p.chinchilla_tokens)} tokens ({per_param}, Chinchilla)\n"
                             f"= {steps_needed:,} steps; this run: {p.tokens_per_parameter:.2g} per parameter")

    def _memory_text(self, p: Plan, device_name: str) -> str:
        total = format_bytes(p.memory.total)
        if p.device_memory_bytes is None:
            return f"{total} (device memory unknown)"
        _memory, kind = device_memory(device_name)
        text = f"{total} of {format_bytes(p.device_memory_bytes)} {kind}"
        if p.fits:
            return f"{text}\nfits (batch size up to about {p.max_batch_size:,})"
        self.values["memory"].setStyleSheet("color: #d0342c;")
        return f"{text}\ndoes not fit: try batch size {max(p.max_batch_size or 0, 1)} and more accumulation"

    def _throughput_text(self) -> str:
        if self.tokens_per_second is None:
            return "not measured yet"
        if self._measured_for != self._signature():
            return f"{self.tokens_per_second:,.0f} tokens/s measured for other settings: measure again"
        return f"{self.tokens_per_second:,.0f} tokens/s (measured)"

    def _show_this_run_row(self, p: Plan) -> None:
        row = len(PUBLISHED_RUNS)
        for column, text in enumerate((THIS_RUN, format_count(p.parameters), format_count(p.tokens),
                                       f"{p.pf_days:.3g}")):
            item = QTableWidgetItem(text)
            font = item.font()
            font.setBold(True)
            item.setFont(font)
            self.table.setItem(row, column, item)

    def published_names(self) -> list[str]:
        """The runs the table lists (the published ones and this run)."""
        return [self.table.item(row, 0).text() for row in range(self.table.rowCount()) if self.table.item(row, 0)]

    # ---------------------------------------------------------------------------------------- measuring

    def measure(self) -> None:
        """Time the configured model on its device in a job; the result feeds the wall time and cost."""
        if self.model is None or self.train is None or self.job_bar.is_running:
            return
        model, train, signature = self.model, self.train, self._signature()

        def measure(reporter: Reporter) -> float:  # on the job's thread
            return measure_throughput(model, batch_size=train.batch_size, precision=train.precision,
                                      device=train.device, steps=MEASURE_STEPS, reporter=reporter, seed=train.seed)

        self.job_bar.run(measure, "measuring the training speed", lambda rate: self._on_measured(rate, signature))

    def cancel(self) -> None:
        """Stop a measurement (closing the pane)."""
        self.job_bar.cancel()
        if self.job_bar.job is not None:
            self.job_bar.job.wait(10_000)

    def _on_measured(self, rate: float, signature: Any) -> None:
        self.tokens_per_second, self._measured_for = rate, signature
        self.update_now()
        self.measured.emit(rate)


class _ScaleChart(QWidget):
    """PF-days on a log axis: the published runs and this run, one row each, labelled."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        import pyqtgraph as pg

        self.plot = pg.PlotWidget()
        self.plot.setMenuEnabled(False)
        self.plot.setMouseEnabled(False, False)
        self.plot.hideButtons()
        self.plot.hideAxis("left")
        self.plot.setLabel("bottom", "training compute, PF-days (log scale)")
        self.plot.setMinimumHeight(self.fontMetrics().height() * 11)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.plot)
        self.pf_days: float | None = None

    def show_run(self, pf_days: float | None) -> None:
        """Redraw with this run at ``pf_days`` (None: the published runs only)."""
        import pyqtgraph as pg

        self.pf_days = pf_days
        self.plot.clear()
        mine = [(pf_days, THIS_RUN)] if pf_days is not None else []
        runs = sorted([(r.pf_days, r.name) for r in PUBLISHED_RUNS] + mine)
        logs = [math.log10(max(pf, 1e-30)) for pf, _name in runs]
        lo, hi = math.floor(min(logs)) - 1, math.ceil(max(logs)) + 1
        mid = (lo + hi) / 2
        ours = QColor(208, 52, 44)
        for row, ((pf, name), x) in enumerate(zip(runs, logs)):
            mine = name == THIS_RUN
            color = ours if mine else QColor(90, 120, 200)
            self.plot.plot([x], [row], pen=None, symbol="d" if mine else "o", symbolSize=12 if mine else 9,
                           symbolBrush=color, symbolPen=color)
            label = pg.TextItem(f"{name}: {pf:.3g} PF-days", color=color, anchor=(0, 0.5) if x < mid else (1, 0.5))
            label.setPos(x + (0.25 if x < mid else -0.25), row)
            self.plot.addItem(label)
        self.plot.setXRange(lo, hi, padding=0)
        self.plot.setYRange(-0.7, len(runs) - 0.3, padding=0)
        step = 1 if hi - lo <= 9 else 2
        ticks = [(k, _decade(k)) for k in range(lo, hi + 1, step)]
        self.plot.getAxis("bottom").setTicks([ticks, []])


def _decade(k: int) -> str:
    """Tick label for 10**k, short: 1e-8 … 0.01, 0.1, 1, 10, 100, 1000, 1e4."""
    return f"{10.0 ** k:g}" if -2 <= k <= 3 else f"1e{k}"


def scale_note(pf_days: float) -> str:
    """How this run compares with BERT-Base, the smallest published run, in words."""
    bert = next(r for r in PUBLISHED_RUNS if r.name == "BERT-Base")
    ratio = bert.pf_days / pf_days if pf_days > 0 else math.inf
    if ratio < 1:
        return f"{1 / ratio:.3g} times BERT-Base's compute"
    for word, size in (("trillion", 1e12), ("billion", 1e9), ("million", 1e6)):
        if ratio >= size:
            return f"BERT-Base used {ratio / size:.3g} {word} times as much"
    return f"BERT-Base used {ratio:,.0f} times as much" if ratio >= 10 else f"BERT-Base used {ratio:.2g}× as much"
