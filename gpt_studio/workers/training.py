"""A pretraining run on a QThread: the trainer's events become queued Qt signals, steps coalesced.

Wiring is :class:`~gpt_studio.workers.threaded.ThreadedJob`'s (superqt's ``qthreading``): a parentless worker
is moved to its own QThread and started by ``started → run``; ``finished`` quits the thread directly, and at
the end the worker drops its cycles and is handed back to the GUI thread (:func:`hand_back`). Pause,
resume, stop and corrections go through the engine's :class:`TrainControl`, which the loop honours at step
boundaries, so nothing is ever killed mid-step and a stopped run always ends with a checkpoint.

Why steps are coalesced: a queued signal per step (hundreds per second on small models) keeps the GUI
thread busy and, through the GIL, slows training itself (NOTES-qt: up to 10×). ``steps_logged`` therefore
carries a list of every step since the previous emit, at most every 50 ms; any other event, a pause and
the end flush the list first, so the order of signals is the order of events and no step is lost.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from gpt_studio.engine.errors import StudioError
from gpt_studio.engine.project import Project
from gpt_studio.engine.trainer import TrainControl
from gpt_studio.engine.trainer_config import Event, StepEvent
from gpt_studio.workers.threaded import ThreadedJob, hand_back, running_jobs

STEP_EMIT_INTERVAL_S = 0.05  # at most ~20 steps_logged per second
HISTORY_WAIT_S = 30.0  # longest a resumed run waits for the GUI to draw its earlier curve before training
TRAINING_NICE = 5  # the training thread's nice above the GUI thread's (Linux): the GUI wins the CPU when it wakes
MAX_NICE = 19  # the lowest priority Linux has


def lower_thread_priority(nice: int = TRAINING_NICE) -> None:
    """Make the calling thread (and the OpenMP threads torch starts from it later) yield to the GUI thread.

    Why: with torch using every core, the GUI thread waits for a core whenever it wakes; a redraw then
    takes 2-3× its CPU time and event-loop lateness reached p99 30-60 ms (docs/BENCHMARKS.md, issue 5).
    On Linux a thread has its own nice value and threads inherit it, and libgomp gives each thread that
    starts a parallel region its own worker pool, so only training is lowered, never the GUI. Elsewhere
    the QThread's LowPriority does the same job; a failure here only costs responsiveness.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        tid = threading.get_native_id()  # relative: an app started with `nice` keeps its GUI above training
        os.setpriority(os.PRIO_PROCESS, tid, min(MAX_NICE, os.getpriority(os.PRIO_PROCESS, tid) + nice))
    except OSError:
        pass


class StepBatcher:
    """Collects step events and hands them on as one list at most every ``interval_s`` (no step is dropped)."""

    def __init__(self, emit: Callable[[list[StepEvent]], None], interval_s: float = STEP_EMIT_INTERVAL_S) -> None:
        self._emit = emit
        self._interval = interval_s
        self._pending: list[StepEvent] = []
        self._last = -float("inf")

    def add(self, event: StepEvent) -> None:
        """Queue a step; emit the queue when the interval has passed since the last emit."""
        self._pending.append(event)
        if time.monotonic() - self._last >= self._interval:
            self.flush()

    def flush(self) -> None:
        """Emit whatever is queued now (before another kind of event, a pause or the end)."""
        if self._pending:
            pending, self._pending = self._pending, []
            self._last = time.monotonic()
            self._emit(pending)


class _SignallingControl(TrainControl):
    """A TrainControl that reports when the loop really holds for a pause and when it goes on."""

    def __init__(self, on_hold: Callable[[], None], on_release: Callable[[], None]) -> None:
        super().__init__()
        self._on_hold, self._on_release = on_hold, on_release

    def wait_if_paused(self) -> None:
        """Called by the loop on the worker thread at a step boundary."""
        self._on_hold()
        try:
            super().wait_if_paused()
        finally:
            self._on_release()


