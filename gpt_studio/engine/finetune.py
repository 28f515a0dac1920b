"""Supervised fine-tuning with the GPT-1 input transformations, on the same events and controls as pretraining.

CONTRACT (written before the implementation so the engine and the Fine-tune wizard can be built in parallel):
the names, fields and signatures below are the public API. Implementation notes:

- Special tokens (the tokenizer's reserved ids): GPT start = ``<s>`` (bos), delimiter = ``[SEP]``, extract =
  ``[CLS]``; the head reads the final hidden state at the extract token. BERT: ``[CLS] a [SEP] b [SEP]`` with
  token types 0/1; the head reads [CLS] (through the pooler when the model has one). A model imported from
  Hugging Face brings its own tokenizer (:mod:`hf_tokenizer`): GPT-2 starts with ``<|endoftext|>`` and gets the
  importer's new ``<|sep|>`` / ``<|cls|>`` ids as delimiter and extract (it has neither); BERT has its own.
- Similarity: both orderings run through the body; the two representations are added, then the head.
- Multiple choice: one sequence per answer, a linear head to one score each, softmax over the answers.
- Loss L2 (cross-entropy; MSE for regression) plus ``aux_lm_weight`` · L1 (next-token loss on the input
  sequences for GPT, masked-LM loss for BERT); ``aux_lm_weight = 0`` turns it off. Regression trains on
  standardised scores (the training file's mean and standard deviation, kept in finetune.json).
- ``layers_transferred`` of the pretrained blocks are copied (the first K); the rest and the head start fresh
  (the model's own init). ``transfer_embeddings`` says whether token/position embeddings come from the base;
  K = 0 with ``transfer_embeddings=False`` is the untrained baseline. ``freeze_body`` trains the head only.
- Truncation rule (stated in the report): the longest text of the pair is cut from its end, one token at a
  time, until the sequence fits the context; counted per example.
- Events: the trainer's ``StepEvent`` (step, loss, lr, grad_norm, tokens_seen, tokens_per_second,
  elapsed_seconds), :class:`FinetuneEvalEvent` after each epoch (and every ``eval_interval`` steps if > 0),
  the trainer's ``ErrorEvent`` and ``EndEvent`` (summary = :meth:`FinetuneResult.to_dict`). ``TrainControl``
  pause / stop works as in pretraining; a stop still evaluates and saves the best model so far.
- Bases: a pretraining run's checkpoint, a saved fine-tuned model (``finetune.json``; its head is dropped) or a
  model imported from Hugging Face (``source.json``, weights under the Transformer's own names, no prefix).
- Saved model folder ``PROJECT/models/<name>/`` (written atomically, staged beside and renamed):
  ``model.safetensors`` (body + head), ``config.json`` (the ModelConfig), ``finetune.json`` (task, labels,
  regression, columns, base, FinetuneConfig, metrics, tokenizer sha256), the tokenizer so the folder is
  self-contained (SentencePiece: copies of ``tokenizer.model`` and ``tokenizer.json``; Hugging Face: its
  ``tokenizer.json`` and ``tokenizer_roles.json``), ``predictions.csv`` (validation rows with probabilities),
  ``metrics.jsonl``.
"""

from __future__ import annotations

import copy
import csv
import datetime as _dt
import math
import os
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from gpt_studio.engine.errors import StudioError
from gpt_studio.engine.finetune_data import TASK_TITLES, TASKS, ColumnMap, TaskData, load_task_data, stratified_split
from gpt_studio.engine.hf_import import SOURCE_FILE
from gpt_studio.engine.hf_tokenizer import HFTokenizer, load_tokenizer
from gpt_studio.engine.project import Project

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


# ----------------------------------------------------------------------------------------------- bases

def _size(parameters: int) -> str:
    return f"{parameters / 1e6:.1f}M" if parameters >= 1e6 else f"{parameters / 1e3:.0f}K"


def _eval_loss_at(metrics_file: Path, step: int) -> float | None:
    """The validation loss a run recorded at ``step`` (only eval lines are parsed: a run has one line per step)."""
    import json

    found = None
    try:
        with open(metrics_file, encoding="utf-8") as handle:
            for line in handle:
                if '"eval"' not in line or not line.endswith("\n"):
                    continue
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if record.get("kind") == "eval" and record.get("step") == step:
                    found = record.get("val_loss")
    except OSError:
        return None
    return found


def _checkpoint_base(project: Project | None, run: Any, ckpt: Any, spec: str, tokenizer_dir: Path | None = None,
                     val_loss: float | None = None) -> BaseModel:
    from gpt_studio.engine.model import count_parameters

    config = ckpt.config()
    info = run.read() if run is not None else {}
    if tokenizer_dir is None:
        tokenizer_dir = (project.tokenizer_dir if project is not None else ckpt.path.parents[3] / "tokenizer")
    if val_loss is None and run is not None:
        val_loss = _eval_loss_at(run.metrics_file, ckpt.step)
    parameters = count_parameters(config)
    run_id = run.run_id if run is not None else ckpt.path.parents[1].name
    val = f", val {val_loss:.2f}" if val_loss is not None else ""
    return BaseModel(spec=spec, path=ckpt.path, family=config.family, parameters=parameters,
                     description=f"run {run_id}, step {ckpt.step}, {_size(parameters)} parameters{val}",
                     tokenizer_dir=tokenizer_dir, kind="checkpoint", run_id=run_id, step=ckpt.step,
                     tokenizer_sha256=info.get("data", {}).get("tokenizer_sha256"), val_loss=val_loss,
                     n_layer=config.n_layer, context_length=config.context_length)


def _model_base(folder: Path, spec: str) -> BaseModel:
    from gpt_studio.engine.atomic import read_json
    from gpt_studio.engine.model import ModelConfig, count_parameters

    try:
        meta = read_json(folder / FINETUNE_FILE)
        config = ModelConfig.from_dict(read_json(folder / CONFIG_FILE))
    except (OSError, ValueError) as exc:
        raise StudioError(f"{folder} is not a readable fine-tuned model ({exc}); choose another.") from exc
    parameters = count_parameters(config)
    metric = meta.get("metrics", {}).get("best_val_metric")
    what = f", val {meta.get('metrics', {}).get('metric_name', 'metric')} {metric:.3f}" if metric is not None else ""
    return BaseModel(spec=spec, path=folder, family=config.family, parameters=parameters,
                     description=f"model {folder.name} ({TASK_TITLES.get(meta.get('task'), meta.get('task'))}), "
                                 f"{_size(parameters)} parameters{what}",
                     tokenizer_dir=folder, kind="model", run_id=meta.get("base", {}).get("run_id"),
                     tokenizer_sha256=meta.get("tokenizer_sha256"), n_layer=config.n_layer,
                     context_length=config.context_length)


