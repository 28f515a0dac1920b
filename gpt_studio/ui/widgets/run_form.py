"""The run configuration form: model family, preset, and every model and trainer field, validated as you type.

Fields are declared once as :class:`FieldSpec` rows and built into editors, so "every field" stays true when
the engine grows one. Invalid combinations are refused here, next to the field that causes them, with the
engine's own checks (``ModelConfig``/``TrainConfig.__post_init__``, ``devices.check_precision``) as the last
word: the form never guesses differently from what the trainer would do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from gpt_studio.engine.model import PRESETS, ModelConfig, count_parameters, preset, preset_descriptions
from gpt_studio.engine.recipes import RECIPES, expand
from gpt_studio.engine.trainer_config import PRECISIONS, SCHEDULES, TrainConfig

ERROR_STYLE = "color: #d0342c;"
INT_MAX = 2**31 - 1

FAMILIES: tuple[tuple[str, bool, str], ...] = (  # label, causal, description (first line shown, all as tooltip)
    ("GPT — causal decoder", True,
     "Predicts each next token from the ones before it; it can generate text.\n"
     "Causal objective: next-token cross-entropy at every position, with attention masked so that position t "
     "never sees t+1 (GPT-1, GPT-2, nanoGPT)."),
    ("BERT — masked encoder", False,
     "Sees the whole sequence at once and learns to fill in hidden tokens; for classifying and embedding text.\n"
     "Masked objective: 15% of the tokens are chosen; of those 80% become [MASK], 10% a random token and 10% "
     "stay unchanged (80/10/10), so the model cannot rely on seeing [MASK]. With a next-sentence head (NSP) it "
     "also learns whether segment B really follows segment A."),
)


@dataclass(frozen=True)
class FieldSpec:
    """One editable setting: its ``ModelConfig``/``TrainConfig`` key, label, editor kind and explanation."""

    key: str
    label: str
    kind: str  # int | float | sci | opt_sci | bool | choice
    tip: str
    lo: float = 0
    hi: float = INT_MAX
    step: float = 1
    decimals: int = 2
    choices: tuple[tuple[str, Any], ...] = ()  # (label, value) for kind == "choice"
    special: str = ""  # what the minimum of a number shows (e.g. "off")
    none_at_min: bool = False  # the minimum means None (d_ff: 4 × width)
    suffix: str = ""


F = FieldSpec
MODEL_FIELDS = (
    F("n_layer", "Layers", "int", "Transformer blocks stacked. Parameters and compute grow linearly with it.", 1, 256),
    F("n_head", "Heads", "int", "Attention heads per block. Each head works on width / heads dimensions, so the "
      "width must be divisible by the number of heads.", 1, 1024),
    F("d_model", "Width (d_model)", "int", "Size of each token's vector in the residual stream; parameters grow "
      "with its square.", 1, 65536, 32),
    F("d_ff", "Feed-forward width", "int", "Hidden width of each block's MLP; auto = 4 × width, as in GPT and BERT.",
      0, 262144, 64, special="auto (4 × width)", none_at_min=True),
    F("context_length", "Context", "int", "Longest sequence the model sees at once; every training window has this "
      "length. Attention cost grows with its square.", 1, 65536, 32, suffix=" tokens"),
    F("dropout", "Dropout", "float", "Share of activations zeroed during training. 0 lets a small model fit fast; "
      "0.1 is the GPT/BERT setting for large data.", 0, 0.95, 0.05),
    F("prenorm", "Pre-LayerNorm", "bool", "On: LayerNorm before each sub-layer plus a final one (GPT-2, nanoGPT; "
      "steadier). Off: after each residual sum (GPT-1, BERT)."),
    F("nsp_head", "Next-sentence head", "bool", "BERT only: a pooler and a two-way classifier that learn whether "
      "segment B really follows segment A (next-sentence prediction, NSP)."),
)
TRAIN_SECTIONS: tuple[tuple[str, tuple[FieldSpec, ...]], ...] = (
    ("Batch and schedule", (
        F("batch_size", "Batch size", "int", "Sequences per micro-batch. Memory grows with it: if it does not fit, "
          "halve it and double the accumulation.", 1, 65536),
        F("grad_accum", "Accumulation", "int", "Micro-batches summed per optimizer step: batch × accumulation "
          "sequences per step without the memory of a bigger batch.", 1, 65536),
        F("lr", "Learning rate", "sci", "Peak learning rate, reached after warmup: 6e-4 suits small GPTs, BERT-Base "
          "used 1e-4. Too high: the loss jumps or becomes NaN."),
        F("min_lr", "Minimum rate", "opt_sci", "Where the decay ends; empty = peak / 10."),
        F("warmup_steps", "Warmup", "int", "Steps of linear ramp from 0 to the peak rate; avoids early divergence.",
          0, INT_MAX, 10, suffix=" steps"),
        F("schedule", "Schedule", "choice", "Decay after warmup: cosine (GPT-3), linear (BERT) or constant.",
          choices=tuple((s, s) for s in SCHEDULES)),
        F("max_steps", "Steps", "int", "Optimizer steps in the run; the token budget below sets it for you.",
          1, INT_MAX, 100),
        F("weight_decay", "Weight decay", "float", "AdamW decay of weight matrices (not norms, biases or "
          "embeddings).", 0, 1, 0.01),
        F("grad_clip", "Gradient clipping", "float", "Largest global gradient norm; 0 = off. 1.0 is the GPT/BERT "
          "default.", 0, 1000, 0.1, special="off"),
    )),
    ("Hardware", (
        F("device", "Device", "choice", "auto = the CUDA GPU, else Apple MPS, else the CPU. Devices this machine "
          "does not have are greyed out.", choices=(("auto", "auto"), ("CPU", "cpu"), ("CUDA GPU", "cuda"),
                                                    ("Apple MPS", "mps"))),
        F("precision", "Precision", "choice", "fp32 works everywhere. bf16 halves activation memory and is faster on "
          "recent GPUs and CPUs. fp16 needs a CUDA GPU (with loss scaling).",
          choices=tuple((p, p) for p in PRECISIONS)),
        F("compile", "torch.compile", "bool", "Compile the model: a slow start (a minute or more) that can pay off on "
          "long GPU runs."),
    )),
    ("Evaluation and checkpoints", (
        F("eval_interval", "Evaluate every", "int", "Steps between validation evaluations (and text samples for a "
          "GPT).", 1, INT_MAX, 50, suffix=" steps"),
        F("eval_batches", "Eval batches", "int", "Batches averaged per evaluation: the same fixed batches every "
          "time, so points compare.", 1, 100_000),
        F("checkpoint_interval", "Checkpoint every", "int", "Steps between checkpoints; the last step and a stop "
          "always get one.", 1, INT_MAX, 100, suffix=" steps"),
        F("seed", "Seed", "int", "Seed of the initial weights and the data order: the same seed repeats a run.",
          0, INT_MAX),
    )),
)
ADVANCED = (
    F("bias", "Biases", "bool", "Biases in linear and LayerNorm layers (GPT-2 and BERT have them)."),
    F("gelu_approximate", "GELU", "choice", "The activation of the MLP: exact (erf), or GPT-2's tanh "
      "approximation.", choices=(("exact", "none"), ("tanh (GPT-2)", "tanh"))),
    F("layer_norm_eps", "LayerNorm ε", "sci", "Added to the variance in LayerNorm: 1e-5 (GPT), 1e-12 (BERT)."),
    F("type_vocab_size", "Segment types", "int", "Token-type embeddings: 0 for GPT, 2 for BERT's sentence A/B.", 0, 16),
    F("embed_layer_norm", "Embedding LayerNorm", "choice", "LayerNorm on the embeddings; auto = for post-LN models "
      "(BERT).", choices=(("auto", None), ("on", True), ("off", False))),
    F("keep_checkpoints", "Checkpoints kept", "int", "Newest checkpoints kept, plus the best by validation loss.",
      1, 1000),
    F("sample_tokens", "Sample length", "int", "Tokens a GPT generates at each evaluation.", 0, 4096,
      special="no samples", suffix=" tokens"),
    F("beta1", "Adam β1", "float", "AdamW's first-moment decay.", 0, 0.9999, 0.01, decimals=4),
    F("beta2", "Adam β2", "float", "AdamW's second-moment decay: 0.95 is steadier than 0.999 for small-batch "
      "language-model training.", 0, 0.9999, 0.001, decimals=4),
    F("eps", "Adam ε", "sci", "AdamW's denominator epsilon."),
    F("mlm_probability", "Mask share", "float", "BERT: share of tokens chosen for the masked-LM loss (15% in BERT); "
      "of those 80% → [MASK], 10% → a random token, 10% unchanged.", 0.01, 0.99, 0.01),
    F("nsp", "Next-sentence task", "choice", "BERT: train next-sentence prediction; auto = when the model has an NSP "
      "head.", choices=(("auto", None), ("on", True), ("off", False))),
    F("threads", "CPU threads", "int", "Threads torch trains with on the CPU; 0 = torch's default.", 0, 1024,
      special="default"),
)
_COUNT_UNITS = {"k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9, "t": 1e12}


def parse_count(text: str) -> float:
    """A token count as people type it: 5M, 2.5e9, 300B, 1,000,000."""
    clean = text.strip().lower().replace(",", "").replace("_", "").replace(" ", "").removesuffix("tokens")
    scale = 1.0
    if clean and clean[-1] in _COUNT_UNITS:
        clean, scale = clean[:-1], _COUNT_UNITS[clean[-1]]
    try:
        value = float(clean) * scale
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"Enter a token count like 5M, 2.5e9 or 1,000,000 (not {text!r}).")
    return value


def format_count(n: float) -> str:
    """137K, 1.05M, 2.6B: three significant digits and a unit."""
    for unit, size in (("T", 1e12), ("B", 1e9), ("M", 1e6), ("K", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.3g}{unit}"
    return f"{n:,.0f}"


class Field(QObject):
    """One spec's editor with its inline error label; ``value()`` raises ValueError on text that is no number."""

    changed = Signal()

    def __init__(self, spec: FieldSpec) -> None:
        super().__init__()
        self.spec = spec
        self.editor = self._make_editor()
        self.editor.setToolTip(spec.tip)
        self.error = QLabel()
        self.error.setWordWrap(True)
        self.error.setStyleSheet(ERROR_STYLE)
        self.error.setVisible(False)
        self.container = _stack(self.editor, self.error)

    def _make_editor(self) -> QWidget:
        spec = self.spec
        if spec.kind == "int":
            editor: Any = QSpinBox()
            editor.setRange(int(spec.lo), int(spec.hi))
        elif spec.kind == "float":
            editor = QDoubleSpinBox()
            editor.setDecimals(spec.decimals)
            editor.setRange(spec.lo, spec.hi)
        elif spec.kind in ("sci", "opt_sci"):
            editor = QLineEdit()
            editor.setPlaceholderText("peak / 10" if spec.kind == "opt_sci" else "")
            editor.textChanged.connect(self.changed)
            return editor
        elif spec.kind == "bool":
            editor = QCheckBox()
            editor.toggled.connect(self.changed)
            return editor
        else:
            editor = QComboBox()
            for label, _value in spec.choices:
                editor.addItem(label)
            editor.currentIndexChanged.connect(self.changed)
            return editor
        editor.setSingleStep(spec.step)
        editor.setSpecialValueText(spec.special)
        editor.setSuffix(spec.suffix)
        editor.setKeyboardTracking(True)
        editor.valueChanged.connect(self.changed)
        return editor

    def value(self) -> Any:
        """The setting's value as the config wants it."""
        spec, editor = self.spec, self.editor
        if spec.kind in ("int", "float"):
            value = editor.value()
            return None if spec.none_at_min and value == spec.lo else value
        if spec.kind in ("sci", "opt_sci"):
            text = editor.text().strip()
            if not text and spec.kind == "opt_sci":
                return None
            try:
                return float(text)
            except ValueError:
                raise ValueError(f"{spec.label}: enter a number like 6e-4 or 0.0006.") from None
        if spec.kind == "bool":
            return editor.isChecked()
        return spec.choices[max(editor.currentIndex(), 0)][1]

    def set_value(self, value: Any) -> None:
        """Show ``value`` (None maps to the special minimum, or an empty text)."""
        spec, editor = self.spec, self.editor
        if spec.kind in ("int", "float"):
            editor.setValue(spec.lo if value is None else value)
        elif spec.kind in ("sci", "opt_sci"):
            editor.setText("" if value is None else f"{value:g}")
        elif spec.kind == "bool":
            editor.setChecked(bool(value))
        else:
            values = [v for _label, v in spec.choices]
            editor.setCurrentIndex(values.index(value) if value in values else 0)

    def set_error(self, text: str) -> None:
        """Show (or clear, with '') the reason this field is refused."""
        self.error.setText(text[:1].upper() + text[1:])
        self.error.setVisible(bool(text))


