"""The Fine-tune pane: a wizard from a pretrained model and a labelled file to a saved, evaluated task model.

The wizard's pages import pyqtgraph and (through the engine) torch, so like the Pretrain pane the body is
built the first time the pane is shown, not when the main window starts: start-up stays quick. Until then,
and while no project is open, the pane shows what to do.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QLabel, QStackedWidget, QVBoxLayout, QWidget

from gpt_studio.engine.project import Project
from gpt_studio.ui.state import AppState

PAGE_NO_PROJECT, PAGE_LOADING, PAGE_BODY = range(3)


class FinetunePane(QWidget):
    """Holds the :class:`~gpt_studio.ui.widgets.finetune_wizard.FinetuneWizard` once built."""

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.wizard: Any = None
        self.built = False
        self.stack = QStackedWidget()
        self.stack.addWidget(_message("<h3>Fine-tune</h3><p>Open or create a project. Fine-tuning starts from a "
                                      "model pretrained in it (<b>Pretrain</b>, Ctrl+2) and a labelled CSV, TSV or "
                                      "JSONL file.</p>"))
        self.stack.addWidget(_message("Loading the fine-tuning wizard…"))
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self.stack)
        state.project_changed.connect(self.set_project)
        state.part_changed.connect(self._on_part_changed)
        self.set_project(state.project)

    @property
    def project(self) -> Project | None:
        """The open project."""
        return self.state.project

    def ensure_built(self) -> None:
        """Build the wizard (imports pyqtgraph and the engine; once)."""
        if self.built:
            return
        from gpt_studio.ui.widgets.finetune_wizard import FinetuneWizard

        self.wizard = FinetuneWizard(self.state)
        self.wizard.save_page.open_requested.connect(self.state.request_model)
        self.stack.addWidget(self.wizard)
        self.built = True
        self._show()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        """Build the wizard the first time the pane is shown with a project (after it has painted)."""
        super().showEvent(event)
        if not self.built and self.project is not None:
            QTimer.singleShot(0, self, self.ensure_built)

    def set_project(self, project: Project | None) -> None:
        """Show ``project`` (or the empty state without one); the wizard starts again at its first step."""
        if self.built:
            self.wizard.set_project(project)
        self._show()
        if project is not None and self.isVisible() and not self.built:
            QTimer.singleShot(0, self, self.ensure_built)

    def _show(self) -> None:
        if self.project is None:
            self.stack.setCurrentIndex(PAGE_NO_PROJECT)
        elif not self.built:
            self.stack.setCurrentIndex(PAGE_LOADING)
        else:
            self.stack.setCurrentIndex(PAGE_BODY)

    def _on_part_changed(self, part: str) -> None:
        if self.built and part in ("runs", "models", "tokenizer"):
            self.wizard.refresh_bases()

    def shutdown(self) -> None:
        """Stop a running fine-tuning (the best model so far is saved) and wait for it."""
        if self.built:
            self.wizard.shutdown()


def _message(text: str) -> QLabel:
    label = QLabel(text)
    label.setWordWrap(True)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    return label
