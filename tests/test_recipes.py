"""Named recipes: a preset plus measured training settings, usable from the engine, the CLI and the form."""

from __future__ import annotations

import sys

import pytest

from gpt_studio.engine import devices
from gpt_studio.engine.errors import StudioError
from gpt_studio.engine.model import count_parameters, preset
from gpt_studio.engine.pretrain import new_run
from gpt_studio.engine.recipes import RECIPES, expand, names


def test_the_speedrun_recipe_expands_to_nanogpts_model_and_its_measured_settings():
    model_preset, settings = expand("shakespeare-char-speedrun")
    assert model_preset == "shakespeare-char"
    assert settings["lr"] == 3e-3 and settings["max_steps"] == 1400 and settings["batch_size"] == 12
    # nanoGPT's model has no biases: 804,096 parameters at its 65-symbol vocabulary
    assert count_parameters(preset(model_preset, vocab_size=65)) == 804_096


def test_given_settings_override_the_recipe_and_plain_presets_pass_through():
    assert expand("shakespeare-char-speedrun", {"lr": 1e-3})[1]["lr"] == 1e-3
    assert expand("tiny-gpt", {"lr": 1e-3}) == ("tiny-gpt", {"lr": 1e-3})
    with pytest.raises(ValueError, match="shakespeare-char-speedrun"):
        expand("no-such-preset")
    assert set(RECIPES) <= set(names())


def test_a_run_from_a_recipe_records_the_recipe_and_its_settings(shakespeare_project, tmp_path):
    run = new_run(shakespeare_project, "shakespeare-char-speedrun", {"eval_batches": 2}, max_steps=3)
    try:
        info = run.read()
        assert info["preset"] == "shakespeare-char-speedrun"
        assert info["train"]["lr"] == 3e-3 and info["train"]["beta2"] == 0.99
        assert info["train"]["max_steps"] == 3 and info["train"]["eval_batches"] == 2
        assert info["model"]["bias"] is False and info["model"]["d_model"] == 128
    finally:
        import shutil

        shutil.rmtree(run.root)


def test_an_unknown_preset_names_the_valid_ones(shakespeare_project):
    with pytest.raises(StudioError, match="Valid presets: .*shakespeare-char-speedrun"):
        new_run(shakespeare_project, "gpt-5", {})


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt")
def test_cpu_training_keeps_freed_memory_in_the_process():
    assert devices.keep_freed_memory() is True