class LoopWorker(QObject):
    """The body shared by the training and fine-tuning workers, on the job's QThread.

    One run of the engine's loop (:meth:`_work`, defined by each worker) with its events turned into
    signals: steps coalesced by a :class:`StepBatcher`, pause and resume reported by a
    :class:`_SignallingControl`, exactly one ``finished(summary)`` at the end whatever happens, and the
    worker handed back to the GUI thread (:func:`hand_back`) after dropping its cycles.
    """

    steps_logged = Signal(object)
    paused_changed = Signal(bool)
    error_raised = Signal(object)
    failed = Signal(str, str)
    finished = Signal(object)
    what = "training"  # in the messages: "Out of memory while training; …", "Training failed: …"
    memory_advice = "try a smaller batch or model"

    def __init__(self, project: Project, request: Any) -> None:
        super().__init__()
        self._project, self._request = project, request
        self.control = _SignallingControl(self._on_hold, self._on_release)
        self._batcher = StepBatcher(self.steps_logged.emit)
        self._end_summary: dict[str, Any] | None = None
        self._error_seen = False

    def _work(self) -> dict[str, Any]:
        """The run itself, on this thread; returns its summary."""
        raise NotImplementedError

    @Slot()
    def run(self) -> None:
        """The thread's body: exactly one ``finished`` at the end, whatever happens."""
        summary: dict[str, Any] | None = None
        lower_thread_priority()
        try:
            summary = self._work()
        except StudioError as exc:
            summary = self._end_summary
            if not self._error_seen:  # NaN / OOM were already told by error_raised
                self.failed.emit(str(exc), "")
        except MemoryError:
            self.failed.emit(f"Out of memory while {self.what}; {self.memory_advice}.", traceback.format_exc())
        except Exception as exc:  # noqa: BLE001 - any bug becomes a dialog, never a dead GUI
            self.failed.emit(f"{self.what[:1].upper()}{self.what[1:]} failed: {exc}", traceback.format_exc())
        finally:
            self._batcher.flush()
            self._hand_back()
            self.finished.emit(summary)

    def _hand_back(self) -> None:
        """End of run, on the worker thread: drop the cycles through its control and batcher, then hand back."""
        self._batcher = None  # type: ignore[assignment]
        self.control = None  # type: ignore[assignment]  # the job keeps its own reference for stop/pause/correct
        hand_back(self)

    def _on_hold(self) -> None:
        self._batcher.flush()
        self.paused_changed.emit(True)

    def _on_release(self) -> None:
        self.paused_changed.emit(False)


class _TrainingWorker(LoopWorker):
    """Creates or finds the run, trains, and emits the events as signals."""

    run_started = Signal(str, object)  # run id, its history so far (list of Event | StepBlock)
    phase_logged = Signal(object)
    eval_logged = Signal(object)
    sample_logged = Signal(object)
    probe_logged = Signal(object)
    checkpoint_saved = Signal(object)
    correction_applied = Signal(object)

    def __init__(self, project: Project, request: Any) -> None:
        super().__init__(project, request)
        self.history_drawn = threading.Event()  # set by the job once run_started's slots have run

    def _work(self) -> dict[str, Any]:
        """Create (or find) the run folder first, so run_started comes before any training work."""
        from gpt_studio.engine.pretrain import RESUME_KEYS, branch_run, new_run, pretrain
        from gpt_studio.engine.runs import find_run

        req = self._request
        settings, max_steps = dict(req["settings"]), req["max_steps"]
        if req["preset_name"] is not None:
            run = new_run(self._project, req["preset_name"], settings, max_steps)
            settings, max_steps = {}, None  # now in run.json; a fresh run resumed from no checkpoint starts at 0
        else:
            bad = set(settings) - RESUME_KEYS - {"max_steps"}
            if bad:
                raise StudioError(f"A resumed run keeps its configuration; only {', '.join(sorted(RESUME_KEYS))} "
                                  f"may change (not {', '.join(sorted(bad))}). Branch or start a new run instead.")
            if req["branch"] is not None:
                run = branch_run(self._project, req["branch"][0], req["branch"][1])
            else:
                run = find_run(self._project, req["resume"])
        history = self._history(run, resumed=req["preset_name"] is None and req["branch"] is None)
        self.run_started.emit(run.run_id, history)
        if history:  # let the GUI draw it before training competes with it for the GIL (4x slower then)
            deadline = time.monotonic() + HISTORY_WAIT_S
            while not self.history_drawn.wait(0.05) and not self.control.stop_requested:
                if time.monotonic() > deadline:
                    break
        return pretrain(self._project, resume=run.run_id, settings=settings or None, max_steps=max_steps,
                        listeners=[self._on_event], control=self.control)

    @staticmethod
    def _history(run: Any, *, resumed: bool) -> list[Any]:
        """The run's recorded history, read here so the GUI thread never parses it (a second per 100k steps).

        A resumed run restarts at its latest checkpoint, so what was recorded after it is left out (the loop
        records those steps again); a new run has none, and a branch holds its parent's curve up to its step.
        """
        from gpt_studio.engine.checkpoint import latest_checkpoint
        from gpt_studio.workers.history import read_history

        try:
            if not resumed:
                return read_history(run.root) if run.metrics_file.exists() else []
            latest = latest_checkpoint(run.checkpoints_dir)
            return read_history(run.root, up_to_step=latest.step if latest else 0)
        except OSError:  # the run trains all the same; only its earlier curve is missing from the plot
            return []

    def _on_event(self, event: Event) -> None:
        if isinstance(event, StepEvent):
            self._batcher.add(event)
            return
        self._batcher.flush()
        signal = {"eval": self.eval_logged, "sample": self.sample_logged, "checkpoint": self.checkpoint_saved,
                  "correction": self.correction_applied, "error": self.error_raised,
                  "probe": self.probe_logged, "phase": self.phase_logged}.get(event.kind)
        if event.kind == "error":
            self._error_seen = True
        elif event.kind == "end":
            self._end_summary = event.summary  # type: ignore[union-attr]
        if signal is not None:
            signal.emit(event)


