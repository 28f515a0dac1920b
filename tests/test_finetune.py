import csv
import json
import shutil
import signal
import threading
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from gpt_studio.engine.errors import StudioError
from gpt_studio.engine.finetune import (
    FinetuneConfig,
    _load_base,
    compare_with_scratch,
    evaluate_model,
    finetune,
    list_bases,
    predict,
    resolve_base,
    sequence_preview,
    sweep_layers,
)
from gpt_studio.engine.finetune_data import ColumnMap, load_task_data, read_rows, subsample
from gpt_studio.engine.finetune_model import build_model, fit_parts
from gpt_studio.engine.pretrain import pretrain
from gpt_studio.engine.project import init_project
from gpt_studio.engine.trainer import TrainControl

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
PRETRAIN = {"eval_batches": 2, "eval_interval": 1000, "checkpoint_interval": 1000, "batch_size": 8,
            "warmup_steps": 2, "lr": 3e-3, "sample_tokens": 0}
# GPT-1's lr (6.25e-5) barely moves a 2-layer d=64 model in a few steps; these tests only need it to move
FAST = {"epochs": 1, "lr": 1e-3, "batch_size": 32}
TASKS = {
    "classification": (DATASETS / "sentiment_labelled_sentences" / "sentiment.csv", None,
                       ColumnMap(text="text", label="label"), False),
    "entailment": (DATASETS / "snli" / "snli_dev.csv", DATASETS / "snli" / "snli_test.csv",
                   ColumnMap(text="premise", text_pair="hypothesis", label="label"), False),
    "similarity": (DATASETS / "stsb" / "stsb_train.csv", DATASETS / "stsb" / "stsb_dev.csv",
                   ColumnMap(text="sentence1", text_pair="sentence2", label="score"), True),
    "multiple-choice": (DATASETS / "copa" / "copa_dev.jsonl", DATASETS / "copa" / "copa_test.jsonl",
                        ColumnMap(context="context,question", choices="choices", label="label"), False),
}


@pytest.fixture(scope="module")
def project(shakespeare_project, tmp_path_factory):
    """A copy of the Shakespeare project with a tiny GPT and a tiny BERT pretrained a few dozen steps."""
    root = tmp_path_factory.mktemp("finetune") / "proj"
    proj = init_project(root)
    for sub in ("corpus", "tokenizer", "data"):
        shutil.rmtree(root / sub)
        shutil.copytree(shakespeare_project.root / sub, root / sub)
    runs = {}
    for name in ("tiny-gpt", "tiny-bert"):
        runs[name.split("-")[1]] = pretrain(proj, preset_name=name, settings=PRETRAIN, max_steps=30)["run_id"]
    return proj, runs


def _write_rows(path, source, rows):
    """A small file of real rows from ``source`` (same format, same columns)."""
    records = [record for _, record in read_rows(source)]
    picked = [records[i] for i in rows]
    if source.suffix == ".jsonl":
        path.write_text("".join(json.dumps(r) + "\n" for r in picked), encoding="utf-8")
    else:
        with open(path, "w", newline="", encoding="utf-8") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(picked[0]))
            writer.writeheader()
            writer.writerows(picked)
    return path


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    """Per task: (train TaskData of 192 real rows, evaluation file of 64 real rows, its TaskData)."""
    folder = tmp_path_factory.mktemp("ftdata")
    out = {}
    for task, (train_path, eval_path, columns, regression) in TASKS.items():
        full = load_task_data(train_path, task, columns, regression=regression)
        train = subsample(full, 192, seed=0)
        if eval_path is None:  # sentiment has one file: hold out rows the training sample does not use
            used = {e.row for e in train.examples}
            rest = [i for i, (row, _) in enumerate(read_rows(train_path)) if row not in used]
            eval_file = _write_rows(folder / f"{task}{train_path.suffix}", train_path, rest[::40][:64])
        else:
            eval_file = _write_rows(folder / f"{task}{eval_path.suffix}", eval_path, range(64))
        fixed = train.labels if task in ("classification", "entailment") else None
        out[task] = (train, eval_file, load_task_data(eval_file, task, columns, regression=regression, labels=fixed))
    return out


def config(task, **changes):
    return FinetuneConfig(task=task, regression=TASKS[task][3], **{**FAST, **changes})


