"""Fine-tuning's settings, results and file names: the plain data every other fine-tuning module shares.

Split out of :mod:`gpt_studio.engine.finetune` (which re-exports its public names) so that the bases, the training
loop, prediction and the analyses can each import these without importing one another.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from gpt_studio.engine.errors import StudioError
from gpt_studio.engine.finetune_data import TASKS

FINETUNE_FILE = "finetune.json"
WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
PREDICTIONS_FILE = "predictions.csv"
METRICS_FILE = "metrics.jsonl"
TOKENIZER_FILES = ("tokenizer.model", "tokenizer.json")  # a SentencePiece tokenizer's files (HFTokenizer saves its own)
FORMAT_VERSION = 1
EVAL_BATCH_SIZE = 64  # fixed, so a reloaded model scores the same rows in the same batches: identical numbers
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,120}$")


@dataclass(kw_only=True)
class FinetuneConfig:
    """How to fine-tune; GPT-1's defaults where it gave them (lr 6.25e-5, batch 32, 3 epochs, λ 0.5)."""

    task: str = "classification"
    regression: bool = False  # similarity only: predict the score (MSE) instead of a class
    epochs: int = 3
    lr: float = 6.25e-5
    batch_size: int = 32
    warmup_fraction: float = 0.002  # linear warmup over this share of the steps, then linear decay to 0
    weight_decay: float = 0.01
    head_dropout: float = 0.1
    aux_lm_weight: float = 0.5  # λ in L3 = L2 + λ·L1; 0 = no auxiliary language-model loss
    layers_transferred: int | None = None  # None = all pretrained blocks
    transfer_embeddings: bool = True
    freeze_body: bool = False  # a linear probe: only the head trains
    max_length: int | None = None  # None = the model's context length
    val_fraction: float = 0.1  # stratified split of the training file when no evaluation file is given
    early_stopping_patience: int = 0  # evaluations without improvement before stopping; 0 = off
    eval_interval: int = 0  # steps between evaluations besides each epoch's end; 0 = per epoch only
    grad_clip: float = 1.0
    precision: str = "fp32"
    device: str = "auto"
    seed: int = 1337
    threads: int = 0

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FinetuneConfig:
        """Inverse of :meth:`to_dict`; unknown keys are refused by name."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise StudioError(f"Unknown fine-tuning setting(s): {', '.join(unknown)}. "
                              f"Known: {', '.join(sorted(known))}.")
        return cls(**data)

    def validate(self) -> None:
        """Refuse settings that cannot work, naming the setting and the allowed range."""
        from gpt_studio.engine.trainer_config import DEVICES, PRECISIONS

        problems = []
        if self.task not in TASKS:
            problems.append(f"task must be one of {', '.join(TASKS)}, not {self.task!r}")
        if self.regression and self.task != "similarity":
            problems.append("regression is for the similarity task only")
        for name in ("epochs", "batch_size"):
            if not isinstance(getattr(self, name), int) or getattr(self, name) < 1:
                problems.append(f"{name} must be 1 or more (got {getattr(self, name)!r})")
        if not self.lr > 0:
            problems.append(f"lr must be positive (got {self.lr!r})")
        if not 0 <= self.warmup_fraction < 1:
            problems.append("warmup_fraction must be at least 0 and below 1")
        if not 0 <= self.head_dropout < 1:
            problems.append("head_dropout must be at least 0 and below 1")
        if self.aux_lm_weight < 0 or self.weight_decay < 0 or self.grad_clip < 0:
            problems.append("aux_lm_weight, weight_decay and grad_clip cannot be negative")
        if self.layers_transferred is not None and self.layers_transferred < 0:
            problems.append("layers_transferred must be 0 or more (or None for all)")
        if self.max_length is not None and self.max_length < 8:
            problems.append("max_length must be at least 8 tokens (or None for the model's context)")
        if not 0 < self.val_fraction < 1:
            problems.append("val_fraction must be between 0 and 1")
        if self.early_stopping_patience < 0 or self.eval_interval < 0:
            problems.append("early_stopping_patience and eval_interval must be 0 (off) or more")
        if self.precision not in PRECISIONS:
            problems.append(f"precision must be one of {', '.join(PRECISIONS)}")
        if self.device not in DEVICES and not self.device.startswith("cuda:"):
            problems.append(f"device must be one of {', '.join(DEVICES)} or cuda:N")
        if problems:
            raise StudioError("Fine-tuning settings: " + "; ".join(problems) + ".")


@dataclass
class BaseModel:
    """A model that fine-tuning can start from: a pretraining run's checkpoint or a saved model folder."""

    spec: str  # what the person chose: "RUN_ID", "RUN_ID@STEP", a models/ name, or a folder path
    path: Path  # the checkpoint or model folder
    family: str  # "gpt" | "bert"
    parameters: int
    description: str  # one line for the wizard: "run 2026...-gpt-1a2b, step 500, 0.8M parameters, val 1.92"
    tokenizer_dir: Path
    kind: str = "checkpoint"  # "checkpoint" (a pretraining run's) | "model" (a saved fine-tuned model)
    #                           | "imported" (a Hugging Face GPT-2 / BERT brought in by `import-model`)
    run_id: str | None = None  # the pretraining run (checkpoints; for saved models, the run they came from)
    step: int | None = None
    tokenizer_sha256: str | None = None  # what the weights were trained with (checked when loading)
    val_loss: float | None = None  # the run's validation loss at that step, when recorded
    n_layer: int | None = None  # Transformer blocks (the most layers_transferred can be)
    context_length: int | None = None  # longest sequence (the default max_length)


@dataclass(frozen=True)
class FinetuneEvalEvent:
    """Validation metrics (after each epoch, and every ``eval_interval`` steps when set)."""

    step: int
    epoch: float
    val_loss: float
    metrics: dict[str, float]  # accuracy, macro_f1 (classification); pearson, spearman, mse (regression)
    kind: str = "finetune_eval"


@dataclass
class FinetuneResult:
    """What a fine-tuning run produced; ``to_dict`` is the CLI's --json and the EndEvent summary."""

    model_path: Path
    task: str
    epochs: float
    steps: int
    best_step: int
    best_val_metric: float  # accuracy, or Pearson for regression
    val_accuracy: float | None
    val_macro_f1: float | None
    val_pearson: float | None = None
    val_spearman: float | None = None
    per_class: dict[str, dict[str, float]] = field(default_factory=dict)  # label -> precision, recall, f1, support
    confusion: list[list[int]] = field(default_factory=list)  # [true][predicted]
    labels: list[str] = field(default_factory=list)
    truncated: int = 0  # examples cut to fit the context
    train_examples: int = 0
    val_examples: int = 0
    reason: str = "completed"  # completed | early_stopped | stopped
    wall_seconds: float = 0.0
    val_loss: float | None = None  # L2 on the validation set at the best evaluation
    val_mse: float | None = None  # regression: mean squared error on the scores' own scale
    metric_name: str = "accuracy"  # what best_val_metric measures: accuracy | pearson
    base: str = ""  # the base model's spec
    skipped_rows: int = 0  # training/evaluation rows dropped by an excluded label

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON (paths as strings)."""
        out = asdict(self)
        out["model_path"] = str(self.model_path) if self.model_path else None
        return out
