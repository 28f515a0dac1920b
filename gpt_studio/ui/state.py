"""The one small shared object every pane subscribes to: the open project and what changed in it.

Panes never import each other; they talk through this. Model→widget via signals, widget→model via the
``set_…``/``notify_…`` methods (napari's pattern).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from gpt_studio.engine.project import Project

PARTS = ("corpus", "tokenizer", "data", "runs", "models")


class AppState(QObject):
    """The open project (or none) and change notifications about its parts."""

    project_changed = Signal(object)  # Project | None
    part_changed = Signal(str)  # one of PARTS: e.g. "tokenizer" after a training finished
    sample_requested = Signal()  # someone (the welcome page) asked for the sample corpus; the Corpus pane acts
    model_requested = Signal(str)  # a model spec to open in the Playground (e.g. after fine-tuning)

    def __init__(self) -> None:
        super().__init__()
        self._project: Project | None = None

    @property
    def project(self) -> Project | None:
        """The open project, if any."""
        return self._project

    def set_project(self, project: Project | None) -> None:
        """Open (or close, with None) a project and tell every pane."""
        self._project = project
        self.project_changed.emit(project)

    def notify_changed(self, part: str) -> None:
        """Say that a part of the project was rewritten (so other panes reload it)."""
        if part not in PARTS:
            raise ValueError(f"unknown project part {part!r}")
        self.part_changed.emit(part)

    def request_model(self, spec: str) -> None:
        """Ask for a model (run id, saved-model name or folder) to be opened in the Playground."""
        self.model_requested.emit(spec)

    def request_sample(self) -> None:
        """Ask for the offline sample corpus to be built (the Corpus pane listens and runs it)."""
        self.sample_requested.emit()
