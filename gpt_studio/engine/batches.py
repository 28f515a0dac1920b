"""Batch samplers over token shards: what the trainer feeds a causal and a masked model.

Both are numpy-only (no torch import) and carry their whole random state as JSON-ready data, so a
checkpoint can record the data position and a resumed run draws exactly the batches it would have drawn.
Under data parallelism each rank samples from its own contiguous slice of the tokens.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from gpt_studio.engine.data import TokenShard
from gpt_studio.engine.errors import StudioError


def _rank_range(n: int, rank: int, world_size: int) -> tuple[int, int]:
    if not 0 <= rank < world_size:
        raise ValueError(f"rank {rank} is outside world size {world_size}")
    return n * rank // world_size, n * (rank + 1) // world_size


class _Sampler:
    """Shared random-state handling: a PCG64 generator whose state round-trips through JSON."""

    def __init__(self, seed: int, rank: int) -> None:
        self.rng = np.random.Generator(np.random.PCG64([seed, rank]))
        self.batches_drawn = 0

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue the exact sequence of batches."""
        return {"bit_generator": self.rng.bit_generator.state, "batches_drawn": self.batches_drawn}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from a state saved by :meth:`state_dict`."""
        self.rng.bit_generator.state = state["bit_generator"]
        self.batches_drawn = int(state["batches_drawn"])


class CausalWindows(_Sampler):
    """Random contiguous windows for next-token training: ``y`` is ``x`` shifted by one token."""

    def __init__(self, shard: TokenShard, context_length: int, batch_size: int, seed: int = 0,
                 rank: int = 0, world_size: int = 1) -> None:
        super().__init__(seed, rank)
        self.shard, self.context_length, self.batch_size = shard, context_length, batch_size
        self.low, self.high = _rank_range(len(shard), rank, world_size)
        if self.high - self.low < context_length + 2:
            raise StudioError(
                f"The {shard.split} split has {self.high - self.low:,} tokens per rank, fewer than one window of "
                f"context {context_length} + 1; use a shorter context (at most {max(self.high - self.low - 2, 1)}) "
                "or import more text."
            )
        self._offsets = np.arange(context_length + 1)

    def next_batch(self) -> tuple[np.ndarray, np.ndarray]:
        """(x, y), each (batch, context) int64."""
        starts = self.rng.integers(self.low, self.high - self.context_length - 1, size=self.batch_size)
        window = np.asarray(self.shard.tokens[starts[:, None] + self._offsets], dtype=np.int64)  # (B, T+1)
        self.batches_drawn += 1
        return window[:, :-1], window[:, 1:]


@dataclass(frozen=True)
class SpecialIds:
    """The ids the masked sampler writes around segments."""

    cls: int
    sep: int
    pad: int
    newline: int


class MaskedSequences(_Sampler):
    """Document-aware sequences for a masked model: ``[CLS] A [SEP]`` or, with NSP, ``[CLS] A [SEP] B [SEP]``.

    A window never crosses a document boundary. With next-sentence prediction, B continues A half of the
    time and is a span from a random other place the other half; the A/B cut snaps to a line end when one
    is near, so segments tend to be whole lines. Masking itself happens in ``objectives.mask_tokens``.
    """

    def __init__(self, shard: TokenShard, context_length: int, batch_size: int, specials: SpecialIds,
                 nsp: bool = False, seed: int = 0, rank: int = 0, world_size: int = 1) -> None:
        super().__init__(seed, rank)
        if context_length < 8:
            raise StudioError("A masked model needs a context of at least 8 tokens.")
        self.shard, self.context_length, self.batch_size = shard, context_length, batch_size
        self.specials, self.nsp = specials, nsp
        self.low, self.high = _rank_range(len(shard), rank, world_size)
        if self.high - self.low < 4:
            raise StudioError(f"The {shard.split} split is too small to sample from; import more text.")
        self.doc_starts = shard.doc_starts

    def _doc_span(self, position: int) -> tuple[int, int]:
        """[start, end) of the document holding token ``position``, without its </s>."""
        doc = int(np.searchsorted(self.doc_starts, position, side="right")) - 1
        start, end = int(self.doc_starts[doc]), int(self.doc_starts[doc + 1]) - 1
        return max(start, self.low), min(max(end, start + 1), self.high)

    def _window(self, length: int) -> np.ndarray:
        """Up to ``length`` tokens from one document, starting at a uniformly drawn token."""
        position = int(self.rng.integers(self.low, self.high))
        start, end = self._doc_span(position)
        begin = min(position, max(start, end - length))
        return np.asarray(self.shard.tokens[begin:min(end, begin + length)], dtype=np.int64)

    def _snap(self, window: np.ndarray, cut: int) -> int:
        lines = np.flatnonzero(window[1:-1] == self.specials.newline) + 2
        if lines.size:
            nearest = int(lines[np.argmin(np.abs(lines - cut))])
            if abs(nearest - cut) <= len(window) // 4:
                return nearest
        return cut

    def _pair(self) -> tuple[np.ndarray, np.ndarray, int]:
        budget = self.context_length - 3
        window = self._window(budget)
        if len(window) >= 2 and self.rng.random() < 0.5:
            cut = self._snap(window, int(self.rng.integers(1, len(window))))
            return window[:cut], window[cut:], 1
        cut = int(self.rng.integers(1, max(2, len(window)))) if len(window) > 1 else len(window)
        first = window[:cut]
        return first, self._window(budget - len(first)), 0

    def next_batch(self) -> dict[str, np.ndarray]:
        """input_ids, token_type_ids, attention_mask (batch, context) int64; nsp_labels (batch,) with NSP."""
        shape = (self.batch_size, self.context_length)
        ids = np.full(shape, self.specials.pad, dtype=np.int64)
        types = np.zeros(shape, dtype=np.int64)
        mask = np.zeros(shape, dtype=np.int64)
        labels = np.zeros(self.batch_size, dtype=np.int64)
        s = self.specials
        for row in range(self.batch_size):
            if self.nsp:
                first, second, labels[row] = self._pair()
                seq = np.concatenate([[s.cls], first, [s.sep], second, [s.sep]])
                types[row, len(first) + 2:len(seq)] = 1
            else:
                seq = np.concatenate([[s.cls], self._window(self.context_length - 2), [s.sep]])
            ids[row, :len(seq)] = seq
            mask[row, :len(seq)] = 1
        self.batches_drawn += 1
        batch = {"input_ids": ids, "token_type_ids": types, "attention_mask": mask}
        if self.nsp:
            batch["nsp_labels"] = labels
        return batch
