"""A run's recorded events read from its files: tails that follow appends, and whole histories in chunks.

:class:`FileTail` reads the complete lines appended to one file since the last read. :func:`iter_history`
reads a run from the start, in file order, with runs of steps packed into :class:`StepBlock` arrays, and
:class:`HistoryLoader` does that on a worker thread for the GUI. Why chunks and arrays: a long run's history
(200k steps ≈ 40 MB of JSON lines) takes seconds to parse, and on the GUI thread that froze the window.
"""

from __future__ import annotations

import json
import math
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import QObject, Signal, Slot

from gpt_studio.engine.progress import Reporter
from gpt_studio.engine.runs import METRICS_FILE, SAMPLES_FILE
from gpt_studio.engine.trainer_config import Event, StepEvent, event_from_record
from gpt_studio.workers.job import Job

CHUNK_EVENTS = 500  # events the reader parses per turn (≈2 ms): the most it can hold up the GUI thread's GIL
BLOCK_BYTES = 1 << 18  # bytes read from disk at a time while loading a history
INLINE_BYTES = 256 * 1024  # a history this small (~1k steps) is read at once on the GUI thread: a few ms
TURN_POLL_S = 0.05  # how often a reader waiting for its turn checks for cancellation
STEP_FIELDS = tuple(f.name for f in fields(StepEvent) if f.name != "kind")  # a StepBlock's columns
_INT_FIELDS = {f.name for f in fields(StepEvent) if f.type in ("int", int)}


@dataclass(frozen=True)
class StepBlock:
    """Consecutive step records of a loaded history as one float array, one column per name in ``fields``.

    Why not a StepEvent each: 100k of them, made on the reader thread and alive until the GUI took them, set
    off a full garbage collection that held the GIL for ≈0.3 s, and the window froze. An array is one object
    (and the JSON dicts it is made from hold only numbers and strings, which the collector does not track).
    """

    rows: np.ndarray  # (n, len(fields)) float64
    fields: tuple[str, ...] = STEP_FIELDS
    kind: str = "steps"

    @property
    def step(self) -> int:
        """The first step in the block."""
        return int(self.rows[0, self.fields.index("step")])

    def events(self) -> list[StepEvent]:
        """The steps as StepEvents (for readers that want objects: few, or in tests)."""
        return [StepEvent(**{name: int(v) if name in _INT_FIELDS else v for name, v in zip(self.fields, row)})
                for row in self.rows.tolist()]


def event_count(items: Sequence[Event | StepBlock]) -> int:
    """How many events ``items`` stand for (a StepBlock counts each of its steps)."""
    return sum(len(item.rows) if isinstance(item, StepBlock) else 1 for item in items)


def expand(items: Iterable[Event | StepBlock]) -> list[Event]:
    """``items`` with every StepBlock turned back into its StepEvents."""
    events: list[Event] = []
    for item in items:
        if isinstance(item, StepBlock):
            events.extend(item.events())
        else:
            events.append(item)
    return events


def events_of(records: Iterable[Any]) -> Iterator[Event]:
    """The events of ``records``; one this version cannot read (unknown kind, missing field) is skipped."""
    for record in records:
        try:
            yield event_from_record(record)
        except (ValueError, TypeError):
            continue


def _records(data: bytes) -> Iterator[Any]:
    """The JSON value of each complete line, parsed as asked for; a damaged line is skipped (read_jsonl's rule)."""
    for line in data.splitlines():
        try:
            yield json.loads(line)
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue


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

    def read_records(self, block_bytes: int = BLOCK_BYTES) -> Iterator[Any]:
        """The records from the file's start to its present end, parsed one at a time as the caller asks.

        For a long history: nothing is held twice in memory, and the caller can stop (or pause) anywhere.
        Afterwards :meth:`read_new` continues where this stopped (a torn last line is read again then).
        """
        self.offset = 0
        try:
            handle = open(self.path, "rb")  # closed by the with below, also when the caller stops early
        except FileNotFoundError:
            self._inode = None
            return
        with handle:
            stat = os.fstat(handle.fileno())
            self._inode = stat.st_ino
            left, carry = stat.st_size, b""
            while left > 0:
                data = handle.read(min(block_bytes, left))
                if not data:  # shrank under us: the next poll notices the rewrite
                    break
                left -= len(data)
                data = carry + data
                end = data.rfind(b"\n") + 1
                carry = data[end:]
                self.offset += end
                yield from _records(data[:end])


