"""Generation: the key/value cache, sampling controls, stop strings and streaming, on a GPT trained on Shakespeare."""

from __future__ import annotations

import pytest
import torch

from gpt_studio.engine.errors import StudioError
from gpt_studio.engine.generate import (
    GenerateOptions,
    GenerationStream,
    _Decoder,
    _filter_logits,
    generate,
    generate_stream,
)
from gpt_studio.engine.loading import load_model
from gpt_studio.engine.model import ModelConfig, Transformer, preset
from gpt_studio.engine.pretrain import pretrain

FAST = {"batch_size": 16, "eval_batches": 1, "eval_interval": 1000, "warmup_steps": 5, "lr": 3e-3,
        "sample_tokens": 0, "device": "cpu"}
PROMPT = "ROMEO:\nWhat"


@pytest.fixture(scope="module")
def gpt(shakespeare_project):
    summary = pretrain(shakespeare_project, preset_name="tiny-gpt", max_steps=40, settings=FAST)
    return load_model(summary["run_id"], shakespeare_project)


def greedy(n: int, **changes) -> GenerateOptions:
    return GenerateOptions(max_new_tokens=n, temperature=0.0, **changes)


# ----------------------------------------------------------------------------------------- the cache itself

def test_cached_forward_passes_give_the_hidden_states_of_one_full_pass():
    torch.manual_seed(0)
    config = ModelConfig(vocab_size=50, n_layer=2, n_head=2, d_model=32, context_length=16, dropout=0.0)
    model = Transformer(config).eval()
    ids = torch.randint(0, 50, (2, 12))
    with torch.no_grad():
        full = model(ids)
        cache = model.new_kv_cache()
        parts = [model(ids[:, :5], past_key_values=cache)]  # pre-fill: plain causal attention
        parts += [model(ids[:, t:t + 1], past_key_values=cache) for t in range(5, 9)]  # one token at a time
        parts.append(model(ids[:, 9:], past_key_values=cache))  # several new tokens after cached ones: masked
    assert cache.length == 12
    torch.testing.assert_close(torch.cat(parts, dim=1), full, atol=1e-5, rtol=1e-5)


def test_a_full_cache_and_a_cache_on_an_encoder_are_refused():
    model = Transformer(ModelConfig(vocab_size=50, n_layer=1, n_head=2, d_model=16, context_length=8)).eval()
    cache = model.new_kv_cache()
    model(torch.zeros(1, 8, dtype=torch.long), past_key_values=cache)
    with pytest.raises(ValueError, match="longer than the model's context"):
        model(torch.zeros(1, 1, dtype=torch.long), past_key_values=cache)
    bert = Transformer(preset("tiny-bert", vocab_size=50))
    with pytest.raises(ValueError, match="causal"):
        bert(torch.zeros(1, 4, dtype=torch.long), past_key_values=bert.new_kv_cache())


# ---------------------------------------------------------------------------------------- greedy decoding

def test_greedy_generation_with_the_cache_equals_without_it_and_equals_transformer_generate(gpt):
    cached = generate(gpt.model, gpt.tokenizer, PROMPT, greedy(40))
    uncached = generate(gpt.model, gpt.tokenizer, PROMPT, greedy(40, use_cache=False))
    assert cached["token_ids"] == uncached["token_ids"] and cached["text"] == uncached["text"]
    prompt = torch.tensor([[gpt.tokenizer.eos_id, *gpt.tokenizer.encode(PROMPT)]])
    reference = gpt.model.generate(prompt, 40, temperature=0)[0, prompt.size(1):].tolist()
    assert cached["token_ids"] == reference[:len(cached["token_ids"])]
    if cached["stop_reason"] == "max_tokens":
        assert cached["tokens"] == 40
    assert cached["text"] and cached["tokens_per_second"] > 0 and cached["seconds"] > 0


