"""File › Import pretrained model…: bring a local Hugging Face GPT-2 or BERT folder into the project's models.

Choosing a folder shows at once what it holds (from its config.json alone) or why it cannot be imported,
naming the ``model_type`` found; the import itself runs on a worker thread with progress and Cancel, and the
new model appears under ``PROJECT/models/NAME/`` for the Fine-tune wizard and the Playground.
"""

from __future__ import annotations

import re
from pathlib import Path

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import QCheckBox, QFormLayout, QLineEdit, QVBoxLayout, QWidget

from gpt_studio.engine.errors import StudioError
from gpt_studio.engine.hf_import import import_hf_model, inspect_hf_folder, supported_line
from gpt_studio.engine.project import Project
from gpt_studio.ui.widgets.job_dialog import JobDialog
from gpt_studio.ui.widgets.wrap_label import WrapLabel
from gpt_studio.workers import Job

FAMILY_NAMES = {"gpt": "causal (GPT-2)", "bert": "masked (BERT)"}


class ImportModelDialog(JobDialog):
    """A folder, a name and Import; ``imported(path)`` is emitted with the new model folder, then it closes."""

    imported = Signal(object)  # Path of PROJECT/models/NAME

    def __init__(self, project: Project, parent: QWidget | None = None) -> None:
        super().__init__("Import a pretrained model", "Import", parent)
        self.project = project
        self.supported = False
        intro = WrapLabel("Choose a Hugging Face model folder on this computer: config.json, model.safetensors "
                          f"(or pytorch_model.bin) and the tokenizer files. GPT Studio imports {supported_line()}.")
        self.folder_edit = QLineEdit()
        self.folder_edit.setPlaceholderText("a folder with config.json")
        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("e.g. gpt2-small")
        self.replace_box = QCheckBox("Replace a model of the same name")
        self.summary = WrapLabel("")
        self.summary.setObjectName("importSummary")
        self.inputs += [self.name_edit, self.replace_box]
        form = QFormLayout()
        form.addRow("Folder", self.folder_row(self.folder_edit, "Choose a Hugging Face model folder"))
        form.addRow("Name", self.name_edit)
        form.addRow("", self.replace_box)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.summary)
        layout.addWidget(self.job_bar)
        layout.addWidget(self.buttons)
        self.folder_edit.textChanged.connect(self._on_folder_changed)
        self.name_edit.textChanged.connect(lambda _text: self.update_action())
        self.resize(620, 300)
        self.update_action()

    def set_folder(self, folder: str | Path) -> None:
        """Fill in the folder (as Browse… does) and show what it holds."""
        self.folder_edit.setText(str(folder))

    @Slot(str)
    def _on_folder_changed(self, text: str) -> None:
        self.supported = False
        if not text.strip():
            self.summary.setText("")
        else:
            try:
                info = inspect_hf_folder(text.strip())
            except StudioError as exc:
                self.summary.setText(f"Cannot import: {exc}")
            else:
                self.supported = True
                self.summary.setText(_describe(info))
                if not self.name_edit.text().strip():
                    self.name_edit.setText(_suggest_name(Path(text.strip()).name))
        self.update_action()

    def update_action(self) -> None:
        """Import needs a supported folder and a name, and no import under way."""
        self.action_button.setEnabled(self.supported and bool(self.name_edit.text().strip()) and not self.is_running)

    def start(self) -> Job | None:
        """Start the import on a worker thread (None when the fields do not allow it yet)."""
        if not (self.supported and self.name_edit.text().strip()) or self.is_running:
            return None
        folder, name = self.folder_edit.text().strip(), self.name_edit.text().strip()
        project, replace = self.project, self.replace_box.isChecked()
        return self.run_job(lambda reporter: import_hf_model(folder, project, name, reporter, replace=replace),
                            "the model import", self._on_imported)

    def _on_imported(self, path: Path) -> None:
        self.job_bar.set_message(f"Imported as {path.name}.")
        self.imported.emit(path)
        self.accept()


def _describe(info: dict) -> str:
    """One paragraph about the folder's model, from its config.json."""
    archs = ", ".join(info["architectures"]) or "no architecture listed"
    weights = info["weights_file"] or "no weights file found (the import will say what is missing)"
    return (f"{info['model_type']} ({archs}): a {FAMILY_NAMES[info['family']]} model with {info['n_layer']} layers, "
            f"width {info['d_model']}, {info['context_length']} tokens of context and {info['vocab_size']} token ids; "
            f"weights: {weights}.")


def _suggest_name(folder_name: str) -> str:
    """A models/ folder name from the chosen folder's name (letters, digits, . _ - only)."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", folder_name).strip("-.") or "imported-model"
    return name if name[0].isalnum() else f"m{name}"
