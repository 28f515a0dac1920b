"""The run configuration form: model family, preset, and every model and trainer field, validated as you type.

Fields are declared once as :class:`FieldSpec` rows (:mod:`run_fields`) and built into editors
(:mod:`field_editor`), so "every field" stays true when the engine grows one. Invalid combinations are refused
here, next to the field that causes them, with the engine's own checks (``ModelConfig``/``TrainConfig
.__post_init__``, ``devices.check_precision``) as the last word (:mod:`form_checks`): the form never guesses
differently from what the trainer would do.
"""

from __future__ import annotations

import math
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import QComboBox, QFormLayout, QGroupBox, QLabel, QLineEdit, QToolButton, QVBoxLayout, QWidget

from gpt_studio.engine.model import PRESETS, ModelConfig, count_parameters, preset, preset_descriptions
from gpt_studio.engine.recipes import RECIPES, expand
from gpt_studio.engine.trainer_config import TrainConfig
from gpt_studio.ui.widgets.field_editor import (
    ERROR_STYLE,
    Field,
    disable_unavailable_devices,
    format_count,
    note_label,
    parse_count,
    stack,
)
from gpt_studio.ui.widgets.form_checks import FormCheck, combination_errors, engine_check, valid_head_counts
from gpt_studio.ui.widgets.run_fields import (
    ADVANCED,
    FAMILIES,
    INT_MAX,
    MODEL_FIELDS,
    TRAIN_SECTIONS,
    FieldSpec,
    train_keys,
)

COMBO_CHARS = 24  # the family and preset choosers' width in characters (their lists open wider)
HARDWARE_DEFAULT_KEYS = ("device", "precision")  # fields File › Settings… gives a default for

# Names other modules and the tests import from here (the form's public face before it was split up).
__all__ = ["ADVANCED", "ERROR_STYLE", "FAMILIES", "INT_MAX", "MODEL_FIELDS", "TRAIN_SECTIONS", "Field", "FieldSpec",
           "FormCheck", "RunForm", "disable_unavailable_devices", "format_count", "parse_count", "valid_head_counts"]


