"""The trainer's configuration, learning-rate schedule and events: plain data, no torch.

Kept apart from the training loop so the UI form, the planner and the CLI can build and validate a
configuration without importing torch.
"""

from __future__ import annotations

import math
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from typing import Any

PRECISIONS = ("fp32", "bf16", "fp16")
SCHEDULES = ("cosine", "linear", "constant")
DEVICES = ("auto", "cpu", "cuda", "mps")


PROBE_TASKS = ("label-words", "multiple-choice", "winograd")  # engine/zero_shot_data.ZERO_SHOT_TASKS


def check_probe(probe: dict[str, Any]) -> None:
    """A zero-shot probe names a task, a data file and optionally a name, a limit and task options."""
    if not isinstance(probe, dict) or probe.get("task") not in PROBE_TASKS or not probe.get("data"):
        raise ValueError(f"A probe needs a task ({', '.join(PROBE_TASKS)}) and a data file, e.g. "
                         f'{{"task": "label-words", "data": "sentiment.csv"}}; got {probe!r}.')
    unknown = sorted(set(probe) - {"task", "data", "name", "limit", "options"})
    if unknown:
        raise ValueError(f"Unknown probe field(s) {', '.join(unknown)}; probes take task, data, name, limit, options.")
    if int(probe.get("limit", 200)) < 1:
        raise ValueError("A probe's limit must be 1 or more items.")


def probe_name(probe: dict[str, Any]) -> str:
    """What the monitor calls a probe: its name, else task and file name."""
    return str(probe.get("name") or f"{probe['task']}: {str(probe['data']).replace(chr(92), '/').rsplit('/', 1)[-1]}")


@dataclass(kw_only=True)
class TrainConfig:
    """How to train; every field can be set from the CLI with ``--set key=value``."""

    batch_size: int = 32  # sequences per micro-batch per process
    grad_accum: int = 1  # micro-batches per optimizer step (global batch = batch · accum · processes)
    max_steps: int = 1000  # optimizer steps in the run's total (a resume continues towards it)
    lr: float = 6e-4  # peak learning rate, reached after warmup
    min_lr: float | None = None  # end of the decay; None = lr / 10
    warmup_steps: int = 100  # linear warmup from 0
    schedule: str = "cosine"  # cosine | linear | constant decay after warmup
    weight_decay: float = 0.1  # AdamW decay of matrices only (not norms, biases, embeddings)
    beta1: float = 0.9
    beta2: float = 0.95  # 0.95 rather than 0.999: steadier for small-batch language-model training
    eps: float = 1e-8
    grad_clip: float = 1.0  # max global gradient norm; 0 = off
    precision: str = "fp32"  # fp32 | bf16 (autocast) | fp16 (autocast + loss scaling, CUDA only)
    device: str = "auto"  # auto = cuda, else mps, else cpu
    compile: bool = False  # torch.compile the model (slow start; can pay off on long GPU runs)
    seed: int = 1337
    eval_interval: int = 250  # steps between evaluations (and the step-0 evaluation)
    eval_batches: int = 20  # batches averaged per evaluation (the same fixed batches every time)
    checkpoint_interval: int = 500  # steps between checkpoints; the last step always gets one
    keep_checkpoints: int = 2  # newest checkpoints kept, plus the best by validation loss
    sample_tokens: int = 64  # GPT: tokens generated at each evaluation; BERT: > 0 = a fill-mask probe (0 = none)
    mlm_probability: float = 0.15  # BERT: share of tokens selected for the masked-LM loss
    nsp: bool | None = None  # BERT: next-sentence prediction; None = when the model has an NSP head
    threads: int = 0  # CPU threads for torch; 0 = torch's default
    tensorboard: bool = False  # also write TensorBoard event files to runs/<id>/tensorboard (optional extra)
    # zero-shot probes scored at every evaluation: [{"task": "label-words", "data": "/path.csv", "limit": 200,
    # "name": "sentiment", "options": {...}}]; see engine/zero_shot_data.py for tasks, files and options
    probes: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        positive = ("batch_size", "grad_accum", "max_steps", "eval_interval", "eval_batches", "checkpoint_interval",
                    "keep_checkpoints")
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be 1 or more (got {getattr(self, name)}).")
        if self.lr <= 0 or (self.min_lr is not None and not 0 <= self.min_lr <= self.lr):
            raise ValueError(f"lr must be positive and min_lr between 0 and lr (lr={self.lr}, min_lr={self.min_lr}).")
        if self.warmup_steps < 0:
            raise ValueError("warmup_steps cannot be negative.")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, not {self.schedule!r}.")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, not {self.precision!r}.")
        if self.device not in DEVICES and not self.device.startswith("cuda:"):
            raise ValueError(f"device must be one of {', '.join(DEVICES)} or cuda:N, not {self.device!r}.")
        if self.grad_clip < 0 or not 0 < self.mlm_probability < 1:
            raise ValueError("grad_clip must be ≥ 0 and mlm_probability between 0 and 1.")
        for probe in self.probes:
            check_probe(probe)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys are refused by name."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"Unknown training setting(s): {', '.join(unknown)}. Known: {', '.join(sorted(known))}.")
        return cls(**data)


