"""A run's whole recorded history, read off the GUI thread and handed over once, when all of it is read.

For the views that need a run at once rather than drawn as it arrives: an overlay in the monitor (Compare, a
branch's parent) and the branch dialog's validation losses. Reading a 100k-step run on the GUI thread froze
the window for seconds; :class:`~gpt_studio.workers.history.HistoryLoader` reads it on a worker, taking turns
with the GUI thread, and this collects its chunks. Steps arrive as :class:`StepBlock` arrays and are kept so
(``RunMonitor.overlay_run`` takes them as they are; making 100k StepEvents cost the GUI thread ~0.3 s); a
reader that does not want them (``steps=False``) skips them.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal, Slot

from gpt_studio.engine.trainer_config import Event, StepEvent
from gpt_studio.workers.history import HistoryLoader, StepBlock


class RunHistoryReader(QObject):
    """Reads a run folder's metrics and samples on a worker; ``loaded(run_id, steps, events)`` once all are read.

    ``steps`` holds every step, as :class:`StepBlock` arrays (a damaged stretch may leave a lone StepEvent;
    empty when made with ``steps=False``), and ``events`` every other event, each in file order; or
    ``failed(reason, details)``. A small run is read at once in :meth:`start` (the signal comes before it
    returns). When the view that wanted the run goes away, call :meth:`cancel`: nothing is emitted afterwards.
    Keep the reader parentless (its owner drops it): its loader must never be deleted while its thread reads
    (a QObject deleted while another thread emits its signal can crash or deadlock), and the loader's job
    keeps it alive until that thread ends.
    """

    loaded = Signal(str, object, object)  # run id, list[StepBlock | StepEvent], list[Event] (every other kind)
    failed = Signal(str, str)  # reason, details

    def __init__(self, run_dir: Path, *, steps: bool = True) -> None:
        super().__init__()
        self.run_dir = Path(run_dir)
        self.steps: list[StepBlock | StepEvent] = []
        self.events: list[Event] = []
        self.done = False  # every event was read and ``loaded`` emitted
        self._keep_steps = steps
        self._cancelled = False
        self._loader = HistoryLoader(self.run_dir)
        self._loader.chunk_loaded.connect(self._on_chunk)
        self._loader.loaded.connect(self._on_loaded)
        self._loader.failed.connect(self._on_failed)

    @property
    def run_id(self) -> str:
        """The run folder's name."""
        return self.run_dir.name

    @property
    def is_loading(self) -> bool:
        """Whether the reader thread is still at work."""
        return self._loader.is_loading

    def start(self) -> RunHistoryReader:
        """Begin reading (connect to the signals first); returns self."""
        self._loader.start()
        return self

    def cancel(self) -> None:
        """Stop reading; nothing is emitted afterwards. Safe to call at any time."""
        self._cancelled = True
        self._loader.cancel()

    def wait(self, ms: int = 30_000) -> bool:
        """Block until the reader thread ends (after :meth:`cancel`; for shutdown and tests)."""
        return self._loader.wait(ms)

    @Slot(object)
    def _on_chunk(self, chunk: list[Event | StepBlock]) -> None:
        for item in chunk:
            if isinstance(item, StepBlock | StepEvent):
                if self._keep_steps:
                    self.steps.append(item)
            else:
                self.events.append(item)

    @Slot(int)
    def _on_loaded(self, _count: int) -> None:
        if not self._cancelled:
            self.done = True
            self.loaded.emit(self.run_id, self.steps, self.events)

    @Slot(str, str)
    def _on_failed(self, reason: str, details: str) -> None:
        if not self._cancelled:
            self.failed.emit(reason, details)
