"""Finding and loading a model to try out: a run's checkpoint or a saved (fine-tuned or imported) model folder.

A model is named the way a person thinks of it (the Playground's picker and the CLI's ``MODEL`` share it):

- a folder path: a checkpoint (``runs/<id>/checkpoints/step-N``), a run folder (its latest checkpoint) or a
  saved-model folder (``config.json`` + ``model.safetensors``; fine-tuned ones also hold ``finetune.json``);
- ``RUN_ID`` (a unique prefix is enough: its latest checkpoint) or ``RUN_ID@STEP``;
- the name of a folder in the project's ``models/``.

Weights are read from safetensors only; nothing is unpickled. A fine-tuned folder's weights hold the
Transformer body under some prefix plus a task head: the body is loaded, the head left to the fine-tuning code.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gpt_studio.engine import checkpoint as ckpt_io
from gpt_studio.engine.atomic import read_json
from gpt_studio.engine.errors import StudioError
from gpt_studio.engine.model import ModelConfig, Transformer, count_parameters
from gpt_studio.engine.project import PROJECT_FILE, Project, open_project
from gpt_studio.engine.runs import RUN_FILE, RunDir, find_run, list_runs
from gpt_studio.engine.tokenizer import META_FILE, MODEL_FILE, SPECIAL_IDS, Tokenizer, sha256_file

FINETUNE_FILE = "finetune.json"  # written by fine-tuning (issue 6) into a saved model folder
MASKED_LM_KEYS = ("mlm_dense.", "mlm_ln.", "mlm_bias")  # a classifier saved without its masked-LM head lacks these


@dataclass
class ModelEntry:
    """One model the Playground offers: what to pass to :func:`load_model` and a line to show."""

    spec: str  # run id, or the models/ folder name
    family: str  # "gpt" | "bert"
    kind: str  # "run" | "checkpoint" | "finetuned" | "saved"
    description: str  # one line: name, step, size, val loss or task
    path: Path  # the checkpoint or model folder


@dataclass
class LoadedModel:
    """A model ready to use (eval mode), its tokenizer, and where it came from."""

    model: Transformer
    tokenizer: Tokenizer
    family: str  # "gpt" | "bert"
    spec: str
    path: Path
    description: str
    finetune: dict | None  # finetune.json of a fine-tuned model (task, labels, ...), else None
    lm_head: bool = True  # False: a masked model saved without its masked-LM head (no fill-mask / PLL)
    kind: str = "run"  # "run" | "checkpoint" | "finetuned" | "saved", as in ModelEntry


def _size(parameters: int) -> str:
    return f"{parameters / 1e6:.1f}M parameters" if parameters >= 1e6 else f"{parameters / 1e3:.0f}K parameters"


def _read(path: Path) -> Any:
    try:
        return read_json(path)
    except FileNotFoundError as exc:
        raise StudioError(f"{path} is missing; the model folder is incomplete.") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise StudioError(f"{path} is damaged ({exc}).") from exc


def _config(folder: Path) -> ModelConfig:
    try:
        return ModelConfig.from_dict(_read(folder / ckpt_io.CONFIG_FILE))
    except (TypeError, ValueError) as exc:
        raise StudioError(f"{folder / ckpt_io.CONFIG_FILE} is not a valid model configuration: {exc}") from exc


def _checkpoint_description(run: RunDir, ckpt: ckpt_io.Checkpoint, config: ModelConfig) -> str:
    parts = [run.run_id, f"step {ckpt.step}", _size(count_parameters(config))]
    try:
        summary = run.read().get("summary") or {}
        if summary.get("steps") == ckpt.step and summary.get("final_val_loss") is not None:
            parts.append(f"val loss {summary['final_val_loss']:.3f}")
        else:
            best = read_json(ckpt.path / ckpt_io.STATE_FILE).get("best_val_loss")
            if best is not None:
                parts.append(f"best val loss {best:.3f}")
    except (OSError, ValueError, StudioError):
        pass  # a description is a courtesy; an unreadable summary must not hide the model
    return " · ".join(parts)


def _saved_description(folder: Path, config: ModelConfig, finetune: dict | None) -> str:
    parts = [folder.name]
    if finetune:
        labels = finetune.get("labels") or []
        task = str(finetune.get("task", "fine-tuned"))
        parts.append(f"{task}" + (f" ({', '.join(map(str, labels[:4]))}{', …' if len(labels) > 4 else ''})"
                                  if labels else ""))
        metrics = finetune.get("metrics") or {}
        accuracy = metrics.get("val_accuracy", metrics.get("accuracy")) if isinstance(metrics, dict) else None
        if isinstance(accuracy, (int, float)):
            parts.append(f"val accuracy {accuracy:.3f}")
    else:
        parts.append(f"saved {config.family.upper()}")
    parts.append(_size(count_parameters(config)))
    return " · ".join(parts)


def is_saved_model(folder: Path) -> bool:
    """A folder with a model configuration and safetensors weights (a checkpoint also is one)."""
    return (folder / ckpt_io.CONFIG_FILE).is_file() and (folder / ckpt_io.WEIGHTS_FILE).is_file()


def _finetune_meta(folder: Path) -> dict | None:
    path = folder / FINETUNE_FILE
    return _read(path) if path.is_file() else None


def list_models(project: Project) -> list[ModelEntry]:
    """Each run's latest checkpoint (spec = run id) and every saved model folder (spec = its name), newest first."""
    found: list[tuple[float, ModelEntry]] = []
    for run in list_runs(project):
        ckpt = ckpt_io.latest_checkpoint(run.checkpoints_dir)
        if ckpt is None:
            continue
        try:
            config = _config(ckpt.path)
        except StudioError:
            continue  # a damaged checkpoint is reported when someone tries to load it, not here
        found.append((ckpt.path.stat().st_mtime, ModelEntry(run.run_id, config.family, "run",
                                                             _checkpoint_description(run, ckpt, config), ckpt.path)))
    if project.models_dir.is_dir():
        for folder in sorted(project.models_dir.iterdir()):
            if folder.name.startswith(".") or not folder.is_dir() or not is_saved_model(folder):
                continue
            try:
                config, finetune = _config(folder), _finetune_meta(folder)
            except StudioError:
                continue
            kind = "finetuned" if finetune is not None else "saved"
            found.append((folder.stat().st_mtime, ModelEntry(folder.name, config.family, kind,
                                                             _saved_description(folder, config, finetune), folder)))
    return [entry for _, entry in sorted(found, key=lambda pair: -pair[0])]


