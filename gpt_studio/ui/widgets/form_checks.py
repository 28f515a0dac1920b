"""The run form's validation: field combinations first, then the engine's own configs as the last word.

Plain functions over the form's values (a ``dict`` keyed like the configs), no widgets, so each rule reads on
its own. Errors are keyed by the field to show them next to ('' = the form as a whole). The final pass builds
``ModelConfig``/``TrainConfig`` exactly as the trainer will, so the form never guesses differently from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gpt_studio.engine.model import ModelConfig, preset
from gpt_studio.engine.trainer_config import TrainConfig
from gpt_studio.ui.widgets.run_fields import train_keys

BERT_MIN_CONTEXT = 8  # [CLS] a [SEP] b [SEP] and some room to mask: shorter windows teach a masked model nothing


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


def valid_head_counts(width: int, limit: int = 12) -> list[int]:
    """Head counts that divide ``width`` (the smallest ``limit`` of them), to name in the error."""
    return [h for h in range(1, width + 1) if width % h == 0][:limit]


def combination_errors(values: dict[str, Any], *, causal: bool, meta: dict[str, Any] | None) -> dict[str, str]:
    """Settings that are each fine but not together (or not with the project's data, or this machine)."""
    errors: dict[str, str] = {}
    width, heads = values["d_model"], values["n_head"]
    if width % heads:
        counts = ", ".join(map(str, valid_head_counts(width)))
        errors["n_head"] = f"width {width} is not divisible by {heads} heads; valid head counts: {counts}."
    context = context_error(values["context_length"], causal=causal, meta=meta)
    if context:
        errors["context_length"] = context
    if values["min_lr"] is not None and values["min_lr"] > values["lr"]:
        errors["min_lr"] = f"must not exceed the peak rate ({values['lr']:g})."
    precision = precision_error(values["device"], values["precision"])
    if precision:
        errors["precision"] = precision
    return errors


def context_error(context: int, *, causal: bool, meta: dict[str, Any] | None) -> str:
    """A causal model needs context + 2 tokens in each split; a masked one at least 8 tokens of context."""
    if not causal:
        return "" if context >= BERT_MIN_CONTEXT else "A masked (BERT) model needs a context of at least 8 tokens."
    if not meta:
        return ""
    for split in ("val", "train"):
        tokens = int(meta["splits"][split]["tokens"])
        if tokens < context + 2:
            return (f"the {'validation' if split == 'val' else 'training'} split has only {tokens:,} tokens; "
                    f"a context of {context} needs {context + 2:,}. Use at most {max(tokens - 2, 1)}.")
    return ""


def engine_check(values: dict[str, Any], model_preset: str, vocab_size: int | None) -> FormCheck:
    """Build the configs as the trainer will; a ValueError lands on the field its message names."""
    model_keys = set(ModelConfig.__dataclass_fields__) - {"vocab_size"}
    try:
        vocab = {"vocab_size": vocab_size} if vocab_size else {}
        model = preset(model_preset, **vocab, **{k: v for k, v in values.items() if k in model_keys})
    except (ValueError, TypeError) as exc:
        return FormCheck({field_named(str(exc), model_keys): str(exc)})
    try:
        train = TrainConfig(**{k: v for k, v in values.items() if k in train_keys()})
    except (ValueError, TypeError) as exc:
        return FormCheck({field_named(str(exc), train_keys()): str(exc)})
    return FormCheck({}, model, train)


def field_named(message: str, keys: set[str]) -> str:
    """The first field key a message names (by position), else '' (shown at the bottom of the form)."""
    found = [(message.find(key), key) for key in keys if _mentions(message, key)]
    return min(found)[1] if found else ""


def _mentions(message: str, key: str) -> bool:
    """Whether ``key`` occurs in ``message`` as a whole word (``lr`` is not in ``min_lr``)."""
    start = message.find(key)
    while start >= 0:
        before = message[start - 1] if start else " "
        end = start + len(key)
        after = message[end] if end < len(message) else " "
        if not (before.isalnum() or before == "_") and not (after.isalnum() or after == "_"):
            return True
        start = message.find(key, start + 1)
    return False


def precision_error(device_name: str, precision: str) -> str:
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