class RunForm(QWidget):
    """Model family, preset and every field; emits the settings when they change and whether they are valid."""

    config_changed = Signal(dict)  # settings() after every change that leaves the form valid
    validity_changed = Signal(bool, str)  # valid, the first reason it is not

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.meta: dict[str, Any] | None = None
        self.fields: dict[str, Field] = {}
        self._infos = preset_descriptions()
        self._check = FormCheck({})
        self._validity: tuple[bool, str] | None = None
        self._loading = False
        self._hardware_defaults = {key: getattr(TrainConfig(), key) for key in HARDWARE_DEFAULT_KEYS}
        self._build()
        self._loading = True
        for key, value in TrainConfig().to_dict().items():
            if key in self.fields:  # settings with no editor (zero-shot probes: a list) keep their defaults
                self.fields[key].set_value(value)
        self._loading = False
        disable_unavailable_devices(self.fields["device"].editor)
        self._load_family(0)

    # ------------------------------------------------------------------------------------------ building

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._build_choice_box())
        for title, specs in TRAIN_SECTIONS:
            layout.addWidget(self._section(title, specs))
        self.advanced_button = QToolButton()
        self.advanced_button.setText("Advanced settings")
        self.advanced_button.setCheckable(True)
        self.advanced_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.advanced_button.setArrowType(Qt.ArrowType.RightArrow)
        self.advanced = self._section("Advanced", ADVANCED)
        self.advanced.setVisible(False)
        self.advanced_button.toggled.connect(self._toggle_advanced)
        layout.addWidget(self.advanced_button)
        layout.addWidget(self.advanced)
        self.form_error = QLabel()
        self.form_error.setWordWrap(True)
        self.form_error.setStyleSheet(ERROR_STYLE)
        self.form_error.setVisible(False)
        layout.addWidget(self.form_error)
        layout.addStretch(1)

    def _build_choice_box(self) -> QGroupBox:
        box = QGroupBox("Model")
        form = QFormLayout(box)
        self.family = QComboBox()
        for label, _causal, tip in FAMILIES:
            self.family.addItem(label)
            self.family.setItemData(self.family.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        self.family.currentIndexChanged.connect(self._load_family)
        self.family_note = note_label()
        self.preset = QComboBox()
        for combo in (self.family, self.preset):  # a long recipe name must not widen the form past its column
            combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
            combo.setMinimumContentsLength(COMBO_CHARS)
        self.preset.currentIndexChanged.connect(self._load_preset)
        self.preset_note = note_label()
        form.addRow("Family", stack(self.family, self.family_note))
        form.addRow("Preset", stack(self.preset, self.preset_note))
        for spec in MODEL_FIELDS:
            self._add_field(form, spec)
        return box

    def _section(self, title: str, specs: tuple[FieldSpec, ...]) -> QGroupBox:
        box = QGroupBox(title)
        form = QFormLayout(box)
        for spec in specs:
            self._add_field(form, spec)
            if spec.key == "max_steps":
                self._add_token_budget(form)
        return box

    def _add_field(self, form: QFormLayout, spec: FieldSpec) -> None:
        field = Field(spec)
        field.changed.connect(self._on_field_changed)
        self.fields[spec.key] = field
        form.addRow(spec.label, field.container)

    def _add_token_budget(self, form: QFormLayout) -> None:
        """Tokens to train on; editing it sets steps = tokens / (batch · accumulation · context)."""
        self.token_budget = QLineEdit()
        self.token_budget.setToolTip("Total training tokens. Type e.g. 5M or 2.5e9 and the number of steps follows "
                                     "(steps = tokens / (batch × accumulation × context)); changing steps, batch "
                                     "or context updates this field.")
        self.token_budget.editingFinished.connect(self._on_token_budget_edited)
        self.token_note = note_label()
        form.addRow("Token budget", stack(self.token_budget, self.token_note))

    def _toggle_advanced(self, shown: bool) -> None:
        self.advanced.setVisible(shown)
        self.advanced_button.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)

    # ------------------------------------------------------------------------------------------- loading

    def set_hardware_defaults(self, device: str, precision: str) -> None:
        """Start from the preferred device and precision; a field the person changed keeps their choice.

        A field still showing the previous default has not been chosen by anyone, so it follows the new one.
        A device torch cannot use here (greyed out in the list) is not forced on the form.
        """
        for key, value in (("device", device), ("precision", precision)):
            field = self.fields[key]
            if field.value() != self._hardware_defaults[key]:
                continue
            if key == "device" and not self._usable_device(value):
                continue
            self._hardware_defaults[key] = value
            field.set_value(value)

    def _usable_device(self, value: str) -> bool:
        field = self.fields["device"]
        values = [v for _label, v in field.spec.choices]
        if value not in values:
            return False
        item = field.editor.model().item(values.index(value))  # type: ignore[attr-defined]
        return item is not None and item.isEnabled()

    def set_data(self, meta: dict[str, Any] | None) -> None:
        """Use the project's shards (``load_meta``): its vocabulary and how many tokens each split holds."""
        self.meta = meta
        self._load_family(max(self.family.currentIndex(), 0))

    @property
    def vocab_size(self) -> int | None:
        """The project's vocabulary size (None before shards exist: presets keep their own)."""
        return int(self.meta["vocab_size"]) if self.meta else None

    def _causal(self) -> bool:
        return FAMILIES[max(self.family.currentIndex(), 0)][1]

    def _load_family(self, index: int) -> None:
        self.family_note.setText(FAMILIES[max(index, 0)][2].split("\n")[0])
        self.preset.blockSignals(True)
        self.preset.clear()
        selected = self.preset.currentData()
        for name, fn in PRESETS.items():
            if fn().causal == self._causal():
                info = self._infos[name]
                # the count at the project's vocabulary, so it matches the planner beside it
                params = count_parameters(fn(vocab_size=self.vocab_size)) if self.vocab_size else info.parameters
                self.preset.addItem(f"{name} ({format_count(params)} parameters)", name)
                self.preset.setItemData(self.preset.count() - 1, info.line, Qt.ItemDataRole.ToolTipRole)
        for name, recipe in RECIPES.items():
            if PRESETS[recipe.model_preset]().causal == self._causal():
                self.preset.addItem(f"{name} (recipe: {recipe.model_preset} + training settings)", name)
                tip = f"{recipe.description}.\nMeasured: {recipe.measured}."
                self.preset.setItemData(self.preset.count() - 1, tip, Qt.ItemDataRole.ToolTipRole)
        self.preset.view().setMinimumWidth(self.preset.view().sizeHintForColumn(0))  # the open list shows names whole
        if selected is not None and self.preset.findData(selected) >= 0:
            self.preset.setCurrentIndex(self.preset.findData(selected))
        self.preset.blockSignals(False)
        self._load_preset()

    def _model_preset(self) -> tuple[str, dict[str, Any]]:
        """The model preset behind the chosen name and the recipe's settings (none for a plain preset)."""
        return expand(self.preset_name())

    def _base_config(self) -> ModelConfig:
        vocab = {"vocab_size": self.vocab_size} if self.vocab_size else {}
        name, recipe_settings = self._model_preset()
        model_keys = set(ModelConfig.__dataclass_fields__)
        return preset(name, **vocab, **{k: v for k, v in recipe_settings.items() if k in model_keys})

    def _load_preset(self, _index: int = 0) -> None:
        """Fill the model fields with the chosen preset; a recipe fills its training fields too (others stay)."""
        recipe = RECIPES.get(self.preset_name())
        description = recipe.description if recipe else self._infos[self.preset_name()].description
        self.preset_note.setText(f"{description}.")
        config = self._base_config()
        self._loading = True
        for key, value in config.to_dict().items():
            if key in self.fields:
                self.fields[key].set_value(value)
        for key, value in (recipe.train_settings if recipe else {}).items():
            if key in self.fields:
                self.fields[key].set_value(value)
        self.fields["nsp_head"].editor.setEnabled(not config.causal)
        for key in ("mlm_probability", "nsp"):
            self.fields[key].editor.setEnabled(not config.causal)
        self._loading = False
        self._on_field_changed()

    # ----------------------------------------------------------------------------------------- reading

    def preset_name(self) -> str:
        """The chosen preset's key in ``PRESETS`` or ``RECIPES``."""
        return str(self.preset.currentData() or next(iter(PRESETS)))

    def _values(self, keys: set[str]) -> dict[str, Any]:
        return {key: field.value() for key, field in self.fields.items() if key in keys}

    def settings(self) -> dict[str, Any]:
        """Model fields that differ from the preset's, plus every training field (``new_run``'s settings)."""
        base = self._base_config().to_dict()
        model = {k: v for k, v in self._values(set(base) - {"vocab_size"}).items() if base[k] != v}
        return {**model, **self._values(train_keys())}

    def model_config(self) -> ModelConfig | None:
        """The configured model (None while the form is invalid)."""
        return self._check.model

    def train_config(self) -> TrainConfig | None:
        """The configured training settings (None while the form is invalid)."""
        return self._check.train

    @property
    def is_valid(self) -> bool:
        """Whether Start may be pressed."""
        return not self._check.errors

    @property
    def reason(self) -> str:
        """Why the form is invalid, naming the field ("" when it is valid)."""
        return self._check.reason({key: field.spec.label for key, field in self.fields.items()})

    def tokens_per_step(self) -> int:
        """Batch × accumulation × context, from the fields as they are."""
        try:
            values = self._values({"batch_size", "grad_accum", "context_length"})
        except ValueError:
            return 0
        return int(values["batch_size"] * values["grad_accum"] * values["context_length"])

    def set_locked(self, locked: bool) -> None:
        """Freeze the form while a run it started is under way."""
        for widget in (self.family, self.preset, self.token_budget):
            widget.setEnabled(not locked)
        for field in self.fields.values():
            field.container.setEnabled(not locked)

    # -------------------------------------------------------------------------------------- validation

    def _on_field_changed(self) -> None:
        if self._loading:
            return
        self._update_token_budget()
        self._check = self.validate()
        for key, field in self.fields.items():
            field.set_error(self._check.errors.get(key, ""))
        general = self._check.errors.get("", "")
        self.form_error.setText(general)
        self.form_error.setVisible(bool(general))
        validity = (self.is_valid, self.reason)
        if validity != self._validity:
            self._validity = validity
            self.validity_changed.emit(*validity)
        if self.is_valid:
            self.config_changed.emit(self.settings())

    def validate(self) -> FormCheck:
        """Check every field and their combinations; errors are keyed by the field to show them next to."""
        errors: dict[str, str] = {}
        values: dict[str, Any] = {}
        for key, field in self.fields.items():
            try:
                values[key] = field.value()
            except ValueError as exc:
                errors[key] = str(exc)
        if errors:
            return FormCheck(errors)
        errors.update(combination_errors(values, causal=self._causal(), meta=self.meta))
        if errors:
            return FormCheck(errors)
        return engine_check(values, self._model_preset()[0], self.vocab_size)

    # ------------------------------------------------------------------------------------- token budget

    def _update_token_budget(self) -> None:
        """Show steps × tokens per step (and how many passes over the training split that is)."""
        try:
            steps = int(self.fields["max_steps"].value())
        except ValueError:
            return
        tokens = steps * self.tokens_per_step()
        if not self.token_budget.hasFocus():
            self.token_budget.setText(format_count(tokens))
        note = f"= {steps:,} steps × {self.tokens_per_step():,} tokens per step"
        if self.meta and self.meta["splits"]["train"]["tokens"]:
            note += f" ≈ {tokens / self.meta['splits']['train']['tokens']:.1f} passes over the training split"
        self.token_note.setText(note)

    def _on_token_budget_edited(self) -> None:
        try:
            tokens = parse_count(self.token_budget.text())
        except ValueError as exc:
            self.token_note.setText(str(exc))
            return
        per_step = max(self.tokens_per_step(), 1)
        self.fields["max_steps"].set_value(min(INT_MAX, max(1, math.ceil(tokens / per_step))))
        QTimer.singleShot(0, self._update_token_budget)
