"""Export…: write a run's or a saved model's weights as a Hugging Face folder (GPT2LMHeadModel / BertForMaskedLM).

The dialog names the model, asks for a new or empty output folder and runs the export on a worker thread with
progress and Cancel. An architecture without a Hugging Face equivalent (e.g. a post-LN GPT-1-style model) fails
with the engine's reason in the error dialog; the output folder is then left as it was.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QCheckBox, QFormLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

from gpt_studio.engine.hf_export import export_hf
from gpt_studio.engine.project import Project
from gpt_studio.ui.widgets.job_dialog import JobDialog
from gpt_studio.ui.widgets.wrap_label import WrapLabel
from gpt_studio.workers import Job


class ExportDialog(JobDialog):
    """Export one model; ``exported(path)`` is emitted with the written folder, then the dialog closes."""

    exported = Signal(object)  # Path of the output folder

    def __init__(self, model: str, project: Project | None, parent: QWidget | None = None,
                 description: str = "") -> None:
        super().__init__("Export to the Hugging Face format", "Export", parent)
        self.model, self.project = model, project
        intro = WrapLabel("Causal models become a GPT2LMHeadModel folder, masked ones BertForMaskedLM: "
                          "config.json and model.safetensors that transformers loads, the tokenizer, and a "
                          "README.txt on using them.")
        self.out_edit = QLineEdit()
        self.out_edit.setPlaceholderText("a new or empty folder")
        self.replace_box = QCheckBox("Replace the contents of a non-empty folder")
        self.inputs.append(self.replace_box)
        form = QFormLayout()
        form.addRow("Model", QLabel(description or model))
        form.addRow("Output folder", self.folder_row(self.out_edit, "Choose a folder for the export"))
        form.addRow("", self.replace_box)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.job_bar)
        layout.addWidget(self.buttons)
        self.out_edit.textChanged.connect(lambda _text: self.update_action())
        self.resize(600, 240)
        self.update_action()

    def set_output(self, folder: str | Path) -> None:
        """Fill in the output folder (as Browse… does)."""
        self.out_edit.setText(str(folder))

    def update_action(self) -> None:
        """Export needs an output folder and no export under way."""
        self.action_button.setEnabled(bool(self.out_edit.text().strip()) and not self.is_running)

    def start(self) -> Job | None:
        """Start the export on a worker thread (None without an output folder)."""
        out = self.out_edit.text().strip()
        if not out or self.is_running:
            return None
        model, project, replace = self.model, self.project, self.replace_box.isChecked()
        return self.run_job(lambda reporter: export_hf(model, out, project=project, progress=reporter,
                                                       replace=replace), "the export", self._on_exported)

    def _on_exported(self, path: Path) -> None:
        self.job_bar.set_message(f"Exported to {path}.")
        self.exported.emit(path)
        self.accept()
