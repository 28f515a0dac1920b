from __future__ import annotations

import dataclasses
import json
import math

import pytest
import torch

from gpt_studio.engine.model import (
    PRESETS,
    ModelConfig,
    Transformer,
    count_parameters,
    preset,
    preset_descriptions,
)
from gpt_studio.engine.objectives import causal_lm_loss, mask_tokens, mlm_loss


def tiny(**overrides) -> ModelConfig:
    base = dict(vocab_size=50, n_layer=2, n_head=2, d_model=32, context_length=16, dropout=0.0)
    return ModelConfig(**{**base, **overrides})


def tokens(batch: int = 2, length: int = 12, vocab: int = 50, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, vocab, (batch, length), generator=torch.Generator().manual_seed(seed))


# ------------------------------------------------------------------------------------------------ config


def test_head_count_that_does_not_divide_d_model_is_rejected_with_suggestions():
    with pytest.raises(ValueError) as err:
        tiny(d_model=64, n_head=5)
    message = str(err.value)
    assert "64" in message and "5" in message and "4, 8" in message


@pytest.mark.parametrize(
    "field, value",
    [
        ("n_layer", 0),
        ("vocab_size", -3),
        ("context_length", 0),
        ("dropout", 1.0),
        ("dropout", -0.1),
        ("d_ff", 0),
    ],
)
def test_invalid_sizes_and_dropout_are_rejected(field, value):
    with pytest.raises(ValueError, match=field):
        tiny(**{field: value})


def test_next_sentence_head_on_a_causal_model_is_rejected():
    with pytest.raises(ValueError, match="causal=False"):
        tiny(nsp_head=True)


def test_family_follows_the_causal_switch():
    assert tiny().family == "gpt"
    assert tiny(causal=False).family == "bert"


def test_d_ff_defaults_to_four_times_d_model():
    assert tiny().ff_dim == 128
    assert tiny(d_ff=40).ff_dim == 40


def test_config_round_trips_through_json():
    config = preset("bert-base")
    again = ModelConfig.from_dict(json.loads(json.dumps(config.to_dict())))
    assert again == config


def test_from_dict_names_unknown_keys():
    data = {**tiny().to_dict(), "n_embd": 3, "heads": 1}
    with pytest.raises(ValueError, match="heads, n_embd"):
        ModelConfig.from_dict(data)


# ------------------------------------------------------------------------------------------------ forward


def test_decoder_forward_returns_hidden_states_and_vocabulary_logits():
    model = Transformer(tiny())
    hidden = model(tokens())
    assert hidden.shape == (2, 12, 32)
    assert model.lm_logits(hidden).shape == (2, 12, 50)


def test_lm_head_is_tied_to_the_token_embedding():
    model = Transformer(tiny())
    hidden = model(tokens())
    assert torch.allclose(model.lm_logits(hidden), hidden @ model.wte.weight.T)
    assert count_parameters(model.config) == model.num_parameters()  # no separate output matrix


def test_causal_model_never_looks_at_future_tokens():
    model = Transformer(tiny()).eval()
    a = tokens()
    b = a.clone()
    b[:, 8:] = (b[:, 8:] + 1) % 50
    assert torch.allclose(model(a)[:, :8], model(b)[:, :8], atol=1e-6)
    assert not torch.allclose(model(a)[:, 8:], model(b)[:, 8:])


def test_encoder_sees_tokens_on_both_sides():
    model = Transformer(tiny(causal=False, prenorm=False)).eval()
    a = tokens()
    b = a.clone()
    b[:, -1] = (b[:, -1] + 1) % 50
    assert not torch.allclose(model(a)[:, 0], model(b)[:, 0])


def test_encoder_ignores_padding_content_under_an_attention_mask():
    model = Transformer(tiny(causal=False, prenorm=False, type_vocab_size=2)).eval()
    a = tokens()
    mask = torch.ones_like(a)
    mask[:, 9:] = 0
    b = a.clone()
    b[:, 9:] = (b[:, 9:] + 7) % 50
    types = torch.zeros_like(a)
    types[:, 5:] = 1
    out_a = model(a, token_type_ids=types, attention_mask=mask)
    out_b = model(b, token_type_ids=types, attention_mask=mask)
    assert torch.allclose(out_a[:, :9], out_b[:, :9], atol=1e-6)


def test_causal_model_with_all_ones_mask_matches_the_fast_causal_path():
    model = Transformer(tiny()).eval()
    x = tokens()
    assert torch.allclose(model(x), model(x, attention_mask=torch.ones_like(x)), atol=1e-5)


