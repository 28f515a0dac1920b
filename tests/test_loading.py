"""Finding and loading models for the Playground: runs, checkpoints, saved and fine-tuned model folders."""

from __future__ import annotations

import json
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from gpt_studio.engine.checkpoint import list_checkpoints
from gpt_studio.engine.errors import StudioError
from gpt_studio.engine.loading import list_models, load_model
from gpt_studio.engine.pretrain import pretrain
from gpt_studio.engine.project import init_project
from gpt_studio.engine.runs import find_run

FAST = {"batch_size": 8, "eval_batches": 1, "eval_interval": 1000, "warmup_steps": 2, "sample_tokens": 0,
        "checkpoint_interval": 3, "device": "cpu"}


@pytest.fixture(scope="module")
def runs(shakespeare_project):
    gpt = pretrain(shakespeare_project, preset_name="tiny-gpt", max_steps=6, settings=FAST)["run_id"]
    bert = pretrain(shakespeare_project, preset_name="tiny-bert", max_steps=3, settings=FAST)["run_id"]
    return {"gpt": gpt, "bert": bert}


@pytest.fixture(scope="module")
def saved_project(tmp_path_factory, shakespeare_project, runs):
    """A second project holding only the tokenizer and three model folders: saved, fine-tuned GPT and BERT."""
    project = init_project(tmp_path_factory.mktemp("saved") / "proj")
    shutil.copytree(shakespeare_project.tokenizer_dir, project.tokenizer_dir, dirs_exist_ok=True)
    for name, run_id in (("plain-gpt", runs["gpt"]), ("sentiment-gpt", runs["gpt"]), ("topic-bert", runs["bert"])):
        ckpt = list_checkpoints(find_run(shakespeare_project, run_id).checkpoints_dir)[-1].path
        folder = project.models_dir / name
        folder.mkdir()
        shutil.copy(ckpt / "config.json", folder / "config.json")
        if name == "plain-gpt":
            shutil.copy(ckpt / "model.safetensors", folder / "model.safetensors")
            continue
        # as fine-tuning saves it: the body under a prefix plus a head, finetune.json and a tokenizer copy
        body = {f"body.{k}": v for k, v in load_file(str(ckpt / "model.safetensors")).items()
                if not (name == "topic-bert" and k.startswith("mlm_"))}
        save_file({**body, "head.weight": torch.zeros(2, 64), "head.bias": torch.zeros(2)},
                  str(folder / "model.safetensors"))
        (folder / "finetune.json").write_text(json.dumps({"task": "classification", "labels": ["negative", "positive"],
                                                          "metrics": {"val_accuracy": 0.75}}))
        shutil.copy(shakespeare_project.tokenizer_dir / "tokenizer.model", folder / "tokenizer.model")
    return project


def test_list_models_shows_each_runs_latest_checkpoint_newest_first(shakespeare_project, runs):
    entries = {e.spec: e for e in list_models(shakespeare_project)}
    gpt, bert = entries[runs["gpt"]], entries[runs["bert"]]
    assert (gpt.family, gpt.kind, bert.family) == ("gpt", "run", "bert")
    assert "step 6" in gpt.description and "parameters" in gpt.description and "val loss" in gpt.description
    assert gpt.path.name == "step-000006"
    order = [e.spec for e in list_models(shakespeare_project)]
    assert order.index(runs["bert"]) < order.index(runs["gpt"])


def test_a_run_loads_by_id_prefix_step_and_folder_with_the_same_weights(shakespeare_project, runs):
    by_id = load_model(runs["gpt"], shakespeare_project)
    assert by_id.family == "gpt" and by_id.finetune is None and not by_id.model.training
    assert by_id.tokenizer.vocab_size == by_id.model.config.vocab_size
    run = find_run(shakespeare_project, runs["gpt"])
    others = [load_model(runs["gpt"][:-1], shakespeare_project), load_model(f"{runs['gpt']}@6", shakespeare_project),
              load_model(str(run.root)), load_model(str(run.checkpoints_dir / "step-000006"))]
    weight = by_id.model.wte.weight
    for other in others:
        assert torch.equal(other.model.wte.weight, weight)
    early = load_model(f"{runs['gpt']}@3", shakespeare_project)
    assert early.kind == "checkpoint" and not torch.equal(early.model.wte.weight, weight)


def test_saved_and_fine_tuned_folders_are_listed_and_load_by_name(saved_project, runs, shakespeare_project):
    entries = {e.spec: e for e in list_models(saved_project)}
    assert {k: (e.kind, e.family) for k, e in entries.items()} == {
        "plain-gpt": ("saved", "gpt"), "sentiment-gpt": ("finetuned", "gpt"), "topic-bert": ("finetuned", "bert")}
    assert "classification" in entries["sentiment-gpt"].description
    reference = load_model(runs["gpt"], shakespeare_project).model.wte.weight
    tuned = load_model("sentiment-gpt", saved_project)
    assert tuned.finetune["labels"] == ["negative", "positive"] and tuned.lm_head
    assert torch.equal(tuned.model.wte.weight, reference)
    assert tuned.tokenizer.encode("To be") == load_model("plain-gpt", saved_project).tokenizer.encode("To be")
    bert = load_model(str(saved_project.models_dir / "topic-bert"))
    assert bert.family == "bert" and not bert.lm_head  # saved without its masked-LM head


def test_an_unknown_name_lists_the_runs_and_saved_models_there_are(saved_project, shakespeare_project, runs):
    with pytest.raises(StudioError) as err:
        load_model("no-such-model", saved_project)
    assert "plain-gpt" in str(err.value) and "sentiment-gpt" in str(err.value)
    with pytest.raises(StudioError, match="checkpoints exist at steps 3, 6"):
        load_model(f"{runs['gpt']}@4", shakespeare_project)
    with pytest.raises(StudioError, match="must be a number"):
        load_model(f"{runs['gpt']}@last", shakespeare_project)


def test_a_damaged_config_and_a_retrained_tokenizer_are_named(tmp_path, shakespeare_project, runs):
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "config.json").write_text("{not json")
    (folder / "model.safetensors").write_bytes(b"")
    with pytest.raises(StudioError, match="config.json is damaged"):
        load_model(str(folder))
    other = init_project(tmp_path / "other")
    shutil.copytree(shakespeare_project.tokenizer_dir, other.tokenizer_dir, dirs_exist_ok=True)
    copy = other.runs_dir / runs["gpt"]
    shutil.copytree(find_run(shakespeare_project, runs["gpt"]).root, copy)
    info = json.loads((copy / "run.json").read_text())
    info["data"]["tokenizer_sha256"] = "0" * 64
    (copy / "run.json").write_text(json.dumps(info))
    with pytest.raises(StudioError, match="another tokenizer"):
        load_model(runs["gpt"], other)
