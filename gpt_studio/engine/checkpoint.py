"""Checkpoints that survive anything: a folder per step, written whole or not at all.

``runs/<id>/checkpoints/step-000120/``::

    model.safetensors     the raw model's weights (tied weights stored once)
    config.json           the ModelConfig
    trainer_state.json    step, tokens seen, RNG states, data-sampler positions, schedule, best metric
    optimizer.pt          optimizer (and grad-scaler) state, read back with ``weights_only=True``
    checkpoint.json       written last: file sizes, so a truncated file is detected

The folder is built under a temporary name, every file fsynced, then renamed: a process killed mid-write
leaves only a ``.step-…tmp`` folder, which is ignored and cleaned up, and the previous checkpoint stays loadable.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_model, save_model

from gpt_studio.engine.atomic import _fsync_dir, fsync_file, read_json, replace_dir, temp_dir_beside, write_json
from gpt_studio.engine.errors import StudioError
from gpt_studio.engine.model import ModelConfig, Transformer

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
STATE_FILE = "trainer_state.json"
OPTIMIZER_FILE = "optimizer.pt"
MANIFEST_FILE = "checkpoint.json"
_STEP_DIR = re.compile(r"^step-(\d+)$")


def step_dir_name(step: int) -> str:
    """Folder name of a step's checkpoint; zero-padded so folders sort by step."""
    return f"step-{step:06d}"


@dataclass(frozen=True)
class Checkpoint:
    """A complete checkpoint folder on disk."""

    path: Path
    step: int

    def state(self) -> dict[str, Any]:
        """trainer_state.json, or a clear error if it is damaged."""
        return _read_json_file(self.path / STATE_FILE)

    def config(self) -> ModelConfig:
        """The model's configuration."""
        return ModelConfig.from_dict(_read_json_file(self.path / CONFIG_FILE))


def _read_json_file(path: Path) -> Any:
    try:
        return read_json(path)
    except FileNotFoundError as exc:
        raise StudioError(f"Checkpoint file {path} is missing; the checkpoint is incomplete.") from exc
    except ValueError as exc:
        raise StudioError(f"Checkpoint file {path} is damaged ({exc}); use an earlier checkpoint.") from exc


