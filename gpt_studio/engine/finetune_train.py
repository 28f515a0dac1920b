"""The fine-tuning loop: from a base and validated data to the best evaluation, saved as a model folder or not.

:class:`_Finetuner` runs one model (the analyses run several with ``save=False``); it reports through the
trainer's events and honours a :class:`~gpt_studio.engine.trainer.TrainControl` at step boundaries, as
pretraining does. Re-exported by :mod:`gpt_studio.engine.finetune`.
"""

from __future__ import annotations

import datetime as _dt
import math
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from gpt_studio.engine.errors import StudioError
from gpt_studio.engine.finetune_bases import _load_base, resolve_base
from gpt_studio.engine.finetune_config import (
    _NAME,
    CONFIG_FILE,
    FINETUNE_FILE,
    FORMAT_VERSION,
    METRICS_FILE,
    PREDICTIONS_FILE,
    TOKENIZER_FILES,
    WEIGHTS_FILE,
    BaseModel,
    FinetuneConfig,
    FinetuneEvalEvent,
    FinetuneResult,
)
from gpt_studio.engine.finetune_data import TaskData, stratified_split
from gpt_studio.engine.finetune_predict import _event_metrics, _infer, _metrics, _write_predictions
from gpt_studio.engine.hf_tokenizer import HFTokenizer
from gpt_studio.engine.project import Project


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
