"""Masked-token prediction and the fill-mask probe a BERT run shows at every evaluation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gpt_studio.engine.data import TokenShard
from gpt_studio.engine.model import Transformer, preset
from gpt_studio.engine.pretrain import pretrain
from gpt_studio.engine.runs import find_run, read_jsonl
from gpt_studio.engine.scoring import fill_mask_ids, fill_mask_probe, probe_positions
from gpt_studio.engine.tokenizer import Tokenizer


@pytest.fixture(scope="module")
def tokenizer(shakespeare_project) -> Tokenizer:
    return Tokenizer(shakespeare_project.tokenizer_dir)


def test_fill_mask_ranks_ordinary_tokens_for_every_mask(tokenizer):
    torch.manual_seed(0)
    model = Transformer(preset("tiny-bert", vocab_size=tokenizer.vocab_size))
    ids = [tokenizer.cls_id, *tokenizer.encode("To be, or not to be"), tokenizer.sep_id]
    ids[2] = ids[4] = tokenizer.mask_id
    guesses = fill_mask_ids(model, tokenizer, ids, top_k=4)
    assert [g.position for g in guesses] == [2, 4]
    for guess in guesses:
        assert len(guess.ids) == 4 and guess.probabilities == sorted(guess.probabilities, reverse=True)
        assert not set(guess.ids) & set(tokenizer.special_ids)
        assert 0 < sum(guess.probabilities) <= 1.0 + 1e-6


def test_fill_mask_refuses_a_causal_model_and_an_overlong_text(tokenizer):
    gpt = Transformer(preset("tiny-gpt", vocab_size=tokenizer.vocab_size))
    with pytest.raises(ValueError, match="bidirectional"):
        fill_mask_ids(gpt, tokenizer, [tokenizer.mask_id])
    bert = Transformer(preset("tiny-bert", vocab_size=tokenizer.vocab_size))
    with pytest.raises(ValueError, match="longer than the model's context"):
        fill_mask_ids(bert, tokenizer, [tokenizer.mask_id] * 65)


def test_probe_positions_are_spread_over_ordinary_tokens_and_skip_specials():
    tokens = np.array([5, 10, 11, 12, 3, 13, 14, 15, 16])
    positions = probe_positions(tokens, {3, 5}, 3)
    assert len(positions) == 3 and positions == sorted(positions)
    assert all(tokens[p] not in (3, 5) for p in positions)
    assert probe_positions(np.array([3, 5]), {3, 5}) == []


def test_a_bert_run_shows_a_fill_mask_probe_at_each_evaluation(shakespeare_project, tokenizer):
    summary = pretrain(shakespeare_project, preset_name="tiny-bert", max_steps=4,
                       settings={"eval_interval": 2, "eval_batches": 1, "batch_size": 4, "sample_tokens": 1,
                                 "checkpoint_interval": 100})
    samples = list(read_jsonl(find_run(shakespeare_project, summary["run_id"]).samples_file))
    assert [s["step"] for s in samples] == [0, 2, 4]
    lines = samples[-1]["text"].splitlines()
    assert "[MASK]" in lines[0] and len(lines) == 4
    assert all("(was " in line and "%" in line for line in lines[1:])
    doc = TokenShard(shakespeare_project, "val").document(0)
    assert fill_mask_probe(Transformer(preset("tiny-bert", vocab_size=tokenizer.vocab_size)), tokenizer, doc)
