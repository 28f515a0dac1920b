"""The compute planner: FLOPs, PF-days, memory, time, utilisation and cost of a run, before it starts.

Formulas (all approximations, stated where used):

* Training FLOPs (Kaplan et al. 2020, §2.1): per token, forward ≈ 2N + 2·n_layer·n_ctx·d_model and the
  backward pass twice that, so C ≈ 6·N·D + 6·n_layer·n_ctx·d_model·D for N parameters and D tokens.
* PF-days = FLOPs / (1e15 · 86400), the unit of Brown et al. 2020 (GPT-3) and Kaplan et al.
* Activation memory (Korthikanti et al. 2022, no parallelism): per layer s·b·h·(34 + 5·a·s/h) bytes with
  16-bit activations (s sequence, b batch, h d_model, a heads); doubled for fp32.
* Model FLOPs utilisation MFU = 6·N·tokens_per_second / peak_flops (PaLM, Chowdhery et al. 2022).
* Compute-optimal data (Hoffmann et al. 2022, "Chinchilla"): about 20 tokens per parameter.

Wall time needs a throughput only the machine can tell: :func:`measure_throughput` times a few training steps.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass
from typing import Any

from gpt_studio.engine.model import ModelConfig, count_parameters
from gpt_studio.engine.progress import Reporter

SECONDS_PER_DAY = 86_400
PF_DAY = 1e15 * SECONDS_PER_DAY  # FLOPs in one petaflop/s-day
CHINCHILLA_TOKENS_PER_PARAM = 20.0
FIT_FRACTION = 0.9  # a plan "fits" below 90% of device memory: the runtime and allocator need the rest
ACTIVATION_BYTES = {"fp32": 4, "tf32": 4, "bf16": 2, "fp16": 2}  # bytes per activation value (autocast)
MASTER_BYTES = 4  # weights and gradients stay fp32 under autocast mixed precision
ADAM_BYTES = 8  # two fp32 moments per parameter
MEASURE_STEPS = 5  # timed steps after one untimed warm-up step
MEASURE_BUDGET_S = 20.0  # stop timing early on a slow machine: a few steps already tell the rate


def training_flops(n_params: float, tokens: float, attention_flops_per_token: float = 0.0) -> float:
    """Training FLOPs 6·N·D, plus an optional per-token attention term (:func:`attention_flops_per_token`)."""
    return 6.0 * n_params * tokens + attention_flops_per_token * tokens


def attention_flops_per_token(config: ModelConfig, seq_len: int) -> float:
    """Kaplan et al.'s attention term 6·n_layer·n_ctx·d_model: QKᵀ and AV scores, forward + backward."""
    return 6.0 * config.n_layer * seq_len * config.d_model


def pf_days(flops: float) -> float:
    """Convert FLOPs to petaflop/s-days."""
    return flops / PF_DAY


@dataclass(frozen=True)
class MemoryEstimate:
    """Training memory in bytes, split by what holds it; weights/gradients fp32, Adam's 2 moments fp32."""

    weights: int  # fp32 parameters
    gradients: int  # fp32 gradients
    optimizer: int  # AdamW first and second moments
    activations: int  # saved for the backward pass at the plan's batch, sequence length and precision

    @property
    def total(self) -> int:
        """Sum of all parts."""
        return self.weights + self.gradients + self.optimizer + self.activations

    def to_dict(self) -> dict[str, int]:
        """JSON-ready parts plus the total."""
        return {**dataclasses.asdict(self), "total": self.total}


def activation_bytes(config: ModelConfig, *, batch_size: int, seq_len: int, precision: str = "fp32") -> int:
    """Activations kept for backward: Korthikanti et al.'s per-layer term plus the output logits.

    Per layer s·b·h·(34 + 5·a·s/h) bytes at 16 bits (the 5·a·s/h part is the attention matrix, which a
    fused flash kernel does not store, so GPU runs usually need less), scaled by bytes/2 for the precision.
    The logits (s·b·V) are counted at the compute precision plus the fp32 copy the loss works on.
    """
    s, b, h, a = seq_len, batch_size, config.d_model, config.n_head
    width = ACTIVATION_BYTES[precision]
    per_layer = s * b * h * (34 + 5 * a * s / h) * width / 2
    logits = s * b * config.vocab_size * (4 if width == 4 else width + 4)
    return int(config.n_layer * per_layer + logits)