def is_imported_model(folder: Path) -> bool:
    """A models/ folder written by ``import-model``: ``source.json`` beside its weights, and no ``finetune.json``."""
    return ((folder / SOURCE_FILE).is_file() and (folder / CONFIG_FILE).is_file() and (folder / WEIGHTS_FILE).is_file()
            and not (folder / FINETUNE_FILE).is_file())


def _imported_base(folder: Path, spec: str) -> BaseModel:
    """A Hugging Face model imported into the project: its own tokenizer lies beside its weights."""
    from gpt_studio.engine.atomic import read_json
    from gpt_studio.engine.model import ModelConfig, count_parameters

    try:
        source = read_json(folder / SOURCE_FILE)
        config = ModelConfig.from_dict(read_json(folder / CONFIG_FILE))
    except (OSError, ValueError, TypeError) as exc:
        raise StudioError(f"{folder} is not a readable imported model ({exc}); import it again with "
                          "`gpt-studio import-model`.") from exc
    if not isinstance(source, dict):
        raise StudioError(f"{folder / SOURCE_FILE} is not a JSON object; import the model again with "
                          "`gpt-studio import-model`.")
    parameters = count_parameters(config)
    architecture = ", ".join(map(str, source.get("architectures") or [])) or "no architecture listed"
    missing = "; no masked-LM head" if any("masked-LM" in str(m) for m in source.get("missing") or []) else ""
    return BaseModel(spec=spec, path=folder, family=config.family, parameters=parameters,
                     description=f"imported {source.get('model_type', '?')} {folder.name} ({architecture}), "
                                 f"{_size(parameters)} parameters{missing}",
                     tokenizer_dir=folder, kind="imported", n_layer=config.n_layer,
                     context_length=config.context_length)


def _saved_base(folder: Path, spec: str) -> BaseModel | None:
    """The base a models/ folder offers: a fine-tuned model or an imported one (None for anything else)."""
    if (folder / FINETUNE_FILE).is_file():
        return _model_base(folder, spec)
    if is_imported_model(folder):
        return _imported_base(folder, spec)
    return None


def list_bases(project: Project) -> list[BaseModel]:
    """Every run checkpoint (latest and best of each run), saved and imported model of the project, newest first."""
    from gpt_studio.engine.checkpoint import list_checkpoints
    from gpt_studio.engine.runs import list_runs

    found: list[tuple[float, BaseModel]] = []
    for run in list_runs(project):
        checkpoints = list_checkpoints(run.checkpoints_dir)
        if not checkpoints:
            continue
        latest = checkpoints[-1]
        try:
            found.append((latest.path.stat().st_mtime, _checkpoint_base(project, run, latest, run.run_id)))
            best_step = latest.state().get("best_step", -1)
            best = next((c for c in checkpoints if c.step == best_step and c.step != latest.step), None)
            if best is not None:
                base = _checkpoint_base(project, run, best, f"{run.run_id}@{best.step}",
                                        val_loss=latest.state().get("best_val_loss"))
                base.description += " (best)"
                found.append((best.path.stat().st_mtime, base))
        except (StudioError, OSError, ValueError, KeyError):
            continue  # a damaged run is not offered
    if project.models_dir.is_dir():
        for folder in project.models_dir.iterdir():
            if folder.name.startswith(".") or not folder.is_dir():
                continue
            try:
                base = _saved_base(folder, folder.name)
                if base is not None:
                    marker = FINETUNE_FILE if base.kind == "model" else SOURCE_FILE
                    found.append(((folder / marker).stat().st_mtime, base))
            except (StudioError, OSError):
                continue  # a damaged folder is not offered
    return [base for _, base in sorted(found, key=lambda pair: pair[0], reverse=True)]


def resolve_base(project: Project | None, spec: str) -> BaseModel:
    """A run id (its latest checkpoint), ``RUN_ID@STEP``, a saved or imported model's name, or a folder path."""
    from gpt_studio.engine import checkpoint as ckpt_io
    from gpt_studio.engine.runs import RunDir, find_run

    folder = Path(spec).expanduser()
    if folder.is_dir():
        folder = folder.resolve()
        saved = _saved_base(folder, spec)
        if saved is not None:
            return saved
        if (folder / ckpt_io.MANIFEST_FILE).is_file():
            match = re.match(r"^step-(\d+)$", folder.name)
            ckpt = ckpt_io.Checkpoint(folder, int(match.group(1)) if match else -1)
            run_root = folder.parents[1]
            run = RunDir(run_root) if (run_root / "run.json").is_file() else None
            return _checkpoint_base(None, run, ckpt, spec, tokenizer_dir=folder.parents[3] / "tokenizer")
        if (folder / "run.json").is_file():
            run = RunDir(folder)
            return _checkpoint_base(None, run, ckpt_io.find_checkpoint(run.checkpoints_dir, None), spec,
                                    tokenizer_dir=folder.parents[1] / "tokenizer")
        raise StudioError(f"{folder} is neither a fine-tuned model (no {FINETUNE_FILE}), an imported model (no "
                          f"{SOURCE_FILE}), a checkpoint nor a run folder.")
    if project is None:
        raise StudioError(f"{spec!r} is not a folder; give the project (--project) to find a run or a model by name.")
    if (project.models_dir / spec).is_dir():
        saved = _saved_base(project.models_dir / spec, spec)
        if saved is not None:
            return saved
    run_id, at, step_text = spec.partition("@")
    step = None
    if at:
        try:
            step = int(step_text)
        except ValueError:
            raise StudioError(f"{spec!r}: the step after @ must be a number (RUN_ID@STEP).") from None
    try:
        run = find_run(project, run_id)
    except StudioError as exc:
        models = sorted(p.name for p in project.models_dir.glob("*")
                        if (p / FINETUNE_FILE).is_file() or is_imported_model(p))
        extra = f" Saved models: {', '.join(models[-5:])}." if models else ""
        raise StudioError(f"{exc} No saved model is called {spec!r} either.{extra}") from None
    return _checkpoint_base(project, run, ckpt_io.find_checkpoint(run.checkpoints_dir, step), spec)


