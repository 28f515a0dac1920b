"""The Results page's "Analyses" group: the paper's two analyses, one click each, on the person's own choices.

"Compare with a model trained from scratch" and "Sweep layers transferred (0…n)" rerun the wizard's request
(base, task, data, labels, options) through :class:`~gpt_studio.workers.finetune_analysis.FinetuneAnalysisJob`
on a worker thread; the group shows which model of how many is training, can Stop, and draws the table or the
curve as each model ends (slots only fill small tables / set a handful of points, so the GUI stays live).
Models trained here are measured, never saved.
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from gpt_studio.ui import error_dialog
from gpt_studio.ui.widgets.finetune_analysis import CompareView, SweepView
from gpt_studio.ui.widgets.finetune_common import FinetuneChoices, base_layers, note

PROGRESS_STEPS = 1000
MAX_SEEDS = 5


class AnalysesGroup(QGroupBox):
    """Two buttons, seeds, progress and Stop on the left; the comparison table or the sweep plot on the right."""

    busy_changed = Signal(bool)
    analysis_finished = Signal(object)  # the engine's analysis dict, or None when it failed

    def __init__(self, choices: FinetuneChoices, parent: QWidget | None = None) -> None:
        super().__init__("Analyses", parent)
        self.choices = choices
        self.job: Any = None
        self.result: dict[str, Any] | None = None  # the last analysis's final dict
        self._summaries: list[dict[str, Any]] = []
        self._started = 0.0
        self._stopping = False
        self._build()
        self._set_running(False)

    # ----------------------------------------------------------------------------------------- building

    def _build(self) -> None:
        from gpt_studio.workers.finetune_analysis import COMPARE, SWEEP

        self.compare_button = QPushButton("Compare with a model trained from scratch")
        self.compare_button.clicked.connect(lambda: self.start(COMPARE))
        self.sweep_button = QPushButton("Sweep layers transferred (0…n)")
        self.sweep_button.clicked.connect(lambda: self.start(SWEEP))
        self.seeds = QSpinBox()
        self.seeds.setRange(1, MAX_SEEDS)
        self.seeds.setToolTip("Each model is trained once per seed (the options' seed, then the next ones); more "
                              "seeds give a steadier answer and take proportionally longer.")
        self.seeds.valueChanged.connect(lambda _value: self.refresh())
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("End the model in training after its current step; what was complete stays.")
        self.stop_button.clicked.connect(self.stop)
        self.progress = QProgressBar()
        self.progress.setRange(0, PROGRESS_STEPS)
        self.progress.setTextVisible(False)
        self.status = note()
        self.empty = note("Pick an analysis on the left. Both reuse the base, task, data, labels and options you "
                          "chose, train several models one after another on this computer, and measure them on "
                          "the same validation rows; none of them is saved.")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.compare_view, self.sweep_view = CompareView(), SweepView()
        self.views = QStackedWidget()
        for view in (self.empty, self.compare_view, self.sweep_view):
            self.views.addWidget(view)
        seeds_row = QHBoxLayout()
        seeds_row.addWidget(QLabel("Seeds"))
        seeds_row.addWidget(self.seeds)
        seeds_row.addStretch(1)
        stop_row = QHBoxLayout()
        stop_row.addWidget(self.progress, 1)
        stop_row.addWidget(self.stop_button)
        left = QVBoxLayout()
        left.addWidget(note("GPT-1's two analyses of transfer: how much pretraining helps here, and how much "
                            "each pretrained block adds."))
        left.addWidget(self.compare_button)
        left.addWidget(self.sweep_button)
        left.addLayout(seeds_row)
        left.addSpacing(8)
        left.addLayout(stop_row)
        left.addWidget(self.status)
        left.addStretch(1)
        column = QWidget()
        column.setLayout(left)
        column.setFixedWidth(self.compare_button.sizeHint().width() + 40)
        layout = QHBoxLayout(self)
        layout.addWidget(column)
        layout.addWidget(self.views, 1)

    # ------------------------------------------------------------------------------------------ reading

    def n_layer(self) -> int | None:
        """Blocks in the chosen base (a sweep trains n + 1 models per seed); None when unknown."""
        base = self.choices.base
        return getattr(base, "n_layer", None) or (base_layers(base) if base is not None else None)

    def classes(self) -> int | None:
        """How many classes the last run predicted (chance = 1 / that); None for regression."""
        result = self.choices.result or {}
        if self.choices.regression or result.get("metric_name") == "pearson":
            return None
        return len(result.get("labels") or []) or None

    def seed_list(self) -> tuple[int, ...]:
        """The options' seed and the next ones, as many as the spin box says."""
        first = int(getattr(self.choices.config, "seed", 1337))
        return tuple(first + k for k in range(self.seeds.value()))

    def refresh(self) -> None:
        """Tooltips with how many models each analysis trains (the base's layers, the seeds, the last run's time)."""
        seeds = self.seeds.value()
        per_seed = "" if seeds == 1 else f" × {seeds} seeds"
        each = (self.choices.result or {}).get("wall_seconds")
        compare_models = 2 * seeds
        self.compare_button.setToolTip(
            "Fine-tune the base again on the same data and options, and the same network from random weights "
            f"(no block or embedding transferred), then compare their validation figures. Trains "
            f"{compare_models} models (2{per_seed}){_duration(compare_models, each)}; none is saved.")
        n = self.n_layer()
        if n is None:
            self.sweep_button.setToolTip("Not available: the base's number of layers could not be read.")
        else:
            sweep_models = (n + 1) * seeds
            self.sweep_button.setToolTip(
                f"Fine-tune with the first 0, 1, …, {n} of the base's {n} blocks transferred (the rest from random "
                "weights) and plot validation accuracy against the number transferred, as GPT-1's Figure 2. "
                f"Trains {sweep_models} models ({n + 1} layer counts{per_seed})"
                f"{_duration(sweep_models, each)}; none is saved.")
        self._set_running(self.job is not None)

    def reset(self) -> None:
        """Forget the last analysis (a new model was trained: its figures belong to other choices)."""
        self.result, self._summaries = None, []
        self.views.setCurrentWidget(self.empty)
        self.status.setText("")
        self.progress.setValue(0)
        self.refresh()

    # ------------------------------------------------------------------------------------------ running

    def start(self, analysis: str) -> Any:
        """Run ``analysis`` (COMPARE or SWEEP) on the wizard's choices; returns the job, or None if it cannot."""
        from gpt_studio.workers.finetune_analysis import SWEEP, FinetuneAnalysisJob

        project, n = self.choices.project, self.n_layer()
        if self.job is not None or project is None or self.choices.base is None or self.choices.config is None:
            return None
        if analysis == SWEEP and n is None:
            return None
        self.job = job = FinetuneAnalysisJob(project, _request(self.choices), analysis, self.seed_list(), n or 0)
        job.progressed.connect(self._on_progress)
        job.model_ended.connect(self._on_model_ended)
        job.failed.connect(self._on_failed)
        job.finished.connect(self._on_finished)
        self._summaries = []
        self.result = None
        self._stopping = False
        self._started = time.monotonic()
        self.progress.setValue(0)
        self.status.setText(f"Reading the data for {len(job.plan)} models…")
        self._show(self._partial())
        self._set_running(True)
        self.busy_changed.emit(True)
        return job.start()

    def stop(self) -> None:
        """End after the current step of the model in training; complete seeds / points are kept."""
        if self.job is not None:
            self.job.stop()
            self._stopping = True
            self.stop_button.setEnabled(False)
            self.status.setText("Stopping after the current step…")

    def busy(self) -> bool:
        """Whether an analysis is running."""
        return self.job is not None

    def shutdown(self, wait_ms: int = 60_000) -> None:
        """Stop a running analysis and wait for it (the window is closing)."""
        job = self.job
        if job is not None:
            from gpt_studio.ui.app import wait_for_jobs

            job.stop()
            wait_for_jobs([job], wait_ms)

    def _set_running(self, running: bool) -> None:
        self.compare_button.setEnabled(not running and self.choices.base is not None)
        self.sweep_button.setEnabled(not running and self.choices.base is not None and self.n_layer() is not None)
        self.seeds.setEnabled(not running)
        self.stop_button.setEnabled(running and not self._stopping)
        self.progress.setVisible(running or self.progress.value() > 0)

    # --------------------------------------------------------------------------------------- job slots

    @Slot(object)
    def _on_progress(self, info: dict[str, Any]) -> None:
        if self.job is None or self._stopping:  # keep saying that it stops
            return
        models, steps = max(int(info["models"]), 1), max(int(info["steps"]), 1)
        done = int(info["model"]) - 1 + min(int(info["step"]) / steps, 1.0)
        self.progress.setValue(round(PROGRESS_STEPS * done / models))
        self.status.setText(f"Model {info['model']} of {models}: {info['what']} · step {info['step']:,} of about "
                            f"{steps:,} · {time.monotonic() - self._started:.0f} s")

    @Slot(object)
    def _on_model_ended(self, info: dict[str, Any]) -> None:
        self._summaries.append(info["summary"])
        self._show(self._partial())

    @Slot(str, str)
    def _on_failed(self, reason: str, details: str) -> None:
        self.status.setText(f"The analysis failed: {reason}")
        error_dialog.show_error(self, reason, details)

    @Slot(object)
    def _on_finished(self, result: dict[str, Any] | None) -> None:
        job, self.job = self.job, None
        self.result = result
        if result is not None:
            self._show(result)
            self.status.setText(_finished_text(result, len(job.plan) if job else 0, time.monotonic() - self._started))
            if not result.get("stopped"):
                self.progress.setValue(PROGRESS_STEPS)
        self._set_running(False)
        self.busy_changed.emit(False)
        self.analysis_finished.emit(result)

    # ------------------------------------------------------------------------------------------ drawing

    def _partial(self) -> dict[str, Any]:
        from gpt_studio.workers.finetune_analysis import partial_result

        job = self.job
        return partial_result(job.analysis, job.plan, self._summaries, bool(self.choices.regression),
                              bool(getattr(self.choices.config, "transfer_embeddings", True)))

    def _show(self, result: dict[str, Any]) -> None:
        from gpt_studio.workers.finetune_analysis import COMPARE

        if result.get("analysis") == COMPARE:
            self.compare_view.show_result(result)
            self.views.setCurrentWidget(self.compare_view)
        else:
            self.sweep_view.set_classes(self.classes(), result.get("metric") == "pearson")
            self.sweep_view.show_result(result)
            self.views.setCurrentWidget(self.sweep_view)


