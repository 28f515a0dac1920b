"""Recorded runs in the Pretrain pane's monitor: open one, overlay others (each read in the background), follow one.

A :class:`RunViewer` owns at most one :class:`~gpt_studio.workers.history.HistoryLoader` (the run being opened),
one :class:`~gpt_studio.workers.follow.MetricsFollower` (a run trained by another process) and a reader per
overlay being read. Opening a long run reads its metrics on a worker thread and feeds the monitor chunk by
chunk, so the window stays responsive (issue 5: a 200k-step run used to freeze it for seconds); an overlay is
read the same way and drawn when all of it is read, the monitor showing a busy cursor meanwhile.
:func:`connect_events` wires any source with the trainer's signals (a training job, a follower) to the
monitor's slots, the one place that pairing is written.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal, Slot

from gpt_studio.engine.runs import RunDir
from gpt_studio.ui.widgets.runs_list import begin_monitor, history_reader, overlay_events

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
    overlaid = Signal(str)  # run id: its curves are drawn over the main run
    overlays_busy = Signal(bool)  # whether overlays are being read (the monitor shows a busy cursor meanwhile)
    follow_ended = Signal(object)  # a followed run wrote its end record: the summary
    failed = Signal(str, str)  # reading a run failed: reason, details

    def __init__(self, monitor: Any, run_dir: Callable[[str], RunDir], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.monitor = monitor
        self._run_dir = run_dir
        self.loader: Any = None  # HistoryLoader of the run being opened
        self.follower: Any = None  # MetricsFollower of an attached run
        self.overlay_readers: dict[str, Any] = {}  # run id → RunHistoryReader, in the order the overlays were asked
        self._overlays_read: dict[str, tuple[list[Any], list[Any]]] = {}  # read, waiting for an earlier one
        self._busy = False
        readers = self.overlay_readers  # not self: a lambda holding self would keep it in a reference cycle
        self.destroyed.connect(lambda: [reader.cancel() for reader in readers.values()])  # the pane went away

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
        """Draw ``run_id``'s curves faintly over the monitor's main run once they are read (``overlaid`` then).

        A long run is read on a worker; overlays are drawn in the order asked for, so each keeps the colour its
        place gives it. Asking again for a run being read starts it over.
        """
        if run_id in self.overlay_readers:
            self.overlay_readers.pop(run_id).cancel()
            self._overlays_read.pop(run_id, None)
        reader = history_reader(self._run_dir(run_id))
        if reader is None:  # this build lacks the readers: no curves
            return
        self.overlay_readers[run_id] = reader
        reader.loaded.connect(self._on_overlay_read)
        reader.failed.connect(self._on_overlay_failed)
        self._show_busy()
        reader.start()  # a short run is read at once: drawn before this returns

    @property
    def is_reading_overlays(self) -> bool:
        """Whether overlays are still being read."""
        return bool(self.overlay_readers)

    @Slot(str, object, object)
    def _on_overlay_read(self, run_id: str, steps: list[Any], events: list[Any]) -> None:
        if run_id in self.overlay_readers:
            self._overlays_read[run_id] = (steps, events)
            self._draw_overlays()

    @Slot(str, str)
    def _on_overlay_failed(self, reason: str, details: str) -> None:
        sender = self.sender()
        run_id = next((key for key, reader in self.overlay_readers.items() if reader is sender), None)
        if run_id is not None:
            del self.overlay_readers[run_id]
            self._draw_overlays()
        self.failed.emit(reason, details)

    def _draw_overlays(self) -> None:
        """Draw the overlays read so far, in the order asked for, up to the first still being read."""
        while self.overlay_readers:
            run_id = next(iter(self.overlay_readers))
            if run_id not in self._overlays_read:
                break
            steps, events = self._overlays_read.pop(run_id)
            del self.overlay_readers[run_id]
            overlay_events(self.monitor, run_id, steps, events)
            self.overlaid.emit(run_id)
        self._show_busy()

    def _show_busy(self) -> None:
        busy = bool(self.overlay_readers)
        if busy == self._busy:
            return
        self._busy = busy
        if busy:
            self.monitor.setCursor(Qt.CursorShape.BusyCursor)  # works on, in the background: not a wait cursor
        else:
            self.monitor.unsetCursor()
        self.overlays_busy.emit(busy)

    def cancel_overlays(self) -> None:
        """Stop reading overlays (the monitor's overlays are cleared, another run opens, the pane closes)."""
        for reader in self.overlay_readers.values():
            reader.cancel()
        self.overlay_readers.clear()
        self._overlays_read.clear()
        self._show_busy()

    def stop(self) -> None:
        """Stop loading, reading overlays and following (a new run starts, another is opened, the pane closes)."""
        self.cancel_overlays()
        if self.loader is not None:
            self.loader.cancel()
            self.loader = None
        if self.follower is not None:
            self.follower.stop()
            self.follower.deleteLater()
            self.follower = None