def _body_state(weights: dict[str, Any], path: Path) -> dict[str, Any]:
    """The Transformer's tensors of a saved model's weights, under the Transformer's own names.

    A fine-tuned model keeps its body under ``body.`` beside its head (the head is dropped); an imported one
    stores the Transformer's names without a prefix. The token embedding tells which.
    """
    prefix = "body." if "body.wte.weight" in weights else "" if "wte.weight" in weights else None
    if prefix is None:
        raise StudioError(f"{path} holds no Transformer weights (no token embedding 'wte.weight' or "
                          "'body.wte.weight'); the model folder is damaged, or not a GPT Studio model.")
    return {k[len(prefix):]: v for k, v in weights.items() if k.startswith(prefix)}


def _check_body(state: dict[str, Any], config: Any, path: Path) -> None:
    """Refuse weights that lack a body tensor the config implies (fine-tuning would start it fresh, silently).

    Only the masked-LM head may be absent (an imported ``BertModel`` has none): it then starts from its init.
    """
    import torch

    from gpt_studio.engine.loading import MASKED_LM_KEYS
    from gpt_studio.engine.model import Transformer

    with torch.device("meta"):
        expected = Transformer(config).state_dict()
    missing = [k for k in expected if k not in state and not k.startswith(MASKED_LM_KEYS)]
    if missing:
        raise StudioError(f"{path} lacks {len(missing)} weight(s) its {CONFIG_FILE} implies "
                          f"({', '.join(missing[:4])}); the model folder is damaged: save or import it again.")