def test_fully_padded_sequence_gives_finite_outputs():
    model = Transformer(tiny(causal=False, prenorm=False)).eval()
    x = tokens()
    assert torch.isfinite(model(x, attention_mask=torch.zeros_like(x))).all()


def test_token_types_change_the_encoder_output():
    model = Transformer(tiny(causal=False, prenorm=False, type_vocab_size=2)).eval()
    x = tokens()
    assert not torch.allclose(model(x), model(x, token_type_ids=torch.ones_like(x)))


def test_token_types_on_a_model_without_segments_are_rejected():
    model = Transformer(tiny())
    x = tokens()
    with pytest.raises(ValueError, match="segment"):
        model(x, token_type_ids=torch.zeros_like(x))


def test_sequence_longer_than_the_context_is_rejected():
    model = Transformer(tiny())
    with pytest.raises(ValueError, match="context_length"):
        model(tokens(length=17))


def test_masked_lm_and_next_sentence_heads_have_the_right_shapes():
    model = Transformer(tiny(causal=False, prenorm=False, type_vocab_size=2, nsp_head=True))
    hidden = model(tokens())
    assert model.mlm_logits(hidden).shape == (2, 12, 50)
    assert model.nsp_logits(hidden).shape == (2, 2)


def test_masked_lm_head_is_refused_on_a_causal_model():
    model = Transformer(tiny())
    with pytest.raises(ValueError, match="bidirectional"):
        model.mlm_logits(model(tokens()))


def test_layer_norm_placement_follows_prenorm():
    assert Transformer(tiny()).ln_f is not None and Transformer(tiny()).ln_emb is None
    post = Transformer(tiny(prenorm=False))
    assert post.ln_f is None and post.ln_emb is not None
    assert Transformer(tiny(prenorm=False, embed_layer_norm=False)).ln_emb is None


def test_residual_projections_start_smaller_than_other_weights():
    model = Transformer(tiny(d_model=64, n_layer=8))
    assert model.blocks[0].attn.proj.weight.std().item() < 0.01
    assert model.blocks[0].mlp.fc.weight.std().item() == pytest.approx(0.02, rel=0.1)


# ------------------------------------------------------------------------------------------------ generate


def test_generate_appends_tokens_beyond_the_context_length():
    model = Transformer(tiny())
    out = model.generate(tokens(length=10), max_new_tokens=10, top_k=5)
    assert out.shape == (2, 20)
    assert int(out.max()) < 50


def test_greedy_generation_is_deterministic():
    model = Transformer(tiny()).eval()
    prompt = tokens(length=4)
    assert torch.equal(model.generate(prompt, 6, temperature=0), model.generate(prompt, 6, temperature=0))


def test_top_1_sampling_equals_greedy_decoding():
    model = Transformer(tiny()).eval()
    prompt = tokens(length=4)
    assert torch.equal(model.generate(prompt, 6, top_k=1), model.generate(prompt, 6, temperature=0))


def test_generate_is_refused_for_an_encoder():
    with pytest.raises(ValueError, match="causal"):
        Transformer(tiny(causal=False)).generate(tokens(), 2)


# ------------------------------------------------------------------------------------------------ parameters


@pytest.mark.parametrize("name", ["tiny-gpt", "tiny-bert", "shakespeare-char"])
def test_analytic_parameter_count_equals_the_instantiated_model(name):
    model = Transformer(preset(name))
    assert count_parameters(model.config) == model.num_parameters()
    assert count_parameters(model.config, non_embedding=True) == model.num_parameters(non_embedding=True)


def test_analytic_count_matches_for_variants_without_bias_and_with_nsp():
    config = tiny(causal=False, prenorm=False, bias=False, type_vocab_size=2, nsp_head=True, d_ff=48)
    assert count_parameters(config) == Transformer(config).num_parameters()


def test_gpt1_has_about_117_million_parameters_on_the_meta_device():
    config = preset("gpt1")
    with torch.device("meta"):
        model = Transformer(config)
    assert model.num_parameters() == count_parameters(config)
    assert 116e6 <= model.num_parameters() <= 118e6


def test_bert_base_has_about_110_million_parameters():
    config = preset("bert-base")
    with torch.device("meta"):
        model = Transformer(config)
    assert model.num_parameters() == count_parameters(config)
    assert 108e6 <= model.num_parameters() <= 112e6