def _request(choices: FinetuneChoices) -> Any:
    """The wizard's fine-tuning request for these choices (as ``FinetuneWizard.request``; the page has no wizard)."""
    from gpt_studio.engine.finetune_data import LabelPlan
    from gpt_studio.workers.finetune import FinetuneRequest

    plan = LabelPlan(rename=dict(choices.plan.rename), exclude=set(choices.plan.exclude))
    return FinetuneRequest(base=choices.base, task=choices.task, train_path=choices.train_path,
                           columns=choices.columns, config=choices.config, plan=plan, regression=choices.regression,
                           eval_path=choices.eval_path, max_examples=choices.max_examples)


def _duration(models: int, seconds_each: float | None) -> str:
    """", about 4 min" from the last run's wall time (each model trains the same steps); "" when unknown."""
    if not seconds_each:
        return ""
    total = models * float(seconds_each)
    return f", about {total:.0f} s" if total < 90 else f", about {total / 60:.0f} min"


def _finished_text(result: dict[str, Any], planned: int, seconds: float) -> str:
    """How the analysis ended, for the status line."""
    if result.get("analysis") == "sweep-layers":
        done = f"{len(result.get('points') or [])} of {int(result.get('n_layer') or 0) + 1} points"
    else:
        runs = len(result.get("runs") or [])
        done = f"{runs} seed{'' if runs == 1 else 's'} with both models"
    if result.get("stopped"):
        return f"Stopped after {seconds:.0f} s: {done}."
    return f"Done: {planned} models in {seconds:.0f} s ({done})."
