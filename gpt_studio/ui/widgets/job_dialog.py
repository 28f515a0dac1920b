"""A small dialog that runs one long engine job: folder fields, a :class:`JobBar`, and safe closing.

The import and export dialogs share it. The job runs on a worker thread (:class:`~gpt_studio.workers.Job`
via the bar); while it runs the inputs are disabled, and closing the dialog asks the job to stop and closes
once it has (the engine rolls back whatever it was writing). Errors go to :mod:`error_dialog`, looked up at call
time so tests can capture them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Slot
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QWidget,
)

from gpt_studio.engine.progress import Reporter
from gpt_studio.ui import error_dialog
from gpt_studio.ui.widgets.job_bar import JobBar
from gpt_studio.workers import Job


class JobDialog(QDialog):
    """Base of a dialog whose main button starts one job; subclasses add fields to ``inputs``."""

    def __init__(self, title: str, action: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.inputs: list[QWidget] = []  # disabled while the job runs
        self._close_when_done = False
        self.job_bar = JobBar("")
        self.job_bar.failed.connect(self._on_failed)
        self.job_bar.running_changed.connect(self._on_running_changed)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.action_button = self.buttons.addButton(action, QDialogButtonBox.ButtonRole.ActionRole)
        self.action_button.clicked.connect(self.start)
        self.buttons.rejected.connect(self.reject)

    def folder_row(self, edit: QLineEdit, caption: str) -> QHBoxLayout:
        """``edit`` beside a Browse… button that fills it from a folder chooser."""
        browse = QPushButton("Browse…")
        browse.clicked.connect(lambda: self._browse(edit, caption))
        self.inputs += [edit, browse]
        row = QHBoxLayout()
        row.addWidget(edit, 1)
        row.addWidget(browse)
        return row

    def _browse(self, edit: QLineEdit, caption: str) -> None:
        folder = QFileDialog.getExistingDirectory(self, caption, edit.text())
        if folder:
            edit.setText(folder)

    def start(self) -> Job | None:
        """Start the job (subclasses validate and call :meth:`run_job`)."""
        raise NotImplementedError

    def run_job(self, fn: Callable[[Reporter], Any], what: str, on_success: Callable[[Any], None]) -> Job:
        """Run ``fn`` on a worker with progress in the bar; ``on_success`` runs on the GUI thread."""
        return self.job_bar.run(fn, what, on_success)

    @property
    def is_running(self) -> bool:
        """Whether the job is under way."""
        return self.job_bar.is_running

    @Slot(str, str)
    def _on_failed(self, reason: str, details: str) -> None:
        error_dialog.show_error(self, reason, details)

    @Slot(bool)
    def _on_running_changed(self, running: bool) -> None:
        for widget in [*self.inputs, self.action_button]:
            widget.setEnabled(not running)
        if running:
            return
        self.update_action()
        if self._close_when_done:
            super().reject()

    def update_action(self) -> None:
        """Enable the main button when the fields allow (subclasses refine)."""
        self.action_button.setEnabled(not self.is_running)

    def reject(self) -> None:
        """Close; a running job is cancelled first and the dialog closes once it has stopped."""
        if self.is_running:
            self._close_when_done = True
            self.job_bar.cancel()
            return
        super().reject()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's API
        """The window's close button behaves like Close."""
        if self.is_running:
            event.ignore()
            self.reject()
            return
        super().closeEvent(event)
