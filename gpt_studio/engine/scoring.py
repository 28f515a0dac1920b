"""Asking a model about text without training it: masked-token prediction, log-probabilities, zero-shot choices.

This module is the engine's one entry point for the Playground and ``gpt-studio zero-shot / fill-mask``:
masked-token prediction lives here; log-probability scoring (:mod:`logprobs`), the GPT-1 zero-shot
heuristics (:mod:`zero_shot`) and dataset mode (:mod:`zero_shot_data`) are re-exported from their modules.

The trainer uses :func:`fill_mask_probe` at every evaluation of a BERT-style run, so a person watches the
masked model's guesses for the same validation text improve, as GPT runs show a generated sample.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from gpt_studio.engine.errors import StudioError
from gpt_studio.engine.logprobs import (
    TokenScore,
    conditional_logprobs,
    continuation_logprobs,
    inference,
    pseudo_log_likelihood,
    token_surprisal,
)
from gpt_studio.engine.model import Transformer
from gpt_studio.engine.tokenizer import Tokenizer
from gpt_studio.engine.zero_shot import (
    DEFAULT_LABEL_WORDS,
    DEFAULT_TEMPLATE,
    NORMALISATION_HELP,
    NORMALISATIONS,
    acceptability,
    choice_pairs,
    label_word_strings,
    label_words,
    normalise,
    score_choices,
    winograd,
    winograd_pair,
)
from gpt_studio.engine.zero_shot_data import (
    TASK_DEFAULTS,
    ZERO_SHOT_TASKS,
    ZeroShotItem,
    ZeroShotReport,
    load_zero_shot_items,
    score_zero_shot_items,
    zero_shot_dataset,
)

__all__ = [
    "DEFAULT_LABEL_WORDS", "DEFAULT_TEMPLATE", "MASK_MARKER", "NORMALISATIONS", "NORMALISATION_HELP",
    "TASK_DEFAULTS", "ZERO_SHOT_TASKS", "MaskGuess", "TokenScore", "ZeroShotItem", "ZeroShotReport",
    "acceptability", "choice_pairs", "conditional_logprobs", "continuation_logprobs", "fill_mask", "fill_mask_ids",
    "fill_mask_probe", "inference", "label_word_strings", "label_words", "load_zero_shot_items", "mask_text_ids",
    "normalise", "probe_positions", "pseudo_log_likelihood", "score_choices", "score_zero_shot_items",
    "show_piece", "token_surprisal", "winograd", "winograd_pair", "zero_shot_dataset",
]

WORD_START = "\u2581"  # SentencePiece's visible space
MASK_MARKER = "[MASK]"  # what a person types; it is a control symbol, so it is inserted by id, never encoded


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


def mask_text_ids(tokenizer: Tokenizer, text: str) -> list[int]:
    """``[CLS] text [SEP]`` with each "[MASK]" typed in the text turned into the mask id.

    The text is split at the markers and each segment encoded on its own. A space before a marker is
    dropped because the masked piece carries it (``▁word``), as in the masked tokens the model trained on.
    """
    segments = text.split(MASK_MARKER)
    if len(segments) < 2:
        raise StudioError(f"Put {MASK_MARKER} where the model should guess a word, e.g. "
                          f"\"To be, or not to {MASK_MARKER}\".")
    trimmed = [seg.rstrip(" ") if i < len(segments) - 1 else seg for i, seg in enumerate(segments)]
    ids = [tokenizer.cls_id]
    for i, encoded in enumerate(tokenizer.encode_batch(trimmed)):
        if i:
            ids.append(tokenizer.mask_id)
        ids.extend(encoded)
    return [*ids, tokenizer.sep_id]


def fill_mask(model: Transformer, tokenizer: Tokenizer, text: str, top_k: int = 5) -> list[MaskGuess]:
    """Top-k tokens with probabilities for every "[MASK]" in ``text`` (any number), in order of appearance."""
    if model.config.causal:
        raise StudioError("Fill-mask needs a masked (BERT-style) model; this one is a causal GPT. Use Generate "
                          "or the zero-shot tools with it, or pick a BERT model.")
    ids = mask_text_ids(tokenizer, text)
    if len(ids) > model.config.context_length:
        raise StudioError(f"The text is {len(ids)} tokens with [CLS] and [SEP], more than the model's context of "
                          f"{model.config.context_length}; shorten it.")
    return fill_mask_ids(model, tokenizer, ids, top_k)


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