@dataclass(frozen=True)
class ScheduleSegment:
    """The learning-rate curve in force from ``start_step`` on; a mid-flight correction appends a segment.

    The curve is warmup then decay measured from ``origin_step`` (normally ``start_step``), times ``factor``:
    a "scale the rate" correction keeps the earlier curve's shape by copying it with a new factor.
    """

    start_step: int
    lr: float
    min_lr: float
    warmup_steps: int
    schedule: str
    end_step: int
    origin_step: int | None = None
    factor: float = 1.0

    def lr_at(self, step: int) -> float:
        """Learning rate at an absolute step: warmup, then decay to min_lr by end_step, times factor."""
        origin = self.start_step if self.origin_step is None else self.origin_step
        k = step - origin
        if k < self.warmup_steps:
            return self.factor * self.lr * (k + 1) / (self.warmup_steps + 1)
        span = max(1, self.end_step - origin - self.warmup_steps)
        progress = min(1.0, (k - self.warmup_steps) / span)
        if self.schedule == "constant":
            rate = self.lr
        elif self.schedule == "linear":
            rate = self.lr + (self.min_lr - self.lr) * progress
        else:
            rate = self.min_lr + 0.5 * (self.lr - self.min_lr) * (1 + math.cos(math.pi * progress))
        return self.factor * rate


@dataclass
class Schedule:
    """Piecewise schedule: the segment in force is the last one that started at or before the step."""

    segments: list[ScheduleSegment] = field(default_factory=list)

    @classmethod
    def from_config(cls, config: TrainConfig) -> Schedule:
        """The run's initial schedule."""
        min_lr = config.min_lr if config.min_lr is not None else config.lr / 10
        return cls([ScheduleSegment(0, config.lr, min_lr, config.warmup_steps, config.schedule, config.max_steps)])

    def segment_at(self, step: int) -> ScheduleSegment:
        """The segment in force at ``step``."""
        segment = self.segments[0]
        for candidate in self.segments:
            if candidate.start_step <= step:
                segment = candidate
        return segment

    def lr_at(self, step: int) -> float:
        """Learning rate for ``step``."""
        return self.segment_at(step).lr_at(step)

    def scale(self, step: int, factor: float) -> None:
        """From ``step`` on, multiply the current curve by ``factor`` (its shape is kept)."""
        if factor <= 0:
            raise ValueError("the learning-rate scale must be positive")
        now = self.segment_at(step)
        origin = now.start_step if now.origin_step is None else now.origin_step
        self.segments.append(replace(now, start_step=step, origin_step=origin, factor=now.factor * factor))

    def restart(self, step: int, end_step: int, *, lr: float, min_lr: float | None = None,
                schedule: str = "cosine", warmup_steps: int = 0) -> None:
        """From ``step`` on, a new schedule: warmup to ``lr``, then decay to ``min_lr`` by ``end_step``."""
        if lr <= 0 or schedule not in SCHEDULES:
            raise ValueError(f"lr must be positive and schedule one of {', '.join(SCHEDULES)}")
        self.segments.append(ScheduleSegment(step, lr, lr / 10 if min_lr is None else min_lr, warmup_steps,
                                             schedule, end_step))

    def to_list(self) -> list[dict[str, Any]]:
        """JSON-ready segments."""
        return [asdict(s) for s in self.segments]

    @classmethod
    def from_list(cls, data: list[dict[str, Any]]) -> Schedule:
        """Inverse of :meth:`to_list`."""
        return cls([ScheduleSegment(**d) for d in data])


