"""The thread plumbing shared by the jobs whose worker object runs a long engine loop on its own QThread.

A subclass builds its worker, calls :meth:`ThreadedJob._run_on_thread` once, and adds its own controls
(stop, pause …). The job lives on the GUI thread; its worker on the job's thread, until :func:`hand_back`.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QCoreApplication, QObject, Qt, QThread, Signal, Slot

from gpt_studio.workers import job as _jobs


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
        self._thread.finished.connect(self._forget)
        worker.finished.connect(self._on_finished)
        for name in relay:
            getattr(worker, name).connect(getattr(self, name))

    def start(self) -> Any:
        """Start the thread at low priority (the GUI thread wins the CPU); returns self."""
        _jobs._RUNNING.add(self)  # type: ignore[arg-type] # so the main window asks before quitting
        self.is_running = True
        self._thread.start(QThread.Priority.LowPriority)
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

    @Slot()
    def _forget(self) -> None:
        _jobs._RUNNING.discard(self)  # type: ignore[arg-type]
