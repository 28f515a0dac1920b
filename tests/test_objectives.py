from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from gpt_studio.engine.objectives import (
    IGNORE_INDEX,
    KEPT,
    MASKED,
    NOT_SELECTED,
    NSP_IS_NEXT,
    RANDOM,
    causal_lm_loss,
    mask_decisions,
    mask_tokens,
    mlm_loss,
    nsp_loss,
)

VOCAB = 100
MASK_ID = 4
SPECIALS = [0, 1, 2, 3]  # pad, cls, sep, unk-ish


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def corpus(n: int = 200_000, seed: int = 0) -> torch.Tensor:
    """Token ids with ~10% special tokens mixed in, shaped (rows, 500)."""
    ids = torch.randint(5, VOCAB, (n,), generator=gen(seed))
    specials = torch.rand(n, generator=gen(seed + 1)) < 0.1
    ids[specials] = torch.randint(0, 4, (int(specials.sum()),), generator=gen(seed + 2))
    return ids.view(-1, 500)


def masked(tokens: torch.Tensor, seed: int = 0, **kwargs) -> tuple[torch.Tensor, torch.Tensor]:
    return mask_tokens(
        tokens, vocab_size=VOCAB, mask_id=MASK_ID, special_ids=SPECIALS, generator=gen(seed), **kwargs
    )


# ------------------------------------------------------------------------------------------------ masking


def test_fifteen_percent_of_ordinary_tokens_are_selected_and_split_80_10_10():
    tokens = corpus()
    decision = mask_decisions(tokens, special_ids=SPECIALS + [MASK_ID], generator=gen())
    ordinary = ~torch.isin(tokens, torch.tensor(SPECIALS))
    selected = decision != NOT_SELECTED
    assert selected.sum().item() / ordinary.sum().item() == pytest.approx(0.15, abs=0.005)
    n = selected.sum().item()
    assert (decision == MASKED).sum().item() / n == pytest.approx(0.80, abs=0.01)
    assert (decision == RANDOM).sum().item() / n == pytest.approx(0.10, abs=0.01)
    assert (decision == KEPT).sum().item() / n == pytest.approx(0.10, abs=0.01)


def test_mask_tokens_outcome_matches_its_decisions():
    tokens = corpus(20_000)
    inputs, labels = masked(tokens)
    decision = mask_decisions(tokens, special_ids=SPECIALS + [MASK_ID], generator=gen())
    assert torch.equal(labels != IGNORE_INDEX, decision != NOT_SELECTED)
    assert (inputs[decision == MASKED] == MASK_ID).all()
    assert torch.equal(inputs[decision == KEPT], tokens[decision == KEPT])
    assert torch.equal(inputs[decision == NOT_SELECTED], tokens[decision == NOT_SELECTED])


def test_special_tokens_are_never_selected():
    tokens = corpus(50_000)
    inputs, labels = masked(tokens, mask_prob=0.9)
    special = torch.isin(tokens, torch.tensor(SPECIALS))
    assert special.any()
    assert (labels[special] == IGNORE_INDEX).all()
    assert torch.equal(inputs[special], tokens[special])


def test_random_replacements_are_never_special_ids():
    tokens = corpus(50_000)
    inputs, labels = masked(tokens, mask_prob=1.0, mask_token_frac=0.0, random_token_frac=1.0)
    replaced = inputs[labels != IGNORE_INDEX]
    assert not torch.isin(replaced, torch.tensor(SPECIALS + [MASK_ID])).any()
    assert (replaced != tokens[labels != IGNORE_INDEX]).float().mean().item() > 0.9  # actually random


def test_labels_hold_the_original_tokens_at_selected_positions_only():
    tokens = corpus(20_000)
    inputs, labels = masked(tokens)
    chosen = labels != IGNORE_INDEX
    assert torch.equal(labels[chosen], tokens[chosen])
    assert (labels[~chosen] == IGNORE_INDEX).all()
    assert inputs.dtype == labels.dtype == torch.int64


