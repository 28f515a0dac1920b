"""Scoring with a fine-tuned model: batched inference, metrics, the predictions CSV, and saved models in use.

:func:`_infer` and :func:`_write_predictions` serve both the training loop (validation, the saved model's
predictions.csv) and a saved model's :func:`evaluate_model` / :func:`predict`, so a reloaded model scores the
same rows in the same batches with identical numbers. Re-exported by :mod:`gpt_studio.engine.finetune`.
"""

from __future__ import annotations

import copy
import csv
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gpt_studio.engine.errors import StudioError
from gpt_studio.engine.finetune_config import CONFIG_FILE, EVAL_BATCH_SIZE, FINETUNE_FILE, FORMAT_VERSION, WEIGHTS_FILE
from gpt_studio.engine.finetune_data import ColumnMap, TaskData, load_task_data
from gpt_studio.engine.hf_tokenizer import HFTokenizer, load_tokenizer


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



def model_info(model_path: str | Path) -> dict[str, Any]:
    """finetune.json of a saved model (for the wizard's result page and the playground)."""
    from gpt_studio.engine.atomic import read_json

    folder = Path(model_path).expanduser()
    if not (folder / FINETUNE_FILE).is_file():
        raise StudioError(f"{folder} is not a fine-tuned model folder (no {FINETUNE_FILE}).")
    return copy.deepcopy(read_json(folder / FINETUNE_FILE))
