"""The thread plumbing shared by the jobs whose worker object runs a long engine loop on its own QThread.

A subclass builds its worker, calls :meth:`ThreadedJob._run_on_thread` once, and adds its own controls
(stop, pause …). The job lives on the GUI thread; its worker on the job's thread, until :func:`hand_back`.
Every job of the app (:class:`~gpt_studio.workers.job.Job`, training, fine-tuning, analyses, generation) is
one of these, so :func:`running_jobs` here is the one list the main window asks before quitting.
"""

from __future__ import annotations

from typing import Any

import shiboken6
from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, Signal, Slot

_RUNNING: set[ThreadedJob] = set()  # keeps Python wrappers alive while their threads run


def running_jobs() -> list[ThreadedJob]:
    """Jobs that have started and not yet finished (the main window asks before quitting).

    A long run leaves the list once the GUI thread has taken its ``finished`` (its owner tidies up there, and
    shutdown waits for that); a :class:`~gpt_studio.workers.job.Job` as its call ends, so a window closed right
    after a job's last signal does not ask about a job that has ended.
    """
    return [job for job in _RUNNING if not job._call_ended]


class _Forgetter(QObject):
    """Takes each job's thread end on the GUI thread and lets go of the job there (one, for the app's lifetime).

    Not the job itself: an owner may delete a finished job (``job.finished → job.deleteLater``) before its
    thread's end reaches the GUI thread, and a queued call to a deleted receiver is dropped, which would keep
    the job (and its worker) listed and alive for good.
    """

    @Slot()
    def forget(self) -> None:
        """Slot of every job thread's ``finished``: drop the job whose thread that is."""
        thread = self.sender()
        for job in [job for job in _RUNNING if job._thread is thread or not shiboken6.isValid(job._thread)]:
            _RUNNING.discard(job)  # a job whose QThread is gone (deleted as it finished) has ended too


_forgetter: _Forgetter | None = None


def _the_forgetter() -> _Forgetter:
    """The app's one :class:`_Forgetter`, made on first use (by the GUI thread, where jobs are made)."""
    global _forgetter
    if _forgetter is None:
        _forgetter = _Forgetter()
    return _forgetter


def hand_back(worker: QObject) -> None:
    """End of a worker's run, on its thread: move it to the GUI thread so it is freed there.

    The caller first drops the worker's own reference cycles (controls and batchers that call back into its
    signals), so the job's reference is the last one and reference counting frees the worker where the job is.
    Left in a cycle, Python's collector could free it during an allocation on any thread, and a QObject destroyed
    from a thread it does not live on can crash or deadlock against the GUI thread (seen as rare hangs and
    segfaults).
    """
    app = QCoreApplication.instance()
    if app is not None:
        worker.moveToThread(app.thread())


class ThreadedJob(QObject):
    """A worker object on its own low-priority QThread; ``finished(result)`` always comes last, on the GUI thread.

    ``what`` names the job when the main window asks before quitting (every started job is in its running-jobs
    list until its thread ends); :meth:`cancel` is what the main window calls on each of them.
    """

    failed = Signal(str, str)
    finished = Signal(object)
    what = "the job"
    priority = QThread.Priority.LowPriority  # the GUI thread wins the CPU; a Job keeps its caller's priority
    _call_ended = False  # a Job sets it on its worker thread as its call ends (see running_jobs)

    def _run_on_thread(self, worker: QObject, thread_name: str, relay: tuple[str, ...]) -> None:
        """Move ``worker`` to a new thread whose start runs ``worker.run``; relay the named worker signals."""
        self.is_running = False
        self._worker = worker
        self._thread = QThread()
        self._thread.setObjectName(thread_name)
        worker.moveToThread(self._thread)
        self._thread.started.connect(worker.run)
        # direct: quit() is thread-safe, and a queued call would wait for a GUI thread that may be blocked in wait()
        worker.finished.connect(self._thread.quit, Qt.ConnectionType.DirectConnection)
        self._thread.finished.connect(self._thread.deleteLater)
        self._thread.finished.connect(_the_forgetter().forget)  # queued: the job is let go of on the GUI thread
        worker.finished.connect(self._on_finished)
        for name in relay:
            getattr(worker, name).connect(getattr(self, name))

    def start(self) -> Any:
        """Start the thread at the class's ``priority`` (low: the GUI thread wins the CPU); returns self."""
        _RUNNING.add(self)  # so the main window asks before quitting
        self.is_running = True
        self._thread.start(self.priority)
        return self

    def stop(self) -> None:
        """Ask the worker to end at its next safe point (subclasses say how)."""
        raise NotImplementedError

    def cancel(self) -> None:
        """Same as :meth:`stop` (the name the main window uses for every job when quitting)."""
        self.stop()

    def wait(self, ms: int = 30_000) -> bool:
        """Block until the thread ends (tests and shutdown; on the GUI thread prefer ``ui.app.wait_for_jobs``)."""
        try:
            return self._thread.wait(ms)
        except RuntimeError:  # the QThread was already deleted: it has finished
            return True

    @Slot(object)
    def _on_finished(self, result: Any) -> None:
        self.is_running = False
        self.finished.emit(result)