def test_masking_is_deterministic_for_a_seeded_generator():
    tokens = corpus(20_000)
    a_inputs, a_labels = masked(tokens, seed=7)
    b_inputs, b_labels = masked(tokens, seed=7)
    c_inputs, _ = masked(tokens, seed=8)
    assert torch.equal(a_inputs, b_inputs) and torch.equal(a_labels, b_labels)
    assert not torch.equal(a_inputs, c_inputs)


def test_masking_accepts_unsigned_shard_tokens():
    tokens = corpus(5_000).to(torch.uint8)
    inputs, labels = masked(tokens)
    assert labels.min().item() == IGNORE_INDEX and inputs.dtype == torch.int64


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"mask_prob": 0.0}, "mask_prob"),
        ({"mask_token_frac": 0.9, "random_token_frac": 0.2}, "add up"),
        ({"mask_id": VOCAB}, "outside the vocabulary"),
    ],
)
def test_bad_masking_settings_are_rejected(kwargs, fragment):
    args = {"vocab_size": VOCAB, "mask_id": MASK_ID, "special_ids": SPECIALS, **kwargs}
    with pytest.raises(ValueError, match=fragment):
        mask_tokens(corpus(1_000), **args)


def test_float_tokens_are_rejected():
    with pytest.raises(ValueError, match="integer"):
        mask_tokens(torch.zeros(2, 3), vocab_size=VOCAB, mask_id=MASK_ID, special_ids=SPECIALS)


# ------------------------------------------------------------------------------------------------ losses


def test_causal_loss_of_uniform_logits_is_log_vocabulary():
    logits = torch.zeros(2, 5, 17)
    targets = torch.randint(0, 17, (2, 5), generator=gen())
    assert causal_lm_loss(logits, targets).item() == pytest.approx(math.log(17), rel=1e-6)


def test_causal_loss_equals_mean_cross_entropy_over_every_position():
    logits = torch.randn(3, 7, 11, generator=gen())
    targets = torch.randint(0, 11, (3, 7), generator=gen(1))
    expected = F.cross_entropy(logits.view(-1, 11), targets.view(-1))
    assert causal_lm_loss(logits, targets).item() == pytest.approx(expected.item(), rel=1e-6)


def test_causal_loss_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="logits"):
        causal_lm_loss(torch.zeros(2, 5, 11), torch.zeros(2, 4, dtype=torch.long))


def test_mlm_loss_ignores_logits_at_unselected_positions():
    logits = torch.randn(2, 10, 20, generator=gen())
    labels = torch.full((2, 10), IGNORE_INDEX)
    labels[0, 3], labels[1, 7] = 5, 9
    before = mlm_loss(logits, labels)
    changed = logits.clone()
    changed[0, 4] += 100.0
    changed[1, :7] -= 50.0
    assert mlm_loss(changed, labels).item() == pytest.approx(before.item(), rel=1e-6)
    changed[0, 3, 5] += 5.0
    assert mlm_loss(changed, labels).item() < before.item()


def test_mlm_loss_with_nothing_selected_is_zero_and_safe_to_backpropagate():
    logits = torch.randn(2, 4, 8, requires_grad=True)
    loss = mlm_loss(logits, torch.full((2, 4), IGNORE_INDEX))
    loss.backward()
    assert loss.item() == 0.0
    assert logits.grad is not None and torch.equal(logits.grad, torch.zeros_like(logits))


def test_nsp_loss_uses_bert_class_order_with_is_next_first():
    confident_next = torch.zeros(1, 2)
    confident_next[0, NSP_IS_NEXT] = 10.0
    assert nsp_loss(confident_next, torch.tensor([True])).item() < 1e-3
    assert nsp_loss(confident_next, torch.tensor([False])).item() > 5.0


def test_nsp_loss_rejects_wrong_shapes():
    with pytest.raises(ValueError, match="is_next"):
        nsp_loss(torch.zeros(3, 2), torch.zeros(2, dtype=torch.bool))
