"""Asking a model about text without training it: masked-token prediction (and, later, log-probability scoring).

The trainer uses :func:`fill_mask_probe` at every evaluation of a BERT-style run, so a person watches the
masked model's guesses for the same validation text improve, as GPT runs show a generated sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from gpt_studio.engine.model import Transformer
from gpt_studio.engine.tokenizer import Tokenizer

WORD_START = "\u2581"  # SentencePiece's visible space


@dataclass(frozen=True)
class MaskGuess:
    """The model's top guesses for one [MASK] position: token ids, pieces and probabilities, best first."""

    position: int
    ids: list[int]
    pieces: list[str]
    probabilities: list[float]


@torch.no_grad()
def fill_mask_ids(model: Transformer, tokenizer: Tokenizer, ids: list[int], top_k: int = 5) -> list[MaskGuess]:
    """Top-k tokens with probabilities at every [MASK] in ``ids`` (one sequence, specials included)."""
    if model.config.causal:
        raise ValueError("Masked-token prediction needs a bidirectional (BERT-style) model; this one is causal.")
    if len(ids) > model.config.context_length:
        raise ValueError(f"The text is {len(ids)} tokens, longer than the model's context of "
                         f"{model.config.context_length}; shorten it.")
    positions = [i for i, token in enumerate(ids) if token == tokenizer.mask_id]
    if not positions:
        return []
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        hidden = model(torch.tensor([ids], device=device))  # (1, T, C)
        logits = model.mlm_logits(hidden[:, positions])[0].float()  # (M, V)
    finally:
        model.train(was_training)
    specials = torch.tensor(tokenizer.special_ids, device=logits.device)
    logits[:, specials] = float("-inf")  # [MASK], [CLS], padding ... are never an answer
    probs = torch.softmax(logits, dim=-1)
    top = torch.topk(probs, min(top_k, probs.size(-1)), dim=-1)
    return [MaskGuess(pos, idx.tolist(), [tokenizer.id_to_piece(i) for i in idx.tolist()], p.tolist())
            for pos, idx, p in zip(positions, top.indices, top.values, strict=True)]


def show_piece(piece: str) -> str:
    """A piece as a person reads it: the visible-space marker dropped, blanks made visible."""
    text = piece.replace(WORD_START, " ").strip()
    return text if text else repr(piece.replace(WORD_START, " "))


def _percent(probability: float) -> str:
    return f"{probability:.0%}" if probability >= 0.01 else "<1%"


def probe_positions(tokens: np.ndarray, special_ids: set[int], count: int = 3) -> list[int]:
    """``count`` positions spread evenly over the ordinary tokens (no specials, no newlines): stable every eval."""
    ordinary = [i for i, token in enumerate(tokens.tolist()) if token not in special_ids]
    if not ordinary:
        return []
    count = min(count, len(ordinary))
    return [ordinary[(2 * k + 1) * len(ordinary) // (2 * count)] for k in range(count)]


def fill_mask_probe(model: Transformer, tokenizer: Tokenizer, text_tokens: np.ndarray, *, masks: int = 3,
                    top_k: int = 5, max_tokens: int = 40) -> str:
    """The validation text with a few tokens masked, and the model's top guesses for each, as readable lines."""
    skip = {*tokenizer.special_ids, tokenizer.newline_id}
    text_tokens = np.asarray(text_tokens, dtype=np.int64)
    start = next((i for i, token in enumerate(text_tokens.tolist()) if token not in skip), 0)  # no leading blanks
    budget = min(max_tokens, model.config.context_length - 2)
    tokens = text_tokens[start:start + budget]
    positions = probe_positions(tokens, skip, masks)
    if not positions:
        return ""
    answers = {p: int(tokens[p]) for p in positions}
    ids = [tokenizer.cls_id] + [tokenizer.mask_id if i in answers else int(t) for i, t in enumerate(tokens)]
    ids.append(tokenizer.sep_id)
    guesses = fill_mask_ids(model, tokenizer, ids, top_k)
    pieces = [tokenizer.id_to_piece(int(t)) for t in tokens]
    for p in positions:
        pieces[p] = (WORD_START if pieces[p].startswith(WORD_START) else "") + "[MASK]"
    for i, token in enumerate(tokens.tolist()):
        if token == tokenizer.newline_id:
            pieces[i] = " ↵ "  # one line per probe in the monitor
    lines = ["".join(pieces).replace(WORD_START, " ").strip()]
    for n, guess in enumerate(guesses, 1):
        truth = answers[guess.position - 1]
        tops = " · ".join(f"{show_piece(piece)} {_percent(prob)}"
                          for piece, prob in zip(guess.pieces, guess.probabilities, strict=True))
        hit = "✓" if guess.ids[0] == truth else " "
        lines.append(f"{hit} [MASK] {n} (was {show_piece(tokenizer.id_to_piece(truth))}): {tops}")
    return "\n".join(lines)
