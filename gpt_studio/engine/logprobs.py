"""Log-probabilities of text under a model: the numbers every zero-shot heuristic and the token inspector use.

A causal model scores a token given the text before it. A masked model scores it by pseudo-log-likelihood
(Salazar et al. 2020): the token is replaced by [MASK] and predicted from everything else, one position at a
time, so the same heuristics run on both families. Public names are re-exported by :mod:`scoring`.

Causal sequences start with ``</s>``, the document separator the shards put before every document, so the
first word of a text is scored as the start of a document (as the trainer's samples start).
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import torch

from gpt_studio.engine.errors import CancelledError, StudioError
from gpt_studio.engine.model import Transformer
from gpt_studio.engine.tokenizer import Tokenizer

ProgressFn = Callable[[int, int], None]
CancelFn = Callable[[], bool]


@dataclass
class TokenScore:
    """One token of a scored text: its id and piece, log P(token | context), and the model's top alternatives."""

    id: int
    piece: str  # the vocabulary entry (``▁`` marks a leading space)
    logprob: float  # natural log; surprisal in bits is -logprob / ln 2
    top: list[tuple[str, float]] = field(default_factory=list)  # (piece, logprob), best first


@contextlib.contextmanager
def inference(model: Transformer) -> Iterator[torch.device]:
    """Eval mode and no autograd for the block, then the model's previous mode back (the trainer calls this)."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield next(model.parameters()).device
    finally:
        model.train(was_training)


def _check(cancel: CancelFn | None, what: str) -> None:
    if cancel is not None and cancel():
        raise CancelledError(what)


def _split_space(context: str, continuation: str) -> tuple[str, str]:
    """Move the context's trailing whitespace onto the continuation (lm-evaluation-harness's rule).

    SentencePiece glues a space to the word after it ("▁good"), so "very " + "good" must be scored as
    "very" + " good"; otherwise the continuation would start with a bare-word piece the model rarely saw.
    """
    stripped = context.rstrip()
    return stripped, context[len(stripped):] + continuation


def _encode_pairs(tokenizer: Tokenizer, pairs: Sequence[tuple[str, str]]) -> list[tuple[list[int], list[int]]]:
    split = [_split_space(c, x) for c, x in pairs]
    contexts = tokenizer.encode_batch([c for c, _ in split])
    continuations = tokenizer.encode_batch([x for _, x in split])
    return list(zip(contexts, continuations, strict=True))


def _too_long(count: int, limit: int) -> StudioError:
    return StudioError(f"The text to score is {count} tokens, more than the {limit} the model can read at once; "
                       "shorten it or use a model with a longer context.")


@contextlib.contextmanager
def _no_collection() -> Iterator[None]:
    """No cyclic garbage collection while a block makes many small objects that are all kept.

    Each TokenScore made counts towards the collector's thresholds, so turning 17k scores into objects set off
    collections that walked every object alive (the model's, the dataset's): 0.11 s of a 0.8 s dataset run,
    for objects that hold no cycles. The collector runs as usual once the block ends.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


