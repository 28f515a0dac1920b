"""Wizard step 1: the pretrained model to start from (a run's checkpoint or a saved model), with family and size.

The list comes from ``list_bases(project)``; a model folder elsewhere on disk can be added with "Choose a
folder…" (``resolve_base``). The list is read again when the step is entered, so a run that finished in the
Pretrain pane meanwhile shows up.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gpt_studio.engine.errors import StudioError
from gpt_studio.ui import error_dialog
from gpt_studio.ui.widgets.finetune_common import (
    ENGINE_MISSING,
    ERROR_STYLE,
    FinetuneChoices,
    WizardPage,
    base_layers,
    format_parameters,
    heading,
    note,
)

COLUMNS = ("Base model", "Family", "Parameters", "Layers", "Details")
FAMILY_NAMES = {"gpt": "GPT", "bert": "BERT"}


class BasePage(WizardPage):
    """Pick one base model from the project's checkpoints and saved models."""

    title = "Base model"
    import_requested = Signal()  # "Import a pretrained model…": the app's import dialog (File menu)
    pretrain_requested = Signal()  # "Go to Pretrain" in the empty state

    def __init__(self, choices: FinetuneChoices, parent: QWidget | None = None) -> None:
        super().__init__(choices, parent)
        self.bases: list[Any] = []
        self._load_error = ""
        self.tree = QTreeWidget()
        self.tree.setHeaderLabels(list(COLUMNS))
        self.tree.setRootIsDecorated(False)
        self.tree.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.tree.setAlternatingRowColors(True)
        header = self.tree.header()
        header.setStretchLastSection(True)
        for column in range(len(COLUMNS) - 1):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        self.tree.itemSelectionChanged.connect(self._on_selected)
        self.empty = note()
        self.error = note(style=ERROR_STYLE)
        self.refresh_button = QPushButton("Refresh")
        self.refresh_button.setToolTip("Read the project's runs and models again.")
        self.refresh_button.clicked.connect(self.refresh)
        self.folder_button = QPushButton("Choose a model folder…")
        self.folder_button.setToolTip("Start from a checkpoint or saved model folder outside this project "
                                      "(it must use a tokenizer with the reserved special tokens).")
        self.folder_button.clicked.connect(self._choose_folder)
        self.import_button = QPushButton("Import a pretrained model…")
        self.import_button.setToolTip("Bring a Hugging Face GPT-2 or BERT folder into this project's models "
                                      "(File › Import pretrained model…).")
        self.import_button.clicked.connect(self.import_requested)
        self.pretrain_button = QPushButton("Go to Pretrain")
        self.pretrain_button.setToolTip("Train a model from scratch on this project's corpus.")
        self.pretrain_button.clicked.connect(self.pretrain_requested)
        buttons = QHBoxLayout()
        buttons.addWidget(self.refresh_button)
        buttons.addWidget(self.folder_button)
        buttons.addWidget(self.import_button)
        buttons.addWidget(self.pretrain_button)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(heading("Start from a pretrained model"))
        layout.addWidget(note("Fine-tuning keeps what the model learned in pretraining and trains a small task "
                              "head on top. Pick the checkpoint to start from: the best one by validation loss "
                              "is usually the right choice."))
        layout.addWidget(self.tree, 1)
        layout.addWidget(self.empty)
        layout.addWidget(self.error)
        layout.addLayout(buttons)

    # ----------------------------------------------------------------------------------------- content

    def enter(self) -> None:
        """Re-read the list each time (a run may have finished meanwhile), keeping the selection."""
        self.refresh()

    def refresh(self) -> None:
        """List the project's bases, newest first; keep the current choice selected if it is still there."""
        self.bases, self._load_error = [], ""
        project = self.choices.project
        if project is not None:
            try:
                from gpt_studio.engine.finetune import list_bases

                self.bases = list(list_bases(project))
            except NotImplementedError:
                self._load_error = ENGINE_MISSING
            except StudioError as exc:
                self._load_error = str(exc)
        chosen = self.choices.base
        if chosen is not None and not any(_same(b, chosen) for b in self.bases):
            self.bases.insert(0, chosen)  # a folder chosen from outside the project stays on the list
        self._fill()

    def _fill(self) -> None:
        self.tree.blockSignals(True)
        self.tree.clear()
        for base in self.bases:
            layers = base_layers(base)
            item = QTreeWidgetItem([str(base.spec), FAMILY_NAMES.get(base.family, base.family),
                                    format_parameters(int(base.parameters)), str(layers or "?"),
                                    base.description])
            item.setToolTip(0, str(base.path))
            item.setToolTip(4, base.description)
            item.setTextAlignment(2, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            item.setTextAlignment(3, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.tree.addTopLevelItem(item)
            if self.choices.base is not None and _same(base, self.choices.base):
                item.setSelected(True)
                self.tree.setCurrentItem(item)
        self.tree.blockSignals(False)
        self.empty.setText("" if self.bases or self._load_error else
                           "This project has no pretrained model yet. Train one in <b>Pretrain</b> (Ctrl+2), or "
                           "bring a published GPT-2 or BERT with <b>File › Import pretrained model…</b>; every "
                           "run's latest and best checkpoints and every imported model show up here.")
        self.empty.setVisible(not self.bases and not self._load_error)
        self.pretrain_button.setVisible(not self.bases)  # the way to a first model; noise once there is one
        self.error.setText(self._load_error)
        self.error.setVisible(bool(self._load_error))
        if self.choices.base is not None and not any(_same(b, self.choices.base) for b in self.bases):
            self.choices.base = None
        self.changed.emit()

    def select(self, index: int) -> None:
        """Choose the ``index``-th listed base (as a click would)."""
        self.tree.setCurrentItem(self.tree.topLevelItem(index))

    def _on_selected(self) -> None:
        rows = [self.tree.indexOfTopLevelItem(i) for i in self.tree.selectedItems()]
        self.choices.base = self.bases[rows[0]] if rows else None
        self.changed.emit()

    def add_folder(self, folder: str) -> bool:
        """Resolve a model or checkpoint folder and choose it; an unusable folder shows why."""
        try:
            from gpt_studio.engine.finetune import resolve_base

            base = resolve_base(self.choices.project, folder)
        except NotImplementedError:
            error_dialog.show_error(self, ENGINE_MISSING)
            return False
        except StudioError as exc:
            error_dialog.show_error(self, str(exc))
            return False
        self.choices.base = base
        self.refresh()
        return True

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Choose a checkpoint or model folder")
        if folder:
            self.add_folder(folder)

    # -------------------------------------------------------------------------------------------- state

    def reason(self) -> str:
        """Why Next waits: no project, no model, or none chosen."""
        if self.choices.project is None:
            return "Open a project first."
        if self._load_error and not self.bases:
            return self._load_error
        if not self.bases:
            return "Pretrain a model first (Pretrain, Ctrl+2): fine-tuning starts from one of its checkpoints."
        if self.choices.base is None:
            return "Choose the model to start from."
        return ""


def _same(a: Any, b: Any) -> bool:
    return str(a.spec) == str(b.spec) and str(a.path) == str(b.path)
