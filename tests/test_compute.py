from __future__ import annotations

import json
import math

import pytest

from gpt_studio.engine.compute import (
    PUBLISHED_RUNS,
    activation_bytes,
    attention_flops_per_token,
    measure_throughput,
    memory_estimate,
    mfu,
    pf_days,
    plan,
    training_flops,
)
from gpt_studio.engine.errors import CancelledError, StudioError
from gpt_studio.engine.model import count_parameters, preset
from gpt_studio.engine.progress import Reporter

GIB = 1024**3


def test_bert_base_6nd_compute_is_1_89_pf_days():
    flops = training_flops(109e6, 250e9)
    assert flops == pytest.approx(1.64e20, rel=0.01)
    assert pf_days(flops) == pytest.approx(1.89, rel=0.01)


def test_gpt3_small_6nd_compute_is_2_25e20_flops():
    assert training_flops(125e6, 300e9) == pytest.approx(2.25e20, rel=1e-9)


@pytest.mark.parametrize("run", PUBLISHED_RUNS, ids=lambda r: r.name)
def test_published_runs_agree_with_6nd(run):
    assert pf_days(training_flops(run.params, run.tokens)) == pytest.approx(run.pf_days, rel=0.02)


def test_published_table_holds_the_four_reference_models():
    assert [r.name for r in PUBLISHED_RUNS] == ["BERT-Base", "RoBERTa-Base", "GPT-3 Small", "GPT-3 175B"]
    assert json.dumps([r.to_dict() for r in PUBLISHED_RUNS])


def test_attention_term_follows_kaplan():
    config = preset("gpt1")
    assert attention_flops_per_token(config, 512) == 6 * 12 * 512 * 768
    p = plan(config, tokens=1e9, batch_size=8)
    assert p.flops == pytest.approx(p.flops_6nd + 6 * 12 * 512 * 768 * 1e9)
    assert p.pf_days == pytest.approx(p.flops / (1e15 * 86400))


