"""The pretraining trainer: one loop that the Qt monitor, the CLI and ``torchrun`` all drive the same way.

The loop reads top to bottom in :meth:`Trainer.run`; everything else (metrics, the UI's plots) hangs off
the typed events in ``trainer_config``. Listeners receive frozen dataclasses with plain floats, never
tensors, so a Qt worker can forward them across threads. A :class:`TrainControl` carries pause, stop and
mid-flight corrections into the loop, which honours them at step boundaries.
"""

from __future__ import annotations

import base64
import math
import threading
import time
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from typing import Any

import numpy as np
import torch
from torch import nn

from gpt_studio.engine import checkpoint as ckpt_io
from gpt_studio.engine import devices
from gpt_studio.engine.batches import CausalWindows, MaskedSequences, SpecialIds
from gpt_studio.engine.data import TokenShard, load_meta
from gpt_studio.engine.errors import StudioError
from gpt_studio.engine.model import ModelConfig, Transformer
from gpt_studio.engine.objectives import causal_lm_loss, mask_tokens, mlm_loss, nsp_loss
from gpt_studio.engine.project import Project
from gpt_studio.engine.runs import JsonlWriter, RunDir, truncate_metrics_after
from gpt_studio.engine.scoring import fill_mask_probe
from gpt_studio.engine.tensorboard_log import TensorBoardListener
from gpt_studio.engine.tokenizer import Tokenizer
from gpt_studio.engine.trainer_config import (
    CheckpointEvent,
    CorrectionEvent,
    EndEvent,
    ErrorEvent,
    EvalEvent,
    Event,
    PhaseEvent,
    ProbeEvent,
    SampleEvent,
    Schedule,
    StepEvent,
    TrainConfig,
    event_record,
    probe_name,
)

Listener = Callable[[Event], None]
EVAL_SEED_OFFSET = 1_000_003  # evaluation draws the same batches every time, from its own random stream


