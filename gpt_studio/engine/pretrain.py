"""Starting, resuming and branching pretraining runs: what ``gpt-studio pretrain`` and the Pretrain pane call.

A run's configuration is fixed in run.json when it is created; a resume may change only what is safe to
change mid-flight (learning-rate schedule, clipping, eval interval, the step budget), and a branch starts
a new run from any checkpoint of another, recording its parent.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import fields
from typing import Any

from gpt_studio.engine import checkpoint as ckpt_io
from gpt_studio.engine import recipes
from gpt_studio.engine.data import load_meta
from gpt_studio.engine.errors import StudioError
from gpt_studio.engine.model import ModelConfig, preset
from gpt_studio.engine.project import Project
from gpt_studio.engine.runs import RunDir, create_run, find_run, library_versions, new_run_id, read_jsonl
from gpt_studio.engine.trainer import Listener, TrainControl, Trainer
from gpt_studio.engine.trainer_config import TrainConfig

MODEL_KEYS = {f.name for f in fields(ModelConfig)}
TRAIN_KEYS = {f.name for f in fields(TrainConfig)}
RESUME_KEYS = {"lr", "lr_scale", "min_lr", "schedule", "warmup_steps", "grad_clip", "eval_interval"}


def parse_value(text: str) -> Any:
    """``--set`` values: ints, floats, booleans, none, or strings."""
    lowered = text.strip().lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null"):
        return None
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def split_settings(settings: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Route ``key=value`` settings to the model or the trainer; unknown keys are named."""
    model, train = {}, {}
    for key, value in settings.items():
        if key in MODEL_KEYS and key != "vocab_size":
            model[key] = value
        elif key in TRAIN_KEYS:
            train[key] = value
        else:
            known = ", ".join(sorted((MODEL_KEYS - {"vocab_size"}) | TRAIN_KEYS))
            raise StudioError(f"Unknown setting {key!r}. Settings: {known}.")
    return model, train


def new_run(project: Project, preset_name: str, settings: dict[str, Any] | None = None,
            max_steps: int | None = None) -> RunDir:
    """Create a run folder for a preset or recipe plus overrides, checked against the project's shards."""
    meta = load_meta(project)
    try:
        model_preset, settings = recipes.expand(preset_name, settings)
    except ValueError as exc:
        raise StudioError(str(exc)) from exc
    model_settings, train_settings = split_settings(settings)
    if max_steps is not None:
        train_settings["max_steps"] = max_steps
    try:
        model_config = preset(model_preset, vocab_size=meta["vocab_size"], **model_settings)
        train_config = TrainConfig(**train_settings)
    except (ValueError, TypeError) as exc:
        raise StudioError(str(exc)) from exc
    tokens_per_rank = meta["splits"]["val"]["tokens"]
    if model_config.causal and tokens_per_rank < model_config.context_length + 2:
        raise StudioError(f"The validation split has {tokens_per_rank} tokens, fewer than one context of "
                          f"{model_config.context_length}; use a shorter context or a larger val fraction.")
    info = {"preset": preset_name, "family": model_config.family, "model": model_config.to_dict(),
            "train": train_config.to_dict(), "data": {"tokenizer_sha256": meta["tokenizer_sha256"],
                                                      "corpus_sha256": meta["corpus_sha256"],
                                                      "train_tokens": meta["splits"]["train"]["tokens"],
                                                      "val_tokens": meta["splits"]["val"]["tokens"]},
            "versions": library_versions(), "status": "created", "parent": None, "corrections": []}
    return create_run(project, new_run_id(model_config.family), info)


def check_run_data(project: Project, run: RunDir) -> None:
    """A run continues only on the data it started with (same tokenizer and corpus)."""
    meta = load_meta(project)
    data = run.read()["data"]
    if data["tokenizer_sha256"] != meta["tokenizer_sha256"]:
        raise StudioError(f"Run {run.run_id} was trained with another tokenizer than the project's current one; "
                          "it cannot continue on these shards. Start a new run.")
    if data["corpus_sha256"] != meta["corpus_sha256"]:
        raise StudioError(f"Run {run.run_id} was trained on an earlier import of the corpus; its data position "
                          "means nothing on the new shards. Start a new run (or branch it to fine-tune).")


def branch_run(project: Project, run_id: str, step: int | None) -> RunDir:
    """A new run that starts from ``run_id``'s checkpoint at ``step`` (latest if None) and records its parent."""
    parent = find_run(project, run_id)
    source = ckpt_io.find_checkpoint(parent.checkpoints_dir, step)
    info = parent.read()
    child_info = {k: v for k, v in info.items() if k not in ("run_id", "format_version", "summary", "status")}
    child_info.update(parent={"run_id": parent.run_id, "step": source.step}, status="created", corrections=[],
                      summary={"initial_val_loss": info.get("summary", {}).get("initial_val_loss")},
                      max_steps=info.get("max_steps", info["train"]["max_steps"]))
    child = create_run(project, new_run_id(info["family"]), child_info)
    shutil.copytree(source.path, child.checkpoints_dir / source.path.name)
    for name in (parent.metrics_file.name, parent.samples_file.name):  # the curve so far, so plots continue
        with open(child.root / name, "w", encoding="utf-8") as out:
            for record in read_jsonl(parent.root / name):
                if record.get("step", 0) <= source.step and record.get("kind") not in ("end", "correction"):
                    out.write(json.dumps(record) + "\n")
    return child


def pretrain(project: Project, *, preset_name: str | None = None, settings: dict[str, Any] | None = None,
             resume: str | None = None, branch: tuple[str, int | None] | None = None, max_steps: int | None = None,
             listeners: list[Listener] | None = None, control: TrainControl | None = None,
             run_id: str | None = None) -> dict[str, Any]:
    """Run (or continue) pretraining and return its summary.

    Exactly one of ``preset_name`` (new run), ``resume`` (continue a run) or ``branch`` (new run from a
    checkpoint) is used. On resume or branch, ``settings`` may hold only mid-flight changes.
    """
    from gpt_studio.engine.devices import DistributedContext

    dist = DistributedContext.from_environment()
    settings = dict(settings or {})
    if resume or branch:
        bad = set(settings) - RESUME_KEYS - {"max_steps"}
        if bad:
            raise StudioError(f"A resumed run keeps its configuration; only {', '.join(sorted(RESUME_KEYS))} "
                              f"may change (not {', '.join(sorted(bad))}). Branch or start a new run instead.")
        max_steps = settings.pop("max_steps", max_steps)
    if run_id is None and dist.is_main:
        if resume:
            run_id = find_run(project, resume).run_id
        elif branch:
            run_id = branch_run(project, branch[0], branch[1]).run_id
        elif preset_name:
            run_id = new_run(project, preset_name, settings, max_steps).run_id
        else:
            raise StudioError("Give --preset NAME for a new run, or --resume RUN_ID.")
    run_id = dist.broadcast_object(run_id)
    run = find_run(project, run_id)
    check_run_data(project, run)
    resume_changes = settings if (resume or branch) and settings else None
    trainer = Trainer(project, run, listeners=listeners or [], control=control, max_steps=max_steps,
                      resume_changes=resume_changes)
    return trainer.run()
