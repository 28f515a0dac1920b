"""Follow a run's metrics.jsonl (and samples.jsonl) as another process appends to it.

This is how the app watches a run it did not start (``gpt-studio pretrain`` in a terminal, ``torchrun``).
A GUI-thread QTimer polls the files; each poll reads only the bytes appended since the last one and parses
the complete lines (a torn last line waits for the next poll). The trainer rewrites metrics.jsonl
atomically on resume (records after the resumed checkpoint are dropped): a new inode, a smaller file or an
unreadable line makes the follower read from the start again and emit ``reset()`` first. What is there
already is read by :mod:`gpt_studio.workers.history` (in the background, for a long run).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from gpt_studio.engine.runs import METRICS_FILE, SAMPLES_FILE
from gpt_studio.engine.trainer_config import EndEvent, Event, StepEvent, event_from_record
from gpt_studio.workers.history import (
    CHUNK_EVENTS,
    STEP_FIELDS,
    FileTail,
    HistoryLoader,
    StepBlock,
    event_count,
    events_of,
    expand,
    iter_history,
)

# The history names are importable from here too, where the follower's callers look for them.
__all__ = ["CHUNK_EVENTS", "STEP_FIELDS", "FileTail", "HistoryLoader", "MetricsFollower", "StepBlock", "event_count",
           "event_from_record", "expand", "iter_history"]


class MetricsFollower(QObject):
    """Polls a run folder and emits the same signals as :class:`~gpt_studio.workers.training.TrainingJob`.

    ``reset()`` says the files were rewritten (a resume cut later records): clear the plots and take the
    events that follow as the whole history. ``ended(summary)`` comes with each ``end`` record (a resumed
    run holds one per invocation, so following goes on until :meth:`stop`).
    """

    steps_logged = Signal(object)
    eval_logged = Signal(object)
    sample_logged = Signal(object)
    probe_logged = Signal(object)
    checkpoint_saved = Signal(object)
    correction_applied = Signal(object)
    error_raised = Signal(object)
    ended = Signal(object)  # the summary dict (object: no QVariantMap conversion of its values)
    reset = Signal()

    def __init__(self, run_dir: Path, interval_ms: int = 250, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.run_dir = Path(run_dir)
        self._metrics = FileTail(self.run_dir / METRICS_FILE)
        self._samples = FileTail(self.run_dir / SAMPLES_FILE)
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self.poll)

    def start(self) -> None:
        """Poll from now on (after :meth:`load_all` or a history loader, only what is appended later is emitted)."""
        self._timer.start()

    def stop(self) -> None:
        """Stop polling."""
        self._timer.stop()

    @property
    def is_following(self) -> bool:
        """Whether the timer is polling."""
        return self._timer.isActive()

    def load_all(self) -> list[Event]:
        """Every event in the run so far, samples placed after the evaluation of their step; emits nothing.

        Reads on the calling thread (a long run takes seconds: the GUI uses :meth:`history_loader`).
        Following then continues from the end of what was read.
        """
        return expand(item for chunk in iter_history(self._metrics, self._samples) for item in chunk)

    def history_loader(self, chunk_events: int = CHUNK_EVENTS) -> HistoryLoader:
        """A loader of the history so far that leaves this follower at its end: start following on ``loaded``."""
        return HistoryLoader(self.run_dir, tails=(self._metrics, self._samples), chunk_events=chunk_events)

    @Slot()
    def poll(self) -> None:
        """Read what was appended and emit it (steps as one list per poll)."""
        rewritten, records = self._metrics.read_new()
        samples_rewritten, sample_records = self._samples.read_new()
        if rewritten or samples_rewritten:
            if not rewritten:  # keep both files in step: a reset means "everything again"
                self._metrics.offset, records = 0, self._metrics.read_new()[1]
            if not samples_rewritten:
                self._samples.offset, sample_records = 0, self._samples.read_new()[1]
            self.reset.emit()
        self._emit(list(_merge_samples(events_of(records), list(events_of(sample_records)))))

    def _emit(self, events: list[Event]) -> None:
        steps: list[StepEvent] = []
        signals = {"eval": self.eval_logged, "sample": self.sample_logged, "checkpoint": self.checkpoint_saved,
                   "correction": self.correction_applied, "error": self.error_raised, "probe": self.probe_logged}
        for event in events:
            if isinstance(event, StepEvent):
                steps.append(event)
                continue
            if steps:
                self.steps_logged.emit(steps)
                steps = []
            if isinstance(event, EndEvent):
                self.ended.emit(event.summary)
            elif event.kind in signals:
                signals[event.kind].emit(event)
        if steps:
            self.steps_logged.emit(steps)


def _merge_samples(metrics: Iterable[Event], samples: list[Event]) -> Iterator[Event]:
    """Metrics events in file order, each sample inserted before the first event of a later step."""
    pending = iter(samples)
    sample = next(pending, None)
    for event in metrics:
        while sample is not None and event.step > sample.step:
            yield sample
            sample = next(pending, None)
        yield event
    while sample is not None:
        yield sample
        sample = next(pending, None)
