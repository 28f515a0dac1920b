"""Follow a run's metrics.jsonl (and samples.jsonl) as another process appends to it, or load it at once.

This is how the app watches a run it did not start (``gpt-studio pretrain`` in a terminal, ``torchrun``) and
opens past runs. A GUI-thread QTimer polls the files; each poll reads only the bytes appended since the
last one and parses the complete lines (a torn last line waits for the next poll). The trainer rewrites
metrics.jsonl atomically on resume (records after the resumed checkpoint are dropped): a new inode, a
smaller file or an unreadable line makes the follower read from the start again and emit ``reset()`` first.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal, Slot

from gpt_studio.engine.runs import METRICS_FILE, SAMPLES_FILE
from gpt_studio.engine.trainer_config import (
    CheckpointEvent,
    CorrectionEvent,
    EndEvent,
    ErrorEvent,
    EvalEvent,
    Event,
    SampleEvent,
    StepEvent,
)

_EVENT_CLASSES = (StepEvent, EvalEvent, SampleEvent, CheckpointEvent, CorrectionEvent, ErrorEvent, EndEvent)
EVENT_TYPES: dict[str, type] = {cls.kind: cls for cls in _EVENT_CLASSES}  # the dataclass default of ``kind``


def event_from_record(record: dict[str, Any]) -> Event | None:
    """The event dataclass of a metrics.jsonl record (unknown kinds and fields are ignored: newer writers)."""
    cls = EVENT_TYPES.get(record.get("kind", ""))
    if cls is None:
        return None
    names = {f.name for f in fields(cls)}
    try:
        return cls(**{k: v for k, v in record.items() if k in names})
    except TypeError:  # a field missing: not a record we understand
        return None


class FileTail:
    """Reads the complete lines appended to one file since the last read; notices rewrites."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self._inode: int | None = None

    def read_new(self) -> tuple[bool, list[dict[str, Any]]]:
        """(whether the file was rewritten since the last read, the new records)."""
        try:
            stat = os.stat(self.path)
        except FileNotFoundError:
            rewritten = self.offset > 0
            self.offset, self._inode = 0, None
            return rewritten, []
        rewritten = (self._inode is not None and stat.st_ino != self._inode) or stat.st_size < self.offset
        if rewritten:
            self.offset = 0
        self._inode = stat.st_ino
        if stat.st_size == self.offset:
            return rewritten, []
        with open(self.path, "rb") as handle:
            handle.seek(self.offset)
            data = handle.read(stat.st_size - self.offset)
        end = data.rfind(b"\n") + 1  # only complete lines; a torn tail is read again next time
        records = []
        for line in data[:end].splitlines():
            try:
                records.append(json.loads(line))
            except (json.JSONDecodeError, UnicodeDecodeError):
                if self.offset > 0:  # we are mid-line: the file changed in a way size and inode did not show
                    self.offset = 0
                    return True, self.read_new()[1]
                # from the start, a damaged line is skipped (as engine.runs.read_jsonl would refuse it)
        self.offset += end
        return rewritten, records


class MetricsFollower(QObject):
    """Polls a run folder and emits the same signals as :class:`~gpt_studio.workers.training.TrainingJob`.

    ``reset()`` says the files were rewritten (a resume cut later records): clear the plots and take the
    events that follow as the whole history. ``ended(summary)`` comes with each ``end`` record (a resumed
    run holds one per invocation, so following goes on until :meth:`stop`).
    """

    steps_logged = Signal(object)
    eval_logged = Signal(object)
    sample_logged = Signal(object)
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
        """Poll from now on (after :meth:`load_all`, only what is appended later is emitted)."""
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

        Following then continues from the end of what was read.
        """
        self._metrics.offset = self._samples.offset = 0
        metrics = [e for e in map(event_from_record, self._metrics.read_new()[1]) if e is not None]
        samples = [e for e in map(event_from_record, self._samples.read_new()[1]) if e is not None]
        return list(_merge_samples(metrics, samples))

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
        metrics = [e for e in map(event_from_record, records) if e is not None]
        samples = [e for e in map(event_from_record, sample_records) if e is not None]
        self._emit(list(_merge_samples(metrics, samples)))

    def _emit(self, events: list[Event]) -> None:
        steps: list[StepEvent] = []
        signals = {"eval": self.eval_logged, "sample": self.sample_logged, "checkpoint": self.checkpoint_saved,
                   "correction": self.correction_applied, "error": self.error_raised}
        for event in events:
            if isinstance(event, StepEvent):
                steps.append(event)
                continue
            if steps:
                self.steps_logged.emit(steps)
                steps = []
            if isinstance(event, EndEvent):
                self.ended.emit(event.summary)
            else:
                signals[event.kind].emit(event)
        if steps:
            self.steps_logged.emit(steps)


def _merge_samples(metrics: list[Event], samples: list[Event]) -> Iterator[Event]:
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
