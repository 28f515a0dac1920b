"""One reusable way to run an engine call on a QThread, with progress, cancel and error relay.

Wiring is :class:`~gpt_studio.workers.threaded.ThreadedJob`'s (superqt's ``qthreading``): a parentless worker
object is moved to the job's thread and started by ``started → run``; its ``finished`` quits the thread, and its
signals are relayed by the job, which stays on the GUI thread, so every slot (lambdas included) runs there. At
the end the worker drops its reference cycles and is handed back to the GUI thread (:func:`hand_back`): a
QObject freed by Python's cyclic collector on a worker thread caused rare hangs and segfaults. Cancellation is
cooperative (the engine's reporter raises at its next safe point), never a hard kill.
"""

from __future__ import annotations

import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot

from gpt_studio.engine.errors import CancelledError, StudioError
from gpt_studio.engine.progress import Reporter
from gpt_studio.workers.threaded import ThreadedJob, hand_back, running_jobs

__all__ = ["Job", "running_jobs"]  # running_jobs lived here first; its importers look for it here


OUT_OF_MEMORY_ADVICE = ("The device's memory is full: pause or stop a training run that shares it, close other "
                        "programs, or choose a smaller setting (or the CPU in File › Settings…), then try again.")


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether ``exc`` says memory ran out: Python's MemoryError, or torch's CUDA / MPS out-of-memory errors.

    torch raises ``torch.OutOfMemoryError`` (a RuntimeError) on CUDA and a plain RuntimeError whose message says
    "out of memory" on MPS; both mean the same thing to a person, and neither is a bug.
    """
    return isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError" or (
        isinstance(exc, RuntimeError) and "out of memory" in str(exc).lower())


class _JobWorker(QObject):
    """Runs on the job's QThread: calls ``fn(reporter)`` and emits how it ended."""

    progressed = Signal(float, float, str)
    succeeded = Signal(object)
    failed = Signal(str, str)
    cancelled = Signal()
    finished = Signal(object)

    def __init__(self, fn: Callable[[Reporter], Any], what: str, min_interval_s: float,
                 on_end: Callable[[], None]) -> None:
        super().__init__()
        self._fn: Callable[[Reporter], Any] | None = fn
        self._what = what
        self._on_end: Callable[[], None] | None = on_end
        self.reporter: Reporter | None = Reporter(self._relay_progress, min_interval_s=min_interval_s)
        self.reporter.what = what

    def _relay_progress(self, done: float, total: float, message: str) -> None:
        self.progressed.emit(float(done), float(total), message)

    @Slot()
    def run(self) -> None:
        """The thread's body: exactly one of succeeded / failed / cancelled, then ``finished``."""
        what = self._what
        try:
            result = self._fn(self.reporter)  # type: ignore[misc]
        except CancelledError:
            self.cancelled.emit()
        except StudioError as exc:
            self.failed.emit(str(exc), "")
        except Exception as exc:  # noqa: BLE001 - any bug becomes a dialog, never a dead GUI
            if is_out_of_memory(exc):
                self.failed.emit(f"Out of memory while {what}. {OUT_OF_MEMORY_ADVICE}", traceback.format_exc())
            else:
                self.failed.emit(f"{what[:1].upper()}{what[1:]} failed: {exc}", traceback.format_exc())
        else:
            self.succeeded.emit(result)
        finally:
            self._on_end()  # type: ignore[misc]
            self._hand_back()
            self.finished.emit(None)

    def _hand_back(self) -> None:
        """End of run, on the worker thread: drop the cycles through the reporter and the job, then hand back.

        The job keeps its own reference to the reporter. The function is let go later, on the GUI thread
        (:meth:`release`): it is often a bound method of a GUI object (a history loader) whose last reference
        it may hold, and that object must be freed on its own thread.
        """
        self._on_end = None
        self.reporter = None
        hand_back(self)

    def release(self) -> None:
        """On the GUI thread, once the run has ended: let go of the function (and what it holds)."""
        self._fn = None


class Job(ThreadedJob):
    """Runs ``fn(reporter)`` on its own QThread.

    Signals: ``progressed(done, total, message)`` at most every ``min_interval_s``; then exactly one of
    ``succeeded(result)``, ``failed(reason, details)`` (reason: one line for a person; details: the
    traceback of an unexpected error, empty for a :class:`StudioError`) or ``cancelled()``; then ``finished()``.
    """

    progressed = Signal(float, float, str)
    succeeded = Signal(object)
    cancelled = Signal()
    finished = Signal()  # no result, unlike ThreadedJob's finished(object): a Job's result comes with succeeded
    priority = QThread.Priority.InheritPriority  # as before the move onto ThreadedJob: QThread.start()'s default

    def __init__(self, fn: Callable[[Reporter], Any], what: str = "the job", min_interval_s: float = 0.05) -> None:
        super().__init__()
        self.what = what
        worker = _JobWorker(fn, what, min_interval_s, self._mark_ended)
        self.reporter: Reporter = worker.reporter  # type: ignore[assignment]  # kept: the worker drops its own
        self._run_on_thread(worker, f"job: {what}", ("progressed", "succeeded", "failed", "cancelled"))

    def start(self) -> Job:
        """Start the thread; returns self so ``Job(...).start()`` reads naturally."""
        return super().start()  # type: ignore[no-any-return]

    def stop(self) -> None:
        """Ask the engine call to stop at its next safe point (callable from any thread)."""
        self.reporter.cancel()

    def cancel(self) -> None:
        """Ask the engine call to stop at its next safe point (callable from any thread)."""
        self.reporter.cancel()

    def _mark_ended(self) -> None:
        """Called on the worker thread as the call ends, before ``finished``: the job no longer counts as running.

        As before the move onto ThreadedJob (which clears ``is_running`` only when the GUI thread takes
        ``finished``): after ``job.wait()``, ``job.is_running`` reads False without running the event loop, and
        :func:`running_jobs` leaves the job out at once. Only plain attributes: nothing of Qt's on this thread.
        """
        self.is_running = False
        self._call_ended = True

    @Slot(object)
    def _on_finished(self, _result: Any) -> None:
        self._worker.release()  # breaks the cycle owner → job → worker → fn → owner, here on the GUI thread
        self.is_running = False
        self.finished.emit()
