"""The run monitor's data: growable numpy buffers of step and eval records, debiased EMA and loss spikes.

Pure numpy (no Qt), so the maths is testable on its own and the monitor's slots stay cheap: a slot only
appends rows; the redraw timer extends the smoothed curve over the rows that arrived since the last redraw.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from gpt_studio.engine.trainer_config import EvalEvent, StepEvent

# columns of the step table, in order
STEP_COLUMNS = ("step", "tokens", "wall", "loss", "lr", "grad_norm", "tokens_per_second")
S_STEP, S_TOKENS, S_WALL, S_LOSS, S_LR, S_GRAD, S_TPS = range(len(STEP_COLUMNS))
EVAL_COLUMNS = ("step", "tokens", "wall", "val_loss", "val_perplexity", "val_bits_per_byte")
E_STEP, E_TOKENS, E_WALL, E_LOSS, E_PPL, E_BPB = range(len(EVAL_COLUMNS))
X_MODES = ("step", "tokens", "wall time")
SPIKE_BETA = 0.95  # spike detection uses its own fixed window, so the display slider cannot hide spikes
SPIKE_SIGMAS = 3.0
SPIKE_WARMUP = 20  # steps before the running spread is trusted


class Table:
    """Rows of floats in a numpy array that doubles when full (amortised O(1) appends, views without copies)."""

    def __init__(self, columns: int, capacity: int = 1024) -> None:
        self._data = np.empty((capacity, columns), dtype=np.float64)
        self.n = 0

    def append(self, rows: np.ndarray) -> None:
        """Append a (k, columns) array."""
        need = self.n + len(rows)
        if need > len(self._data):
            grown = np.empty((max(need, 2 * len(self._data)), self._data.shape[1]), dtype=np.float64)
            grown[: self.n] = self._data[: self.n]
            self._data = grown
        self._data[self.n:need] = rows
        self.n = need

    def truncate(self, n: int) -> None:
        """Keep the first ``n`` rows."""
        self.n = max(0, min(n, self.n))

    def column(self, index: int) -> np.ndarray:
        """A view of one column over the filled rows."""
        return self._data[: self.n, index]

    @property
    def rows(self) -> np.ndarray:
        """A view of the filled rows."""
        return self._data[: self.n]


EVENT_FIELDS = ("step", "tokens_seen", "elapsed_seconds", "loss", "lr", "grad_norm", "tokens_per_second")  # by column


def step_rows(events: Sequence[StepEvent], wall_offset: float, last_elapsed: float) -> tuple[np.ndarray, float, float]:
    """Rows for ``events`` with a cumulative wall clock across invocations (a resume restarts ``elapsed``).

    Returns (rows, new wall offset, last elapsed seen).
    """
    return wall_rows(_event_rows(events), wall_offset, last_elapsed)


def _event_rows(events: Sequence[StepEvent]) -> np.ndarray:
    return np.array([(e.step, e.tokens_seen, e.elapsed_seconds, e.loss, e.lr, e.grad_norm, e.tokens_per_second)
                     for e in events], dtype=np.float64).reshape(-1, len(EVENT_FIELDS))


def step_array(items: Sequence[Any]) -> np.ndarray:
    """Raw step rows in :data:`EVENT_FIELDS` order from StepEvents and step blocks, in their order.

    A history reader hands a long run over as blocks (``kind == "steps"``: a float array ``rows`` with columns
    named by ``fields``); taking their arrays as they are spares making and unpacking 100k StepEvents.
    """
    parts: list[np.ndarray] = []
    events: list[StepEvent] = []
    for item in items:
        if getattr(item, "kind", None) != "steps":
            events.append(item)
            continue
        if events:
            parts.append(_event_rows(events))
            events = []
        parts.append(in_event_order(item.rows, item.fields))
    if events:
        parts.append(_event_rows(events))
    return np.concatenate(parts) if parts else np.empty((0, len(EVENT_FIELDS)), dtype=np.float64)


def in_event_order(rows: np.ndarray, fields: Sequence[str]) -> np.ndarray:
    """``rows`` whose columns are the StepEvent ``fields`` named, as columns in :data:`EVENT_FIELDS` order."""
    return rows[:, [list(fields).index(name) for name in EVENT_FIELDS]]


def wall_rows(raw: np.ndarray, wall_offset: float, last_elapsed: float) -> tuple[np.ndarray, float, float]:
    """Step rows from ``raw`` rows in :data:`EVENT_FIELDS` order: its elapsed column becomes a continuous clock.

    ``elapsed_seconds`` restarts at each invocation of a run (a resume); where it falls, the clock goes on
    from where the last one stopped. Vectorised, as a loaded history brings 100k rows at once.
    Returns (rows, new wall offset, last elapsed seen).
    """
    if len(raw) == 0:
        return raw.reshape(0, len(STEP_COLUMNS)), wall_offset, last_elapsed
    elapsed = raw[:, S_WALL]
    before = np.concatenate(([last_elapsed], elapsed[:-1]))  # elapsed of the row before each row
    offsets = wall_offset + np.cumsum(np.where(elapsed < before, before, 0.0))
    rows = raw.copy()
    rows[:, S_WALL] = offsets + elapsed
    return rows, float(offsets[-1]), float(elapsed[-1])


def eval_row(event: EvalEvent, wall: float) -> np.ndarray:
    """One eval row; a missing bits-per-byte (BERT) is NaN."""
    bpb = math.nan if event.val_bits_per_byte is None else event.val_bits_per_byte
    return np.array([[event.step, event.tokens_seen, wall, event.val_loss, event.val_perplexity, bpb]])


def _chunk_length(beta: float) -> int:
    """Longest chunk whose powers β^-k stay far from overflow (β^-k < 1e150)."""
    return max(1, min(4096, int(150 * math.log(10) / -math.log(beta))))


@functools.lru_cache(maxsize=16)
def _powers(beta: float) -> np.ndarray:
    """β^0 … β^chunk for :func:`ema_extend`, computed once per β: it was ~1 ms a call, most of a small update."""
    powers = beta ** np.arange(_chunk_length(beta) + 1, dtype=np.float64)
    powers.flags.writeable = False
    return powers


def ema_extend(x: np.ndarray, beta: float, state: float) -> tuple[np.ndarray, float]:
    """The raw (biased) EMA m_t = β·m_{t-1} + (1−β)·x_t over ``x``, starting from m = ``state``.

    Vectorised per chunk: within a chunk m_j = β^{j+1}·m_0 + (1−β)·β^j·Σ_{i≤j} β^{-i}·x_i, with chunks short
    enough that β^{-i} cannot overflow. Returns (EMA values, last state).
    """
    out = np.empty(len(x), dtype=np.float64)
    if len(x) == 0:
        return out, state
    if beta <= 0.0:
        out[:] = x
        return out, float(x[-1])
    powers = _powers(beta)  # β^0 … β^size
    size = len(powers) - 1
    for start in range(0, len(x), size):
        chunk = x[start:start + size]
        k = len(chunk)
        weighted = np.cumsum(chunk / powers[:k])  # Σ β^{-i} x_i
        out[start:start + k] = powers[1:k + 1] * state + (1.0 - beta) * powers[:k] * weighted
        state = float(out[start + k - 1])
    return out, state


def debias(ema: np.ndarray, beta: float, first_t: int) -> np.ndarray:
    """Adam's bias correction m_t / (1 − β^t), t counted from 1 at the run's first step."""
    if beta <= 0.0:
        return ema.copy()
    t = np.arange(first_t, first_t + len(ema), dtype=np.float64)
    return ema / (1.0 - np.power(beta, t))


class Smoother:
    """A debiased EMA over a growing series, extended incrementally; a new β recomputes from the start."""

    def __init__(self, beta: float) -> None:
        self.beta = beta
        self.values = Table(1)
        self._state = 0.0

    def reset(self, beta: float | None = None) -> None:
        """Forget the computed values (new β, a truncated series, a new run)."""
        if beta is not None:
            self.beta = beta
        self.values.truncate(0)
        self._state = 0.0

    def update(self, series: np.ndarray) -> np.ndarray:
        """Smoothed values for all of ``series`` (only the new tail is computed)."""
        done = self.values.n
        if done > len(series):
            self.reset()
            done = 0
        if done < len(series):
            raw, self._state = ema_extend(series[done:], self.beta, self._state)
            self.values.append(debias(raw, self.beta, done + 1)[:, None])
        return self.values.column(0)


class SpikeDetector:
    """Steps where the raw loss jumps above its running mean by more than 3 running standard deviations.

    Mean and variance are debiased EMAs (β = 0.95) of the loss and of its squared deviation from the mean
    *before* the step, so a spike does not hide itself by raising its own threshold. Vectorised and
    incremental: each update scans only the rows added since the last one.
    """

    def __init__(self) -> None:
        self.indices: list[int] = []
        self._n = 0
        self._mean = self._var = 0.0  # raw EMA states after row n - 1

    def reset(self) -> None:
        """Start over (a new run or a truncated series)."""
        self.indices, self._n, self._mean, self._var = [], 0, 0.0, 0.0

    def update(self, losses: np.ndarray) -> list[int]:
        """Indices of all spikes in ``losses`` so far."""
        if self._n > len(losses):
            self.reset()
        x = np.asarray(losses[self._n:], dtype=np.float64)
        if len(x) == 0:
            return self.indices
        b, n0 = SPIKE_BETA, self._n
        rows = np.arange(n0, n0 + len(x), dtype=np.float64)  # row r: the EMA of rows < r is debiased by 1 - β^r
        first = rows == 0
        correction = np.where(first, 1.0, 1.0 - np.power(b, rows))
        means, mean_state = ema_extend(x, b, self._mean)
        prior = np.where(first, x, np.concatenate(([self._mean], means[:-1])) / correction)
        variances, var_state = ema_extend((x - prior) ** 2, b, self._var)
        prior_var = np.where(first, 0.0, np.concatenate(([self._var], variances[:-1])) / correction)
        spread = np.sqrt(np.maximum(prior_var, 0.0))
        hits = (rows + 1 > SPIKE_WARMUP) & (spread > 0) & (x > prior + SPIKE_SIGMAS * spread)
        self.indices.extend(int(i) for i in np.flatnonzero(hits) + n0)
        self._mean, self._var, self._n = mean_state, var_state, n0 + len(x)
        return self.indices


def x_column(mode: str) -> int:
    """Column index (in both tables) of the x axis named ``mode``."""
    return {"step": S_STEP, "tokens": S_TOKENS, "wall time": S_WALL}[mode]


def step_to_x(steps: Iterable[float], table: Table, mode: str) -> np.ndarray:
    """Map step numbers onto the x axis ``mode`` by interpolating the step table (markers, evals)."""
    at = np.asarray(list(steps), dtype=np.float64)
    col = x_column(mode)
    if col == S_STEP or table.n == 0:
        return at
    xs = np.concatenate(([0.0], table.column(S_STEP)))
    ys = np.concatenate(([0.0], table.column(col)))
    return np.interp(at, xs, ys)


CSV_HEADER = ("step", "tokens_seen", "wall_seconds", "loss", "loss_smoothed", "lr", "grad_norm", "tokens_per_second",
              "val_loss", "val_perplexity", "val_bits_per_byte")


def csv_rows(steps: Table, smoothed: np.ndarray, evals: Table) -> list[list[object]]:
    """One row per step that has a step or an eval record (step 0: the initial evaluation), sorted by step."""
    by_step: dict[int, list[object]] = {}
    for row, smooth in zip(steps.rows, smoothed):
        by_step[int(row[S_STEP])] = [int(row[S_STEP]), int(row[S_TOKENS]), float(row[S_WALL]), float(row[S_LOSS]),
                                     float(smooth), float(row[S_LR]), float(row[S_GRAD]), float(row[S_TPS]), "", "", ""]
    for row in evals.rows:
        step = int(row[E_STEP])
        out = by_step.get(step) or [step, int(row[E_TOKENS]), float(row[E_WALL]), "", "", "", "", "", "", "", ""]
        bpb = "" if math.isnan(row[E_BPB]) else float(row[E_BPB])
        out[8:11] = [float(row[E_LOSS]), float(row[E_PPL]), bpb]
        by_step[step] = out
    return [by_step[s] for s in sorted(by_step)]