def test_generation_past_the_context_slides_the_window_and_keeps_going(gpt):
    n = 100  # the tiny model reads 64 tokens: the cache is re-filled on the way
    cached = generate(gpt.model, gpt.tokenizer, PROMPT, greedy(n))
    uncached = generate(gpt.model, gpt.tokenizer, PROMPT, greedy(n, use_cache=False))
    if cached["stop_reason"] == "max_tokens":
        assert cached["tokens"] == n
    within = gpt.model.config.context_length - cached["prompt_tokens"]
    assert cached["token_ids"][:within] == uncached["token_ids"][:within]


def test_a_stop_string_ends_the_text_just_before_it(gpt):
    options = GenerateOptions(max_new_tokens=40, temperature=1.0, seed=11)  # the same seed: the same text
    full = generate(gpt.model, gpt.tokenizer, PROMPT, options)["text"]
    stop = full[len(full) // 2:len(full) // 2 + 3]
    options.stop = [stop]
    result = generate(gpt.model, gpt.tokenizer, PROMPT, options)
    assert result["stop_reason"] == "stop" and len(full) > 20
    assert result["text"] == full[:full.find(stop)] and stop not in result["text"]


# ------------------------------------------------------------------------------------- sampling, streaming

def test_streamed_pieces_join_to_the_final_text(gpt):
    stream = generate_stream(gpt.model, gpt.tokenizer, PROMPT, GenerateOptions(max_new_tokens=30, seed=3))
    pieces = list(stream)
    assert isinstance(stream, GenerationStream) and len(pieces) > 1
    assert "".join(pieces) == stream.text and len(stream.token_ids) <= 30


def test_a_seed_fixes_the_sample_and_top_k_1_is_greedy(gpt):
    options = GenerateOptions(max_new_tokens=25, temperature=1.0, top_k=None, seed=7)
    first = generate(gpt.model, gpt.tokenizer, PROMPT, options)["token_ids"]
    assert generate(gpt.model, gpt.tokenizer, PROMPT, options)["token_ids"] == first
    top1 = generate(gpt.model, gpt.tokenizer, PROMPT, GenerateOptions(max_new_tokens=25, top_k=1, seed=1))
    assert top1["token_ids"] == generate(gpt.model, gpt.tokenizer, PROMPT, greedy(25))["token_ids"]


def test_top_p_keeps_the_smallest_set_of_tokens_that_reaches_p():
    logits = torch.tensor([0.5, 0.3, 0.15, 0.05]).log()
    kept = torch.isfinite(_filter_logits(logits, None, 0.7))
    assert kept.tolist() == [True, True, False, False]
    assert torch.isfinite(_filter_logits(logits, None, 0.1)).tolist() == [True, False, False, False]
    assert torch.isfinite(_filter_logits(logits, 3, 1.0)).tolist() == [True, True, True, False]


def test_cancel_stops_generation_and_restores_training_mode(gpt):
    gpt.model.train()
    calls = []

    def cancel() -> bool:
        calls.append(1)
        return len(calls) > 3

    try:
        result = generate(gpt.model, gpt.tokenizer, PROMPT, GenerateOptions(max_new_tokens=50), cancel=cancel)
        assert result["stop_reason"] == "cancelled" and result["tokens"] == 3
        assert gpt.model.training
    finally:
        gpt.model.eval()


def test_text_that_may_begin_a_stop_string_is_held_back_until_it_is_clear(gpt):
    tokenizer = gpt.tokenizer
    decoder = _Decoder(tokenizer, ["the king"])
    pieces = [decoder.push(t) for t in tokenizer.encode("Long live the kin")]
    assert "".join(pieces) == "Long live "  # "the kin" might still become the stop string
    assert decoder.flush() == "the kin"


def test_bad_settings_and_a_masked_model_are_refused(gpt, shakespeare_project):
    with pytest.raises(ValueError, match="top-p"):
        GenerateOptions(top_p=0.0)
    with pytest.raises(ValueError, match="temperature"):
        GenerateOptions(temperature=-1)
    bert = Transformer(preset("tiny-bert", vocab_size=gpt.tokenizer.vocab_size))
    with pytest.raises(StudioError, match="causal"):
        generate(bert, gpt.tokenizer, PROMPT, greedy(3))