def read_predictions(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.parametrize("family", ["gpt", "bert"])
@pytest.mark.parametrize("task", list(TASKS))
def test_each_format_trains_saves_and_predicts_identically(project, data, task, family, tmp_path):
    proj, runs = project
    train, eval_file, evaluation = data[task]
    events = []
    result = finetune(proj, runs[family], train, config(task), eval_data=evaluation, name=f"{task}-{family}",
                      listeners=[events.append])
    folder = proj.models_dir / f"{task}-{family}"
    assert result.model_path == folder and result.reason == "completed" and result.steps == 6
    assert {p.name for p in folder.iterdir()} == {"model.safetensors", "config.json", "finetune.json",
                                                   "tokenizer.model", "tokenizer.json", "predictions.csv",
                                                   "metrics.jsonl"}
    assert not [p for p in proj.models_dir.iterdir() if p.name.startswith(".")], "no staging folder is left"
    kinds = [e.kind for e in events]
    assert kinds.count("step") == 6 and kinds.count("finetune_eval") == 1 and kinds[-1] == "end"
    assert events[-1].summary == result.to_dict()
    records = [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]
    assert [r["kind"] for r in records] == kinds
    meta = json.loads((folder / "finetune.json").read_text())
    assert meta["task"] == task and meta["base"]["run_id"] == runs[family] and meta["labels"] == result.labels
    assert meta["tokenizer_sha256"] == json.loads((proj.tokenizer_dir / "tokenizer.json").read_text())["model_sha256"]

    saved = read_predictions(folder / "predictions.csv")
    again = predict(folder, eval_file, out_path=tmp_path / "predictions.csv")
    reloaded = read_predictions(tmp_path / "predictions.csv")
    assert len(saved) == len(reloaded) == 64 and again["rows"] == 64
    probability_columns = [c for c in saved[0] if c.startswith(("p_", "predicted_score"))]
    assert probability_columns
    for a, b in zip(saved, reloaded):
        assert a["row"] == b["row"]
        assert [float(a[c]) for c in probability_columns] == [float(b[c]) for c in probability_columns]
    if TASKS[task][3]:  # regression on STS-B
        assert result.val_pearson is not None and result.val_spearman is not None and result.val_accuracy is None
        assert result.best_val_metric == result.val_pearson and -1 <= result.val_spearman <= 1
        assert again["metrics"]["val_pearson"] == pytest.approx(result.val_pearson)
    else:
        assert 0 <= result.val_accuracy <= 1 and 0 <= result.val_macro_f1 <= 1
        assert sum(map(sum, result.confusion)) == 64 and set(result.per_class) == set(result.labels)
        assert again["metrics"]["val_accuracy"] == pytest.approx(result.val_accuracy)


def test_special_tokens_and_both_orders_in_the_sequences(project, data):
    proj, runs = project
    gpt, bert = resolve_base(proj, runs["gpt"]), resolve_base(proj, runs["bert"])
    pair = sequence_preview(gpt, data["similarity"][0], 0)
    assert len(pair) == 2 and [p for _, p in pair[0]][0] == "<s>" and pair[0][-1][1] == "[CLS]"
    first_sep, second_sep = [i for i, (_, p) in enumerate(pair[0]) if p == "[SEP]"], \
        [i for i, (_, p) in enumerate(pair[1]) if p == "[SEP]"]
    a, b = pair[0][1:first_sep[0]], pair[0][first_sep[0] + 1:-1]
    assert pair[1][1:second_sep[0]] == b and pair[1][second_sep[0] + 1:-1] == a, "b [SEP] a is the other order"
    mc = sequence_preview(bert, data["multiple-choice"][0], 0)
    assert len(mc) == 2 and all(seq[0][1] == "[CLS]" and seq[-1][1] == "[SEP]" for seq in mc)
    assert sum(p == "[SEP]" for _, p in mc[0]) == 2
    long = sequence_preview(gpt, data["entailment"][0], 0, max_length=12)
    assert len(long[0]) == 12


def test_truncation_cuts_the_longest_text_from_its_end():
    parts, cut = fit_parts([[1, 2, 3, 4, 5, 6], [7, 8, 9]], 6)
    assert cut and parts == [[1, 2, 3], [7, 8, 9]]
    parts, cut = fit_parts([[1, 2, 3, 4], [5, 6, 7, 8]], 5)
    assert parts == [[1, 2], [5, 6, 7]]
    assert fit_parts([[1], [2]], 5) == ([[1], [2]], False)


@pytest.mark.parametrize("family", ["gpt", "bert"])
def test_transfer_copies_exactly_what_it_says(project, family):
    proj, runs = project
    model_config, state, _ = _load_base(resolve_base(proj, runs[family]))

    def build(layers, embeddings):
        return build_model(model_config, state, "classification", 2, layers_transferred=layers,
                           transfer_embeddings=embeddings, head_dropout=0.1, regression=False, seed=0).body.state_dict()

    everything = build(None, True)
    assert all(torch.equal(everything[k], state[k]) for k in state), "'all' equals the base before training"
    scratch = build(0, False)
    matrices = [k for k in state if state[k].dim() == 2]
    assert all(not torch.equal(scratch[k], state[k]) for k in matrices), "K=0 without embeddings shares nothing"
    one = build(1, True)
    assert torch.equal(one["blocks.0.attn.qkv.weight"], state["blocks.0.attn.qkv.weight"])
    assert not torch.equal(one["blocks.1.attn.qkv.weight"], state["blocks.1.attn.qkv.weight"])
    assert torch.equal(one["wte.weight"], state["wte.weight"]) and torch.equal(one["wpe.weight"], state["wpe.weight"])
    with pytest.raises(StudioError, match="between 0 and 2"):
        build(3, True)


def test_freeze_body_trains_the_head_only(project, data):
    proj, runs = project
    _, state, _ = _load_base(resolve_base(proj, runs["gpt"]))
    result = finetune(proj, runs["gpt"], data["classification"][0], config("classification", freeze_body=True),
                      eval_data=data["classification"][2], name="frozen")
    saved = load_file(str(result.model_path / "model.safetensors"))
    assert all(torch.equal(saved[f"body.{k}"], v) for k, v in state.items())
    assert saved["head.weight"].shape == (2, 64)


@pytest.mark.parametrize("family", ["gpt", "bert"])
def test_the_auxiliary_lm_loss_adds_a_term(project, data, family):
    proj, runs = project
    first = {}
    for weight in (0.0, 0.5):
        events = []
        train = subsample(data["entailment"][0], 64, seed=0)
        finetune(proj, runs[family], train, config("entailment", aux_lm_weight=weight), name=f"aux-{family}-{weight}",
                 eval_data=data["entailment"][2], listeners=[events.append])
        first[weight] = next(e.loss for e in events if e.kind == "step")
    # same seed, same first batch: the difference is λ·L_LM, and an LM loss of a barely trained model is large
    assert first[0.5] - first[0.0] > 1.0


def test_stop_saves_the_best_so_far_and_pause_waits(project, data):
    proj, runs = project
    control = TrainControl()
    events = []

    def listener(event):
        events.append(event)
        if event.kind == "step" and event.step == 2:
            control.pause()
            threading.Timer(0.2, control.resume).start()
        if event.kind == "step" and event.step == 4:
            control.stop()

    result = finetune(proj, runs["gpt"], data["classification"][0], config("classification", epochs=3),
                      eval_data=data["classification"][2], name="stopped", listeners=[listener], control=control)
    assert result.reason == "stopped" and result.steps == 4 and result.best_step == 4
    assert result.epochs == pytest.approx(4 / 6, abs=1e-4)
    elapsed = {e.step: e.elapsed_seconds for e in events if e.kind == "step"}
    assert elapsed[3] - elapsed[2] >= 0.2, "the loop held while paused"
    assert [e.kind for e in events][-2:] == ["finetune_eval", "end"] and events[-1].reason == "stopped"
    assert (result.model_path / "model.safetensors").is_file()


def test_early_stopping_after_evaluations_without_improvement(project, data):
    proj, runs = project
    events = []
    # a rate too small to change a float32 weight: every evaluation equals the first, none improves on it
    result = finetune(proj, runs["gpt"], data["classification"][0],
                      config("classification", lr=1e-30, epochs=3, eval_interval=1, early_stopping_patience=2),
                      eval_data=data["classification"][2], name="early", listeners=[events.append])
    assert result.reason == "early_stopped" and result.steps == 3 and result.best_step == 1
    assert [e.step for e in events if e.kind == "finetune_eval"] == [1, 2, 3]


def test_a_nan_loss_is_an_error_event_not_a_crash(project, data):
    proj, runs = project
    events = []
    with pytest.raises(StudioError, match="The loss became") as err:
        finetune(proj, runs["gpt"], data["classification"][0], config("classification", lr=1e38, grad_clip=0.0),
                 eval_data=data["classification"][2], name="diverged", listeners=[events.append])
    assert err.value.details["reason"] == "nan"
    assert [e.kind for e in events][-2:] == ["error", "end"] and events[-1].reason == "error"
    assert not (proj.models_dir / "diverged").exists()
    assert not [p for p in proj.models_dir.iterdir() if p.name.startswith(".")]


def test_bases_are_listed_and_resolved(project, data):
    proj, runs = project
    bases = list_bases(proj)
    specs = {b.spec for b in bases}
    assert set(runs.values()) <= specs
    gpt = next(b for b in bases if b.spec == runs["gpt"])
    assert gpt.family == "gpt" and gpt.step == 30 and gpt.n_layer == 2
    assert f"run {runs['gpt']}, step 30" in gpt.description
    assert resolve_base(proj, f"{runs['bert']}@30").path == resolve_base(proj, runs["bert"]).path
    assert resolve_base(None, str(gpt.path)).tokenizer_dir == proj.tokenizer_dir
    with pytest.raises(StudioError, match="No saved model is called 'nope'"):
        resolve_base(proj, "nope")
    (proj.models_dir / "taken").mkdir(exist_ok=True)
    with pytest.raises(StudioError, match="already exists"):
        finetune(proj, runs["gpt"], data["classification"][0], config("classification"), name="taken")


def test_a_saved_model_predicts_unlabelled_rows_and_can_be_a_base(project, data, tmp_path):
    proj, runs = project
    folder = proj.models_dir / "classification-gpt"
    if not folder.exists():
        finetune(proj, runs["gpt"], data["classification"][0], config("classification"),
                 eval_data=data["classification"][2], name="classification-gpt")
    texts = tmp_path / "texts.csv"
    texts.write_text("text\n\"A wonderful phone, works great.\"\nBroke after a day.\n", encoding="utf-8")
    out = predict(folder, texts)
    assert out["metrics"] is None and [p["row"] for p in out["predictions"]] == [2, 3]
    assert all(sum(p["probabilities"]) == pytest.approx(1.0) for p in out["predictions"])
    metrics = evaluate_model(folder, data["classification"][2])
    assert metrics["val_examples"] == 64 and metrics["labels"] == ["negative", "positive"]
    base = resolve_base(proj, "classification-gpt")
    assert base.kind == "model" and base.tokenizer_dir == folder
    again = finetune(proj, "classification-gpt", data["classification"][0], config("classification"),
                     eval_data=data["classification"][2], name="from-a-model")
    assert json.loads((again.model_path / "finetune.json").read_text())["base"]["kind"] == "model"


def test_compare_with_scratch_and_sweep_layers_make_tables(project, data):
    proj, runs = project
    train, _, evaluation = data["multiple-choice"]
    settings = config("multiple-choice", aux_lm_weight=0.0)
    before = sorted(proj.models_dir.iterdir())
    table = compare_with_scratch(proj, runs["gpt"], train, settings, eval_data=evaluation, seeds=(1, 2))
    assert table["seeds"] == [1, 2] and table["metric"] == "accuracy"
    assert len(table["pretrained"]["values"]) == 2 and len(table["scratch"]["values"]) == 2
    assert table["runs"][0]["pretrained"]["steps"] == table["runs"][0]["scratch"]["steps"] == 6
    sweep = sweep_layers(proj, runs["gpt"], train, settings, eval_data=evaluation, layers=[0, 2])
    assert [p["layers"] for p in sweep["points"]] == [0, 2] and sweep["n_layer"] == 2
    assert sorted(proj.models_dir.iterdir()) == before, "analyses measure, they do not save models"


@pytest.fixture
def restore_signals():
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def test_the_cli_prints_the_json_keys(project, data, capsys, restore_signals):
    from gpt_studio.cli import main

    proj, runs = project
    _, eval_file, _ = data["entailment"]
    train_file = TASKS["entailment"][0]
    status = main(["finetune", str(proj.root), "--base", runs["bert"], "--task", "entailment",
                   "--data", str(train_file), "--eval-data", str(eval_file), "--max-examples", "96",
                   "--epochs", "1", "--lr", "1e-3",
                   "--name", "cli-model", "--json", "--quiet"])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert status == 0 and out["ok"]
    assert {"model_path", "epochs", "best_val_metric", "val_accuracy", "val_macro_f1"} <= set(out)
    assert out["train_examples"] == 96 and out["val_examples"] == 64
    status = main(["predict", "cli-model", "--project", str(proj.root), "--data", str(eval_file), "--json"])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert status == 0 and out["rows"] == 64 and len(out["predictions"]) == 64
    status = main(["finetune", str(proj.root), "--base", runs["gpt"], "--task", "entailment", "--data",
                   str(train_file), "--label", "gold", "--json", "--quiet"])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert status == 1 and not out["ok"] and "snli_dev.csv, row 1: no column 'gold'" in out["error"]