class _Pieces(dict):  # type: ignore[type-arg]
    """id -> piece, asked of the tokenizer once per id: a dataset's 17k scored tokens use a few thousand ids."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        super().__init__()
        self._tokenizer = tokenizer

    def __missing__(self, token_id: int) -> str:
        piece = self[token_id] = self._tokenizer.id_to_piece(token_id)
        return piece


def _token_scores(ids: list[int], logprobs: list[float], top_ids: list[list[int]], top_lps: list[list[float]],
                  pieces: _Pieces) -> list[TokenScore]:
    return [TokenScore(i, pieces[i], lp, [(pieces[t], v) for t, v in zip(ti, tv, strict=True)] if ti else [])
            for i, lp, ti, tv in zip(ids, logprobs, top_ids, top_lps, strict=True)]


def _score_rows(logits: torch.Tensor, targets: torch.Tensor, top_k: int) -> tuple[list, list, list]:
    """Log-probabilities of ``targets`` (N,) under ``logits`` (N, V), plus the top-k alternatives of each row."""
    logp = torch.log_softmax(logits.float(), dim=-1)  # (N, V)
    picked = logp.gather(1, targets[:, None])[:, 0].tolist()
    if top_k <= 0:
        none: list = [()] * len(picked)  # one shared empty tuple: 17k fresh lists kept the collector busy
        return picked, none, none
    top = torch.topk(logp, min(top_k, logp.size(-1)), dim=-1)
    return picked, top.indices.tolist(), top.values.tolist()


# ------------------------------------------------------------------------------------------------- causal

SHARE_CONTEXTS = True  # switch for A/B benchmarks: pack continuations that share a context into one row


@dataclass
class _CausalRow:
    """One padded row of a causal batch: its input window and which of its positions are scored.

    A plain row is one sequence; ``targets`` are predicted from its last ``len(targets)`` positions. A packed
    row holds one context followed by several continuations (all but their last token), each restarting at
    the position after the context and seeing only the context and itself: the context is computed once
    for all its answers. ``reads``, ``positions`` and ``segments`` describe that layout.
    """

    inputs: list[int]  # window fed to the model (at most context_length tokens)
    targets: list[int]  # the tokens scored, predicted from the last len(targets) positions of ``inputs``
    reads: list[int] | None = None  # packed: the column whose output predicts each target
    positions: list[int] | None = None  # packed: each column's position id
    segments: list[int] | None = None  # packed: 0 = the shared context, j = continuation j's own tokens

    def read_columns(self) -> list[int]:
        """The columns whose hidden states predict ``targets``, in order."""
        if self.reads is not None:
            return self.reads
        return list(range(len(self.inputs) - len(self.targets), len(self.inputs)))


def _causal_row(context: list[int], continuation: list[int], limit: int) -> _CausalRow:
    """Context + continuation cut from the left to fit: the continuation's first token is read at the context's end."""
    if len(continuation) > limit:
        raise _too_long(len(continuation), limit)
    full = context + continuation
    inputs = full[:-1][-limit:]
    return _CausalRow(inputs, continuation)


def _packed_row(context: list[int], continuations: list[list[int]], limit: int) -> _CausalRow | None:
    """One row scoring every (non-empty) continuation after a shared context; None when it does not fit.

    Continuation j's first token is predicted at the context's last column, the rest at its own columns.
    Its scores equal those of ``_causal_row(context, continuation)``: it sees exactly the same tokens at
    the same positions.
    """
    if not context or len(context) + sum(len(c) - 1 for c in continuations) > limit:
        return None
    inputs, targets, reads = list(context), [], []
    positions, segments = list(range(len(context))), [0] * len(context)
    for segment, continuation in enumerate(continuations, start=1):
        own = continuation[:-1]
        reads += [len(context) - 1, *range(len(inputs), len(inputs) + len(own))]
        inputs += own
        positions += range(len(context), len(context) + len(own))
        segments += [segment] * len(own)
        targets += continuation
    return _CausalRow(inputs, targets, reads, positions, segments)


def _padded(values: Sequence[int], width: int, fill: int) -> list[int]:
    """``values`` right-padded with ``fill`` to ``width`` (one tensor per batch, not one per row: ~4x faster)."""
    return [*values, *[fill] * (width - len(values))]


def _layout(rows: list[_CausalRow], width: int) -> tuple[torch.Tensor, torch.Tensor] | None:
    """Position ids and the (B, T, T) attention mask for a batch holding packed rows; None if it holds none.

    A query sees the earlier keys of the shared context (segment 0) and of its own segment. Padding gets
    segment -1: it comes after every real column, so no real query sees it.
    """
    if all(row.segments is None for row in rows):
        return None
    positions = torch.tensor([_padded(row.positions if row.positions is not None else range(len(row.inputs)),
                                      width, 0) for row in rows])
    segments = torch.tensor([_padded(row.segments if row.segments is not None else [0] * len(row.inputs),
                                     width, -1) for row in rows])
    own = (segments[:, None, :] == 0) | (segments[:, None, :] == segments[:, :, None])  # (B, T, T): key, query
    return positions, own & torch.ones(width, width, dtype=torch.bool).tril()


def _run_causal(model: Transformer, rows: list[_CausalRow], batch_size: int, top_k: int,
                progress: ProgressFn | None, cancel: CancelFn | None) -> list[tuple[list, list, list]]:
    """Score every row, longest first so each padded batch wastes little; results in the rows' order.

    Rows are right-padded. With causal attention a real position never sees a later one, so the padding
    is invisible to every scored position and plain rows need no attention mask (the fast causal kernel
    stays on); a batch with packed rows passes their position ids and tree-shaped mask.
    """
    order = sorted((i for i, row in enumerate(rows) if row.targets), key=lambda i: -len(rows[i].inputs))
    results: list[tuple[list, list, list]] = [([], [], [])] * len(rows)  # an empty continuation scores nothing
    with inference(model) as device:
        for start in range(0, len(order), batch_size):
            _check(cancel, "scoring")
            with _no_collection():  # one pass at a time: the collector runs between passes
                _score_batch(model, rows, order[start:start + batch_size], top_k, device, results)
            if progress is not None:
                progress(min(start + batch_size, len(order)), len(order))
    return results


def _score_batch(model: Transformer, rows: list[_CausalRow], chosen: list[int], top_k: int, device: torch.device,
                 results: list[tuple[list, list, list]]) -> None:
    """One forward pass over the rows ``chosen`` (indices into ``rows``); their scores go into ``results``."""
    batch = [rows[i] for i in chosen]
    width = max(len(r.inputs) for r in batch)
    idx = torch.tensor([_padded(r.inputs, width, 0) for r in batch])  # pad id 0; never seen by scored positions
    rows_at, cols_at, targets = [], [], []
    for b, row in enumerate(batch):
        rows_at += [b] * len(row.targets)
        cols_at += row.read_columns()
        targets += row.targets
    layout = _layout(batch, width)
    if layout is None:
        hidden = model(idx.to(device))  # (B, T, C)
    else:
        hidden = model(idx.to(device), attention_mask=layout[1].to(device), position_ids=layout[0].to(device))
    picked = hidden[torch.tensor(rows_at, device=device), torch.tensor(cols_at, device=device)]  # (N, C)
    scored = _score_rows(model.lm_logits(picked), torch.tensor(targets, device=device), top_k)
    offset = 0
    for row, i in zip(batch, chosen, strict=True):
        n = len(row.targets)
        results[i] = tuple(part[offset:offset + n] for part in scored)  # type: ignore[assignment]
        offset += n


def _group_rows(encoded: list[tuple[list[int], list[int]]], limit: int,
                share: bool) -> tuple[list[_CausalRow], list[list[tuple[int, int]]]]:
    """Rows for the pairs, packing runs of consecutive pairs with the same context (an item's answers).

    Returns the rows and, per row, the (pair index, target count) it holds in order. Only neighbours are
    grouped, so a dataset that repeats an item still pays for each copy, as the caller asked.
    """
    rows: list[_CausalRow] = []
    members: list[list[tuple[int, int]]] = []
    start = 0
    while start < len(encoded):
        stop = start + 1
        while share and stop < len(encoded) and encoded[stop][0] == encoded[start][0]:
            stop += 1
        group = [i for i in range(start, stop) if encoded[i][1]]
        packed = _packed_row(encoded[start][0], [encoded[i][1] for i in group], limit) if len(group) > 1 else None
        if packed is not None:
            rows.append(packed)
            members.append([(i, len(encoded[i][1])) for i in group])
        else:
            for i in range(start, stop):
                rows.append(_causal_row(*encoded[i], limit))
                members.append([(i, len(encoded[i][1]))])
        start = stop
    return rows, members


def continuation_logprobs(model: Transformer, tokenizer: Tokenizer, pairs: list[tuple[str, str]], *,
                          batch_size: int = 32, top_k: int = 5, progress: ProgressFn | None = None,
                          cancel: CancelFn | None = None) -> list[list[TokenScore]]:
    """Per-token log P(continuation | context) for many (context, continuation) pairs, ``batch_size`` rows per pass.

    Neighbouring pairs with the same context (an item's answers) share one row, the context computed once;
    other pairs get a row each. A context too long for the model is cut from its start; ``top_k``
    alternatives per token (0 = none, faster). ``progress(done, total)`` counts rows; ``cancel()`` is checked
    between forward passes.
    """
    if not model.config.causal:
        raise ValueError("continuation_logprobs needs a causal (GPT-style) model; a masked model is scored "
                         "with conditional_logprobs or pseudo_log_likelihood.")
    limit = model.config.context_length
    encoded = [([tokenizer.eos_id, *c], x) for c, x in _encode_pairs(tokenizer, pairs)]
    rows, members = _group_rows(encoded, limit, SHARE_CONTEXTS)
    out: list[list[TokenScore]] = [[] for _ in pairs]
    pieces = _Pieces(tokenizer)
    scored = _run_causal(model, rows, max(1, batch_size), top_k, progress, cancel)
    with _no_collection():
        for parts, held in zip(scored, members, strict=True):
            offset = 0
            for pair, count in held:
                out[pair] = _token_scores(encoded[pair][1], *(part[offset:offset + count] for part in parts), pieces)
                offset += count
    return out


def _causal_windows(ids: list[int], limit: int) -> list[_CausalRow]:
    """Windows that score ids[1:] of a long text, each token seeing at least half a context before it."""
    rows, end = [], 1
    stride = max(1, limit // 2)
    while end < len(ids):
        stop = min(len(ids), limit + 1 if end == 1 else end + stride)
        start = max(0, stop - 1 - limit)
        rows.append(_CausalRow(ids[start:stop - 1], ids[end:stop]))
        end = stop
    return rows


# ------------------------------------------------------------------------------------------------- masked

def _run_masked(model: Transformer, jobs: list[tuple[list[int], int]], tokenizer: Tokenizer, batch_size: int,
                top_k: int, progress: ProgressFn | None = None,
                cancel: CancelFn | None = None) -> list[tuple[float, list[int], list[float]]]:
    """For each (ids, position): log P(ids[position] | ids with that position masked), batched and padded."""
    order = sorted(range(len(jobs)), key=lambda i: -len(jobs[i][0]))
    results: list[tuple[float, list[int], list[float]]] = [(0.0, [], [])] * len(jobs)
    with inference(model) as device:
        specials = torch.tensor(tokenizer.special_ids, device=device)
        for start in range(0, len(order), batch_size):
            _check(cancel, "scoring")
            with _no_collection():  # as in _run_causal: the collector runs between passes
                _mask_batch(model, jobs, order[start:start + batch_size], tokenizer, specials, top_k, device,
                            results)
            if progress is not None:
                progress(min(start + batch_size, len(order)), len(order))
    return results


def _mask_batch(model: Transformer, jobs: list[tuple[list[int], int]], chosen: list[int], tokenizer: Tokenizer,
                specials: torch.Tensor, top_k: int, device: torch.device,
                results: list[tuple[float, list[int], list[float]]]) -> None:
    """One forward pass over the masked copies ``chosen`` (indices into ``jobs``); their scores go into ``results``."""
    width = max(len(jobs[i][0]) for i in chosen)
    idx = torch.full((len(chosen), width), tokenizer.pad_id, dtype=torch.long)
    keep = torch.zeros(len(chosen), width, dtype=torch.long)
    for b, i in enumerate(chosen):
        ids, position = jobs[i]
        idx[b, :len(ids)] = torch.tensor(ids)
        idx[b, position] = tokenizer.mask_id
        keep[b, :len(ids)] = 1
    padded = bool((keep == 0).any())  # an encoder sees both ways: padding must be masked out
    hidden = model(idx.to(device), attention_mask=keep.to(device) if padded else None)  # (B, T, C)
    positions = torch.tensor([jobs[i][1] for i in chosen], device=device)
    picked = hidden[torch.arange(len(chosen), device=device), positions]  # (B, C)
    logits = model.mlm_logits(picked).float()  # (B, V)
    logits[:, specials] = float("-inf")  # as fill-mask: [MASK], [CLS], padding ... are never an answer
    targets = torch.tensor([jobs[i][0][jobs[i][1]] for i in chosen], device=device)
    lps, top_ids, top_lps = _score_rows(logits, targets, top_k)
    for b, i in enumerate(chosen):
        results[i] = (lps[b], top_ids[b], top_lps[b])


def _masked_sequence(tokenizer: Tokenizer, context: list[int], continuation: list[int],
                     limit: int) -> tuple[list[int], list[int]]:
    """``[CLS] context continuation [SEP]`` (context cut from its start to fit) and the continuation's positions."""
    room = limit - 2 - len(continuation)
    if room < 0:
        raise _too_long(len(continuation), limit - 2)
    context = context[len(context) - room:] if len(context) > room else context
    ids = [tokenizer.cls_id, *context, *continuation, tokenizer.sep_id]
    return ids, list(range(1 + len(context), 1 + len(context) + len(continuation)))


def _masked_pairs(model: Transformer, tokenizer: Tokenizer, encoded: list[tuple[list[int], list[int]]],
                  batch_size: int, top_k: int, progress: ProgressFn | None,
                  cancel: CancelFn | None) -> list[list[TokenScore]]:
    limit = model.config.context_length
    sequences = [_masked_sequence(tokenizer, c, x, limit) for c, x in encoded]
    jobs = [(ids, p) for ids, positions in sequences for p in positions]
    flat = _run_masked(model, jobs, tokenizer, max(1, batch_size), top_k, progress, cancel)
    out, offset, pieces = [], 0, _Pieces(tokenizer)
    with _no_collection():
        for ids, positions in sequences:
            part = flat[offset:offset + len(positions)]
            offset += len(positions)
            targets = [ids[p] for p in positions]
            out.append(_token_scores(targets, [r[0] for r in part], [r[1] for r in part], [r[2] for r in part],
                                     pieces))
    return out


def conditional_logprobs(model: Transformer, tokenizer: Tokenizer, pairs: list[tuple[str, str]], *,
                         batch_size: int = 32, top_k: int = 0, progress: ProgressFn | None = None,
                         cancel: CancelFn | None = None) -> list[list[TokenScore]]:
    """Per-token scores of each continuation given its context, for either family.

    Causal: :func:`continuation_logprobs`. Masked: each continuation token masked in turn, with the context
    and the rest of the continuation visible (pseudo-log-likelihood restricted to the continuation).
    ``batch_size`` counts sequences per forward pass (pairs, or masked copies).
    """
    if model.config.causal:
        return continuation_logprobs(model, tokenizer, pairs, batch_size=batch_size, top_k=top_k,
                                     progress=progress, cancel=cancel)
    return _masked_pairs(model, tokenizer, _encode_pairs(tokenizer, pairs), batch_size, top_k, progress, cancel)


# -------------------------------------------------------------------------------------------- whole texts

def token_surprisal(model: Transformer, tokenizer: Tokenizer, text: str, *, top_k: int = 5,
                    batch_size: int = 32) -> list[TokenScore]:
    """Every token of ``text`` with its log-probability and the model's top alternatives (the token inspector).

    Causal: given the text before it (a text longer than the context is read in overlapping windows).
    Masked: pseudo-log-likelihood, each token masked in turn and predicted from all the others.
    """
    ids = tokenizer.encode(text)
    if not ids:
        return []
    limit = model.config.context_length
    if model.config.causal:
        rows = _causal_windows([tokenizer.eos_id, *ids], limit)
        scored = _run_causal(model, rows, max(1, batch_size), top_k, None, None)
        pieces = _Pieces(tokenizer)
        return [s for row, parts in zip(rows, scored, strict=True)
                for s in _token_scores(row.targets, *parts, pieces)]
    if len(ids) > limit - 2:
        raise _too_long(len(ids), limit - 2)
    return _masked_pairs(model, tokenizer, [([], ids)], batch_size, top_k, None, None)[0]


def pseudo_log_likelihood(model: Transformer, tokenizer: Tokenizer, text: str, *, batch_size: int = 32) -> float:
    """Sum over the tokens of log P(token | all other tokens) for a masked model (Salazar et al. 2020)."""
    if model.config.causal:
        raise ValueError("pseudo_log_likelihood is for masked (BERT-style) models; a causal model's "
                         "log-likelihood is the sum of token_surprisal's log-probabilities.")
    return float(sum(s.logprob for s in token_surprisal(model, tokenizer, text, top_k=0, batch_size=batch_size)))
