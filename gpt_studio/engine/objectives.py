"""Pretraining objectives: causal LM (GPT), masked LM and next-sentence prediction (BERT).

The data loader already shifts causal targets (x = tokens[:-1], y = tokens[1:]), so every loss here is a
plain per-position cross-entropy; masked-LM inputs and labels come from :func:`mask_tokens`.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn.functional as F

IGNORE_INDEX = -100  # label of positions that carry no loss (PyTorch's cross-entropy default)

# Per-position masking decisions returned by mask_decisions().
NOT_SELECTED = 0  # not a prediction target; input unchanged
MASKED = 1  # target; input replaced by the mask token
RANDOM = 2  # target; input replaced by a random non-special token (which may equal the original)
KEPT = 3  # target; input left unchanged

# Next-sentence classes, in BERT's (and Hugging Face's) order so imported heads need no reordering.
NSP_IS_NEXT = 0  # sentence B follows sentence A in the corpus
NSP_NOT_NEXT = 1  # sentence B is a random sentence


def _token_cross_entropy(logits: torch.Tensor, labels: torch.Tensor, ignore_index: int) -> torch.Tensor:
    """Mean cross-entropy over labelled positions; 0 (with a zero gradient) when no position is labelled."""
    if logits.shape[:-1] != labels.shape:
        raise ValueError(
            f"logits {tuple(logits.shape)} must be labels {tuple(labels.shape)} plus a vocabulary dimension."
        )
    flat_logits = logits.reshape(-1, logits.size(-1))  # (B*T, V)
    flat_labels = labels.reshape(-1)  # (B*T,)
    total = F.cross_entropy(flat_logits.float(), flat_labels, ignore_index=ignore_index, reduction="sum")
    count = (flat_labels != ignore_index).sum().clamp(min=1)  # no host sync: stays on the device
    return total / count


def causal_lm_loss(
    logits: torch.Tensor, targets: torch.Tensor, ignore_index: int = IGNORE_INDEX
) -> torch.Tensor:
    """Next-token cross-entropy over every position of logits (B, T, V) against pre-shifted targets (B, T)."""
    return _token_cross_entropy(logits, targets, ignore_index)


def mlm_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Masked-LM cross-entropy only at selected positions (labels != -100); 0 if none was selected."""
    return _token_cross_entropy(logits, labels, IGNORE_INDEX)


def nsp_loss(logits: torch.Tensor, is_next: torch.Tensor) -> torch.Tensor:
    """Next-sentence cross-entropy of logits (B, 2) against is_next (B,) bool: True = B really follows A."""
    if logits.shape != (is_next.shape[0], 2) or is_next.dim() != 1:
        raise ValueError(
            f"nsp_loss expects logits (B, 2) and is_next (B,); "
            f"got {tuple(logits.shape)} and {tuple(is_next.shape)}."
        )
    targets = torch.where(is_next.bool(), NSP_IS_NEXT, NSP_NOT_NEXT).long()  # (B,)
    return F.cross_entropy(logits.float(), targets)


def _check_masking_args(
    vocab_size: int, mask_id: int, specials: list[int], mask_prob: float, mask_frac: float, random_frac: float
) -> None:
    """Reject settings that would silently produce wrong masking."""
    if not 0.0 < mask_prob <= 1.0:
        raise ValueError(f"mask_prob must be in (0, 1], got {mask_prob!r}.")
    if mask_frac < 0 or random_frac < 0 or mask_frac + random_frac > 1.0:
        raise ValueError(
            f"mask_token_frac ({mask_frac}) and random_token_frac ({random_frac}) must be >= 0 "
            "and add up to at most 1 (the rest stays unchanged)."
        )
    if not 0 <= mask_id < vocab_size:
        raise ValueError(f"mask_id {mask_id} is outside the vocabulary (0..{vocab_size - 1}).")
    if len(set(specials)) >= vocab_size:
        raise ValueError("Every token id is special: there is no ordinary token to mask or sample.")


def mask_decisions(
    tokens: torch.Tensor,
    *,
    special_ids: Iterable[int],
    generator: torch.Generator | None = None,
    mask_prob: float = 0.15,
    mask_token_frac: float = 0.8,
    random_token_frac: float = 0.1,
) -> torch.Tensor:
    """Decide per position NOT_SELECTED / MASKED / RANDOM / KEPT (int64, tokens' shape), BERT's 80/10/10 rule.

    Each non-special position is selected with probability ``mask_prob``; a selected position is MASKED
    with probability ``mask_token_frac``, RANDOM with ``random_token_frac``, otherwise KEPT. Special
    positions are never selected. The same generator state gives the same decisions.
    """
    special = torch.tensor(sorted(set(special_ids)), dtype=tokens.dtype, device=tokens.device)
    is_special = torch.isin(tokens, special)  # (B, T)
    selected = (torch.rand(tokens.shape, generator=generator, device=tokens.device) < mask_prob) & ~is_special
    branch = torch.rand(tokens.shape, generator=generator, device=tokens.device)  # (B, T)
    decision = torch.full_like(tokens, KEPT, dtype=torch.long)
    decision[branch < mask_token_frac + random_token_frac] = RANDOM
    decision[branch < mask_token_frac] = MASKED
    decision[~selected] = NOT_SELECTED
    return decision


def mask_tokens(
    tokens: torch.Tensor,
    *,
    vocab_size: int,
    mask_id: int,
    special_ids: Iterable[int],
    generator: torch.Generator | None = None,
    mask_prob: float = 0.15,
    mask_token_frac: float = 0.8,
    random_token_frac: float = 0.1,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Corrupt tokens for masked-LM training and return (inputs, labels), both shaped like ``tokens``.

    Selected positions (see :func:`mask_decisions`) get label = the original token, all others -100.
    Random replacements are drawn uniformly from the non-special ids; ``mask_id`` counts as special.
    Both outputs are int64. Deterministic for a given ``generator`` state (on ``tokens``' device).
    """
    if tokens.dtype.is_floating_point or tokens.dtype == torch.bool:
        raise ValueError(f"tokens must be an integer tensor of token ids, got {tokens.dtype}.")
    tokens = tokens.long()  # shards may be uint16; labels need -100 and embeddings need int64
    specials = sorted({*special_ids, mask_id})
    _check_masking_args(vocab_size, mask_id, specials, mask_prob, mask_token_frac, random_token_frac)
    decision = mask_decisions(
        tokens,
        special_ids=specials,
        generator=generator,
        mask_prob=mask_prob,
        mask_token_frac=mask_token_frac,
        random_token_frac=random_token_frac,
    )  # (B, T)
    ordinary = torch.ones(vocab_size, dtype=torch.bool, device=tokens.device)
    ordinary[[s for s in specials if 0 <= s < vocab_size]] = False
    pool = ordinary.nonzero().squeeze(1).to(tokens.dtype)  # (n_ordinary,) ids a random replacement may take
    draws = torch.randint(len(pool), tokens.shape, generator=generator, device=tokens.device)
    inputs = torch.where(decision == MASKED, torch.full_like(tokens, mask_id), tokens)
    inputs = torch.where(decision == RANDOM, pool[draws], inputs)
    labels = torch.where(decision != NOT_SELECTED, tokens, torch.full_like(tokens, IGNORE_INDEX))
    return inputs, labels