# ------------------------------------------------------------------------------------------------ tokenizer

class _ModelFileTokenizer(Tokenizer):
    """A tokenizer from a bare ``tokenizer.model`` copy (a fine-tuned folder); special ids are the fixed ones."""

    def __init__(self, model_path: Path) -> None:  # noqa: D107 - mirrors Tokenizer's without tokenizer.json
        import sentencepiece as spm

        self.folder = model_path.parent
        self.sp = spm.SentencePieceProcessor(model_file=str(model_path))
        self.checksum = sha256_file(model_path)
        self.meta = {"special_ids": dict(SPECIAL_IDS), "model_sha256": self.checksum}
        ids = SPECIAL_IDS
        self.pad_id, self.unk_id, self.bos_id, self.eos_id = ids["pad"], ids["unk"], ids["bos"], ids["eos"]
        self.mask_id, self.cls_id, self.sep_id, self.newline_id = ids["mask"], ids["cls"], ids["sep"], ids["newline"]


TOKENIZER_FILES = (MODEL_FILE, META_FILE, "vocab.json", "vocab.txt")  # SentencePiece, or Hugging Face (imported)


def _folder_tokenizer(folder: Path) -> Tokenizer | None:
    """The tokenizer kept in a model folder or its tokenizer/ subfolder, if it keeps one.

    SentencePiece (a full copy, or the bare model file of a fine-tuned folder) or, for a model imported
    from Hugging Face, its own tokenizer (:mod:`hf_tokenizer` tells them apart by their files).
    """
    if not any((candidate / name).is_file() for candidate in (folder, folder / "tokenizer")
               for name in TOKENIZER_FILES):
        return None
    from gpt_studio.engine.hf_tokenizer import load_tokenizer

    return load_tokenizer(folder)


