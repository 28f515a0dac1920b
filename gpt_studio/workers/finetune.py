"""A fine-tuning run on a QThread: reads the data, calls ``finetune()`` and relays its events as queued signals.

Wired like :class:`~gpt_studio.workers.training.TrainingJob` (superqt's ``qthreading``): a parentless worker
moved to its own QThread, ``started → run``, ``finished → quit`` (direct), both deleted later. Steps are
coalesced by the same :class:`StepBatcher` (at most ~20 ``steps_logged`` per second, none lost), and pause /
resume / stop go through the engine's :class:`TrainControl`, honoured at step boundaries: a stop still
evaluates and saves the best model so far.

The data files are read here, on the worker thread, with the label plan applied, so a large file never
blocks the GUI; the request is plain data (paths, a ColumnMap, a LabelPlan, a FinetuneConfig).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal

from gpt_studio.engine.finetune_data import ColumnMap, LabelPlan
from gpt_studio.engine.project import Project
from gpt_studio.engine.trainer_config import StepEvent
from gpt_studio.workers.training import LoopJob, LoopWorker


@dataclass
class FinetuneRequest:
    """Everything one fine-tuning run needs, as plain data (crosses to the worker thread unchanged)."""

    base: Any  # a BaseModel or its spec string
    task: str
    train_path: Path
    columns: ColumnMap
    config: Any  # engine.finetune.FinetuneConfig
    plan: LabelPlan | None = None
    regression: bool = False
    eval_path: Path | None = None
    name: str | None = None
    max_examples: int = 0  # 0 = all; otherwise a class-balanced sample of this many
    seed: int = 1337


def estimate_steps(train_examples: int, config: Any, has_eval_file: bool) -> int:
    """Optimizer steps the run will take (the engine splits off validation itself when no file is given)."""
    n = train_examples if has_eval_file else train_examples - max(1, round(train_examples * config.val_fraction))
    return max(1, math.ceil(max(n, 1) / config.batch_size)) * max(int(config.epochs), 1)


class _FinetuneWorker(LoopWorker):
    """Reads the data, fine-tunes, and emits the events as signals."""

    data_loaded = Signal(object)
    eval_logged = Signal(object)
    what = "fine-tuning"
    memory_advice = "try a smaller batch or fewer examples"

    def _work(self) -> dict[str, Any]:
        from gpt_studio.engine.finetune import finetune
        from gpt_studio.engine.finetune_data import load_task_data, subsample

        req = self._request
        train = load_task_data(req.train_path, req.task, req.columns, plan=req.plan, regression=req.regression)
        if req.max_examples:  # a class-balanced sample, for a quick try on a big file
            train = subsample(train, req.max_examples, req.seed)
        eval_data = None
        if req.eval_path is not None:
            eval_data = load_task_data(req.eval_path, req.task, req.columns, plan=req.plan,
                                       regression=req.regression, labels=train.labels or None)
        self.data_loaded.emit({
            "train_examples": len(train.examples),
            "eval_examples": len(eval_data.examples) if eval_data is not None else None,
            "labels": list(train.labels),
            "skipped": len(train.skipped),
            "total_steps": estimate_steps(len(train.examples), req.config, eval_data is not None),
        })
        result = finetune(self._project, req.base, train, req.config, eval_data=eval_data, name=req.name or None,
                          listeners=[self._on_event], control=self.control)
        return result.to_dict()

    def _on_event(self, event: Any) -> None:
        if isinstance(event, StepEvent):
            self._batcher.add(event)
            return
        self._batcher.flush()
        kind = getattr(event, "kind", "")
        if kind == "finetune_eval":
            self.eval_logged.emit(event)
        elif kind == "error":
            self._error_seen = True
            self.error_raised.emit(event)
        elif kind == "end":
            self._end_summary = event.summary


class FinetuneJob(LoopJob):
    """One fine-tuning run on its own thread, its events relayed as signals on the GUI thread.

    Signals, in order: ``data_loaded(dict)`` once the files are read (train_examples, eval_examples, labels,
    skipped, total_steps); then ``steps_logged(list[StepEvent])``, ``eval_logged(FinetuneEvalEvent)`` and
    ``paused_changed(bool)`` as they happen; ``error_raised(ErrorEvent)`` when the loss became NaN or memory
    ran out (no ``failed`` follows); ``failed(reason, details)`` for anything else (a StudioError gives a
    reason a person can act on and empty details); and always ``finished(result)`` last: the
    ``FinetuneResult.to_dict()``, or None when the run failed before it ended.
    """

    data_loaded = Signal(object)
    steps_logged = Signal(object)
    eval_logged = Signal(object)
    paused_changed = Signal(bool)
    error_raised = Signal(object)
    what = "fine-tuning"

    def __init__(self, project: Project, request: FinetuneRequest) -> None:
        super().__init__()
        worker = _FinetuneWorker(project, request)
        self._control = worker.control  # kept here: the worker drops it when its run ends
        self._run_on_thread(worker, "fine-tuning", ("data_loaded", "steps_logged", "eval_logged", "paused_changed",
                                                    "error_raised", "failed"))
