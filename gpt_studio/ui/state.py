"""The one small shared object every pane subscribes to: the open project and what changed in it.

Panes never import each other; they talk through this. Model→widget via signals, widget→model via the
``set_…``/``notify_…`` methods (napari's pattern).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from gpt_studio.engine.project import Project
from gpt_studio.ui.preferences import Preferences

PARTS = ("corpus", "tokenizer", "data", "runs", "models")
PANE_NAMES = ("corpus", "pretrain", "finetune", "playground")  # the main window's panes, in sidebar order


class AppState(QObject):
    """The open project (or none) and change notifications about its parts."""

    project_changed = Signal(object)  # Project | None
    part_changed = Signal(str)  # one of PARTS: e.g. "tokenizer" after a training finished
    sample_requested = Signal()  # someone (the welcome page) asked for the sample corpus; the Corpus pane acts
    model_requested = Signal(str)  # a model spec to open in the Playground (e.g. after fine-tuning)
    pane_requested = Signal(str)  # one of PANE_NAMES: an empty state's "Go to …" button; the main window acts
    import_model_requested = Signal()  # "Import a pretrained model…" in a pane; the main window opens the dialog
    preferences_changed = Signal(object)  # Preferences: File › Settings… was accepted

    def __init__(self, preferences: Preferences | None = None) -> None:
        super().__init__()
        self._project: Project | None = None
        self.preferences = preferences or Preferences()  # the main window loads the stored ones

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

    def set_preferences(self, preferences: Preferences) -> None:
        """Use new preferences; forms take the new device and precision where the person has not chosen."""
        self.preferences = preferences
        self.preferences_changed.emit(preferences)

    def request_pane(self, name: str) -> None:
        """Ask for pane ``name`` (one of PANE_NAMES) to be shown."""
        if name not in PANE_NAMES:
            raise ValueError(f"unknown pane {name!r}")
        self.pane_requested.emit(name)

    def request_import_model(self) -> None:
        """Ask for the Import pretrained model dialog (File › Import pretrained model…)."""
        self.import_model_requested.emit()
