"""Wizard step 8: where the model was saved, its name (renamable), and what to do with it next.

The engine already saved the best model under ``PROJECT/models/<name>/`` when the run ended; this page names
the folder and its files, lets the person rename it (one atomic folder rename, and finetune.json's name
rewritten atomically), opens the folder, and offers the next steps.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import QFormLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from gpt_studio.engine.atomic import read_json, write_json
from gpt_studio.ui import error_dialog
from gpt_studio.ui.widgets.finetune_common import FinetuneChoices, WizardPage, heading, note
from gpt_studio.ui.widgets.finetune_options_page import NAME_PATTERN

FINETUNE_FILE = "finetune.json"
FILES = (("model.safetensors", "the weights: the pretrained body and the new head"),
         ("config.json", "the architecture"),
         ("finetune.json", "task, labels, columns, base, settings and metrics"),
         ("tokenizer.model", "a copy of the tokenizer, so the folder stands alone"),
         ("predictions.csv", "the validation rows with the model's probabilities"),
         ("metrics.jsonl", "the training curve and every evaluation"))


class SavePage(WizardPage):
    """The saved model: name, folder, files; rename, open the folder, or fine-tune another."""

    title = "Save"
    renamed = Signal(str)  # the model's new folder
    open_requested = Signal(str)  # the saved model's name, to open in the Playground
    restart_requested = Signal()

    def __init__(self, choices: FinetuneChoices, parent: QWidget | None = None) -> None:
        super().__init__(choices, parent)
        self.name = QLineEdit()
        self.name.setToolTip("Rename the model's folder under models/ (letters, digits and . _ - + @).")
        self.name.textChanged.connect(self._on_name_edited)
        self.rename_button = QPushButton("Rename")
        self.rename_button.clicked.connect(self.rename)
        self.folder = QLabel()
        self.folder.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.folder.setWordWrap(True)
        self.open_button = QPushButton("Open folder")
        self.open_button.setToolTip("Show the model's folder in the file manager.")
        self.open_button.clicked.connect(self.open_folder)
        self.name_error = note()
        self.files = note()
        self.playground_button = QPushButton("Open in Playground")
        self.playground_button.setEnabled(False)
        self.playground_button.setToolTip("Load this model in the Playground: classify typed text, inspect tokens.")
        self.playground_button.clicked.connect(
            lambda: self.model_path is not None and self.open_requested.emit(self.model_path.name))
        self.another_button = QPushButton("Fine-tune another…")
        self.another_button.setToolTip("Back to the first step; your data, mapping and settings are kept.")
        self.another_button.clicked.connect(self.restart_requested)
        self.usage = note()
        self.summary = QLabel()
        self.summary.setWordWrap(True)
        name_row = QHBoxLayout()
        name_row.addWidget(self.name, 1)
        name_row.addWidget(self.rename_button)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder, 1)
        folder_row.addWidget(self.open_button)
        form = QFormLayout()
        form.addRow("Name", name_row)
        form.addRow("", self.name_error)
        form.addRow("Saved in", folder_row)
        box = QWidget()
        box.setLayout(form)
        box.setMaximumWidth(self.fontMetrics().averageCharWidth() * 110)
        actions = QHBoxLayout()
        actions.addWidget(self.playground_button)
        actions.addWidget(self.another_button)
        actions.addStretch(1)
        layout = QVBoxLayout(self)
        layout.addWidget(heading("Your fine-tuned model is saved"))
        layout.addWidget(self.summary)
        layout.addWidget(note("The best model by the validation metric was written when the run ended. It is a "
                              "self-contained folder: copy it anywhere, or use it from the command line."))
        layout.addWidget(box)
        layout.addWidget(self.files)
        layout.addLayout(actions)
        layout.addWidget(self.usage)
        layout.addStretch(1)

    @property
    def model_path(self) -> Path | None:
        """The saved model's folder (None before a run saved one)."""
        result = self.choices.result or {}
        return Path(result["model_path"]) if result.get("model_path") else None

    def enter(self) -> None:
        """Show the latest saved model."""
        path = self.model_path
        self.summary.setText(_score_line(self.choices.result or {}))
        self.name.blockSignals(True)
        self.name.setText(path.name if path else "")
        self.name.blockSignals(False)
        self.folder.setText(str(path) if path else "Nothing saved yet.")
        present = [(f, why) for f, why in FILES if path and (path / f).exists()]
        self.files.setText("<br>".join(f"<b>{f}</b> — {why}" for f, why in present))
        self.usage.setText(f"From the command line: <code>gpt-studio predict {path} --data FILE.csv --out "
                           "predictions.csv</code>" if path else "")
        for widget in (self.name, self.open_button, self.playground_button):
            widget.setEnabled(path is not None)
        self._on_name_edited()

    def _name_problem(self, name: str) -> str:
        path = self.model_path
        if path is None or name == path.name:
            return ""
        if not NAME_PATTERN.match(name):
            return "Use letters, digits and . _ - + @ (no spaces)."
        if (path.parent / name).exists():
            return f"A model named {name} already exists."
        return ""

    def _on_name_edited(self, *_args: object) -> None:
        problem = self._name_problem(self.name.text().strip())
        path = self.model_path
        self.name_error.setText(problem)
        self.rename_button.setEnabled(path is not None and not problem and self.name.text().strip() != path.name)

    def rename(self) -> bool:
        """Rename the model folder (atomic on one file system) and the name inside finetune.json."""
        path, name = self.model_path, self.name.text().strip()
        if path is None or name == path.name or self._name_problem(name):
            return False
        target = path.parent / name
        try:
            os.replace(path, target)
            meta = read_json(target / FINETUNE_FILE)
            meta["name"] = name
            write_json(target / FINETUNE_FILE, meta)
        except (OSError, ValueError) as exc:
            error_dialog.show_error(self, f"Could not rename {path.name} to {name}: {exc}.")
            return False
        self.choices.result = {**(self.choices.result or {}), "model_path": str(target)}
        self.enter()
        self.renamed.emit(str(target))
        return True

    def open_folder(self) -> None:
        """Open the model's folder in the system's file manager."""
        if self.model_path is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.model_path)))


def _score_line(result: dict[str, Any]) -> str:
    """What the saved model scores, in one line ("" before a run)."""
    if result.get("val_accuracy") is not None:
        score = f"accuracy <b>{result['val_accuracy']:.1%}</b> (macro-F1 {result.get('val_macro_f1') or 0:.3f})"
    elif result.get("val_pearson") is not None:
        score = f"Pearson r <b>{result['val_pearson']:.3f}</b>"
    else:
        return ""
    return (f"{result.get('task', '').capitalize()} model: {score} on {result.get('val_examples', 0):,} validation "
            f"examples, the best of {result.get('steps', 0):,} steps (step {result.get('best_step', 0):,}).")