def _step_row(record: Any) -> tuple[float, ...] | None:
    """A step record's values in ``STEP_FIELDS`` order (None: not a step record this version can read)."""
    if not isinstance(record, dict) or record.get("kind") != "step":
        return None
    try:
        return tuple(float(record[name]) for name in STEP_FIELDS)
    except (KeyError, TypeError, ValueError):
        return None


class _Chunker:
    """Collects a history in file order: runs of steps become StepBlocks, each sample goes before later steps."""

    def __init__(self, samples: list[Event]) -> None:
        self._samples = iter(samples)
        self._sample = next(self._samples, None)
        self._items: list[Event | StepBlock] = []
        self._rows: list[tuple[float, ...]] = []
        self.count = 0  # events collected since the last take()

    def add(self, step: float, row: tuple[float, ...] | None, event: Event | None) -> None:
        """One metrics record: a step's row, or another event."""
        self._samples_before(step)
        if row is not None:
            self._rows.append(row)
        else:
            self._flush_rows()
            self._items.append(event)  # type: ignore[arg-type]
        self.count += 1

    def take(self) -> list[Event | StepBlock]:
        """What was collected since the last take."""
        self._flush_rows()
        items, self._items, self.count = self._items, [], 0
        return items

    def finish(self) -> list[Event | StepBlock]:
        """The rest, and the samples of steps after the last metrics record."""
        self._samples_before(math.inf)
        return self.take()

    def _samples_before(self, step: float) -> None:
        while self._sample is not None and step > self._sample.step:
            self._flush_rows()
            self._items.append(self._sample)
            self.count += 1
            self._sample = next(self._samples, None)

    def _flush_rows(self) -> None:
        if self._rows:
            self._items.append(StepBlock(np.array(self._rows, dtype=np.float64)))
            self._rows = []


def iter_history(metrics: FileTail, samples: FileTail, chunk_events: int = CHUNK_EVENTS,
                 check: Callable[[], None] | None = None) -> Iterator[list[Event | StepBlock]]:
    """Every event recorded so far, in file order, samples after the evaluation of their step, in chunks.

    A chunk stands for about ``chunk_events`` events, runs of steps packed into :class:`StepBlock` arrays.
    Reads both files from the start; afterwards the tails point at their ends, so following goes on from
    there. ``check`` runs between chunks (a reporter's ``check`` raises there once cancelled).
    """
    chunker = _Chunker(list(events_of(samples.read_records())))
    for record in metrics.read_records():
        row = _step_row(record)
        if row is not None:
            chunker.add(row[0], row, None)
        else:
            event = next(events_of([record]), None)
            if event is None:
                continue
            chunker.add(event.step, None, event)
        if chunker.count >= chunk_events:
            if check is not None:
                check()
            yield chunker.take()
    last = chunker.finish()
    if last:
        yield last


def read_history(run_dir: Path, up_to_step: int | None = None,
                 check: Callable[[], None] | None = None) -> list[Event | StepBlock]:
    """A run's whole history so far on the calling thread, steps as :class:`StepBlock` arrays.

    For a worker thread that must have the history before anything else happens (a resumed run's earlier
    steps go before its live ones). ``up_to_step`` drops what was recorded after that step (a resume
    from an earlier checkpoint replays those steps). ``check`` runs between chunks.
    """
    items: list[Event | StepBlock] = []
    tails = FileTail(run_dir / METRICS_FILE), FileTail(run_dir / SAMPLES_FILE)
    for chunk in iter_history(*tails, check=check):
        for item in chunk:
            if up_to_step is not None and isinstance(item, StepBlock):  # .step is only the block's first
                item = StepBlock(item.rows[item.rows[:, item.fields.index("step")] <= up_to_step], item.fields)
                if len(item.rows):
                    items.append(item)
            elif up_to_step is None or item.step <= up_to_step:
                items.append(item)
    return items