def disable_unavailable_devices(combo: QComboBox) -> None:
    """Grey out CUDA/MPS where torch cannot use them (the list keeps them, so people see what exists)."""
    import torch

    available = {"auto": True, "cpu": True, "cuda": torch.cuda.is_available(),
                 "mps": bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())}
    model = combo.model()
    for row, (label, value) in enumerate(dict(TRAIN_SECTIONS)["Hardware"][0].choices):
        item = model.item(row)  # type: ignore[attr-defined]
        item.setEnabled(available[value])
        if not available[value]:
            item.setToolTip(f"Not available here: torch sees no {label} on this machine.")


def valid_head_counts(width: int, limit: int = 12) -> list[int]:
    """Head counts that divide ``width`` (the smallest ``limit`` of them), to name in the error."""
    return [h for h in range(1, width + 1) if width % h == 0][:limit]


@dataclass
class FormCheck:
    """The outcome of one validation pass: errors by field key ('' = the form as a whole)."""

    errors: dict[str, str]
    model: ModelConfig | None = None
    train: TrainConfig | None = None

    def reason(self, labels: dict[str, str]) -> str:
        """The first error as one line, starting with the label of its field."""
        if not self.errors:
            return ""
        key, message = next(iter(self.errors.items()))
        label = labels.get(key, "")
        return message if not label or message.startswith(label) else f"{label}: {message}"


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
        self._build()
        self._loading = True
        for key, value in TrainConfig().to_dict().items():
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
        self.family_note = _note()
        self.preset = QComboBox()
        self.preset.currentIndexChanged.connect(self._load_preset)
        self.preset_note = _note()
        form.addRow("Family", _stack(self.family, self.family_note))
        form.addRow("Preset", _stack(self.preset, self.preset_note))
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
        self.token_note = _note()
        form.addRow("Token budget", _stack(self.token_budget, self.token_note))

    def _toggle_advanced(self, shown: bool) -> None:
        self.advanced.setVisible(shown)
        self.advanced_button.setArrowType(Qt.ArrowType.DownArrow if shown else Qt.ArrowType.RightArrow)

    # ------------------------------------------------------------------------------------------- loading

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
        return {**model, **self._values(_train_keys())}

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
        errors.update(self._combination_errors(values))
        if errors:
            return FormCheck(errors)
        return self._engine_check(values)

    def _combination_errors(self, values: dict[str, Any]) -> dict[str, str]:
        errors: dict[str, str] = {}
        width, heads = values["d_model"], values["n_head"]
        if width % heads:
            counts = ", ".join(map(str, valid_head_counts(width)))
            errors["n_head"] = f"width {width} is not divisible by {heads} heads; valid head counts: {counts}."
        context_error = self._context_error(values["context_length"])
        if context_error:
            errors["context_length"] = context_error
        if values["min_lr"] is not None and values["min_lr"] > values["lr"]:
            errors["min_lr"] = f"must not exceed the peak rate ({values['lr']:g})."
        precision_error = _precision_error(values["device"], values["precision"])
        if precision_error:
            errors["precision"] = precision_error
        return errors

    def _context_error(self, context: int) -> str:
        """A causal model needs context + 2 tokens in each split; a masked one at least 8 tokens of context."""
        if not self._causal():
            return "" if context >= 8 else "A masked (BERT) model needs a context of at least 8 tokens."
        if not self.meta:
            return ""
        for split in ("val", "train"):
            tokens = int(self.meta["splits"][split]["tokens"])
            if tokens < context + 2:
                return (f"the {'validation' if split == 'val' else 'training'} split has only {tokens:,} tokens; "
                        f"a context of {context} needs {context + 2:,}. Use at most {max(tokens - 2, 1)}.")
        return ""

    def _engine_check(self, values: dict[str, Any]) -> FormCheck:
        """Build the configs as the trainer will; a ValueError lands on the field its message names."""
        model_keys = set(ModelConfig.__dataclass_fields__) - {"vocab_size"}
        try:
            vocab = {"vocab_size": self.vocab_size} if self.vocab_size else {}
            model = preset(self._model_preset()[0], **vocab, **{k: v for k, v in values.items() if k in model_keys})
        except (ValueError, TypeError) as exc:
            return FormCheck({_field_named(str(exc), model_keys): str(exc)})
        try:
            train = TrainConfig(**{k: v for k, v in values.items() if k in _train_keys()})
        except (ValueError, TypeError) as exc:
            return FormCheck({_field_named(str(exc), _train_keys()): str(exc)})
        return FormCheck({}, model, train)

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