class TrainControl:
    """Requests from another thread (the UI) or a signal handler, honoured at the next step boundary."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._running = threading.Event()
        self._running.set()
        self._lock = threading.Lock()
        self._corrections: list[dict[str, Any]] = []

    def stop(self) -> None:
        """End the run after the current step, with a checkpoint."""
        self._stop.set()
        self._running.set()

    def pause(self) -> None:
        """Hold the loop after the current step until :meth:`resume` or :meth:`stop`."""
        self._running.clear()

    def resume(self) -> None:
        """Continue a paused run."""
        self._running.set()

    @property
    def stop_requested(self) -> bool:
        """Whether stop was asked for."""
        return self._stop.is_set()

    @property
    def paused(self) -> bool:
        """Whether the loop is (or will be) holding."""
        return not self._running.is_set()

    def wait_if_paused(self) -> None:
        """Block while paused (in short waits, so a stop always gets through)."""
        while not self._running.wait(0.1):
            pass

    def correct(self, **changes: Any) -> None:
        """Queue a mid-flight correction, applied before the next step and recorded in run.json and metrics.

        Keys: lr_scale, or lr (with schedule, min_lr, warmup_steps); grad_clip; eval_interval.
        """
        allowed = {"lr_scale", "lr", "schedule", "min_lr", "warmup_steps", "grad_clip", "eval_interval"}
        unknown = set(changes) - allowed
        if unknown:
            raise ValueError(f"Cannot change {', '.join(sorted(unknown))} mid-flight; "
                             f"allowed: {', '.join(sorted(allowed))}.")
        with self._lock:
            self._corrections.append(dict(changes))

    def take_corrections(self) -> list[dict[str, Any]]:
        """Pending corrections, oldest first (and forget them)."""
        with self._lock:
            pending, self._corrections = self._corrections, []
        return pending


def _b64(tensor: torch.Tensor) -> str:
    return base64.b64encode(tensor.numpy().tobytes()).decode("ascii")


def _from_b64(text: str) -> torch.Tensor:
    return torch.from_numpy(np.frombuffer(base64.b64decode(text), dtype=np.uint8).copy())


def parameter_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """AdamW groups: decay only matrices of linear layers; never norms, biases or embeddings."""
    decay, no_decay = [], []
    embeddings = {id(m.weight) for m in model.modules() if isinstance(m, nn.Embedding)}
    for param in model.parameters():
        if not param.requires_grad:
            continue
        (decay if param.dim() >= 2 and id(param) not in embeddings else no_decay).append(param)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


class _Objective(nn.Module):
    """Model + loss in one module, so DDP and torch.compile wrap the whole step's forward."""

    def __init__(self, model: Transformer, vocab_size: int) -> None:
        super().__init__()
        self.model = model
        self.vocab_size = vocab_size

    def forward(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """(loss to optimise, language-model loss to report)."""
        if self.model.config.causal:
            loss = causal_lm_loss(self.model.lm_logits(self.model(batch["x"])), batch["y"])
            return loss, loss
        hidden = self.model(batch["input_ids"], batch["token_type_ids"], batch["attention_mask"])
        lm = mlm_loss(self.model.mlm_logits(hidden), batch["labels"])
        if "nsp_labels" in batch:
            return lm + nsp_loss(self.model.nsp_logits(hidden), batch["nsp_labels"]), lm
        return lm, lm


class Trainer:
    """Trains one run to ``max_steps``, resuming from its latest checkpoint when it has one."""

    def __init__(self, project: Project, run: RunDir, *, listeners: Iterable[Listener] = (),
                 control: TrainControl | None = None, max_steps: int | None = None,
                 resume_changes: dict[str, Any] | None = None) -> None:
        self.project, self.run_dir = project, run
        info = run.read()
        self.info = info
        self.model_config = ModelConfig.from_dict(info["model"])
        self.config = TrainConfig.from_dict(info["train"])
        # the run's total: this call's, else the latest one recorded (a resume may have extended it)
        self.config.max_steps = max_steps or info.get("max_steps") or self.config.max_steps
        self.control = control or TrainControl()
        self.listeners = list(listeners)
        self.resume_changes = dict(resume_changes or {})
        self.dist = devices.DistributedContext.from_environment()
        self.device = devices.resolve_device(self.config.device, self.dist.local_rank)
        devices.check_precision(self.device, self.config.precision)
        if self.config.threads:
            torch.set_num_threads(self.config.threads)
        if self.device.type == "cpu":
            devices.keep_freed_memory()

    # ----------------------------------------------------------------------------------------- setup
    def _emit(self, event: Event) -> None:
        for listener in self.listeners:
            listener(event)

    def _setup(self) -> None:
        cfg = self.config
        meta = load_meta(self.project)
        if meta["vocab_size"] != self.model_config.vocab_size:
            raise StudioError(f"The run's model has a vocabulary of {self.model_config.vocab_size} but the shards "
                              f"have {meta['vocab_size']}; start a new run for the current tokenizer.")
        self.tokenizer = Tokenizer(self.project.tokenizer_dir)
        self.train_shard = TokenShard(self.project, "train", meta)
        self.val_shard = TokenShard(self.project, "val", meta)
        torch.manual_seed(cfg.seed + self.dist.rank)
        self.model = Transformer(self.model_config).to(self.device)
        objective: nn.Module = _Objective(self.model, self.model_config.vocab_size)
        if cfg.compile:
            objective = torch.compile(objective)
        nsp = self.model_config.nsp_head if self.config.nsp is None else self.config.nsp
        unused = self.model_config.nsp_head and not nsp  # an NSP head trained without NSP gets no gradient
        self.objective = self.dist.wrap(objective, self.device, find_unused_parameters=unused)
        fused = self.device.type == "cuda" or (self.device.type == "cpu" and devices.cpu_fused_adamw())
        self.optimizer = torch.optim.AdamW(parameter_groups(self.model, cfg.weight_decay), lr=cfg.lr,
                                           betas=(cfg.beta1, cfg.beta2), eps=cfg.eps, fused=fused)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=cfg.precision == "fp16")
        self.autocast = devices.autocast_context(self.device, cfg.precision)
        self.sampler = self._make_sampler(self.train_shard, cfg.seed, self.dist.rank, self.dist.world_size)
        self.mask_generator = torch.Generator().manual_seed(cfg.seed * 7919 + self.dist.rank)
        self.schedule = Schedule.from_config(cfg)
        self.probes = self._load_probes() if self.dist.is_main else []
        self.step, self.tokens_seen = 0, 0
        self.best_val_loss, self.best_step = math.inf, -1
        self.train_seconds = 0.0
        self.recent_losses: list[float] = []
        self.val_tokens_per_byte = len(self.val_shard) / max(self.val_shard.source_bytes, 1)
        self.metrics: JsonlWriter | None = None
        self.samples: JsonlWriter | None = None

    def _open_writers(self) -> None:
        """Open metrics.jsonl for appending, after a resume has cut records newer than its checkpoint."""
        if self.dist.is_main:
            self.metrics = JsonlWriter(self.run_dir.metrics_file)
            self.samples = JsonlWriter(self.run_dir.samples_file)
            self.listeners.insert(0, self._record)
            if self.config.tensorboard:
                self.listeners.append(TensorBoardListener(self.run_dir.root / "tensorboard", purge_step=self.step))

    def _make_sampler(self, shard: TokenShard, seed: int, rank: int, world: int) -> CausalWindows | MaskedSequences:
        T, B = self.model_config.context_length, self.config.batch_size
        if self.model_config.causal:
            return CausalWindows(shard, T, B, seed=seed, rank=rank, world_size=world)
        tok = self.tokenizer
        specials = SpecialIds(cls=tok.cls_id, sep=tok.sep_id, pad=tok.pad_id, newline=tok.newline_id)
        nsp = self.model_config.nsp_head if self.config.nsp is None else self.config.nsp
        if nsp and not self.model_config.nsp_head:
            raise StudioError("nsp=true needs a model with a next-sentence head (set nsp_head=true).")
        return MaskedSequences(shard, T, B, specials, nsp=nsp, seed=seed, rank=rank, world_size=world)

    def _record(self, event: Event) -> None:
        assert self.metrics is not None
        if isinstance(event, PhaseEvent):
            return  # for whoever watches live; the records that follow say what happened
        if isinstance(event, SampleEvent):
            assert self.samples is not None
            self.samples.write(event_record(event))
        else:
            self.metrics.write(event_record(event))

    # ---------------------------------------------------------------------------------------- batches
    def _to_device(self, arrays: dict[str, np.ndarray]) -> dict[str, torch.Tensor]:
        pin = self.device.type == "cuda"
        out = {}
        for key, value in arrays.items():
            tensor = torch.from_numpy(value)
            if pin:
                tensor = tensor.pin_memory()
            out[key] = tensor.to(self.device, non_blocking=pin)
        return out

    def _batch(self, sampler: CausalWindows | MaskedSequences, generator: torch.Generator) -> dict[str, torch.Tensor]:
        if isinstance(sampler, CausalWindows):
            x, y = sampler.next_batch()
            return self._to_device({"x": x, "y": y})
        arrays = sampler.next_batch()
        tok = self.tokenizer
        inputs, labels = mask_tokens(torch.from_numpy(arrays["input_ids"]), vocab_size=self.model_config.vocab_size,
                                     mask_id=tok.mask_id, special_ids=tok.special_ids, generator=generator,
                                     mask_prob=self.config.mlm_probability)
        arrays = {**arrays, "input_ids": inputs.numpy(), "labels": labels.numpy()}
        return self._to_device(arrays)

    # -------------------------------------------------------------------------------------- resume
    def _trainer_state(self) -> dict[str, Any]:
        sampler_states = self.dist.gather_objects(self.sampler.state_dict())
        mask_states = self.dist.gather_objects(_b64(self.mask_generator.get_state()))
        return {
            "step": self.step, "tokens_seen": self.tokens_seen, "train_seconds": self.train_seconds,
            "best_val_loss": self.best_val_loss if math.isfinite(self.best_val_loss) else None,
            "best_step": self.best_step, "schedule": self.schedule.to_list(),
            "grad_clip": self.config.grad_clip, "eval_interval": self.config.eval_interval,
            "world_size": self.dist.world_size, "sampler": sampler_states, "mask_generator": mask_states,
            "torch_rng": self.dist.gather_objects(_b64(torch.get_rng_state())),
            "cuda_rng": self.dist.gather_objects(_b64(torch.cuda.get_rng_state(self.device))
                                                 if self.device.type == "cuda" else None),
            "recent_losses": self.recent_losses,
        }

    def _restore(self, checkpoint: ckpt_io.Checkpoint) -> None:
        state = checkpoint.state()
        if state.get("world_size", 1) != self.dist.world_size:
            raise StudioError(f"This run was checkpointed with {state.get('world_size', 1)} processes; resume it "
                              f"with the same number (now {self.dist.world_size}) so the data order is kept.")
        ckpt_io.load_weights(checkpoint, self.model)
        opt_state = ckpt_io.load_optimizer_state(checkpoint)
        self.optimizer.load_state_dict(opt_state["optimizer"])
        if opt_state.get("scaler"):
            self.scaler.load_state_dict(opt_state["scaler"])
        rank = self.dist.rank
        self.sampler.load_state_dict(state["sampler"][rank])
        self.mask_generator.set_state(_from_b64(state["mask_generator"][rank]))
        torch.set_rng_state(_from_b64(state["torch_rng"][rank]))
        if self.device.type == "cuda" and state["cuda_rng"][rank]:
            torch.cuda.set_rng_state(_from_b64(state["cuda_rng"][rank]), self.device)
        self.step, self.tokens_seen = state["step"], state["tokens_seen"]
        self.train_seconds = state["train_seconds"]
        self.best_val_loss = state["best_val_loss"] if state["best_val_loss"] is not None else math.inf
        self.best_step = state["best_step"]
        self.schedule = Schedule.from_list(state["schedule"])
        self.config.grad_clip, self.config.eval_interval = state["grad_clip"], state["eval_interval"]
        self.recent_losses = state.get("recent_losses", [])
        if self.dist.is_main:
            truncate_metrics_after(self.run_dir, self.step)
            truncate_metrics_after(self.run_dir, self.step, samples=True)

    def _save(self) -> None:
        state = self._trainer_state()  # every rank takes part in gathering the samplers' states
        if self.dist.is_main:
            self._emit(PhaseEvent(self.step, "checkpointing"))
            opt_state = {"optimizer": self.optimizer.state_dict(),
                         "scaler": self.scaler.state_dict() if self.scaler.is_enabled() else None}
            saved = ckpt_io.save_checkpoint(self.run_dir.checkpoints_dir, self.step, self.model, opt_state, state)
            ckpt_io.prune_checkpoints(self.run_dir.checkpoints_dir, self.config.keep_checkpoints,
                                      {self.best_step} if self.best_step >= 0 else set())
            self._emit(CheckpointEvent(self.step, str(saved.path)))
        self.dist.barrier()

    # ------------------------------------------------------------------------------------ corrections
    def _apply_corrections(self, changes_list: list[dict[str, Any]]) -> None:
        for changes in changes_list:
            if {"lr", "schedule", "min_lr", "warmup_steps"} & set(changes):
                lr = changes.get("lr", self.schedule.lr_at(self.step))
                self.schedule.restart(self.step, self.config.max_steps, lr=lr, min_lr=changes.get("min_lr"),
                                      schedule=changes.get("schedule", "cosine"),
                                      warmup_steps=int(changes.get("warmup_steps", 0)))
            elif "lr_scale" in changes:
                self.schedule.scale(self.step, float(changes["lr_scale"]))
            if "grad_clip" in changes:
                self.config.grad_clip = float(changes["grad_clip"])
            if "eval_interval" in changes:
                self.config.eval_interval = max(1, int(changes["eval_interval"]))
            if self.dist.is_main:
                corrections = self.run_dir.read().get("corrections", [])
                self.run_dir.update(corrections=[*corrections, {"step": self.step, **changes}])
            self._emit(CorrectionEvent(self.step, dict(changes)))

    # ------------------------------------------------------------------------------------- evaluation
    @torch.no_grad()
    def evaluate(self) -> EvalEvent:
        """Mean validation loss over the same fixed batches every time; perplexity and bits per byte."""
        self.model.eval()
        sampler = self._make_sampler(self.val_shard, self.config.seed + EVAL_SEED_OFFSET, 0, 1)
        generator = torch.Generator().manual_seed(self.config.seed + EVAL_SEED_OFFSET)
        total = 0.0
        for _ in range(self.config.eval_batches):
            with self.autocast:
                _, lm = self.objective(self._batch(sampler, generator))
            total += float(lm)
        self.model.train()
        loss = total / self.config.eval_batches
        bpb = loss * self.val_tokens_per_byte / math.log(2) if self.model_config.causal else None
        return EvalEvent(self.step, loss, math.exp(min(loss, 50.0)), bpb, self.tokens_seen)

    @torch.no_grad()
    def sample(self) -> SampleEvent | None:
        """A short continuation from a document start, with a fixed seed so samples compare across steps.

        A masked model cannot continue text; it gets a fill-mask probe on the same validation text instead.
        """
        if self.config.sample_tokens <= 0:
            return None
        if not self.model_config.causal:
            probe = fill_mask_probe(self.model, self.tokenizer, self._probe_text())
            return SampleEvent(self.step, probe) if probe else None
        self.model.eval()
        generator = torch.Generator(device=self.device).manual_seed(self.config.seed)
        prompt = torch.tensor([[self.tokenizer.eos_id]], device=self.device)
        with self.autocast:
            out = self.model.generate(prompt, self.config.sample_tokens, temperature=0.8, top_k=40,
                                      generator=generator)
        self.model.train()
        return SampleEvent(self.step, self.tokenizer.decode(out[0, 1:].tolist()))

    def _probe_text(self) -> np.ndarray:
        """The first validation document long enough to probe (else the split's first tokens)."""
        for index in range(min(self.val_shard.documents, 50)):
            doc = self.val_shard.document(index)
            if len(doc) >= 12:
                return doc
        return np.asarray(self.val_shard.tokens[:64])

    def _load_probes(self) -> list[tuple[dict[str, Any], list[Any]]]:
        """Read each zero-shot probe's items once, before training, so a bad file fails the start, not step N."""
        from gpt_studio.engine.zero_shot_data import load_zero_shot_items

        return [(probe, load_zero_shot_items(probe["data"], probe["task"], options=probe.get("options"),
                                             limit=int(probe.get("limit", 200))))
                for probe in self.config.probes]

    def _run_probes(self) -> None:
        """Zero-shot accuracy on every probe with the weights as they are now (main process only)."""
        from gpt_studio.engine.zero_shot_data import score_zero_shot_items

        for probe, items in self.probes:
            with self.autocast:
                report = score_zero_shot_items(self.model, self.tokenizer, items, probe["task"])
            self._emit(ProbeEvent(self.step, probe_name(probe), probe["task"], report.accuracy, report.chance,
                                  report.n))

    def _evaluate_and_sample(self) -> EvalEvent:
        if self.dist.is_main:
            self._emit(PhaseEvent(self.step, "evaluating"))
        event = self.evaluate()
        if event.val_loss < self.best_val_loss:
            self.best_val_loss, self.best_step = event.val_loss, self.step
        self._emit(event)
        sample = self.sample() if self.dist.is_main else None
        if sample is not None:
            self._emit(sample)
        self._run_probes()
        return event

    # -------------------------------------------------------------------------------------- the loop
    def _train_step(self) -> tuple[float, float]:
        """One optimizer step over grad_accum micro-batches; returns (loss, grad norm) or raises on NaN."""
        cfg = self.config
        lr = self.schedule.lr_at(self.step)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        loss_sum = torch.zeros((), device=self.device)
        for micro in range(cfg.grad_accum):
            batch = self._batch(self.sampler, self.mask_generator)
            sync = nullcontext() if micro == cfg.grad_accum - 1 else self.dist.no_sync(self.objective)
            with sync, self.autocast:
                loss, _ = self.objective(batch)
                loss = loss / cfg.grad_accum
            self.scaler.scale(loss).backward()
            loss_sum += loss.detach()
        loss_value = self.dist.mean(float(loss_sum))
        if not math.isfinite(loss_value):
            self.optimizer.zero_grad(set_to_none=True)
            raise _NonFiniteLoss(loss_value)
        self.scaler.unscale_(self.optimizer)
        norm = torch.nn.utils.clip_grad_norm_(self.model.parameters(), cfg.grad_clip if cfg.grad_clip > 0 else 1e30)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        return loss_value, float(norm)

    def run(self) -> dict[str, Any]:
        """Train until max_steps or a stop; returns the run summary (also written to run.json)."""
        started = time.perf_counter()
        self._setup()
        latest = ckpt_io.latest_checkpoint(self.run_dir.checkpoints_dir)
        if latest is not None:
            self._restore(latest)
        elif self.dist.is_main:  # nothing to resume from: start over, without the records of a failed start
            truncate_metrics_after(self.run_dir, -1)
            truncate_metrics_after(self.run_dir, -1, samples=True)
        self._open_writers()
        if self.resume_changes:
            self._apply_corrections([self.resume_changes])
        if self.dist.is_main:
            self.run_dir.update(status="running", max_steps=self.config.max_steps, device=str(self.device),
                                world_size=self.dist.world_size)
        initial = self._evaluate_and_sample() if self.step == 0 else None
        tokens_per_step = (self.config.batch_size * self.config.grad_accum * self.dist.world_size
                           * self.model_config.context_length)
        reason, last_eval = "completed", initial
        try:
            while self.step < self.config.max_steps:
                if self.control.paused:
                    self.control.wait_if_paused()
                self._apply_corrections(self.control.take_corrections())
                if self.dist.any(self.control.stop_requested):  # every rank stops at the same step
                    reason = "stopped"
                    break
                t0 = time.perf_counter()
                loss, norm = self._train_step()
                dt = time.perf_counter() - t0
                self.step += 1
                self.tokens_seen += tokens_per_step
                self.train_seconds += dt
                self.recent_losses = (self.recent_losses + [loss])[-10:]
                self._emit(StepEvent(self.step, loss, self.schedule.lr_at(self.step - 1), norm, self.tokens_seen,
                                     tokens_per_step / dt, time.perf_counter() - started))
                if self.step % self.config.eval_interval == 0 or self.step == self.config.max_steps:
                    last_eval = self._evaluate_and_sample()
                if self.step % self.config.checkpoint_interval == 0 or self.step == self.config.max_steps:
                    self._save()
        except _NonFiniteLoss as exc:
            kept = ckpt_io.latest_checkpoint(self.run_dir.checkpoints_dir)
            where = (f"the last good checkpoint (step {kept.step}) was kept. Resume from it" if kept else
                     "no checkpoint had been written yet. Start again")
            message = (f"The loss became {exc.value} at step {self.step + 1}; training stopped and {where} with a "
                       "lower learning rate (e.g. half) or tighter clipping, or use fp32/bf16 instead of fp16.")
            return self._fail("nan", message, started)
        except (torch.cuda.OutOfMemoryError, RuntimeError) as exc:
            if "out of memory" not in str(exc).lower():
                raise
            half = max(1, self.config.batch_size // 2)
            message = (f"Out of memory on {self.device} at batch size {self.config.batch_size}. Try batch_size={half}"
                       f" with grad_accum={self.config.grad_accum * 2} (same tokens per step), a shorter context, "
                       "or bf16; the last good checkpoint, if any, was kept.")
            return self._fail("oom", message, started)
        if reason == "stopped" or (self.step == self.config.max_steps and not self._has_checkpoint_at_step()):
            self._save()
        if last_eval is None or last_eval.step != self.step:
            last_eval = self._evaluate_and_sample()
        summary = self._summary(reason, initial, last_eval, started)
        if self.dist.is_main:
            self.run_dir.update(status=reason, summary=summary)
        self._emit(EndEvent(self.step, reason, summary))
        self._close()
        self.dist.barrier()  # ranks leave together: a peer's exit mid-collective aborts gloo
        return summary

    def _has_checkpoint_at_step(self) -> bool:
        latest = ckpt_io.latest_checkpoint(self.run_dir.checkpoints_dir)
        return latest is not None and latest.step == self.step

    def _fail(self, reason: str, message: str, started: float) -> dict[str, Any]:
        self._emit(ErrorEvent(self.step, reason, message))
        summary = self._summary("error", None, None, started)
        summary["error"] = message
        if self.dist.is_main:
            self.run_dir.update(status="error", error=message, summary=summary)
        self._emit(EndEvent(self.step, "error", summary))
        self._close()
        raise StudioError(message, details={"run_id": self.run_dir.run_id, "reason": reason, "steps": self.step})

    def _summary(self, reason: str, initial: EvalEvent | None, last: EvalEvent | None,
                 started: float) -> dict[str, Any]:
        previous = self.run_dir.read().get("summary", {}) if self.dist.is_main else {}
        return {
            "run_id": self.run_dir.run_id, "reason": reason, "steps": self.step, "tokens": self.tokens_seen,
            "parameters": self.model.num_parameters(), "device": str(self.device), "world_size": self.dist.world_size,
            "initial_val_loss": initial.val_loss if initial else previous.get("initial_val_loss"),
            "final_train_loss": float(np.mean(self.recent_losses)) if self.recent_losses else None,
            "final_val_loss": last.val_loss if last else None,
            "val_perplexity": last.val_perplexity if last else None,
            "val_bits_per_byte": last.val_bits_per_byte if last else None,
            "best_val_loss": self.best_val_loss if math.isfinite(self.best_val_loss) else None,
            "tokens_per_second": self.tokens_seen / self.train_seconds if self.train_seconds else None,
            "train_seconds": self.train_seconds, "wall_seconds": time.perf_counter() - started,
        }

    def _close(self) -> None:
        for writer in (self.metrics, self.samples):
            if writer is not None:
                writer.close()


class _NonFiniteLoss(Exception):
    def __init__(self, value: float) -> None:
        super().__init__(str(value))
        self.value = value