class HistoryLoader(QObject):
    """Reads a run's recorded events off the GUI thread and hands them to it in chunks, in file order.

    Why: parsing a long run on the GUI thread froze the window for seconds. The reader runs in a
    :class:`~gpt_studio.workers.job.Job` and takes turns with the GUI thread: it parses one chunk, hands it
    over, and parses the next only once the GUI has taken that one. Parsing is pure Python, so a reader
    running freely would hold the GIL for up to 5 ms each time the GUI thread let go of it, hundreds of
    times in one redraw and paint of the plots (measured: 250 ms stalls); taking turns bounds that by one
    chunk. A history under ``inline_bytes`` is read at once in :meth:`start`: a thread would only make it
    flicker.
    ``chunk_loaded(items)`` and then ``loaded(count)`` (or ``failed``) arrive on the GUI thread; the items are
    events, with runs of steps as :class:`StepBlock` arrays (``RunMonitor.add_events`` takes both).
    """

    chunk_loaded = Signal(object)  # list of Event | StepBlock, in file order
    loaded = Signal(int)  # every event was handed over: how many
    failed = Signal(str, str)  # reason, details
    _chunk_read = Signal(object)  # reader thread → this object's (the GUI) thread

    def __init__(self, run_dir: Path, *, tails: tuple[FileTail, FileTail] | None = None,
                 chunk_events: int = CHUNK_EVENTS, inline_bytes: int = INLINE_BYTES,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.run_dir = Path(run_dir)
        self._metrics, self._samples = tails or (FileTail(self.run_dir / METRICS_FILE),
                                                 FileTail(self.run_dir / SAMPLES_FILE))
        self._chunk_events = chunk_events
        self._inline_bytes = inline_bytes
        self._turn = threading.Semaphore(1)  # the reader's turn to parse: given back when the GUI took a chunk
        self._job: Job | None = None
        self._cancelled = False
        self.count = 0  # events handed over so far
        self.done = False  # every event was handed over
        self._chunk_read.connect(self._on_chunk_read)  # queued when emitted on the reader thread

    @property
    def is_loading(self) -> bool:
        """Whether the reader thread is still at work."""
        return self._job is not None and self._job.is_running

    def start(self) -> HistoryLoader:
        """Begin loading (connect to the signals first); returns self."""
        if self._size() <= self._inline_bytes:
            try:
                for chunk in iter_history(self._metrics, self._samples, self._chunk_events):
                    self._hand_over(chunk)
            except OSError as exc:
                self.failed.emit(f"Could not read the metrics of {self.run_dir.name}: {exc.strerror or exc}.", "")
                return self
            self._finish()
            return self
        self._job = Job(self._read, f"reading the metrics of {self.run_dir.name}")
        self._job.succeeded.connect(self._on_read)
        self._job.failed.connect(self._on_failed)
        self._job.start()
        return self

    def cancel(self) -> None:
        """Stop reading; chunks already on their way are dropped. Safe to call at any time."""
        self._cancelled = True
        if self._job is not None:
            self._job.cancel()

    def wait(self, ms: int = 30_000) -> bool:
        """Block until the reader thread ends (after :meth:`cancel`; for shutdown and tests)."""
        return self._job.wait(ms) if self._job is not None else True

    def _size(self) -> int:
        size = 0
        for tail in (self._metrics, self._samples):
            try:
                size += tail.path.stat().st_size
            except OSError:  # not written yet (a run that has just started): nothing to read
                continue
        return size

    def _read(self, reporter: Reporter) -> None:
        """On the reader thread: wait for the turn, parse one chunk, hand it over; until the end."""
        chunks = iter_history(self._metrics, self._samples, self._chunk_events, reporter.check)
        while True:
            while not self._turn.acquire(timeout=TURN_POLL_S):
                reporter.check()
            chunk = next(chunks, None)
            if chunk is None:
                return
            self._chunk_read.emit(chunk)

    @Slot(object)
    def _on_chunk_read(self, chunk: list[Event | StepBlock]) -> None:
        try:
            if not self._cancelled:
                self._hand_over(chunk)
        finally:
            self._turn.release()  # after the consumers ran: the reader may parse the next chunk

    def _hand_over(self, chunk: list[Event | StepBlock]) -> None:
        self.count += event_count(chunk)
        self.chunk_loaded.emit(chunk)

    @Slot(object)
    def _on_read(self, _result: object) -> None:
        if not self._cancelled:
            self._finish()

    def _finish(self) -> None:
        self.done = True
        self.loaded.emit(self.count)

    @Slot(str, str)
    def _on_failed(self, reason: str, details: str) -> None:
        if not self._cancelled:
            self.failed.emit(reason, details)