# ------------------------------------------------------------------------------------------------ events

@dataclass(frozen=True)
class StepEvent:
    """After every optimizer step (plain floats: safe to hand to another thread)."""

    step: int
    loss: float
    lr: float
    grad_norm: float
    tokens_seen: int
    tokens_per_second: float
    elapsed_seconds: float
    kind: str = "step"


@dataclass(frozen=True)
class EvalEvent:
    """After an evaluation on the validation split (step 0 = before training)."""

    step: int
    val_loss: float
    val_perplexity: float
    val_bits_per_byte: float | None
    tokens_seen: int
    kind: str = "eval"


@dataclass(frozen=True)
class SampleEvent:
    """What the model makes of text at an evaluation: a generated sample (GPT) or a fill-mask probe (BERT)."""

    step: int
    text: str
    kind: str = "sample"


@dataclass(frozen=True)
class ProbeEvent:
    """Zero-shot accuracy of the model on a probe task at an evaluation (GPT-1's Figure 2, right)."""

    step: int
    name: str
    task: str
    accuracy: float
    chance: float
    n: int
    kind: str = "probe"


@dataclass(frozen=True)
class CheckpointEvent:
    """A checkpoint was written."""

    step: int
    path: str
    kind: str = "checkpoint"


@dataclass(frozen=True)
class CorrectionEvent:
    """A mid-flight change of the learning rate, clipping or eval interval took effect."""

    step: int
    changes: dict[str, Any]
    kind: str = "correction"


@dataclass(frozen=True)
class ErrorEvent:
    """Training cannot go on: ``reason`` is nan | oom | exception; ``message`` says what to do."""

    step: int
    reason: str
    message: str
    kind: str = "error"


@dataclass(frozen=True)
class PhaseEvent:
    """The loop pauses training for something that takes a while: ``phase`` is evaluating | checkpointing.

    Not recorded in metrics.jsonl: it only tells a person watching why steps stopped arriving (a GPT-1-sized
    checkpoint takes seconds to write); the next step event means training goes on.
    """

    step: int
    phase: str
    kind: str = "phase"


@dataclass(frozen=True)
class EndEvent:
    """The run ended: ``reason`` is completed | stopped | error."""

    step: int
    reason: str
    summary: dict[str, Any]
    kind: str = "end"


Event = (StepEvent | EvalEvent | SampleEvent | ProbeEvent | CheckpointEvent | CorrectionEvent | ErrorEvent
         | EndEvent | PhaseEvent)


EVENT_TYPES: dict[str, type] = {cls.kind: cls for cls in (  # each class's default ``kind`` names it
    StepEvent, EvalEvent, SampleEvent, ProbeEvent, CheckpointEvent, CorrectionEvent, ErrorEvent, EndEvent)}


def event_record(event: Event) -> dict[str, Any]:
    """The metrics.jsonl form of an event."""
    return asdict(event)


def event_from_record(record: dict[str, Any]) -> Event:
    """The event a metrics.jsonl (or samples.jsonl) record stands for: the inverse of :func:`event_record`.

    Fields this version does not know are ignored, so runs written by a newer version still open; an unknown
    ``kind`` or a missing field raises ValueError naming it (the reader decides whether to skip the line).
    """
    if not isinstance(record, dict):
        raise ValueError(f"an event record is a JSON object, not {type(record).__name__}.")
    kind = record.get("kind")
    cls = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        raise ValueError(f"unknown event kind {kind!r}; known: {', '.join(EVENT_TYPES)}.")
    names = {f.name for f in fields(cls)}
    missing = [f.name for f in fields(cls) if f.name not in record and f.default is MISSING]
    if missing:
        raise ValueError(f"a {kind!r} record lacks {', '.join(missing)}.")
    return cls(**{k: v for k, v in record.items() if k in names})