def _load_base(base: BaseModel) -> tuple[Any, dict[str, Any], Any]:
    """(ModelConfig, body state dict, tokenizer) of a base, after checking the tokenizer is the one it used.

    The tokenizer is whatever the base's folder keeps (:func:`load_tokenizer`): the project's SentencePiece one
    for checkpoints, an imported model's Hugging Face one, or the copy a fine-tuned model saved.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from gpt_studio.engine import checkpoint as ckpt_io
    from gpt_studio.engine.model import ModelConfig

    tokenizer = load_tokenizer(base.tokenizer_dir)
    if base.tokenizer_sha256 and tokenizer.checksum != base.tokenizer_sha256:
        raise StudioError(f"The base {base.spec} was trained with another tokenizer than the one in "
                          f"{base.tokenizer_dir} (it was retrained since); fine-tune a model of the current tokenizer.")
    if base.kind in ("model", "imported"):
        from gpt_studio.engine.atomic import read_json

        try:
            config = ModelConfig.from_dict(read_json(base.path / CONFIG_FILE))
        except (OSError, ValueError, TypeError) as exc:
            raise StudioError(f"{base.path / CONFIG_FILE} is not a readable model configuration ({exc}).") from exc
        path = base.path / WEIGHTS_FILE
        try:
            weights = load_file(str(path))
        except (SafetensorError, OSError) as exc:
            raise StudioError(f"{path} cannot be read ({exc}).") from exc
        state = _body_state(weights, path)
        _check_body(state, config, path)
    else:
        model, _ = ckpt_io.load_model_from_checkpoint(base.path)
        config, state = model.config, model.state_dict()
    if config.vocab_size != tokenizer.vocab_size:
        raise StudioError(f"The base {base.spec} has a vocabulary of {config.vocab_size} but its tokenizer has "
                          f"{tokenizer.vocab_size}; it belongs to another tokenizer.")
    return config, state, tokenizer


def sequence_preview(base: BaseModel, data: TaskData, index: int = 0, max_length: int | None = None,
                     ) -> list[list[tuple[int, str]]]:
    """The token sequence(s) the model will see for one example, specials included, after truncation.

    One list of (id, piece) per sequence: two for similarity, one per answer for multiple choice.
    """
    from gpt_studio.engine.atomic import read_json
    from gpt_studio.engine.finetune_model import encode_examples
    from gpt_studio.engine.model import ModelConfig

    if not 0 <= index < len(data.examples):
        raise StudioError(f"Example {index} does not exist; the data has {len(data.examples)}.")
    tokenizer = load_tokenizer(base.tokenizer_dir)
    config = ModelConfig.from_dict(read_json(base.path / CONFIG_FILE))
    length = min(max_length or config.context_length, config.context_length)
    encoded = encode_examples(tokenizer, config.causal, data.task, [data.examples[index]], length)[0]
    return [[(i, tokenizer.id_to_piece(i)) for i in seq] for seq in encoded.seqs]


# -------------------------------------------------------------------------------------------- inference

def _infer(model: Any, encoded: list[Any], pad_id: int, device: Any, autocast: Any, regression: bool,
           target_mean: float, target_std: float) -> tuple[Any, float | None]:
    """(outputs, mean L2 loss or None): class/answer probabilities (n, K), or scores on their own scale (n,)."""
    import numpy as np
    import torch

    from gpt_studio.engine.finetune_model import collate, task_loss, to_device

    causal = model.body.config.causal
    was_training = model.training
    model.eval()
    outputs, loss_sum, labelled = [], 0.0, True
    try:
        with torch.no_grad():
            for start in range(0, len(encoded), EVAL_BATCH_SIZE):
                items = encoded[start:start + EVAL_BATCH_SIZE]
                batch = to_device(collate(items, pad_id, causal), device)
                with autocast:
                    scores, _ = model(batch)
                scores = scores.float()
                if ("targets" if regression else "labels") in batch:
                    loss_sum += float(task_loss(scores, batch, regression, target_mean, target_std)) * len(items)
                else:
                    labelled = False
                if regression:
                    outputs.append((scores * target_std + target_mean).double().cpu().numpy())
                else:
                    outputs.append(torch.softmax(scores.double(), dim=-1).cpu().numpy())
    finally:
        model.train(was_training)
    if not outputs:
        return np.zeros((0,)), None
    return np.concatenate(outputs), (loss_sum / len(encoded) if labelled else None)


def _metrics(outputs: Any, data_examples: list[Any], labels: list[str], regression: bool) -> dict[str, Any]:
    from gpt_studio.engine.finetune_metrics import classification_metrics, regression_metrics

    if regression:
        return regression_metrics([e.target for e in data_examples], outputs)
    return classification_metrics([e.label for e in data_examples], outputs.argmax(axis=1), labels)


def _event_metrics(metrics: dict[str, Any], regression: bool) -> dict[str, float]:
    keys = ("pearson", "spearman", "mse") if regression else ("accuracy", "macro_f1")
    return {k: float(metrics[k]) for k in keys}


def _text_columns(task: str, answers: int) -> list[str]:
    if task == "classification":
        return ["text"]
    if task == "multiple-choice":
        return ["context"] + [f"answer_{k + 1}" for k in range(answers)]
    return ["text", "text_pair"]


def _write_predictions(path: Path, task: str, examples: list[Any], labels: list[str], outputs: Any,
                       regression: bool) -> None:
    """A CSV: row, the texts, the true label (if any), the prediction and one probability column per label."""
    from gpt_studio.engine.atomic import atomic_open

    answers = max((len(e.texts) - 1 for e in examples), default=0)
    text_cols = _text_columns(task, answers)
    with atomic_open(path, "w") as handle:
        writer = csv.writer(handle)
        if regression:
            writer.writerow(["row", *text_cols, "score", "predicted_score"])
        else:
            writer.writerow(["row", *text_cols, "label", "predicted", *(f"p_{name}" for name in labels)])
        for example, out in zip(examples, outputs):
            texts = list(example.texts) + [""] * (len(text_cols) - len(example.texts))
            if regression:
                writer.writerow([example.row, *texts, "" if example.target is None else repr(example.target),
                                 repr(float(out))])
            else:
                true = "" if example.label is None else labels[example.label]
                writer.writerow([example.row, *texts, true, labels[int(out.argmax())],
                                 *(repr(float(p)) for p in out[:len(labels)])])


# --------------------------------------------------------------------------------------------- training

class _NonFiniteLoss(Exception):
    def __init__(self, value: float) -> None:
        super().__init__(str(value))
        self.value = value


def _default_name(task: str, base: BaseModel) -> str:
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    source = base.run_id or Path(base.spec).name
    if base.kind in ("model", "imported"):
        source = base.path.name
    return f"{task}-{source}-{stamp}"


class _Finetuner:
    """One fine-tuning run, from a base and validated data to the best model (saved or not)."""

    def __init__(self, project: Project | None, base: str | BaseModel, train_data: TaskData, config: FinetuneConfig,
                 eval_data: TaskData | None, listeners: list[Callable[[Any], None]] | None, control: Any) -> None:
        from gpt_studio.engine.trainer import TrainControl

        config.validate()
        if train_data.task != config.task:
            raise StudioError(f"The data was loaded for {train_data.task} but the settings say {config.task}; "
                              "load it again for this task.")
        if train_data.regression != config.regression:
            raise StudioError("The data and the settings disagree on regression; load the data with "
                              f"regression={config.regression}.")
        if eval_data is not None:
            if eval_data.task != train_data.task or eval_data.regression != train_data.regression:
                raise StudioError(f"The evaluation file {eval_data.path} was loaded for another task.")
            if config.task != "multiple-choice" and eval_data.labels != train_data.labels:
                raise StudioError(f"The evaluation file {eval_data.path} has the labels {eval_data.labels}, not the "
                                  f"training file's {train_data.labels}; load it with labels=the training labels.")
        self.project, self.config = project, config
        self.base = base if isinstance(base, BaseModel) else resolve_base(project, base)
        self.listeners = list(listeners or [])
        self.control = control if control is not None else TrainControl()
        self.train_data, self.eval_data = train_data, eval_data

    # ---------------------------------------------------------------------------------------- helpers
    def _emit(self, event: Any) -> None:
        for listener in self.listeners:
            listener(event)

    def _record(self, event: Any) -> None:
        from gpt_studio.engine.trainer_config import event_record

        if self.writer is not None:
            self.writer.write(event_record(event))

    def _setup(self) -> None:
        import numpy as np
        import torch

        from gpt_studio.engine import devices
        from gpt_studio.engine.finetune_model import build_model, encode_examples

        cfg = self.config
        self.device = devices.resolve_device(cfg.device)
        devices.check_precision(self.device, cfg.precision)
        if cfg.threads:
            torch.set_num_threads(cfg.threads)
        if self.device.type == "cpu":
            devices.keep_freed_memory()
        self.model_config, state, self.tokenizer = _load_base(self.base)
        if self.eval_data is None:
            self.train_split, self.val_split = stratified_split(self.train_data, cfg.val_fraction, cfg.seed)
        else:
            self.train_split, self.val_split = self.train_data, self.eval_data
        if not self.val_split.labelled:
            raise StudioError(f"The evaluation file {self.val_split.path} has rows without labels; every row needs "
                              "one to measure the model.")
        self.labels = list(self.train_split.labels)
        if cfg.task == "multiple-choice":
            outputs = 1
            most = max(len(e.texts) - 1 for e in self.val_split.examples)
            self.labels = [f"answer {k + 1}" for k in range(max(len(self.labels), most))]
        else:
            outputs = 1 if cfg.regression else len(self.labels)
        self.regression = cfg.regression
        targets = np.array([e.target for e in self.train_split.examples], dtype=np.float64) if cfg.regression else None
        self.target_mean = float(targets.mean()) if targets is not None else 0.0
        self.target_std = float(max(targets.std(), 1e-6)) if targets is not None else 1.0
        self.max_length = min(cfg.max_length or self.model_config.context_length, self.model_config.context_length)
        self.train_enc = encode_examples(self.tokenizer, self.model_config.causal, cfg.task,
                                         self.train_split.examples, self.max_length)
        self.val_enc = encode_examples(self.tokenizer, self.model_config.causal, cfg.task,
                                       self.val_split.examples, self.max_length)
        self.model = build_model(self.model_config, state, cfg.task, outputs,
                                 layers_transferred=cfg.layers_transferred,
                                 transfer_embeddings=cfg.transfer_embeddings, head_dropout=cfg.head_dropout,
                                 regression=cfg.regression, seed=cfg.seed).to(self.device)
        if cfg.freeze_body:
            self.model.freeze_body()
        self.model.train()
        self.aux_weight = 0.0 if cfg.freeze_body else cfg.aux_lm_weight  # a frozen body has nothing to learn from L1
        self.autocast = devices.autocast_context(self.device, cfg.precision)

    def _optimizer(self) -> Any:
        import torch

        from gpt_studio.engine import devices
        from gpt_studio.engine.trainer import parameter_groups

        fused = self.device.type == "cuda" or (self.device.type == "cpu" and devices.cpu_fused_adamw())
        return torch.optim.AdamW(parameter_groups(self.model, self.config.weight_decay), lr=self.config.lr,
                                 fused=fused)

    # ------------------------------------------------------------------------------------- evaluation
    def _evaluate(self, step: int, epoch: float) -> tuple[FinetuneEvalEvent, dict[str, Any], Any]:
        outputs, loss = _infer(self.model, self.val_enc, self.tokenizer.pad_id, self.device, self.autocast,
                               self.regression, self.target_mean, self.target_std)
        metrics = _metrics(outputs, self.val_split.examples, self.labels, self.regression)
        event = FinetuneEvalEvent(step, round(epoch, 6), float(loss if loss is not None else math.nan),
                                  _event_metrics(metrics, self.regression))
        self._record(event)
        self._emit(event)
        return event, metrics, outputs

    # -------------------------------------------------------------------------------------------- run
    def run(self, *, name: str | None = None, save: bool = True) -> FinetuneResult:
        """Train, evaluate, keep the best; save it when ``save`` (compare/sweep runs only measure)."""
        from gpt_studio.engine.atomic import temp_dir_beside
        from gpt_studio.engine.runs import JsonlWriter

        started = time.perf_counter()
        cfg = self.config
        self.writer: JsonlWriter | None = None
        final = staging = None
        if save:
            if self.project is None:
                raise StudioError("Saving a fine-tuned model needs a project.")
            name = name or _default_name(cfg.task, self.base)
            if not _NAME.match(name):
                raise StudioError(f"Model name {name!r} is not usable as a folder name; use letters, digits, "
                                  "'.', '-', '_' (starting with a letter or digit).")
            final = self.project.models_dir / name
            if final.exists():
                raise StudioError(f"A model named {name} already exists in {self.project.models_dir}; choose another "
                                  "name or delete it.")
        self._setup()
        if save:
            staging = temp_dir_beside(final)
            self.writer = JsonlWriter(staging / METRICS_FILE)
        try:
            return self._train(started, final, staging)
        except BaseException:
            if self.writer is not None:
                self.writer.close()
            if staging is not None:
                shutil.rmtree(staging, ignore_errors=True)
            raise

    def _train(self, started: float, final: Path | None, staging: Path | None) -> FinetuneResult:
        import numpy as np
        import torch

        from gpt_studio.engine.finetune_model import aux_lm_loss, collate, lm_batch, task_loss, to_device
        from gpt_studio.engine.trainer_config import EndEvent, Schedule, StepEvent, TrainConfig

        cfg = self.config
        n_train = len(self.train_enc)
        steps_per_epoch = math.ceil(n_train / cfg.batch_size)
        total_steps = steps_per_epoch * cfg.epochs
        warmup = int(round(cfg.warmup_fraction * total_steps))
        schedule = Schedule.from_config(TrainConfig(lr=cfg.lr, min_lr=0.0, warmup_steps=warmup, schedule="linear",
                                                    max_steps=total_steps))
        optimizer = self._optimizer()
        scaler = torch.amp.GradScaler(self.device.type, enabled=cfg.precision == "fp16")
        order_rng = np.random.Generator(np.random.PCG64(cfg.seed))
        mask_generator = torch.Generator().manual_seed(cfg.seed * 7919 + 1)
        pad_id, causal = self.tokenizer.pad_id, self.model_config.causal
        need_lm = self.aux_weight > 0
        step = tokens_seen = 0
        best: dict[str, Any] | None = None
        stale = 0
        reason = "completed"
        last_eval_step = -1
        trainable = [p for p in self.model.parameters() if p.requires_grad]

        def evaluate_and_track() -> bool:
            """Evaluate; remember the best; True when early stopping says to stop."""
            nonlocal best, stale, last_eval_step
            event, metrics, outputs = self._evaluate(step, step / steps_per_epoch)
            last_eval_step = step
            key = "pearson" if self.regression else "accuracy"
            value = metrics[key]
            better = best is None or value > best["value"] + 1e-12 or (
                abs(value - best["value"]) <= 1e-12 and event.val_loss < best["event"].val_loss)
            if better:
                best = {"value": value, "step": step, "event": event, "metrics": metrics, "outputs": outputs,
                        "state": {k: v.detach().to("cpu", copy=True) for k, v in self.model.state_dict().items()}}
                stale = 0
            else:
                stale += 1
            return cfg.early_stopping_patience > 0 and stale >= cfg.early_stopping_patience

        try:
            stop = False
            for _epoch in range(cfg.epochs):
                order = order_rng.permutation(n_train)
                for b in range(steps_per_epoch):
                    if self.control.paused:
                        self.control.wait_if_paused()
                    if self.control.stop_requested:
                        reason, stop = "stopped", True
                        break
                    t0 = time.perf_counter()
                    items = [self.train_enc[i] for i in order[b * cfg.batch_size:(b + 1) * cfg.batch_size]]
                    batch = collate(items, pad_id, causal)
                    if need_lm and not causal:
                        batch = lm_batch(batch, self.tokenizer, self.model_config.vocab_size, mask_generator)
                    batch = to_device(batch, self.device)
                    lr = schedule.lr_at(step)
                    for group in optimizer.param_groups:
                        group["lr"] = lr
                    with self.autocast:
                        scores, hidden = self.model(batch)
                        loss = task_loss(scores, batch, self.regression, self.target_mean, self.target_std)
                        if need_lm:
                            loss = loss + self.aux_weight * aux_lm_loss(self.model, batch, hidden)
                    value = float(loss.detach())
                    if not math.isfinite(value):
                        optimizer.zero_grad(set_to_none=True)
                        raise _NonFiniteLoss(value)
                    scaler.scale(loss).backward()
                    scaler.unscale_(optimizer)
                    norm = torch.nn.utils.clip_grad_norm_(trainable, cfg.grad_clip if cfg.grad_clip > 0 else 1e30)
                    scaler.step(optimizer)
                    scaler.update()
                    optimizer.zero_grad(set_to_none=True)
                    dt = time.perf_counter() - t0
                    step += 1
                    tokens_seen += batch["tokens"]
                    event = StepEvent(step, value, lr, float(norm), tokens_seen, batch["tokens"] / max(dt, 1e-9),
                                      time.perf_counter() - started)
                    self._record(event)
                    self._emit(event)
                    at_epoch_end = b == steps_per_epoch - 1
                    if cfg.eval_interval and step % cfg.eval_interval == 0 and not at_epoch_end:
                        if evaluate_and_track():
                            reason, stop = "early_stopped", True
                            break
                if stop:
                    break
                if evaluate_and_track():
                    reason = "early_stopped"
                    break
            if last_eval_step != step or best is None:
                evaluate_and_track()  # a stop mid-epoch still measures what it has
        except _NonFiniteLoss as exc:
            message = (f"The loss became {exc.value} at step {step + 1} of fine-tuning; training stopped. Try a lower "
                       f"learning rate (e.g. {cfg.lr / 2:g}), tighter clipping, or fp32 instead of fp16.")
            return self._fail("nan", message, step, steps_per_epoch, best, started, final, staging)
        except (torch.cuda.OutOfMemoryError, RuntimeError) as exc:
            text = str(exc).lower()
            if "out of memory" not in text and "can't allocate memory" not in text:
                raise
            message = (f"Out of memory on {self.device} at batch size {cfg.batch_size}. Try batch size "
                       f"{max(1, cfg.batch_size // 2)}, a shorter maximum length, freezing the body, or bf16.")
            return self._fail("oom", message, step, steps_per_epoch, best, started, final, staging)
        assert best is not None
        result = self._result(best, reason, step, steps_per_epoch, started, final)
        if final is not None and staging is not None:
            self._save(best, result, final, staging, EndEvent(step, reason, result.to_dict()))
        result.wall_seconds = time.perf_counter() - started
        self._emit(EndEvent(step, reason, result.to_dict()))
        return result

    def _result(self, best: dict[str, Any], reason: str, step: int, steps_per_epoch: int, started: float,
                final: Path | None) -> FinetuneResult:
        metrics = best["metrics"]
        regression = self.regression
        truncated = sum(e.truncated for e in self.train_enc) + sum(e.truncated for e in self.val_enc)
        skipped = len(self.train_split.skipped) + (len(self.eval_data.skipped) if self.eval_data else 0)
        return FinetuneResult(
            model_path=final, task=self.config.task, epochs=round(step / steps_per_epoch, 4), steps=step,  # type: ignore[arg-type]
            best_step=best["step"], best_val_metric=float(best["value"]),
            val_accuracy=None if regression else metrics["accuracy"],
            val_macro_f1=None if regression else metrics["macro_f1"],
            val_pearson=metrics["pearson"] if regression else None,
            val_spearman=metrics["spearman"] if regression else None,
            per_class={} if regression else metrics["per_class"],
            confusion=[] if regression else metrics["confusion"], labels=list(self.labels), truncated=truncated,
            train_examples=len(self.train_enc), val_examples=len(self.val_enc), reason=reason,
            wall_seconds=time.perf_counter() - started, val_loss=best["event"].val_loss,
            val_mse=metrics["mse"] if regression else None, metric_name="pearson" if regression else "accuracy",
            base=self.base.spec, skipped_rows=skipped)

    def _fail(self, reason: str, message: str, step: int, steps_per_epoch: int, best: dict[str, Any] | None,
              started: float, final: Path | None, staging: Path | None) -> FinetuneResult:
        from gpt_studio.engine.trainer_config import EndEvent, ErrorEvent

        error = ErrorEvent(step, reason, message)
        self._record(error)
        self._emit(error)
        details: dict[str, Any] = {"reason": reason, "steps": step}
        summary: dict[str, Any] = {"error": message, "steps": step}
        if best is not None and final is not None and staging is not None:
            result = self._result(best, "error", step, steps_per_epoch, started, final)
            self._save(best, result, final, staging, EndEvent(step, "error", {**result.to_dict(), "error": message}))
            message += f" The best model so far (step {best['step']}) was saved to {final}."
            details["model_path"] = str(final)
            summary = {**result.to_dict(), "error": message}
        elif staging is not None:
            message += " Nothing was saved."
        self._emit(EndEvent(step, "error", summary))
        raise StudioError(message, details=details)

    def _save(self, best: dict[str, Any], result: FinetuneResult, final: Path, staging: Path, end: Any) -> None:
        """Write the folder in ``staging`` (metrics.jsonl is already there) and rename it into place."""
        from safetensors.torch import save_file

        from gpt_studio.engine.atomic import _fsync_dir, fsync_file, write_json
        from gpt_studio.engine.runs import library_versions

        state = {k: v.contiguous() for k, v in best["state"].items()}
        save_file(state, str(staging / WEIGHTS_FILE), metadata={"format": "gpt-studio-finetune"})
        fsync_file(staging / WEIGHTS_FILE)
        write_json(staging / CONFIG_FILE, self.model_config.to_dict())
        self._save_tokenizer(staging)
        _write_predictions(staging / PREDICTIONS_FILE, self.config.task, self.val_split.examples, self.labels,
                           best["outputs"], self.regression)
        base = self.base
        write_json(staging / FINETUNE_FILE, {
            "format_version": FORMAT_VERSION, "name": final.name, "task": self.config.task,
            "labels": self.labels, "regression": self.regression, "columns": self.train_data.columns.to_dict(),
            "num_outputs": self.model.head.out_features, "max_length": self.max_length,
            "target_mean": self.target_mean, "target_std": self.target_std,
            "base": {"spec": base.spec, "path": str(base.path), "kind": base.kind, "family": base.family,
                     "run_id": base.run_id, "step": base.step, "parameters": base.parameters},
            "config": self.config.to_dict(), "metrics": result.to_dict(),
            "data": {"train": str(self.train_data.path), "eval": str(self.eval_data.path) if self.eval_data else None,
                     "train_examples": result.train_examples, "val_examples": result.val_examples},
            "tokenizer_sha256": self.tokenizer.checksum,
            "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "versions": library_versions(),
        })
        assert self.writer is not None
        self._record(end)
        self.writer.close()
        self.writer = None
        os.replace(staging, final)
        _fsync_dir(final.parent)


    def _save_tokenizer(self, staging: Path) -> None:
        """Put the tokenizer the model was trained with into the folder, so the folder works on its own.

        A Hugging Face tokenizer writes its ``tokenizer.json`` and ``tokenizer_roles.json`` (the role ids, the
        added ``<|cls|>``/``<|sep|>``), so reloading never re-derives them; a SentencePiece one is copied as is.
        """
        from gpt_studio.engine.atomic import fsync_file

        if isinstance(self.tokenizer, HFTokenizer):
            self.tokenizer.save(staging)
            return
        source = Path(getattr(self.tokenizer, "folder", self.base.tokenizer_dir))
        if not (source / TOKENIZER_FILES[0]).is_file():
            raise StudioError(f"{source / TOKENIZER_FILES[0]} is missing, so the fine-tuned model cannot keep a copy "
                              "of its tokenizer; restore or retrain the tokenizer and fine-tune again.")
        for name in TOKENIZER_FILES:  # tokenizer.json is absent only where the base kept a bare tokenizer.model
            if (source / name).is_file():
                shutil.copyfile(source / name, staging / name)
                fsync_file(staging / name)


def finetune(project: Project, base: str | BaseModel, train_data: TaskData, config: FinetuneConfig, *,
             eval_data: TaskData | None = None, name: str | None = None,
             listeners: list[Callable[[Any], None]] | None = None, control: Any = None) -> FinetuneResult:
    """Train a head on ``train_data``, keep the best evaluation, and save it under ``PROJECT/models/<name>/``.

    A stratified validation set is split off ``train_data`` when ``eval_data`` is None.
    """
    return _Finetuner(project, base, train_data, config, eval_data, listeners, control).run(name=name, save=True)


# ----------------------------------------------------------------------------------- saved models in use

@dataclass
class _Loaded:
    folder: Path
    meta: dict[str, Any]
    model: Any
    tokenizer: Any
    device: Any


def _load_finetuned(model_path: str | Path, device: str = "auto") -> _Loaded:
    from safetensors import SafetensorError
    from safetensors.torch import load_model

    from gpt_studio.engine import devices
    from gpt_studio.engine.atomic import read_json
    from gpt_studio.engine.finetune_model import FinetuneModel
    from gpt_studio.engine.model import ModelConfig

    folder = Path(model_path).expanduser()
    if not (folder / FINETUNE_FILE).is_file():
        raise StudioError(f"{folder} is not a fine-tuned model folder (no {FINETUNE_FILE}).")
    try:
        meta = read_json(folder / FINETUNE_FILE)
        config = ModelConfig.from_dict(read_json(folder / CONFIG_FILE))
    except (OSError, ValueError) as exc:
        raise StudioError(f"{folder}: {exc}; the model folder is damaged.") from exc
    if meta.get("format_version", 0) > FORMAT_VERSION:
        raise StudioError(f"{folder} was written by a newer GPT Studio; upgrade to use it.")
    tokenizer = load_tokenizer(folder)  # SentencePiece copies, or a Hugging Face tokenizer.json + roles
    if tokenizer.checksum != meta.get("tokenizer_sha256"):
        files = "tokenizer.json / tokenizer_roles.json" if isinstance(tokenizer, HFTokenizer) else "tokenizer.model"
        raise StudioError(f"{folder}: {files} does not match the tokenizer the model was trained with "
                          f"(tokenizer_sha256 in {FINETUNE_FILE}); restore the folder's own tokenizer files.")
    model = FinetuneModel(config, meta["task"], meta["num_outputs"], meta["config"].get("head_dropout", 0.1),
                          meta["regression"])
    try:
        load_model(model, str(folder / WEIGHTS_FILE), strict=True)
    except (SafetensorError, RuntimeError, OSError) as exc:
        raise StudioError(f"{folder / WEIGHTS_FILE} cannot be read ({exc}); the model folder is damaged.") from exc
    resolved = devices.resolve_device(device)
    return _Loaded(folder, meta, model.to(resolved).eval(), tokenizer, resolved)


def _score(loaded: _Loaded, data: TaskData) -> tuple[Any, float | None, int]:
    from contextlib import nullcontext

    from gpt_studio.engine.finetune_model import encode_examples

    meta = loaded.meta
    encoded = encode_examples(loaded.tokenizer, loaded.model.body.config.causal, meta["task"], data.examples,
                              meta["max_length"])
    outputs, loss = _infer(loaded.model, encoded, loaded.tokenizer.pad_id, loaded.device, nullcontext(),
                           meta["regression"], meta["target_mean"], meta["target_std"])
    return outputs, loss, sum(e.truncated for e in encoded)


def _metrics_dict(metrics: dict[str, Any], regression: bool, loss: float | None, labels: list[str],
                  examples: int, truncated: int) -> dict[str, Any]:
    return {"val_accuracy": None if regression else metrics["accuracy"],
            "val_macro_f1": None if regression else metrics["macro_f1"],
            "val_pearson": metrics["pearson"] if regression else None,
            "val_spearman": metrics["spearman"] if regression else None,
            "val_mse": metrics["mse"] if regression else None,
            "per_class": {} if regression else metrics["per_class"],
            "confusion": [] if regression else metrics["confusion"],
            "labels": labels, "val_loss": loss, "val_examples": examples, "truncated": truncated}


def evaluate_model(model_path: str | Path, data: TaskData) -> dict[str, Any]:
    """Metrics of a saved fine-tuned model on labelled data (same keys as FinetuneResult)."""
    loaded = _load_finetuned(model_path)
    meta = loaded.meta
    if data.task != meta["task"] or data.regression != meta["regression"]:
        raise StudioError(f"The model was trained for {meta['task']}"
                          f"{' (regression)' if meta['regression'] else ''}; the data was loaded for {data.task}.")
    if meta["task"] != "multiple-choice" and not meta["regression"] and data.labels != meta["labels"]:
        raise StudioError(f"The data's labels {data.labels} are not the model's {meta['labels']}; load it with "
                          "labels=the model's labels.")
    if not data.labelled:
        raise StudioError(f"{data.path} has rows without labels; evaluation needs a label in every row.")
    outputs, loss, truncated = _score(loaded, data)
    labels = data.labels if meta["task"] == "multiple-choice" else meta["labels"]
    metrics = _metrics(outputs, data.examples, labels, meta["regression"])
    return _metrics_dict(metrics, meta["regression"], loss, labels, len(data.examples), truncated)


def predict(model_path: str | Path, data_path: str | Path, columns: ColumnMap | None = None,
            out_path: str | Path | None = None) -> dict[str, Any]:
    """Predictions for every row of a file (labels optional: with them, metrics too).

    Writes a CSV with one probability column per label when ``out_path`` is given (the predictions are then
    left out of the returned dict). Columns default to those the model was trained on.
    """
    loaded = _load_finetuned(model_path)
    meta = loaded.meta
    columns = columns or ColumnMap.from_dict(meta["columns"])
    fixed = None if meta["task"] == "multiple-choice" or meta["regression"] else meta["labels"]
    data = load_task_data(data_path, meta["task"], columns, regression=meta["regression"], labels=fixed,
                          require_labels=False)
    outputs, loss, truncated = _score(loaded, data)
    labels = meta["labels"]
    if meta["task"] == "multiple-choice":
        most = max(len(e.texts) - 1 for e in data.examples)
        labels = [f"answer {k + 1}" for k in range(max(most, len(labels)))]
        if outputs.shape[1] < len(labels):  # pad so every row has a probability per answer column
            import numpy as np

            outputs = np.pad(outputs, ((0, 0), (0, len(labels) - outputs.shape[1])))
    result: dict[str, Any] = {"model_path": str(loaded.folder), "data": str(data.path), "task": meta["task"],
                              "regression": meta["regression"], "labels": labels, "rows": len(data.examples),
                              "truncated": truncated, "out_path": None, "metrics": None}
    if data.labelled:
        metrics = _metrics(outputs, data.examples, labels, meta["regression"])
        result["metrics"] = _metrics_dict(metrics, meta["regression"], loss, labels, len(data.examples), truncated)
    if out_path is not None:
        out = Path(out_path).expanduser()
        _write_predictions(out, meta["task"], data.examples, labels, outputs, meta["regression"])
        result["out_path"] = str(out)
    else:
        if meta["regression"]:
            result["predictions"] = [{"row": e.row, "score": float(o)} for e, o in zip(data.examples, outputs)]
        else:
            result["predictions"] = [{"row": e.row, "predicted": labels[int(o.argmax())],
                                      "probabilities": [float(p) for p in o]} for e, o in zip(data.examples, outputs)]
    return result


# ------------------------------------------------------------------------------------------ analyses

def _summary_row(result: FinetuneResult) -> dict[str, Any]:
    return {"metric": result.best_val_metric, "accuracy": result.val_accuracy, "macro_f1": result.val_macro_f1,
            "pearson": result.val_pearson, "spearman": result.val_spearman, "steps": result.steps,
            "best_step": result.best_step, "reason": result.reason, "wall_seconds": round(result.wall_seconds, 3)}


def compare_with_scratch(project: Project, base: str, train_data: TaskData, config: FinetuneConfig, *,
                         eval_data: TaskData | None = None, seeds: tuple[int, ...] = (1337,),
                         listeners: list[Callable[[Any], None]] | None = None, control: Any = None,
                         ) -> dict[str, Any]:
    """The paper's first analysis: the same fine-tuning from the pretrained weights and from scratch.

    Scratch = layers_transferred=0, transfer_embeddings=False; same steps and seeds. Both metrics per seed and
    their means (models are measured, not saved).
    """
    from gpt_studio.engine.finetune_metrics import mean_sd
    from gpt_studio.engine.trainer import TrainControl

    control = control if control is not None else TrainControl()
    resolved = base if isinstance(base, BaseModel) else resolve_base(project, base)
    rows, stopped = [], False
    for seed in seeds:
        row: dict[str, Any] = {"seed": seed}
        for label, changes in (("pretrained", {}), ("scratch", {"layers_transferred": 0,
                                                                "transfer_embeddings": False})):
            if control.stop_requested:  # a stop between models ends the table at the last complete seed
                stopped = True
                break
            settings = replace(config, seed=seed, **changes)
            result = _Finetuner(project, resolved, train_data, settings, eval_data, listeners, control).run(save=False)
            if result.reason == "stopped":  # a model cut short is not a measurement
                stopped = True
                break
            row[label] = _summary_row(result)
        if stopped:
            break
        rows.append(row)
    metric = "pearson" if config.regression else "accuracy"
    out: dict[str, Any] = {"analysis": "compare-scratch", "task": config.task, "base": resolved.spec,
                           "metric": metric, "seeds": [r["seed"] for r in rows], "runs": rows,
                           "stopped": stopped}
    for label in ("pretrained", "scratch"):
        values = [r[label]["metric"] for r in rows]
        mean, sd = mean_sd(values)
        out[label] = {"values": values, "mean": mean, "sd": sd}
    out["difference"] = out["pretrained"]["mean"] - out["scratch"]["mean"]
    return out


def sweep_layers(project: Project, base: str, train_data: TaskData, config: FinetuneConfig, *,
                 eval_data: TaskData | None = None, layers: list[int] | None = None,
                 listeners: list[Callable[[Any], None]] | None = None, control: Any = None,
                 seeds: tuple[int, ...] | None = None) -> dict[str, Any]:
    """The paper's Figure 2 (left): validation metric against layers transferred 0..n (all by default).

    Embeddings follow ``config.transfer_embeddings``; with several ``seeds`` each point is their mean.
    """
    from gpt_studio.engine.atomic import read_json
    from gpt_studio.engine.finetune_metrics import mean_sd
    from gpt_studio.engine.trainer import TrainControl

    control = control if control is not None else TrainControl()
    resolved = base if isinstance(base, BaseModel) else resolve_base(project, base)
    n_layer = read_json(resolved.path / CONFIG_FILE)["n_layer"]
    layers = list(range(n_layer + 1)) if layers is None else list(layers)
    seeds = seeds or (config.seed,)
    points, stopped = [], False
    for k in layers:
        runs = []
        for seed in seeds:
            if control.stop_requested:  # a stop between models ends the sweep at the last complete point
                stopped = True
                break
            settings = replace(config, seed=seed, layers_transferred=k)
            result = _Finetuner(project, resolved, train_data, settings, eval_data, listeners, control).run(save=False)
            if result.reason == "stopped":  # a model cut short is not a measurement
                stopped = True
                break
            runs.append({"seed": seed, **_summary_row(result)})
        if stopped:
            break
        mean, sd = mean_sd([r["metric"] for r in runs])
        points.append({"layers": k, "metric": mean, "sd": sd, "runs": runs})
    return {"analysis": "sweep-layers", "task": config.task, "base": resolved.spec,
            "metric": "pearson" if config.regression else "accuracy", "n_layer": n_layer,
            "transfer_embeddings": config.transfer_embeddings, "seeds": list(seeds), "points": points,
            "stopped": stopped}


def model_info(model_path: str | Path) -> dict[str, Any]:
    """finetune.json of a saved model (for the wizard's result page and the playground)."""
    from gpt_studio.engine.atomic import read_json

    folder = Path(model_path).expanduser()
    if not (folder / FINETUNE_FILE).is_file():
        raise StudioError(f"{folder} is not a fine-tuned model folder (no {FINETUNE_FILE}).")
    return copy.deepcopy(read_json(folder / FINETUNE_FILE))