def _train_keys() -> set[str]:
    return set(TrainConfig.__dataclass_fields__)


def _field_named(message: str, keys: set[str]) -> str:
    """The first field key a message names (by position), else '' (shown at the bottom of the form)."""
    found = [(message.find(key), key) for key in keys if _mentions(message, key)]
    return min(found)[1] if found else ""


def _mentions(message: str, key: str) -> bool:
    start = message.find(key)
    while start >= 0:
        before = message[start - 1] if start else " "
        end = start + len(key)
        after = message[end] if end < len(message) else " "
        if not (before.isalnum() or before == "_") and not (after.isalnum() or after == "_"):
            return True
        start = message.find(key, start + 1)
    return False


def _precision_error(device_name: str, precision: str) -> str:
    """The engine's refusal of this precision on this device, or ''."""
    if precision == "fp32":
        return ""
    from gpt_studio.engine import devices
    from gpt_studio.engine.errors import StudioError

    try:
        devices.check_precision(devices.resolve_device(device_name), precision)
    except StudioError as exc:
        return str(exc)
    return ""


def _note() -> QLabel:
    label = QLabel()
    label.setWordWrap(True)
    label.setStyleSheet("color: palette(placeholder-text);")
    return label


def _stack(*widgets: QWidget) -> QWidget:
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.setSpacing(2)
    for widget in widgets:
        layout.addWidget(widget)
    return box

