"""What fine-tuning can start from: listing and resolving bases, loading their weights and tokenizer.

A base is a pretraining run's checkpoint, a saved fine-tuned model (its head is dropped) or a model imported from
Hugging Face; :func:`_load_base` checks that the tokenizer beside it is the one its weights were trained with.
Re-exported by :mod:`gpt_studio.engine.finetune`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from gpt_studio.engine.errors import StudioError
from gpt_studio.engine.finetune_config import CONFIG_FILE, FINETUNE_FILE, WEIGHTS_FILE, BaseModel
from gpt_studio.engine.finetune_data import TASK_TITLES, TaskData
from gpt_studio.engine.hf_import import SOURCE_FILE
from gpt_studio.engine.hf_tokenizer import load_tokenizer
from gpt_studio.engine.project import Project


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