def save_checkpoint(checkpoints_dir: Path, step: int, model: Transformer, optimizer_state: dict[str, Any],
                    trainer_state: dict[str, Any]) -> Checkpoint:
    """Write a checkpoint for ``step`` atomically and return it."""
    final = checkpoints_dir / step_dir_name(step)
    staging = temp_dir_beside(final)
    try:
        save_model(model, str(staging / WEIGHTS_FILE))
        torch.save(optimizer_state, staging / OPTIMIZER_FILE)
        for name in (WEIGHTS_FILE, OPTIMIZER_FILE):
            fsync_file(staging / name)
        write_json(staging / CONFIG_FILE, model.config.to_dict())
        write_json(staging / STATE_FILE, trainer_state)
        sizes = {p.name: p.stat().st_size for p in staging.iterdir()}
        write_json(staging / MANIFEST_FILE, {"step": step, "files": sizes})
        if final.exists():
            replace_dir(staging, final)
        else:
            os.replace(staging, final)
            _fsync_dir(checkpoints_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return Checkpoint(final, step)


def list_checkpoints(checkpoints_dir: Path) -> list[Checkpoint]:
    """Complete checkpoints (those with their manifest), oldest first."""
    found = []
    if checkpoints_dir.is_dir():
        for child in checkpoints_dir.iterdir():
            match = _STEP_DIR.match(child.name)
            if match and (child / MANIFEST_FILE).is_file():
                found.append(Checkpoint(child, int(match.group(1))))
    return sorted(found, key=lambda c: c.step)


def latest_checkpoint(checkpoints_dir: Path) -> Checkpoint | None:
    """The newest complete checkpoint, if any."""
    found = list_checkpoints(checkpoints_dir)
    return found[-1] if found else None


def find_checkpoint(checkpoints_dir: Path, step: int | None) -> Checkpoint:
    """The checkpoint of ``step`` (None: the latest), or a message listing the steps there are."""
    found = list_checkpoints(checkpoints_dir)
    if not found:
        raise StudioError(f"No complete checkpoint in {checkpoints_dir}; the run cannot be resumed from it.")
    if step is None:
        return found[-1]
    for ckpt in found:
        if ckpt.step == step:
            return ckpt
    raise StudioError(f"No checkpoint at step {step}; checkpoints exist at steps "
                      f"{', '.join(str(c.step) for c in found)}.")


def prune_checkpoints(checkpoints_dir: Path, keep_last: int, keep_steps: set[int]) -> None:
    """Delete all but the last ``keep_last`` checkpoints and those in ``keep_steps`` (e.g. the best one)."""
    found = list_checkpoints(checkpoints_dir)
    keep = {c.step for c in found[-keep_last:]} | keep_steps
    for ckpt in found:
        if ckpt.step not in keep:
            shutil.rmtree(ckpt.path, ignore_errors=True)
    for child in checkpoints_dir.iterdir():  # leftovers of a write that was killed
        if child.name.startswith(".step-") and child.name.endswith(".tmp"):
            shutil.rmtree(child, ignore_errors=True)


def _check_sizes(ckpt: Checkpoint) -> None:
    manifest = _read_json_file(ckpt.path / MANIFEST_FILE)
    for name, size in manifest["files"].items():
        path = ckpt.path / name
        if not path.is_file() or path.stat().st_size != size:
            actual = path.stat().st_size if path.is_file() else "missing"
            raise StudioError(f"Checkpoint {ckpt.path} is damaged: {name} should be {size} bytes but is {actual}; "
                              "use an earlier checkpoint.")


def check_compatible(saved: ModelConfig, expected: ModelConfig) -> None:
    """Refuse a checkpoint whose architecture differs from the model it is loaded into, naming the difference."""
    if saved.vocab_size != expected.vocab_size:
        raise StudioError(f"This checkpoint was trained with a vocabulary of {saved.vocab_size} tokens, but the "
                          f"tokenizer now has {expected.vocab_size}; it belongs to a different tokenizer.")
    theirs, ours = saved.to_dict(), expected.to_dict()
    shape_keys = ("n_layer", "n_head", "d_model", "d_ff", "context_length", "causal", "prenorm",
                  "type_vocab_size", "nsp_head")
    diffs = [f"{k} {theirs.get(k)} vs {ours.get(k)}" for k in shape_keys if theirs.get(k) != ours.get(k)]
    if diffs:
        raise StudioError("This checkpoint is a different model (checkpoint vs requested: " + "; ".join(diffs) + ").")


def load_weights(ckpt: Checkpoint, model: Transformer) -> None:
    """Load the checkpoint's weights into ``model`` after checking sizes and architecture."""
    _check_sizes(ckpt)
    check_compatible(ckpt.config(), model.config)
    try:
        load_model(model, str(ckpt.path / WEIGHTS_FILE), strict=True)
    except (SafetensorError, RuntimeError, OSError) as exc:
        raise StudioError(f"Checkpoint weights {ckpt.path / WEIGHTS_FILE} cannot be read ({exc}); "
                          "use an earlier checkpoint.") from exc


def load_optimizer_state(ckpt: Checkpoint) -> dict[str, Any]:
    """Optimizer/scaler state, unpickled safely (tensors and plain containers only)."""
    try:
        return torch.load(ckpt.path / OPTIMIZER_FILE, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - torch raises many types for a bad file
        raise StudioError(f"Optimizer state {ckpt.path / OPTIMIZER_FILE} cannot be read ({exc}); "
                          "use an earlier checkpoint.") from exc


def load_model_from_checkpoint(path: str | os.PathLike[str], device: str = "cpu") -> tuple[Transformer, Checkpoint]:
    """A model built from a checkpoint folder's own config (for the playground and fine-tuning)."""
    folder = Path(path)
    match = _STEP_DIR.match(folder.name)
    ckpt = Checkpoint(folder, int(match.group(1)) if match else -1)
    model = Transformer(ckpt.config())
    load_weights(ckpt, model)
    return model.to(device), ckpt
