"""Wizard step 6: the run itself — live training loss, validation metric per evaluation, pause/resume/stop.

The page owns the :class:`~gpt_studio.workers.finetune.FinetuneJob`. Its slots only append to lists; a
GUI-thread timer redraws with ``setData`` when something changed (NOTES-qt: redrawing in the slot slowed
training up to 10×), so the window stays responsive while the model trains on its thread.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal, Slot
from PySide6.QtGui import QFontDatabase, QPalette
from PySide6.QtWidgets import (
    QHBoxLayout,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from gpt_studio.ui import error_dialog
from gpt_studio.ui.widgets import monitor_plots as mp
from gpt_studio.ui.widgets.finetune_common import FinetuneChoices, WizardPage, heading, note

REDRAW_MS = 80
EMA_BETA = 0.9
PROGRESS_STEPS = 1000


class TrainPage(WizardPage):
    """Runs one fine-tuning request and shows it live; ``run_finished(result or None)`` at the end."""

    title = "Train"
    run_finished = Signal(object)

    def __init__(self, choices: FinetuneChoices, parent: QWidget | None = None) -> None:
        super().__init__(choices, parent)
        self.job: Any = None
        self.mode = "idle"  # idle | starting | running | paused | stopping
        self.total_steps = 0
        self.steps: list[int] = []
        self.losses: list[float] = []
        self.evals: list[Any] = []
        self.step_signals = 0  # how many steps_logged lists arrived (batching keeps this far below the steps)
        self._dirty = False
        self._started = 0.0
        self._build()
        self._timer = QTimer(self)
        self._timer.setInterval(REDRAW_MS)
        self._timer.timeout.connect(self.redraw)
        self._set_mode("idle")

    # ----------------------------------------------------------------------------------------- building

    def _build(self) -> None:
        self.pause_button = self._button("Pause", "Hold training after the current step (nothing is lost).",
                                         self.pause)
        self.resume_button = self._button("Resume", "Continue the paused run.", self.resume)
        self.stop_button = self._button("Stop", "End after the current step; the best model so far is still "
                                        "evaluated and saved.", self.stop)
        self.progress = QProgressBar()
        self.progress.setRange(0, PROGRESS_STEPS)
        self.progress.setTextVisible(False)
        self.status = note("")
        self.loss_plot = mp.make_plot("training loss")
        self.loss_plot.getPlotItem().setLabel("bottom", "step")
        self.loss_plot.getPlotItem().addLegend(offset=(-10, 10))
        self.metric_plot = mp.make_plot("validation")
        self.metric_plot.getPlotItem().setLabel("bottom", "step")
        self.metric_plot.getPlotItem().addLegend(offset=(-10, -10))
        for widget in (self.loss_plot, self.metric_plot):
            mp.style_plot(widget, self.palette())
            widget.getPlotItem().getAxis("left").enableAutoSIPrefix(False)
        text = self.palette().color(QPalette.ColorRole.Text)
        self._raw = mp.make_curve(self.loss_plot, mp.faint(text), width=1)
        self._ema = mp.make_curve(self.loss_plot, self.palette().color(QPalette.ColorRole.Highlight), width=2,
                                  name="train (smoothed)")
        # the validation loss is the task loss alone, so it lives beside the metric, not under the training loss
        self._metric = mp.make_curve(self.metric_plot, mp.VAL_COLOR, symbol="o", width=2, name="accuracy")
        self._val_loss = mp.make_curve(self.metric_plot, text, symbol="t", dashed=True, name="task loss")
        self._chance = mp.reference_line(self.metric_plot, mp.faint(text, 160))
        self._chance.hide()
        self._followers = [mp.ViewFollower(self.loss_plot), mp.ViewFollower(self.metric_plot)]
        self.log = QPlainTextEdit()
        self.log.setReadOnly(True)
        self.log.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.log.setPlaceholderText("Each evaluation (after every epoch) is logged here.")
        self.log.setMaximumBlockCount(2000)
        buttons = QHBoxLayout()
        for button in (self.pause_button, self.resume_button, self.stop_button):
            buttons.addWidget(button)
        buttons.addWidget(self.progress, 1)
        plots = QSplitter(Qt.Orientation.Horizontal)
        plots.addWidget(self.loss_plot)
        plots.addWidget(self.metric_plot)
        plots.setSizes([600, 400])
        area = QSplitter(Qt.Orientation.Vertical)
        area.addWidget(plots)
        area.addWidget(self.log)
        area.setSizes([700, 200])
        layout = QVBoxLayout(self)
        layout.addWidget(heading("Fine-tuning"))
        layout.addLayout(buttons)
        layout.addWidget(self.status)
        layout.addWidget(area, 1)

    def _button(self, text: str, tip: str, slot: Any) -> QPushButton:
        button = QPushButton(text)
        button.setToolTip(tip)
        button.clicked.connect(slot)
        return button

    def _set_mode(self, mode: str, status: str | None = None) -> None:
        self.mode = mode
        self.pause_button.setEnabled(mode in ("starting", "running"))
        self.resume_button.setEnabled(mode == "paused")
        self.stop_button.setEnabled(mode in ("starting", "running", "paused"))
        if status is not None:
            self.status.setText(status)
        self.changed.emit()

    # ------------------------------------------------------------------------------------------ running

    def start(self, request: Any) -> Any:
        """Start fine-tuning ``request`` (a FinetuneRequest); returns the job, or None if one already runs."""
        from gpt_studio.workers.finetune import FinetuneJob

        project = self.choices.project
        if self.job is not None or project is None:
            return None
        self._clear()
        self.choices.result = None
        config = request.config
        self.loss_plot.getPlotItem().setLabel("left", "training loss (task + λ·LM)" if config.aux_lm_weight > 0
                                              else "training loss (task)")
        self.metric_plot.getPlotItem().setLabel("left", "validation")
        legend = self.metric_plot.getPlotItem().legend
        if legend is not None:
            legend.getLabel(self._metric).setText("Pearson r" if config.regression else "accuracy")
        self._chance.hide()
        self.job = job = FinetuneJob(project, request)
        job.data_loaded.connect(self._on_data_loaded)
        job.steps_logged.connect(self._on_steps)
        job.eval_logged.connect(self._on_eval)
        job.paused_changed.connect(self._on_paused_changed)
        job.error_raised.connect(self._on_error_raised)
        job.failed.connect(self._on_failed)
        job.finished.connect(self._on_finished)
        self._started = time.monotonic()
        self._set_mode("starting", "Reading the data…")
        self._timer.start()
        return job.start()

    def _clear(self) -> None:
        self.steps, self.losses, self.evals = [], [], []
        self.step_signals, self.total_steps = 0, 0
        self.progress.setValue(0)
        self.log.clear()
        for follower in self._followers:
            follower.following = True
        self._dirty = True
        self.redraw()

    def pause(self) -> None:
        """Hold the run after the current step."""
        if self.job is not None and self.mode in ("starting", "running"):
            self.job.pause()
            self.status.setText("Pausing after the current step…")

    def resume(self) -> None:
        """Continue a paused run."""
        if self.job is not None:
            self.job.resume()

    def stop(self) -> None:
        """End the run after the current step; the best model so far is kept."""
        if self.job is not None:
            self.job.stop()
            self._set_mode("stopping", "Stopping after the current step, then evaluating and saving the best "
                                       "model so far…")

    def shutdown(self, wait_ms: int = 60_000) -> None:
        """Stop a running job and wait for it (the main window calls this when it closes)."""
        job = self.job
        if job is not None:
            from gpt_studio.ui.app import wait_for_jobs

            job.stop()
            wait_for_jobs([job], wait_ms)

    # --------------------------------------------------------------------------------------- job slots

    @Slot(object)
    def _on_data_loaded(self, info: dict[str, Any]) -> None:
        self.total_steps = int(info.get("total_steps") or 0)
        labels = info.get("labels") or []
        if len(labels) >= 2:  # what guessing uniformly at random would score
            self._chance.setPos(1 / len(labels))
            self._chance.label.setFormat(f"uniform guess ({1 / len(labels):.0%})")
            self._chance.show()
        evaluation = (f"{info['eval_examples']:,} from the evaluation file" if info.get("eval_examples") is not None
                      else "a held-out share")
        skipped = f"; {info['skipped']:,} rows left out by the label edits" if info.get("skipped") else ""
        self.log.appendPlainText(f"{info['train_examples']:,} examples from the training file, validating on "
                                 f"{evaluation}{skipped}; about {self.total_steps:,} steps")
        if self.mode == "starting":
            self._set_mode("running", "Loading the base model and starting…")

    @Slot(object)
    def _on_steps(self, events: list[Any]) -> None:
        self.step_signals += 1
        for event in events:
            self.steps.append(int(event.step))
            self.losses.append(float(event.loss))
        if events and self.mode in ("starting", "running"):
            last = events[-1]
            self._set_progress(last.step, last.elapsed_seconds)
        self._dirty = True

    def _set_progress(self, step: int, elapsed: float) -> None:
        total = max(self.total_steps, step, 1)
        self.progress.setValue(round(PROGRESS_STEPS * step / total))
        left = elapsed * (total - step) / step if step else 0.0
        epoch = f" · epoch {self.evals[-1].epoch:g} done" if self.evals else ""
        self.status.setText(f"Step {step:,} of about {total:,}{epoch} · {elapsed:.0f} s"
                            + (f", about {left:.0f} s left" if step and left >= 1 else ""))
        if self.mode == "starting":
            self._set_mode("running")

    @Slot(object)
    def _on_eval(self, event: Any) -> None:
        self.evals.append(event)
        metrics = "  ".join(f"{k} {v:.4f}" for k, v in event.metrics.items())
        self.log.appendPlainText(f"step {event.step:>6,}  epoch {event.epoch:5.2f}  val loss {event.val_loss:.4f}  "
                                 f"{metrics}")
        self._dirty = True

    @Slot(bool)
    def _on_paused_changed(self, paused: bool) -> None:
        if self.job is None or self.mode == "stopping":
            return
        if paused:
            self._set_mode("paused", "Paused. Resume continues from the same step; Stop keeps the best model so "
                                     "far.")
        else:
            self._set_mode("running", "Training…")

    @Slot(object)
    def _on_error_raised(self, event: Any) -> None:
        self.log.appendPlainText(f"error at step {event.step}: {event.message}")
        error_dialog.show_error(self, event.message)

    @Slot(str, str)
    def _on_failed(self, reason: str, details: str) -> None:
        self.log.appendPlainText(f"failed: {reason}")
        error_dialog.show_error(self, reason, details)

    @Slot(object)
    def _on_finished(self, result: dict[str, Any] | None) -> None:
        self.job = None
        self._timer.stop()
        self._dirty = True
        self.redraw()
        self.choices.result = result
        if result is not None:
            self.progress.setValue(PROGRESS_STEPS if result.get("reason") == "completed" else self.progress.value())
        self._set_mode("idle", finished_text(result))
        self.run_finished.emit(result)

    # ------------------------------------------------------------------------------------------ drawing

    def redraw(self) -> None:
        """Push the buffers to the plots if anything arrived since the last redraw."""
        if not self._dirty:
            return
        self._dirty = False
        x = np.asarray(self.steps, dtype=float)
        y = np.asarray(self.losses, dtype=float)
        smooth = debiased_ema(y, EMA_BETA)
        self._raw.setData(x, y)
        self._ema.setData(x, smooth)
        ex = np.asarray([e.step for e in self.evals], dtype=float)
        metric = np.asarray([main_metric(e.metrics) for e in self.evals], dtype=float)
        val_loss = np.asarray([e.val_loss for e in self.evals], dtype=float)
        self._metric.setData(ex, metric)
        self._val_loss.setData(ex, val_loss)
        self._followers[0].fit([x], [y])
        if ex.size:  # keep 0…1 in view too: an accuracy of 0.55 is not near the top
            self._followers[1].fit([ex, ex, np.full(2, ex[0])], [metric, val_loss, np.asarray([0.0, 1.0])])

    # --------------------------------------------------------------------------------------------- state

    def busy(self) -> bool:
        """While a job runs, the wizard keeps the person on this page."""
        return self.job is not None

    def reason(self) -> str:
        """Next waits for the run to end with a model."""
        if self.job is not None:
            return "Training is running: wait for it to end, or Stop it (the best model so far is kept)."
        if self.choices.result is None:
            return "The run did not produce a model; go Back to change the settings and train again."
        return ""


def debiased_ema(values: np.ndarray, beta: float) -> np.ndarray:
    """Adam-style bias-corrected EMA, so the smoothed line starts at the first value instead of near 0."""
    out = np.empty_like(values)
    m = 0.0
    for t, v in enumerate(values, start=1):
        m = beta * m + (1 - beta) * v
        out[t - 1] = m / (1 - beta ** t)
    return out


def main_metric(metrics: dict[str, float]) -> float:
    """Accuracy for classes, Pearson for a score (what the run keeps its best model by)."""
    for key in ("accuracy", "pearson"):
        if key in metrics:
            return float(metrics[key])
    return float(next(iter(metrics.values()), float("nan")))


def finished_text(result: dict[str, Any] | None) -> str:
    """One line on how the run ended."""
    if not result:
        return "The run ended without a model; see the message. Go Back to change the settings and try again."
    how = {"completed": "Completed", "early_stopped": "Stopped early (no further improvement)",
           "stopped": "Stopped"}.get(str(result.get("reason")), "Ended")
    if result.get("val_accuracy") is not None:
        metric = f"validation accuracy {result['val_accuracy']:.3f}"
    elif result.get("val_pearson") is not None:
        metric = f"validation Pearson r {result['val_pearson']:.3f}"
    else:
        metric = f"best validation metric {result.get('best_val_metric', float('nan')):.3f}"
    return (f"{how} after {result.get('steps', 0):,} steps in {result.get('wall_seconds', 0.0):.1f} s: {metric} "
            f"(best at step {result.get('best_step', 0):,}). Next shows the results.")