def memory_estimate(
    config: ModelConfig, *, batch_size: int, seq_len: int, precision: str = "fp32"
) -> MemoryEstimate:
    """Estimate training memory of ``config`` with AdamW at this batch size, sequence length and precision."""
    n = count_parameters(config)
    return MemoryEstimate(
        weights=n * MASTER_BYTES,
        gradients=n * MASTER_BYTES,
        optimizer=n * ADAM_BYTES,
        activations=activation_bytes(config, batch_size=batch_size, seq_len=seq_len, precision=precision),
    )


@dataclass(frozen=True)
class Plan:
    """Everything the planner knows about one run; optional parts are None when their input was not given."""

    parameters: int  # total unique parameters N (the 6·N·D convention counts embeddings too)
    non_embedding_parameters: int  # N without token/position/type embeddings (Kaplan's N)
    tokens: float  # training tokens D
    batch_size: int  # sequences per optimiser step
    seq_len: int  # tokens per sequence
    steps: int  # optimiser steps to see D tokens
    precision: str  # activation precision: fp32, tf32, bf16 or fp16
    flops_6nd: float  # 6·N·D only
    flops: float  # 6·N·D plus the attention term
    pf_days: float  # flops in petaflop/s-days
    memory: MemoryEstimate  # training memory breakdown
    device_memory_bytes: int | None  # memory of the device, if known
    fits: bool | None  # memory.total <= FIT_FRACTION · device memory
    max_batch_size: int | None  # largest batch size that fits (0: not even one sequence)
    tokens_per_second: float | None  # measured training throughput
    wall_seconds: float | None  # tokens / tokens_per_second
    peak_flops: float | None  # device peak FLOP/s at this precision
    mfu: float | None  # 6·N·tokens_per_second / peak_flops
    price_per_gpu_hour: float | None  # rental price
    cost: float | None  # wall hours × price
    chinchilla_tokens: float  # compute-optimal tokens ≈ 20·N
    tokens_per_parameter: float  # D / N, compare with Chinchilla's ~20

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values, with the memory breakdown nested."""
        data = dataclasses.asdict(self)
        data["memory"] = self.memory.to_dict()
        return data


def _check_positive(**values: float | None) -> None:
    """Raise ValueError naming any given value that is not positive."""
    for name, value in values.items():
        if value is not None and not value > 0:
            raise ValueError(f"{name} must be positive, got {value!r}.")


def _max_batch_size(config: ModelConfig, seq_len: int, precision: str, device_memory_bytes: int) -> int:
    """Largest batch whose estimate fits, using that activations grow linearly with the batch size."""
    static = memory_estimate(config, batch_size=1, seq_len=seq_len, precision=precision)
    per_sequence = static.activations
    budget = FIT_FRACTION * device_memory_bytes - (static.total - per_sequence)
    return max(0, math.floor(budget / per_sequence))


def plan(
    config: ModelConfig,
    *,
    tokens: float,
    batch_size: int,
    seq_len: int | None = None,
    precision: str = "fp32",
    device_memory_bytes: int | None = None,
    tokens_per_second: float | None = None,
    peak_flops: float | None = None,
    price_per_gpu_hour: float | None = None,
) -> Plan:
    """Plan a training run of ``config`` on ``tokens`` tokens; see the module docstring for the formulas."""
    seq_len = config.context_length if seq_len is None else seq_len
    _check_positive(
        tokens=tokens,
        batch_size=batch_size,
        seq_len=seq_len,
        device_memory_bytes=device_memory_bytes,
        tokens_per_second=tokens_per_second,
        peak_flops=peak_flops,
    )
    if price_per_gpu_hour is not None and price_per_gpu_hour < 0:
        raise ValueError(f"price_per_gpu_hour cannot be negative, got {price_per_gpu_hour!r}.")
    if seq_len > config.context_length:
        raise ValueError(f"seq_len {seq_len} exceeds the model's context_length {config.context_length}.")
    if precision not in ACTIVATION_BYTES:
        raise ValueError(f"precision must be one of {', '.join(ACTIVATION_BYTES)}, got {precision!r}.")
    n = count_parameters(config)
    flops = training_flops(n, tokens, attention_flops_per_token(config, seq_len))
    memory = memory_estimate(config, batch_size=batch_size, seq_len=seq_len, precision=precision)
    wall = tokens / tokens_per_second if tokens_per_second else None
    cost = wall / 3600 * price_per_gpu_hour if wall is not None and price_per_gpu_hour is not None else None
    has_memory = device_memory_bytes is not None
    max_batch = _max_batch_size(config, seq_len, precision, device_memory_bytes) if has_memory else None
    return Plan(
        parameters=n,
        non_embedding_parameters=count_parameters(config, non_embedding=True),
        tokens=tokens,
        batch_size=batch_size,
        seq_len=seq_len,
        steps=math.ceil(tokens / (batch_size * seq_len)),
        precision=precision,
        flops_6nd=training_flops(n, tokens),
        flops=flops,
        pf_days=pf_days(flops),
        memory=memory,
        device_memory_bytes=device_memory_bytes,
        fits=memory.total <= FIT_FRACTION * device_memory_bytes if has_memory else None,
        max_batch_size=max_batch,
        tokens_per_second=tokens_per_second,
        wall_seconds=wall,
        peak_flops=peak_flops,
        mfu=mfu(n, tokens_per_second, peak_flops) if tokens_per_second and peak_flops else None,
        price_per_gpu_hour=price_per_gpu_hour,
        cost=cost,
        chinchilla_tokens=CHINCHILLA_TOKENS_PER_PARAM * n,
        tokens_per_parameter=tokens / n,
    )


def mfu(n_params: float, tokens_per_second: float, peak_flops: float) -> float:
    """Model FLOPs utilisation: the share of peak FLOP/s that 6·N·throughput represents."""
    return 6.0 * n_params * tokens_per_second / peak_flops


@dataclass(frozen=True)
class PublishedRun:
    """A published model's training compute, plotted next to the user's plan for scale."""

    name: str  # model name as in its paper
    params: float  # parameters N
    tokens: float  # training tokens D
    pf_days: float  # training compute as published
    source: str  # where the numbers come from

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values."""
        return dataclasses.asdict(self)


