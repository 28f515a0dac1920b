"""Wizard step 5: how to fine-tune — epochs, learning rate, λ, what is transferred, batch, sizes, the name.

Defaults are GPT-1's (3 epochs, lr 6.25e-5, batch 32, λ 0.5). Every field has a tooltip that says what it does
and when to change it. The page builds the engine's :class:`FinetuneConfig`; a value the engine refuses
keeps Next disabled with the engine's reason.
"""

from __future__ import annotations

import math
import re
from typing import Any

from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from gpt_studio.engine.errors import StudioError
from gpt_studio.engine.trainer_config import PRECISIONS
from gpt_studio.ui.widgets.field_editor import disable_unavailable_devices
from gpt_studio.ui.widgets.finetune_common import FinetuneChoices, WizardPage, base_layers, heading, note
from gpt_studio.ui.widgets.form_checks import precision_error
from gpt_studio.ui.widgets.run_fields import TRAIN_SECTIONS
from gpt_studio.ui.widgets.wording import plural

NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,120}$")  # the engine's rule for a model folder
TIPS = {
    "epochs": "Passes over the training examples. GPT-1 used 3; a small data set may need more, a large one "
              "fewer. The best evaluation is kept, so an extra epoch costs time, not quality.",
    "lr": "Peak learning rate (linear warmup, then linear decay to 0). GPT-1: 6.25e-5 for a 117M model; a tiny "
          "model trained for a few steps learns faster with 1e-4 to 1e-3.",
    "aux": "λ in L = L_task + λ·L_LM: keep training the language-model objective on your texts beside the task. "
           "GPT-1 found it helps larger data sets; 0 turns it off.",
    "layers": "How many pretrained Transformer blocks to copy (the first K). The others and the head start from "
              "scratch. Fewer layers show how much each layer contributes (GPT-1, Figure 2).",
    "embeddings": "Copy the pretrained token and position embeddings. Turning this off with 0 layers gives the "
                  "untrained baseline: the same model learning from scratch.",
    "freeze": "Train only the new head and keep the pretrained body fixed (a linear probe): fast, and it "
              "measures how much the pretrained features already know.",
    "batch": "Examples per optimizer step. Smaller uses less memory; GPT-1 used 32.",
    "max": "Use at most this many training examples (a class-balanced sample), for a quick try on a big file.",
    "val": "Share of the training file held out (class-balanced) to measure the model after each epoch. Not "
           "used when an evaluation file is given.",
    "name": "Folder name under the project's models/. Letters, digits and . _ - + @ (no spaces).",
    "device": "Where to train: auto = the CUDA GPU, else Apple MPS, else the CPU. Starts at the default from "
              "File › Settings…; devices this machine does not have are greyed out.",
    "precision": "fp32 works everywhere; bf16 saves memory on recent GPUs and CPUs; fp16 needs a CUDA GPU. Starts "
                 "at the default from File › Settings….",
}
DEVICE_CHOICES = dict(TRAIN_SECTIONS)["Hardware"][0].choices  # (label, value), the run form's list and order


