"""The paper's two analyses on a QThread: pretrained versus from scratch, and a sweep of layers transferred.

Each analysis trains several models one after another through the engine's ``compare_with_scratch`` /
``sweep_layers``; this job reads the data as :class:`~gpt_studio.workers.finetune.FinetuneJob` does, relays
which model of how many is training (throttled, a few signals a second: NOTES-qt, signals per step slow
training through the GIL), hands on each model's figures as it ends so the GUI can draw the table or the
curve as it grows, and stops through the engine's :class:`TrainControl`: the model in training ends after its
current step and the analysis returns the seeds / points that were complete.

Wiring as in ``workers/finetune.py`` (superqt's ``qthreading``): a parentless worker moved to its own
QThread, ``started → run``, ``finished → quit`` (direct), both deleted later; the job sits in the running-jobs
set so the main window stops it before quitting.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from gpt_studio.engine.errors import StudioError
from gpt_studio.engine.finetune_metrics import comparison_summary, mean_sd
from gpt_studio.engine.project import Project
from gpt_studio.engine.trainer import TrainControl
from gpt_studio.engine.trainer_config import StepEvent
from gpt_studio.workers.finetune import FinetuneRequest, estimate_steps
from gpt_studio.workers.threaded import ThreadedJob, hand_back
from gpt_studio.workers.training import lower_thread_priority

COMPARE, SWEEP = "compare-scratch", "sweep-layers"  # the engine's own names (its result's "analysis")
PROGRESS_INTERVAL_S = 0.1  # at most ~10 progress signals a second; a new model is always reported at once


@dataclass(frozen=True)
class PlannedModel:
    """One model an analysis trains: which seed, and either the layers transferred or pretrained/scratch."""

    seed: int
    layers: int | None = None  # sweep: blocks transferred
    start: str = ""  # compare: "pretrained" | "scratch"

    def describe(self) -> str:
        """A few words for the progress line."""
        what = f"{self.layers} layer{'' if self.layers == 1 else 's'} transferred" if self.layers is not None else (
            "from the pretrained weights" if self.start == "pretrained" else "from scratch")
        return f"{what}, seed {self.seed}"


def plan_models(analysis: str, seeds: tuple[int, ...], n_layer: int) -> list[PlannedModel]:
    """The models in the order the engine trains them, so an ``EndEvent``'s position says which model it was.

    Compare: per seed, pretrained then scratch. Sweep: per layer count (0..n), every seed.
    """
    if analysis == COMPARE:
        return [PlannedModel(seed, start=start) for seed in seeds for start in ("pretrained", "scratch")]
    if analysis == SWEEP:
        return [PlannedModel(seed, layers=k) for k in range(n_layer + 1) for seed in seeds]
    raise ValueError(f"unknown analysis {analysis!r}; expected {COMPARE} or {SWEEP}")


def summary_row(summary: dict[str, Any]) -> dict[str, Any]:
    """A model's end summary (``FinetuneResult.to_dict()``) in the shape of the engine's analysis rows."""
    return {"metric": summary.get("best_val_metric"), "accuracy": summary.get("val_accuracy"),
            "macro_f1": summary.get("val_macro_f1"), "pearson": summary.get("val_pearson"),
            "spearman": summary.get("val_spearman"), "steps": summary.get("steps"),
            "best_step": summary.get("best_step"), "reason": summary.get("reason")}


def partial_result(analysis: str, plan: list[PlannedModel], summaries: list[dict[str, Any]],
                   regression: bool, transfer_embeddings: bool = True) -> dict[str, Any]:
    """What the engine would return had it ended after the models in ``summaries`` (the live table / curve).

    Like the engine, only complete seeds (compare) or complete points (sweep) count; a stopped model never does.
    """
    done = [(m, s) for m, s in zip(plan, summaries) if s.get("reason") not in ("stopped", "error")]
    metric = "pearson" if regression else "accuracy"
    if analysis == COMPARE:
        by_seed: dict[int, dict[str, Any]] = {}
        for model, summary in done:
            by_seed.setdefault(model.seed, {"seed": model.seed})[model.start] = summary_row(summary)
        rows = [r for r in by_seed.values() if "pretrained" in r and "scratch" in r]
        return comparison_summary(rows, metric, stopped=False)
    seeds = sorted({m.seed for m in plan}, key=[m.seed for m in plan].index)
    by_layer: dict[int, list[dict[str, Any]]] = {}
    for model, summary in done:
        by_layer.setdefault(int(model.layers or 0), []).append({"seed": model.seed, **summary_row(summary)})
    points = []
    for k, runs in sorted(by_layer.items()):
        if len(runs) == len(seeds):
            mean, sd = mean_sd([r["metric"] for r in runs])
            points.append({"layers": k, "metric": mean, "sd": sd, "runs": runs})
    n_layer = max((m.layers or 0) for m in plan)
    return {"analysis": SWEEP, "metric": metric, "n_layer": n_layer, "transfer_embeddings": transfer_embeddings,
            "seeds": seeds, "points": points, "stopped": False}


class _AnalysisWorker(QObject):
    """Runs on the job's QThread: reads the data, runs the analysis, reports models and progress."""

    progressed = Signal(object)
    model_ended = Signal(object)
    failed = Signal(str, str)
    finished = Signal(object)

    def __init__(self, project: Project, request: FinetuneRequest, analysis: str, seeds: tuple[int, ...],
                 n_layer: int) -> None:
        super().__init__()
        self._project, self._request, self._analysis = project, request, analysis
        self._seeds, self._n_layer = seeds, n_layer
        self.plan = plan_models(analysis, seeds, n_layer)
        self.control = TrainControl()
        self._ended = 0
        self._steps_per_model = 0
        self._last_emit = -float("inf")

    @Slot()
    def run(self) -> None:
        """The thread's body: exactly one ``finished`` at the end (the engine's result, or None on failure)."""
        result: dict[str, Any] | None = None
        lower_thread_priority()
        try:
            result = self._analyse()
        except StudioError as exc:
            self.failed.emit(str(exc), "")
        except MemoryError:
            self.failed.emit("Out of memory during the analysis; try a smaller batch or fewer examples.",
                             traceback.format_exc())
        except Exception as exc:  # noqa: BLE001 - any bug becomes a dialog, never a dead GUI
            self.failed.emit(f"The analysis failed: {exc}", traceback.format_exc())
        finally:
            self._hand_back()
            self.finished.emit(result)

    def _hand_back(self) -> None:
        """End of run, on the worker thread: drop its control (the job keeps one), then hand back."""
        self.control = None  # type: ignore[assignment]
        hand_back(self)

    def _analyse(self) -> dict[str, Any]:
        from gpt_studio.engine.finetune import compare_with_scratch, sweep_layers
        from gpt_studio.engine.finetune_data import load_task_data, subsample

        req = self._request
        # the same reading as FinetuneJob, so the analysis sees exactly the rows the wizard's run saw
        train = load_task_data(req.train_path, req.task, req.columns, plan=req.plan, regression=req.regression)
        if req.max_examples:
            train = subsample(train, req.max_examples, req.seed)
        eval_data = None
        if req.eval_path is not None:
            eval_data = load_task_data(req.eval_path, req.task, req.columns, plan=req.plan,
                                       regression=req.regression, labels=train.labels or None)
        self._steps_per_model = estimate_steps(len(train.examples), req.config, eval_data is not None)
        self._report(0, force=True)
        common: dict[str, Any] = {"eval_data": eval_data, "seeds": self._seeds, "listeners": [self._on_event],
                                  "control": self.control}
        if self._analysis == COMPARE:
            return compare_with_scratch(self._project, req.base, train, req.config, **common)
        return sweep_layers(self._project, req.base, train, req.config, layers=list(range(self._n_layer + 1)),
                            **common)

    def _on_event(self, event: Any) -> None:
        if isinstance(event, StepEvent):
            self._report(event.step, force=event.step == 1)  # "training has begun" is worth a signal of its own
        elif getattr(event, "kind", "") == "end":
            index = self._ended
            self._ended += 1
            if index < len(self.plan):
                self.model_ended.emit({"index": index, "model": self.plan[index], "summary": dict(event.summary)})
            if self._ended < len(self.plan) and not self.control.stop_requested:
                self._report(0, force=True)

    def _report(self, step: int, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_emit < PROGRESS_INTERVAL_S:
            return
        self._last_emit = now
        index = min(self._ended, len(self.plan) - 1)
        self.progressed.emit({"model": index + 1, "models": len(self.plan), "step": step,
                              "steps": self._steps_per_model, "what": self.plan[index].describe()})


class FinetuneAnalysisJob(ThreadedJob):
    """One analysis (``COMPARE`` or ``SWEEP``) on its own thread, relayed as signals on the GUI thread.

    Signals: ``progressed(dict)`` with model (1-based), models, step, steps (per model, estimated) and what (a
    few words on the model); ``model_ended(dict)`` with index, model (a :class:`PlannedModel`) and summary (its
    ``FinetuneResult.to_dict()``); ``failed(reason, details)``; and always ``finished(result)`` last: the
    engine's analysis dict (``stopped`` true after a stop), or None when it failed.
    """

    progressed = Signal(object)
    model_ended = Signal(object)
    what = "a fine-tuning analysis"

    def __init__(self, project: Project, request: FinetuneRequest, analysis: str, seeds: tuple[int, ...],
                 n_layer: int) -> None:
        super().__init__()
        self.analysis = analysis
        worker = _AnalysisWorker(project, request, analysis, seeds, n_layer)
        self.plan = worker.plan
        self._control = worker.control  # kept here: the worker drops it when its run ends
        self._run_on_thread(worker, "fine-tuning analysis", ("progressed", "model_ended", "failed"))

    def stop(self) -> None:
        """End the model in training after its current step; the analysis keeps what was complete."""
        self._control.stop()
