"""One reusable way to run an engine call on a QThread, with progress, cancel and error relay.

Wiring follows superqt's ``qthreading``: the job object is created without a parent, moved to its thread,
started by ``started → run``; ``finished`` quits the thread and both are deleted later. Cancellation is
cooperative (the engine's reporter raises at its next safe point), never a hard kill.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, QThread, Signal, Slot

from gpt_studio.engine.errors import CancelledError, StudioError
from gpt_studio.engine.progress import Reporter

_RUNNING: set[Job] = set()  # keeps Python wrappers alive while their threads run


def running_jobs() -> list[Job]:
    """Jobs that have started and not yet finished (the main window asks before quitting)."""
    return list(_RUNNING)


class Job(QObject):
    """Runs ``fn(reporter)`` on its own QThread.

    Signals: ``progressed(done, total, message)`` at most every ``min_interval_s``; then exactly one of
    ``succeeded(result)``, ``failed(reason, details)`` (reason: one line for a person; details: the
    traceback of an unexpected error, empty for a :class:`StudioError`) or ``cancelled()``; then ``finished()``.
    """

    progressed = Signal(float, float, str)
    succeeded = Signal(object)
    failed = Signal(str, str)
    cancelled = Signal()
    finished = Signal()

    def __init__(self, fn: Callable[[Reporter], Any], what: str = "the job", min_interval_s: float = 0.05) -> None:
        super().__init__()
        self.what = what
        self._fn = fn
        self.reporter = Reporter(self._relay_progress, min_interval_s=min_interval_s)
        self.reporter.what = what
        self._thread = QThread()
        self._thread.setObjectName(f"job: {what}")
        self.moveToThread(self._thread)
        self._thread.started.connect(self._run)
        # direct: quit() is thread-safe, and a queued call would wait for a GUI thread that may be blocked in wait()
        self.finished.connect(self._thread.quit, Qt.ConnectionType.DirectConnection)
        self._thread.finished.connect(self._thread.deleteLater)
        self._thread.finished.connect(self._forget)
        self.is_running = False

    def start(self) -> Job:
        """Start the thread; returns self so ``Job(...).start()`` reads naturally."""
        _RUNNING.add(self)
        self.is_running = True
        self._thread.start()
        return self

    def cancel(self) -> None:
        """Ask the engine call to stop at its next safe point (callable from any thread)."""
        self.reporter.cancel()

    def wait(self, ms: int = 30_000) -> bool:
        """Block until the thread ends (for shutdown and tests; never on the GUI thread during normal use)."""
        try:
            return self._thread.wait(ms)
        except RuntimeError:  # the QThread was already deleted: it has finished
            return True

    def _relay_progress(self, done: float, total: float, message: str) -> None:
        self.progressed.emit(float(done), float(total), message)

    @Slot()
    def _run(self) -> None:
        try:
            result = self._fn(self.reporter)
        except CancelledError:
            self.cancelled.emit()
        except StudioError as exc:
            self.failed.emit(str(exc), "")
        except MemoryError:
            self.failed.emit(f"Out of memory while running {self.what}; try a smaller setting.",
                             traceback.format_exc())
        except Exception as exc:  # noqa: BLE001 - any bug becomes a dialog, never a dead GUI
            self.failed.emit(f"{self.what[:1].upper()}{self.what[1:]} failed: {exc}", traceback.format_exc())
        else:
            self.succeeded.emit(result)
        finally:
            self.is_running = False
            self.finished.emit()

    @Slot()
    def _forget(self) -> None:
        _RUNNING.discard(self)