_GPT3_TABLE = "Brown et al. 2020, GPT-3 paper, Table D.1"
PUBLISHED_RUNS: tuple[PublishedRun, ...] = (
    PublishedRun(name="BERT-Base", params=109e6, tokens=250e9, pf_days=1.89, source=_GPT3_TABLE),
    PublishedRun(name="RoBERTa-Base", params=125e6, tokens=2e12, pf_days=17.4, source=_GPT3_TABLE),
    PublishedRun(name="GPT-3 Small", params=125e6, tokens=300e9, pf_days=2.6, source=_GPT3_TABLE),
    PublishedRun(name="GPT-3 175B", params=174.6e9, tokens=300e9, pf_days=3640.0, source=_GPT3_TABLE),
)


def measure_throughput(config: ModelConfig, *, batch_size: int, precision: str = "fp32", device: str = "auto",
                       steps: int = MEASURE_STEPS, reporter: Reporter | None = None, seed: int = 1337,
                       budget_s: float = MEASURE_BUDGET_S) -> float:
    """Training tokens per second of ``config`` at this micro-batch, precision and device, from a few timed steps.

    One untimed step first (it allocates memory and picks kernels), then up to ``steps`` AdamW steps on random
    tokens, stopping early once ``budget_s`` has passed after at least one. It is a plain training step, not
    the trainer's (no data loading, accumulation or evaluation), so it is an upper bound that is close for the
    compute-bound models a wall-time estimate matters for. ``reporter`` shows progress and can cancel between
    steps (CancelledError). A device or precision this machine lacks raises StudioError, as the trainer would.
    """
    import torch
    import torch.nn.functional as F

    from gpt_studio.engine import devices
    from gpt_studio.engine.model import Transformer

    _check_positive(batch_size=batch_size, steps=steps)
    reporter = reporter or Reporter()
    target = devices.resolve_device(device)
    devices.check_precision(target, precision)
    torch.manual_seed(seed)
    model = Transformer(config).to(target)
    optimizer = torch.optim.AdamW(model.parameters(), lr=6e-4)
    head = model.lm_logits if config.causal else model.mlm_logits
    idx = torch.randint(0, config.vocab_size, (batch_size, config.context_length), device=target)  # (B, T)

    def step() -> None:
        with devices.autocast_context(target, precision):
            logits = head(model(idx))  # (B, T, V)
        loss = F.cross_entropy(logits.float().flatten(0, 1), idx.flatten())
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        float(loss.detach())  # waits for the device, so the clock measures the work

    reporter.progress(0, 0, "Warming up (the first step allocates memory)…", force=True)
    reporter.check()
    step()
    done, started = 0, time.perf_counter()
    while done < steps and (done == 0 or time.perf_counter() - started < budget_s):
        reporter.check()
        step()
        done += 1
        reporter.progress(done, steps, f"Timing step {done} of {steps}")
    return done * idx.numel() / (time.perf_counter() - started)
