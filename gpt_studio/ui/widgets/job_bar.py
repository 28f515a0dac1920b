"""A progress line for one long job: message, progress bar (busy when the total is unknown) and Cancel.

It also owns the job's wiring: every Job signal lands in a slot of this GUI-thread object (so callbacks run on
the GUI thread, never the worker's), and the outcome stays visible as a one-line message once the job ends.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt, Signal, Slot
from PySide6.QtWidgets import QHBoxLayout, QProgressBar, QPushButton, QWidget

from gpt_studio.engine.progress import Reporter
from gpt_studio.ui.widgets.wrap_label import WrapLabel
from gpt_studio.workers import Job

_STEPS = 1000  # progress bar resolution


class JobBar(QWidget):
    """Runs one :class:`Job` at a time and shows its progress; ``failed`` relays errors for the error dialog."""

    failed = Signal(str, str)  # reason, details
    running_changed = Signal(bool)

    def __init__(self, idle_text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.job: Job | None = None
        self._on_success: Callable[[Any], None] | None = None
        self._started = 0.0
        self._failure: tuple[str, str] | None = None
        self.message = WrapLabel(idle_text)  # wraps rather than widening the pane
        self.message.setObjectName("jobMessage")
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.bar = QProgressBar()
        self.bar.setFixedWidth(180)
        self.bar.setTextVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop at the next safe point; the project is left exactly as it was.")
        self.cancel_button.clicked.connect(self.cancel)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.message, 1)
        layout.addWidget(self.bar)
        layout.addWidget(self.cancel_button)
        self._show_running(False)

    @property
    def is_running(self) -> bool:
        """Whether a job is under way."""
        return self.job is not None

    def run(self, fn: Callable[[Reporter], Any], what: str, on_success: Callable[[Any], None]) -> Job:
        """Start ``fn`` on a worker thread; ``on_success(result)`` is called on the GUI thread."""
        if self.job is not None:
            raise RuntimeError("a job is already running in this bar")
        job = Job(fn, what)
        self.job, self._on_success, self._started = job, on_success, time.monotonic()
        job.progressed.connect(self._on_progressed)
        job.succeeded.connect(self._on_succeeded)
        job.failed.connect(self._on_failed)
        job.cancelled.connect(self._on_cancelled)
        job.finished.connect(self._on_finished)
        self.bar.setRange(0, 0)
        self.message.setText(f"Starting {what}…")
        self._show_running(True)
        self.running_changed.emit(True)
        job.start()
        return job

    def cancel(self) -> None:
        """Ask the running job to stop."""
        if self.job is not None:
            self.job.cancel()
            self.cancel_button.setEnabled(False)
            self.message.setText("Cancelling…")

    def set_message(self, text: str) -> None:
        """Show an outcome or hint while idle."""
        self.message.setText(text)
        self.message.setToolTip(text)

    def elapsed(self) -> float:
        """Seconds since the current (or last) job started."""
        return time.monotonic() - self._started

    def _show_running(self, running: bool) -> None:
        self.bar.setVisible(running)
        self.cancel_button.setVisible(running)
        self.cancel_button.setEnabled(running)

    @Slot(float, float, str)
    def _on_progressed(self, done: float, total: float, message: str) -> None:
        if self.job is None or not self.cancel_button.isEnabled():
            return  # late progress after a cancel request: keep saying "Cancelling…"
        if total > 0:
            fraction = min(done / total, 1.0)
            self.bar.setRange(0, _STEPS)
            self.bar.setValue(int(_STEPS * fraction))
            message = f"{message} · {100 * fraction:.0f}%{_eta(self.elapsed(), fraction)}"
        else:
            self.bar.setRange(0, 0)  # unknown total: a busy bar
        self.message.setText(message)

    @Slot(object)
    def _on_succeeded(self, result: Any) -> None:
        self.set_message(f"Done in {self.elapsed():.1f} s.")
        if self._on_success is not None:
            self._on_success(result)

    @Slot(str, str)
    def _on_failed(self, reason: str, details: str) -> None:
        self.set_message(f"Failed: {reason}")
        self._failure = (reason, details)  # relayed once the bar is idle, so the pane is usable behind the dialog

    @Slot()
    def _on_cancelled(self) -> None:
        self.set_message("Cancelled; nothing was changed.")

    @Slot()
    def _on_finished(self) -> None:
        self.job, self._on_success = None, None
        self._show_running(False)
        self.running_changed.emit(False)
        failure, self._failure = self._failure, None
        if failure is not None:
            self.failed.emit(*failure)


def _eta(elapsed: float, fraction: float) -> str:
    """" · about 12 s left" once the estimate means something (after 5% and a second)."""
    if fraction < 0.05 or fraction >= 1.0 or elapsed < 1.0:
        return ""
    left = elapsed * (1.0 - fraction) / fraction
    return f" · about {left:.0f} s left" if left < 90 else f" · about {left / 60:.0f} min left"