class OptionsPage(WizardPage):
    """The fine-tuning settings as a form; :meth:`config` gives the engine's FinetuneConfig."""

    title = "Options"

    def __init__(self, choices: FinetuneChoices, parent: QWidget | None = None) -> None:
        super().__init__(choices, parent)
        self._config_error = ""
        self.epochs = _spin(1, 1000, 3, TIPS["epochs"])
        self.lr = QLineEdit("6.25e-5")
        self.lr.setToolTip(TIPS["lr"])
        self.aux = QDoubleSpinBox()
        self.aux.setRange(0.0, 10.0)
        self.aux.setSingleStep(0.1)
        self.aux.setValue(0.5)
        self.aux.setToolTip(TIPS["aux"])
        self.all_layers = QRadioButton("All")
        self.first_layers = QRadioButton("The first")
        self.layer_group = QButtonGroup(self)
        self.layer_group.addButton(self.all_layers)
        self.layer_group.addButton(self.first_layers)
        self.all_layers.setChecked(True)
        self.layers = _spin(0, 1000, 1, TIPS["layers"])
        self.layers.setSuffix(" layers")
        self.layers.valueChanged.connect(lambda k: self.layers.setSuffix(" layer" if k == 1 else " layers"))
        for widget in (self.all_layers, self.first_layers):
            widget.setToolTip(TIPS["layers"])
        self.embeddings = QCheckBox("Transfer the token and position embeddings")
        self.embeddings.setChecked(True)
        self.embeddings.setToolTip(TIPS["embeddings"])
        self.freeze = QCheckBox("Freeze the body: train the head only (a linear probe)")
        self.freeze.setToolTip(TIPS["freeze"])
        self.batch = _spin(1, 4096, 32, TIPS["batch"])
        self.max_examples = _spin(0, 10**8, 0, TIPS["max"])
        self.max_examples.setSpecialValueText("all")
        self.max_examples.setSingleStep(100)
        self.val_fraction = QDoubleSpinBox()
        self.val_fraction.setRange(0.01, 0.5)
        self.val_fraction.setSingleStep(0.05)
        self.val_fraction.setValue(0.1)
        self.val_fraction.setToolTip(TIPS["val"])
        self.name = QLineEdit()
        self.name.setPlaceholderText("automatic (task, base and time)")
        self.name.setToolTip(TIPS["name"])
        self.device, self.precision = _hardware_combos()
        self._hardware_defaults = {"device": "auto", "precision": "fp32"}  # FinetuneConfig's own defaults
        self.summary = note()
        self._layout()
        for signal in (self.epochs.valueChanged, self.lr.textChanged, self.aux.valueChanged,
                       self.layer_group.buttonToggled, self.layers.valueChanged, self.embeddings.toggled,
                       self.freeze.toggled, self.batch.valueChanged, self.max_examples.valueChanged,
                       self.val_fraction.valueChanged, self.name.textChanged, self.device.currentIndexChanged,
                       self.precision.currentIndexChanged):
            signal.connect(self._update)

    def _layout(self) -> None:
        layers_row = QHBoxLayout()
        layers_row.addWidget(self.all_layers)
        layers_row.addWidget(self.first_layers)
        layers_row.addWidget(self.layers)
        layers_row.addStretch(1)
        form = QFormLayout()
        form.addRow("Epochs", self.epochs)
        form.addRow("Learning rate", self.lr)
        form.addRow("Auxiliary LM weight λ", self.aux)
        form.addRow("Layers transferred", layers_row)
        form.addRow("", self.embeddings)
        form.addRow("", self.freeze)
        form.addRow("Batch size", self.batch)
        form.addRow("Max examples", self.max_examples)
        form.addRow("Validation share", self.val_fraction)
        form.addRow("Device", self.device)
        form.addRow("Precision", self.precision)
        form.addRow("Model name", self.name)
        box = QWidget()
        box.setLayout(form)
        box.setMaximumWidth(self.fontMetrics().averageCharWidth() * 90)
        layout = QVBoxLayout(self)
        layout.addWidget(heading("Training options"))
        layout.addWidget(note("GPT-1's settings are filled in. Hover over a field to see what it does."))
        layout.addWidget(box)
        layout.addWidget(self.summary)
        layout.addStretch(1)

    # ---------------------------------------------------------------------------------------- entering

    def enter(self) -> None:
        """Fit the layer count to the base, and the validation share to whether an evaluation file is given."""
        layers = base_layers(self.choices.base)
        self.all_layers.setText(f"All {layers}" if layers else "All")
        self.layers.setMaximum(layers if layers else 1000)
        if layers and not self.first_layers.isChecked():
            self.layers.setValue(layers)  # "the first K" starts at all of them; the person lowers it
        self.val_fraction.setEnabled(self.choices.eval_path is None)
        self._update()

    def set_values(self, **values: Any) -> None:
        """Fill fields by name (epochs, lr, aux, batch, max_examples, val_fraction, name, layers, embeddings, freeze).

        ``layers=None`` means all; a number picks "the first K".
        """
        for key, value in values.items():
            if key == "layers":
                self.all_layers.setChecked(value is None)
                self.first_layers.setChecked(value is not None)
                if value is not None:
                    self.layers.setValue(int(value))
            elif key in ("embeddings", "freeze"):
                getattr(self, key).setChecked(bool(value))
            elif key in ("lr", "name"):
                getattr(self, key).setText(str(value))
            elif key in ("device", "precision"):
                combo = getattr(self, key)
                combo.setCurrentIndex(max(combo.findData(value), 0))
            else:
                getattr(self, key).setValue(value)

    def set_hardware_defaults(self, device: str, precision: str) -> None:
        """Start from the preferred device and precision; a choice the person made here stays.

        A combo still showing the previous default was not chosen by anyone, so it follows the new one; a
        device this machine lacks (greyed out) is not forced on the page.
        """
        for key, value in (("device", device), ("precision", precision)):
            combo: QComboBox = getattr(self, key)
            row = combo.findData(value)
            usable = row >= 0 and combo.model().item(row).isEnabled()  # type: ignore[attr-defined]
            if combo.currentData() == self._hardware_defaults[key] and usable:
                self._hardware_defaults[key] = value
                combo.setCurrentIndex(row)

    # ------------------------------------------------------------------------------------------- config

    def config(self) -> Any:
        """The FinetuneConfig for these fields; raises ValueError with a reason when one is wrong."""
        from gpt_studio.engine.finetune import FinetuneConfig

        try:
            lr = float(self.lr.text())
        except ValueError:
            raise ValueError("The learning rate must be a number like 6.25e-5.") from None
        if not lr > 0 or not math.isfinite(lr):
            raise ValueError("The learning rate must be positive.")
        config = FinetuneConfig(task=self.choices.task, regression=self.choices.regression, epochs=self.epochs.value(),
                              lr=lr, batch_size=self.batch.value(), aux_lm_weight=self.aux.value(),
                              layers_transferred=None if self.all_layers.isChecked() else self.layers.value(),
                              transfer_embeddings=self.embeddings.isChecked(), freeze_body=self.freeze.isChecked(),
                              val_fraction=self.val_fraction.value(), device=self.device.currentData(),
                              precision=self.precision.currentData())
        try:
            config.validate()
        except StudioError as exc:
            raise ValueError(str(exc)) from None
        refused = precision_error(config.device, config.precision)
        if refused:
            raise ValueError(refused)
        return config

    def _update(self, *_args: Any) -> None:
        self.layers.setEnabled(self.first_layers.isChecked())
        self._config_error = ""
        try:
            self.choices.config = self.config()
        except ValueError as exc:
            self.choices.config, self._config_error = None, str(exc)
        self.choices.max_examples = self.max_examples.value()
        self.choices.name = self.name.text().strip()
        self.summary.setText(self._plan_text())
        self.changed.emit()

    def _plan_text(self) -> str:
        """How many examples train and validate, and how many steps that makes."""
        n = self.choices.kept_examples()
        if self.choices.max_examples:
            n = min(n, self.choices.max_examples)
        if n <= 0:
            return ""
        if self.choices.eval_path is not None:
            n_train, held = n, f"the evaluation file {self.choices.eval_path.name} for validation"
        else:
            n_val = max(1, round(n * self.val_fraction.value()))
            n_train, held = n - n_val, f"{n_val:,} held out for validation"
        per_epoch = math.ceil(max(n_train, 1) / self.batch.value())
        text = (f"About {plural(n_train, 'training example')} and {held}: {plural(per_epoch, 'step')} per epoch, "
                f"{plural(per_epoch * self.epochs.value(), 'step')} in all.")
        if self.first_layers.isChecked() and self.layers.value() == 0 and not self.embeddings.isChecked():
            text += " Nothing is transferred: this trains the untrained baseline, for comparison."
        return text

    def reason(self) -> str:
        """A field the engine would refuse, or a name that is taken or not a folder name."""
        if self._config_error:
            return self._config_error
        name = self.choices.name
        if name:
            if not NAME_PATTERN.match(name):
                return "The model name may hold letters, digits and . _ - + @, and no spaces."
            project = self.choices.project
            if project is not None and (project.models_dir / name).exists():
                return f"A model named {name} already exists in this project; choose another name."
        return ""


def _hardware_combos() -> tuple[QComboBox, QComboBox]:
    """The device (unavailable ones greyed out, as in the run form) and precision choosers."""
    device, precision = QComboBox(), QComboBox()
    for label, value in DEVICE_CHOICES:
        device.addItem(label, value)
    disable_unavailable_devices(device)
    for value in PRECISIONS:
        precision.addItem(value, value)
    device.setToolTip(TIPS["device"])
    precision.setToolTip(TIPS["precision"])
    return device, precision


def _spin(lo: int, hi: int, value: int, tip: str) -> QSpinBox:
    box = QSpinBox()
    box.setRange(lo, hi)
    box.setValue(value)
    box.setToolTip(tip)
    return box