class LoopJob(ThreadedJob):
    """Pause, resume and stop of a :class:`LoopWorker`'s run, from the GUI thread (training and fine-tuning)."""

    _control: TrainControl  # the worker's control, kept here: the worker drops it when its run ends

    def pause(self) -> None:
        """Hold after the current step (``paused_changed(True)`` once it holds)."""
        self._control.pause()

    def resume(self) -> None:
        """Continue a paused run."""
        self._control.resume()

    def stop(self) -> None:
        """End after the current step, also from a pause.

        A pretraining run ends with a checkpoint; a fine-tuning run still evaluates and saves the best model.
        """
        self._control.stop()

    @property
    def is_paused(self) -> bool:
        """Whether a pause is requested on a running job."""
        return self.is_running and self._control.paused


def training_jobs() -> list[LoopJob]:
    """The pretraining and fine-tuning runs under way in this process (the Playground says it shares with them)."""
    return [job for job in running_jobs() if isinstance(job, LoopJob)]


def describe_run(job: LoopJob) -> str:
    """A run as a person names it: "the pretraining run 2026…-gpt-ab12", "a fine-tuning run"."""
    run_id = getattr(job, "run_id", None)
    if isinstance(job, TrainingJob):
        return f"the pretraining run {run_id}" if run_id else "a pretraining run"
    return f"a {job.what} run"


class TrainingJob(LoopJob):
    """Starts, resumes or branches a pretraining run on its own thread and relays its events as signals.

    Signals, in event order: ``run_started(run_id)`` once the run folder exists (its earlier history,
    read on the worker, waits in :meth:`take_history`); then ``steps_logged(list)``,
    ``eval_logged``, ``sample_logged``, ``checkpoint_saved``, ``correction_applied`` and ``paused_changed``
    as they happen, with ``phase_logged(PhaseEvent)`` when the loop stops stepping to evaluate or write a
    checkpoint; ``error_raised(ErrorEvent)`` when the loss became NaN or memory ran out (the run has
    ended with its last good checkpoint kept; no ``failed`` follows); ``failed(reason, details)`` for any
    other exception (a :class:`StudioError` gives a reason a person can act on and empty details); and
    always ``finished(summary)`` last: the run summary (``reason`` completed, stopped or error), or None
    when it failed before ending.

    The job object itself stays on the GUI thread; a parentless worker moved to the QThread emits, and its
    signals are forwarded signal-to-signal (queued). So every slot, lambdas included, runs on the GUI
    thread (PySide runs a lambda connected to a signal of an object living in a worker thread on that
    worker thread).
    """

    run_started = Signal(str)
    phase_logged = Signal(object)  # PhaseEvent: training waits while the loop evaluates or writes a checkpoint
    steps_logged = Signal(object)
    eval_logged = Signal(object)
    sample_logged = Signal(object)
    probe_logged = Signal(object)
    checkpoint_saved = Signal(object)
    correction_applied = Signal(object)
    paused_changed = Signal(bool)
    error_raised = Signal(object)
    what = "training"  # the main window names running jobs when asked to quit

    def __init__(self, project: Project, *, preset_name: str | None = None, settings: dict[str, Any] | None = None,
                 resume: str | None = None, branch: tuple[str, int | None] | None = None,
                 max_steps: int | None = None) -> None:
        super().__init__()
        if sum(x is not None for x in (preset_name, resume, branch)) != 1:
            raise ValueError("give exactly one of preset_name (a new run), resume or branch")
        self.run_id: str | None = None
        self._history: list[Any] = []
        request = {"preset_name": preset_name, "settings": dict(settings or {}), "resume": resume,
                   "branch": branch, "max_steps": max_steps}
        worker = _TrainingWorker(project, request)
        self._control = worker.control  # kept here: the worker drops it when its run ends
        self._history_drawn = worker.history_drawn
        worker.run_started.connect(self._on_run_started)
        self._run_on_thread(worker, "training", ("steps_logged", "eval_logged", "sample_logged", "probe_logged",
                                                 "checkpoint_saved", "correction_applied", "paused_changed",
                                                 "error_raised", "failed", "phase_logged"))

    # ------------------------------------------------------------------------------ called from the GUI
    def start(self) -> TrainingJob:
        """Start the thread at low priority; returns self."""
        return super().start()  # type: ignore[no-any-return]

    def correct(self, **changes: Any) -> None:
        """Queue a mid-flight change (lr_scale, lr, schedule, min_lr, warmup_steps, grad_clip, eval_interval).

        Raises ValueError at once for a setting that cannot change mid-flight; ``correction_applied``
        follows when the loop has applied it.
        """
        self._control.correct(**changes)

    # ----------------------------------------------------------------------------- GUI-thread relays
    def take_history(self) -> list[Any]:
        """The run's history before this job's first step (Events and StepBlock arrays), once; then empty.

        Read on the worker before training began; a slot of ``run_started`` takes it to draw the earlier
        curve before the live steps arrive.
        """
        history, self._history = self._history, []
        return history

    @Slot(str, object)
    def _on_run_started(self, run_id: str, history: list[Any]) -> None:
        self.run_id = run_id
        self._history = history
        try:
            self.run_started.emit(run_id)  # slots on this (the GUI) thread run now, before emit returns
        finally:
            self._history = []
            self._history_drawn.set()
