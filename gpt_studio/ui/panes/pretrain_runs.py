"""Recorded runs in the Pretrain pane's monitor: open one (read in the background), overlay others, follow one.

A :class:`RunViewer` owns at most one :class:`~gpt_studio.workers.history.HistoryLoader` (the run being opened)
and one :class:`~gpt_studio.workers.follow.MetricsFollower` (a run trained by another process). Opening a long
run reads its metrics on a worker thread and feeds the monitor chunk by chunk, so the window stays responsive
(issue 5: a 200k-step run used to freeze it for seconds). :func:`connect_events` wires any source with the
trainer's signals (a training job, a follower) to the monitor's slots, the one place that pairing is written.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from gpt_studio.engine.runs import RunDir
from gpt_studio.ui.widgets.runs_list import begin_monitor, overlay_run

EVENT_SIGNALS = ("steps_logged", "eval_logged", "sample_logged", "probe_logged", "checkpoint_saved",
                 "correction_applied", "error_raised")
MONITOR_SLOTS = ("add_steps", "add_eval", "add_sample", "add_probe", "add_checkpoint", "add_correction",
                 "add_error")


def connect_events(source: QObject, monitor: Any) -> None:
    """Send ``source``'s trainer events (TrainingJob, MetricsFollower) to the monitor's add_* slots."""
    for signal, slot in zip(EVENT_SIGNALS, MONITOR_SLOTS):
        getattr(source, signal).connect(getattr(monitor, slot))


class RunViewer(QObject):
    """Shows recorded runs in a run monitor; the pane decides what to show, this does the reading."""

    opened = Signal(str)  # run id: its whole recorded history is in the monitor
    follow_ended = Signal(object)  # a followed run wrote its end record: the summary
    failed = Signal(str, str)  # reading a run failed: reason, details

    def __init__(self, monitor: Any, run_dir: Callable[[str], RunDir], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.monitor = monitor
        self._run_dir = run_dir
        self.loader: Any = None  # HistoryLoader of the run being opened
        self.follower: Any = None  # MetricsFollower of an attached run

    def open(self, run_id: str, follow: bool = False) -> bool:
        """Make ``run_id`` the monitor's main run and load its history; ``follow``: then poll for more.

        Returns False when this build lacks the readers (``workers.follow``): the monitor then shows an empty run.
        """
        self.stop()
        self.monitor.clear_overlays()
        run = self._run_dir(run_id)
        begin_monitor(self.monitor, run)
        try:
            from gpt_studio.workers.follow import MetricsFollower
            from gpt_studio.workers.history import HistoryLoader
        except ImportError:  # built in parallel; without it past runs show no curves
            return False
        if follow:
            self.follower = follower = MetricsFollower(run.root)
            connect_events(follower, self.monitor)
            follower.reset.connect(lambda: begin_monitor(self.monitor, run))
            follower.ended.connect(self.follow_ended)
            loader = follower.history_loader()
            loader.loaded.connect(lambda _count: follower.start())  # following goes on from the history's end
        else:
            loader = HistoryLoader(run.root)
        self.loader = loader
        loader.chunk_loaded.connect(self.monitor.add_events)
        loader.loaded.connect(lambda _count: self.opened.emit(run_id))
        loader.failed.connect(self.failed)
        loader.start()
        return True

    def overlay(self, run_id: str) -> None:
        """Draw ``run_id``'s curves faintly over the monitor's main run."""
        overlay_run(self.monitor, self._run_dir(run_id))

    def stop(self) -> None:
        """Stop loading and following (a new run starts, another is opened, the pane closes)."""
        if self.loader is not None:
            self.loader.cancel()
            self.loader = None
        if self.follower is not None:
            self.follower.stop()
            self.follower.deleteLater()
            self.follower = None