def test_plan_counts_parameters_like_the_model():
    config = preset("bert-base")
    p = plan(config, tokens=1e9, batch_size=8, seq_len=128)
    assert p.parameters == count_parameters(config)
    assert p.non_embedding_parameters == count_parameters(config, non_embedding=True)
    assert p.steps == -(-int(1e9) // (8 * 128))


def test_memory_grows_with_batch_size():
    config = preset("gpt1")
    totals = [memory_estimate(config, batch_size=b, seq_len=512).total for b in (1, 2, 4, 8, 16)]
    assert totals == sorted(totals) and len(set(totals)) == len(totals)


def test_static_memory_is_sixteen_bytes_per_parameter():
    config = preset("tiny-gpt")
    m = memory_estimate(config, batch_size=1, seq_len=64)
    assert m.weights + m.gradients + m.optimizer == 16 * count_parameters(config)
    assert m.to_dict()["total"] == m.total


def test_half_precision_activations_take_less_memory():
    config = preset("gpt1")
    fp32 = activation_bytes(config, batch_size=4, seq_len=512, precision="fp32")
    bf16 = activation_bytes(config, batch_size=4, seq_len=512, precision="bf16")
    assert bf16 < fp32 < 2.2 * bf16


def test_activation_estimate_uses_korthikanti_per_layer_term_at_16_bits():
    config = preset("tiny-gpt", vocab_size=1)  # make the logits term negligible
    s, b, h, a, layers = 64, 2, 64, 2, 2
    expected = layers * s * b * h * (34 + 5 * a * s / h) + s * b * (2 + 4)
    assert activation_bytes(config, batch_size=b, seq_len=s, precision="bf16") == int(expected)


def test_mfu_is_six_n_times_throughput_over_peak():
    assert mfu(100e6, 10_000, 1e13) == pytest.approx(6 * 100e6 * 10_000 / 1e13)
    p = plan(preset("tiny-gpt"), tokens=1e6, batch_size=4, tokens_per_second=5_000, peak_flops=1e12)
    assert p.mfu == pytest.approx(6 * p.parameters * 5_000 / 1e12)


def test_wall_time_and_cost_come_from_measured_throughput():
    p = plan(preset("tiny-gpt"), tokens=3.6e7, batch_size=4, tokens_per_second=10_000, price_per_gpu_hour=2.5)
    assert p.wall_seconds == pytest.approx(3600)
    assert p.cost == pytest.approx(2.5)


def test_optional_results_are_none_without_their_inputs():
    p = plan(preset("tiny-gpt"), tokens=1e6, batch_size=4)
    assert (p.fits, p.max_batch_size, p.wall_seconds, p.mfu, p.cost) == (None, None, None, None, None)


def test_fits_flag_compares_the_estimate_with_device_memory():
    config = preset("gpt1")
    assert plan(config, tokens=1e9, batch_size=8, device_memory_bytes=80 * GIB).fits is True
    assert plan(config, tokens=1e9, batch_size=8, device_memory_bytes=2 * GIB).fits is False


def test_max_batch_size_is_the_largest_that_fits():
    config = preset("gpt1")
    memory = 24 * GIB
    best = plan(config, tokens=1e9, batch_size=1, device_memory_bytes=memory).max_batch_size
    assert best and best > 1
    assert plan(config, tokens=1e9, batch_size=best, device_memory_bytes=memory).fits is True
    assert plan(config, tokens=1e9, batch_size=best + 1, device_memory_bytes=memory).fits is False


def test_chinchilla_hint_is_twenty_tokens_per_parameter():
    p = plan(preset("tiny-gpt"), tokens=1e6, batch_size=4)
    assert p.chinchilla_tokens == 20 * p.parameters
    assert p.tokens_per_parameter == pytest.approx(1e6 / p.parameters)


def test_plan_serialises_to_json():
    p = plan(preset("tiny-bert"), tokens=1e6, batch_size=4, device_memory_bytes=GIB, tokens_per_second=1e4)
    data = json.loads(json.dumps(p.to_dict()))
    assert data["memory"]["total"] == p.memory.total and data["fits"] is True


@pytest.mark.parametrize(
    "kwargs, fragment",
    [
        ({"seq_len": 65}, "context_length"),
        ({"precision": "int8"}, "precision"),
        ({"batch_size": 0}, "batch_size"),
        ({"tokens_per_second": -1.0}, "tokens_per_second"),
    ],
)
def test_invalid_plan_inputs_are_rejected(kwargs, fragment):
    args = {"tokens": 1e6, "batch_size": 4, **kwargs}
    with pytest.raises(ValueError, match=fragment):
        plan(preset("tiny-gpt"), **args)


# ------------------------------------------------------------------------------------ measured throughput

def test_measuring_times_real_training_steps_and_reports_each_one():
    config = preset("tiny-gpt", vocab_size=256)
    seen: list[tuple[float, float]] = []
    reporter = Reporter(lambda done, total, _message: seen.append((done, total)), min_interval_s=0)
    rate = measure_throughput(config, batch_size=2, device="cpu", steps=3, reporter=reporter, budget_s=60)
    assert math.isfinite(rate) and rate > 0
    assert seen[0] == (0, 0) and seen[-3:] == [(1, 3), (2, 3), (3, 3)]  # warm-up first, then every timed step
    slower = measure_throughput(preset("tiny-gpt", vocab_size=256, n_layer=8, d_model=256, n_head=4),
                                batch_size=2, device="cpu", steps=1)
    assert slower < rate  # a model with ~30x the FLOPs per token cannot be as fast: the clock measures the work


def test_a_cancelled_measurement_stops_before_training():
    reporter = Reporter()
    reporter.cancel()
    with pytest.raises(CancelledError):
        measure_throughput(preset("tiny-gpt", vocab_size=256), batch_size=2, device="cpu", reporter=reporter)


def test_measuring_fp16_on_the_cpu_is_refused_as_the_trainer_refuses_it():
    with pytest.raises(StudioError, match="fp16 training needs a CUDA GPU"):
        measure_throughput(preset("tiny-gpt", vocab_size=256), batch_size=2, precision="fp16", device="cpu")