def test_non_embedding_count_excludes_token_position_and_type_tables():
    config = tiny(causal=False, prenorm=False, type_vocab_size=2)
    model = Transformer(config)
    assert model.num_parameters() - model.num_parameters(non_embedding=True) == 32 * (50 + 16 + 2)


# ------------------------------------------------------------------------------------------------ presets


def test_unknown_preset_error_lists_the_valid_names():
    with pytest.raises(ValueError) as err:
        preset("gpt-5")
    assert all(name in str(err.value) for name in PRESETS)


def test_preset_accepts_vocab_size_and_field_overrides():
    config = preset("tiny-gpt", vocab_size=1000, dropout=0.2)
    assert (config.vocab_size, config.dropout, config.n_layer) == (1000, 0.2, 2)
    with pytest.raises(ValueError, match="n_embd"):
        preset("tiny-gpt", n_embd=3)


def test_paper_presets_default_to_the_paper_vocabulary():
    assert preset("gpt1").vocab_size == 40478
    assert preset("bert-base").vocab_size == 30522
    assert preset("shakespeare-char").vocab_size == 65


def test_preset_descriptions_cover_every_preset_with_real_counts():
    infos = preset_descriptions()
    assert list(infos) == list(PRESETS)
    for name, info in infos.items():
        assert info.parameters == count_parameters(PRESETS[name]())
        assert info.description and "parameters" in info.line
    assert "116.5M" in infos["gpt1"].line


def test_tiny_bert_preset_is_an_encoder_with_segments():
    config = preset("tiny-bert")
    assert not config.causal and config.type_vocab_size == 2 and not config.prenorm


# ------------------------------------------------------------------------------------------------ training


def _train(model: Transformer, loss_fn, steps: int = 30) -> tuple[float, float]:
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(steps):
        loss = loss_fn(model)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses[0], losses[-1]


def test_tiny_causal_model_fits_a_fixed_batch():
    torch.manual_seed(0)
    model = Transformer(preset("tiny-gpt", vocab_size=64))
    data = tokens(batch=4, length=33, vocab=64)
    x, y = data[:, :-1], data[:, 1:]
    first, last = _train(model, lambda m: causal_lm_loss(m.lm_logits(m(x)), y))
    assert first == pytest.approx(math.log(64), rel=0.1)
    assert last < 0.7 * first


def test_tiny_masked_model_fits_a_fixed_batch():
    torch.manual_seed(0)
    model = Transformer(preset("tiny-bert", vocab_size=64))
    data = tokens(batch=4, length=32, vocab=64) % 60 + 4  # ids 0..3 are special
    inputs, labels = mask_tokens(
        data, vocab_size=64, mask_id=3, special_ids=[0, 1, 2], generator=torch.Generator().manual_seed(1)
    )
    assert (labels != -100).any()
    first, last = _train(model, lambda m: mlm_loss(m.mlm_logits(m(inputs)), labels))
    assert last < 0.7 * first


def test_dropout_only_acts_in_training_mode():
    model = Transformer(dataclasses.replace(tiny(), dropout=0.5))
    x = tokens()
    model.eval()
    assert torch.equal(model(x), model(x))
    model.train()
    assert not torch.equal(model(x), model(x))


def test_the_short_context_cpu_attention_matches_sdpa_in_values_and_gradients(monkeypatch):
    from gpt_studio.engine import model as model_module

    torch.manual_seed(0)
    model = Transformer(preset("shakespeare-char", vocab_size=72))
    idx = torch.randint(0, 72, (3, 64))

    def loss_and_grads(short: bool) -> tuple[torch.Tensor, list[torch.Tensor]]:
        monkeypatch.setattr(model_module, "USE_SHORT_CAUSAL", short)
        model.zero_grad()
        logits = model.lm_logits(model(idx))
        logits.square().mean().backward()
        return logits.detach(), [p.grad.clone() for p in model.parameters()]

    attn = model.blocks[0].attn
    assert attn._short_causal_path(torch.zeros(1, 64, 128), None, True)
    assert not attn._short_causal_path(torch.zeros(1, 64, 128), torch.ones(1, 1, 64, 64, dtype=torch.bool), False)
    assert not attn._short_causal_path(torch.zeros(1, 129, 128), None, True)
    fast, fast_grads = loss_and_grads(True)
    ref, ref_grads = loss_and_grads(False)
    assert torch.allclose(fast, ref, atol=1e-5)
    for a, b in zip(fast_grads, ref_grads, strict=True):
        assert torch.allclose(a, b, atol=1e-6, rtol=1e-4)
