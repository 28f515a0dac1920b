"""The run monitor's status strip: step / max, tokens, elapsed, ETA, throughput, MFU and memory.

Figures are computed from the step table at redraw time (never in a signal slot). The ETA uses the recent
wall-clock throughput (tokens over wall time across the last rows), which includes evaluations and
checkpoints, so it does not promise more than the run delivers.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from gpt_studio.ui.widgets.monitor_data import (
    E_LOSS,
    E_STEP,
    S_GRAD,
    S_LOSS,
    S_LR,
    S_STEP,
    S_TOKENS,
    S_TPS,
    S_WALL,
    Table,
    x_column,
)

RECENT_ROWS = 50  # rows behind the "recent" throughput (ETA) and the median tokens/s
MEMORY_EVERY_S = 1.0


def format_count(value: float) -> str:
    """12_345_678 → "12.3M": short counts for a one-line strip."""
    for limit, suffix in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.3g}{suffix}"
    return f"{value:.0f}"


def format_duration(seconds: float) -> str:
    """3725 → "1:02:05", 65 → "1:05"."""
    if not math.isfinite(seconds) or seconds < 0:
        return "–"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def format_bytes(value: float) -> str:
    """Bytes in binary units (GiB, MiB)."""
    for limit, suffix in ((1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")):
        if value >= limit:
            return f"{value / limit:.2f} {suffix}"
    return f"{value:.0f} B"


def default_memory_probe() -> str | None:
    """Peak CUDA memory of this process when torch uses CUDA, else its resident memory (psutil), else None.

    Never imports torch itself: the app imports it off the GUI thread at start-up.
    """
    torch = sys.modules.get("torch")
    try:
        if torch is not None and torch.cuda.is_available() and torch.cuda.is_initialized():
            return f"GPU peak {format_bytes(torch.cuda.max_memory_allocated())}"
    except Exception:  # noqa: BLE001 - a probe must never break the monitor
        pass
    try:
        import psutil
    except ImportError:
        return None
    return f"RAM {format_bytes(psutil.Process().memory_info().rss)}"


@dataclass
class RunInfo:
    """What begin_run tells the monitor about the run (all optional but the id and vocabulary)."""

    run_id: str = ""
    vocab_size: int = 0
    tokens_per_step: int | None = None
    max_steps: int | None = None
    params: int | None = None
    peak_flops: float | None = None


class StatusStrip(QWidget):
    """One line of labelled figures under the plots."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.memory_probe: Callable[[], str | None] | None = default_memory_probe
        self._memory_text, self._memory_at = "", 0.0
        self.labels: dict[str, QLabel] = {}
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        tips = {"step": "optimizer steps done / the run's total", "tokens": "training tokens seen",
                "elapsed": "wall time of the logged steps (all invocations)",
                "eta": "time left at the recent throughput (evaluations and checkpoints included)",
                "speed": "median tokens per second over the last steps (time inside the steps)",
                "mfu": "model FLOPs utilisation: 6·N·tokens/s ÷ the device's peak FLOP/s",
                "memory": "peak GPU memory of this process, or its resident memory on CPU",
                "checkpoint": "the newest checkpoint written"}
        for key, tip in tips.items():
            label = QLabel("")
            label.setToolTip(tip)
            self.labels[key] = label
            layout.addWidget(label)
        layout.addStretch(1)

    def clear(self) -> None:
        """Empty every field."""
        for label in self.labels.values():
            label.setText("")

    def set_checkpoint(self, step: int) -> None:
        """Show the newest checkpoint's step."""
        self.labels["checkpoint"].setText(f"checkpoint @ {step:,}")

    def update_from(self, steps: Table, info: RunInfo) -> None:
        """Recompute the figures from the step table."""
        if steps.n == 0:
            return
        step, tokens, wall = steps.rows[-1, S_STEP], steps.rows[-1, S_TOKENS], steps.rows[-1, S_WALL]
        total = f" / {info.max_steps:,}" if info.max_steps else ""
        self.labels["step"].setText(f"step {int(step):,}{total}")
        self.labels["tokens"].setText(f"{format_count(tokens)} tokens")
        self.labels["elapsed"].setText(f"elapsed {format_duration(wall)}")
        speed = float(np.median(steps.column(S_TPS)[-RECENT_ROWS:]))
        self.labels["speed"].setText(f"{format_count(speed)} tokens/s")
        self.labels["eta"].setText(f"ETA {format_duration(self._eta(steps, info))}" if info.max_steps else "")
        if info.params and info.peak_flops:
            self.labels["mfu"].setText(f"MFU {100 * 6 * info.params * speed / info.peak_flops:.1f}%")
        else:
            self.labels["mfu"].setText("")
        self._update_memory()

    @staticmethod
    def _eta(steps: Table, info: RunInfo) -> float:
        """Seconds to max_steps at the recent wall-clock throughput."""
        rows = steps.rows[-RECENT_ROWS:]
        step, tokens = rows[-1, S_STEP], rows[-1, S_TOKENS]
        per_step = info.tokens_per_step or (tokens / step if step else 0)
        d_tokens, d_wall = rows[-1, S_TOKENS] - rows[0, S_TOKENS], rows[-1, S_WALL] - rows[0, S_WALL]
        rate = d_tokens / d_wall if d_wall > 0 and d_tokens > 0 else float(rows[-1, S_TPS])
        remaining = max(0.0, (info.max_steps or 0) - step) * per_step
        return remaining / rate if rate > 0 else math.inf

    def _update_memory(self) -> None:
        now = time.monotonic()
        if self.memory_probe is None or now - self._memory_at < MEMORY_EVERY_S:
            return
        self._memory_at = now
        text = self.memory_probe() or ""
        if text != self._memory_text:
            self._memory_text = text
            self.labels["memory"].setText(text)


def readout_text(steps: Table, evals: Table, smoothed: np.ndarray, mode: str, x: float) -> str:
    """The crosshair's line: the step nearest to ``x`` on the ``mode`` axis, and the nearest evaluation."""
    xs = steps.column(x_column(mode))
    i = int(np.clip(np.searchsorted(xs, x), 0, len(xs) - 1))
    if i > 0 and abs(xs[i - 1] - x) < abs(xs[i] - x):
        i -= 1
    r = steps.rows[i]
    ema = smoothed
    smooth = f" (smoothed {ema[i]:.4f})" if i < len(ema) else ""
    text = (f"step {int(r[S_STEP]):,} · {format_count(r[S_TOKENS])} tokens · "
            f"{format_duration(r[S_WALL])} · "
            f"loss {r[S_LOSS]:.4f}{smooth} · lr {r[S_LR]:.2e} · grad norm {r[S_GRAD]:.3f} · "
            f"{format_count(r[S_TPS])} tokens/s")
    if evals.n:
        ex = evals.column(x_column(mode))
        j = int(np.argmin(np.abs(ex - x)))
        text += f" · val {evals.rows[j, E_LOSS]:.4f} @ step {int(evals.rows[j, E_STEP]):,}"
    return text