def _project_of(folder: Path) -> Project | None:
    """The project a run, checkpoint or models/ folder lies in (the nearest parent with studio.json)."""
    for parent in folder.resolve().parents:
        if (parent / PROJECT_FILE).is_file():
            return open_project(parent)
    return None


def _project_tokenizer(project: Project | None, folder: Path, expected_sha: str | None) -> Tokenizer:
    if project is None:
        raise StudioError(f"{folder} has no tokenizer of its own and is not inside a project; give the project "
                          "(--project) whose tokenizer it was trained with.")
    tokenizer = Tokenizer(project.tokenizer_dir)
    if expected_sha and tokenizer.checksum != expected_sha:
        raise StudioError(f"{folder} was trained with another tokenizer than the project's current one "
                          f"({project.tokenizer_dir}); its token ids would mean other words. Use the project "
                          "it was trained in.")
    return tokenizer


# ---------------------------------------------------------------------------------------------- weights

def _load_weights(folder: Path, model: Transformer) -> bool:
    """Load the body's weights from model.safetensors (any key prefix); returns whether the MLM head was there."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = folder / ckpt_io.WEIGHTS_FILE
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, RuntimeError) as exc:
        raise StudioError(f"Model weights {path} cannot be read ({exc}).") from exc
    prefix = next((key[:-len("wte.weight")] for key in sorted(state, key=len) if key.endswith("wte.weight")), None)
    if prefix is None:
        raise StudioError(f"{path} holds no Transformer weights (no token embedding 'wte.weight').")
    body = {key[len(prefix):]: value for key, value in state.items() if key.startswith(prefix)}
    expected = model.state_dict()
    missing = [k for k in expected if k not in body]
    lm_head = not any(k.startswith(MASKED_LM_KEYS) for k in missing)
    missing = [k for k in missing if not k.startswith(MASKED_LM_KEYS)]
    wrong = [k for k in expected if k in body and body[k].shape != expected[k].shape]
    if missing or wrong:
        raise StudioError(f"{path} does not match its config.json: missing {', '.join(missing[:5]) or 'none'}; "
                          f"wrong shape {', '.join(wrong[:5]) or 'none'}.")
    model.load_state_dict({k: v for k, v in body.items() if k in expected}, strict=False)
    return lm_head


def _build(folder: Path, device: str) -> tuple[Transformer, bool]:
    from gpt_studio.engine.devices import resolve_device

    model = Transformer(_config(folder))
    manifest = folder / ckpt_io.MANIFEST_FILE
    if manifest.is_file():  # a checkpoint: its manifest catches a truncated file
        ckpt_io.load_weights(ckpt_io.Checkpoint(folder, -1), model)
        lm_head = True
    else:
        lm_head = _load_weights(folder, model)
    model.to(resolve_device(device)).eval()
    return model, lm_head


# ---------------------------------------------------------------------------------------------- loading

def _load_checkpoint(ckpt: ckpt_io.Checkpoint, run: RunDir, spec: str, kind: str, device: str) -> LoadedModel:
    info = run.read()
    project = _project_of(run.root)
    tokenizer = _project_tokenizer(project, run.root, (info.get("data") or {}).get("tokenizer_sha256"))
    model, _ = _build(ckpt.path, device)
    _check_vocab(model, tokenizer, ckpt.path)
    description = _checkpoint_description(run, ckpt, model.config)
    return LoadedModel(model, tokenizer, model.config.family, spec, ckpt.path, description, None, kind=kind)


def _load_saved(folder: Path, spec: str, project: Project | None, device: str) -> LoadedModel:
    _config(folder)  # a damaged config is the first thing to report
    finetune = _finetune_meta(folder)
    tokenizer = _folder_tokenizer(folder)
    if tokenizer is None:
        expected = (finetune or {}).get("tokenizer_sha256")
        tokenizer = _project_tokenizer(project or _project_of(folder), folder, expected)
    model, lm_head = _build(folder, device)
    _check_vocab(model, tokenizer, folder)
    description = _saved_description(folder, model.config, finetune)
    kind = "finetuned" if finetune is not None else "saved"
    return LoadedModel(model, tokenizer, model.config.family, spec, folder, description, finetune, lm_head, kind)


def _check_vocab(model: Transformer, tokenizer: Tokenizer, folder: Path) -> None:
    if model.config.vocab_size != tokenizer.vocab_size:
        raise StudioError(f"{folder} has a vocabulary of {model.config.vocab_size} tokens but its tokenizer has "
                          f"{tokenizer.vocab_size}; they do not belong together.")


def _load_folder(folder: Path, spec: str, project: Project | None, device: str) -> LoadedModel:
    if (folder / RUN_FILE).is_file():  # a run folder: its latest checkpoint
        run = RunDir(folder)
        return _load_checkpoint(ckpt_io.find_checkpoint(run.checkpoints_dir, None), run, spec, "run", device)
    if (folder / ckpt_io.MANIFEST_FILE).is_file() and (folder.parent.parent / RUN_FILE).is_file():
        return _load_checkpoint(ckpt_io.Checkpoint(folder, _step_of(folder)), RunDir(folder.parent.parent), spec,
                                "checkpoint", device)
    if is_saved_model(folder):
        return _load_saved(folder, spec, project, device)
    raise StudioError(f"{folder} is neither a checkpoint, a run nor a saved model folder (it needs "
                      f"{ckpt_io.CONFIG_FILE} and {ckpt_io.WEIGHTS_FILE}).")


def _step_of(folder: Path) -> int:
    digits = folder.name.rpartition("-")[2]
    return int(digits) if digits.isdigit() else -1


def _default_project(project: Project | None) -> Project | None:
    if project is not None:
        return project
    return open_project(Path.cwd()) if (Path.cwd() / PROJECT_FILE).is_file() else None


def _known_models(project: Project) -> str:
    runs = [r.run_id for r in list_runs(project)][-5:]
    saved = sorted(p.name for p in project.models_dir.iterdir() if is_saved_model(p)) if project.models_dir.is_dir() \
        else []
    return f"runs: {', '.join(runs) or 'none'}; saved models: {', '.join(saved) or 'none'}"


def load_model(spec: str, project: Project | None = None, device: str = "cpu") -> LoadedModel:
    """Load a model by folder path, ``RUN_ID``, ``RUN_ID@STEP`` or saved-model name (see the module docstring).

    Names are looked up in ``project`` (default: the current directory when it is a project). The model is
    returned in eval mode on ``device`` ("cpu", "cuda", "mps" or "auto").
    """
    spec = spec.strip()
    if not spec:
        raise StudioError("Name a model: a run id, RUN_ID@STEP, a saved model's name or a folder path.")
    folder = Path(os.path.expanduser(spec))
    if folder.is_dir():
        return _load_folder(folder, spec, project, device)
    project = _default_project(project)
    if project is None:
        raise StudioError(f"{spec!r} is not a folder, and there is no project to look it up in; run from a project "
                          "folder or give --project.")
    name, _, step_text = spec.partition("@")
    if not step_text and (project.models_dir / name).is_dir() and is_saved_model(project.models_dir / name):
        return _load_saved(project.models_dir / name, spec, project, device)
    try:
        run = find_run(project, name)
    except StudioError as exc:
        raise StudioError(f"No model {spec!r}: not a folder, a saved model or a run in {project.root} "
                          f"({_known_models(project)}).") from exc
    if step_text and not step_text.isdigit():
        raise StudioError(f"{spec!r}: the step after @ must be a number, e.g. {run.run_id}@500.")
    ckpt = ckpt_io.find_checkpoint(run.checkpoints_dir, int(step_text) if step_text else None)
    return _load_checkpoint(ckpt, run, spec, "checkpoint" if step_text else "run", device)


def model_summary(loaded: LoadedModel) -> dict[str, Any]:
    """Plain JSON about a loaded model, for the CLI's output and the Playground's header."""
    config = loaded.model.config
    return {"spec": loaded.spec, "path": str(loaded.path), "family": loaded.family,
            "description": loaded.description, "parameters": loaded.model.num_parameters(),
            "context_length": config.context_length, "vocab_size": config.vocab_size,
            "kind": loaded.kind, "finetuned": loaded.finetune is not None, "lm_head": loaded.lm_head,
            "device": str(next(loaded.model.parameters()).device)}

