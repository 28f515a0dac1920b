"""Fine-tuning from models imported from Hugging Face: tiny GPT-2 and BERT as bases in the engine and the CLI.

The models are built with ``transformers`` (tests/hf_models.py), imported with ``import_hf_model`` into a copy of
the Shakespeare project, and fine-tuned on real rows of the sentiment and SNLI files.
"""

from __future__ import annotations

import csv
import json
import shutil
import signal
from pathlib import Path

import pytest
import torch
from hf_models import make_bert_folder, make_gpt2_folder, shakespeare_lines
from projects import private_copy
from safetensors.torch import load_file, save_file

from gpt_studio.cli import main
from gpt_studio.engine.atomic import read_json
from gpt_studio.engine.errors import StudioError
from gpt_studio.engine.finetune import (
    FinetuneConfig,
    _load_base,
    finetune,
    list_bases,
    predict,
    resolve_base,
    sequence_preview,
)
from gpt_studio.engine.finetune_data import ColumnMap, load_task_data, read_rows
from gpt_studio.engine.finetune_model import build_model, fit_parts
from gpt_studio.engine.hf_import import import_hf_model
from gpt_studio.engine.hf_tokenizer import NEW_CLS, NEW_SEP, HFTokenizer, load_tokenizer
from gpt_studio.engine.loading import load_model
from gpt_studio.engine.model import ModelConfig, count_parameters

SNLI = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "snli" / "snli_dev.csv"
# GPT-1's lr (6.25e-5) barely moves a 2-layer d=48 model in a few steps; these tests only need it to move
FAST = {"epochs": 1, "lr": 1e-3, "batch_size": 32}
SENTIMENT = ColumnMap(text="text", label="label")
ENTAILMENT = ColumnMap(text="premise", text_pair="hypothesis", label="label")
CONTEXT = 64  # the tiny models' n_positions / max_position_embeddings: long pairs are cut to fit
SAVED_FILES = {"model.safetensors", "config.json", "finetune.json", "tokenizer.json", "tokenizer_roles.json",
               "predictions.csv", "metrics.jsonl"}


def _write_rows(path: Path, records: list[dict[str, str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(records[0]))
        writer.writeheader()
        writer.writerows(records)
    return path


def _fitted(tokenizer: HFTokenizer, texts: tuple[str, ...] | list[str]) -> list[list[int]]:
    """The texts' ids as the layout receives them: cut to the context less the three special tokens."""
    return fit_parts([tokenizer.encode(t) for t in texts], CONTEXT - 3)[0]


def _predictions(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def project(shakespeare_project, shakespeare, tmp_path_factory):
    """A copy of the Shakespeare project (no runs) with a tiny GPT-2 and a tiny BERT imported."""
    root = tmp_path_factory.mktemp("finetune-imported")
    proj = private_copy(shakespeare_project, root / "proj")
    lines = shakespeare_lines(shakespeare)
    import_hf_model(make_gpt2_folder(root / "hf-gpt2", lines), proj, "gpt2-tiny")
    import_hf_model(make_bert_folder(root / "hf-bert", lines), proj, "bert-tiny")
    return proj


@pytest.fixture(scope="module")
def files(sentiment_csv, tmp_path_factory):
    """Small files of real rows: sentiment 120 train / 40 eval, SNLI 60 train / 30 eval (disjoint)."""
    folder = tmp_path_factory.mktemp("finetune-imported-data")
    sentiment = [record for _, record in read_rows(sentiment_csv)]
    snli = [record for _, record in read_rows(SNLI)]
    return {"train": _write_rows(folder / "sentiment_train.csv", sentiment[0::20][:120]),
            "eval": _write_rows(folder / "sentiment_eval.csv", sentiment[7::25][:40]),  # 20a != 7 + 25b
            "snli_train": _write_rows(folder / "snli_train.csv", snli[:60]),
            "snli_eval": _write_rows(folder / "snli_eval.csv", snli[60:90])}


@pytest.fixture
def restore_signals():
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


def test_imported_models_are_listed_and_resolved_as_bases(project, tmp_path):
    bases = {b.spec: b for b in list_bases(project)}
    gpt2, bert = bases["gpt2-tiny"], bases["bert-tiny"]
    assert (gpt2.family, gpt2.kind, gpt2.n_layer, gpt2.context_length) == ("gpt", "imported", 2, 64)
    assert (bert.family, bert.kind, bert.n_layer, bert.context_length) == ("bert", "imported", 2, 64)
    for base, model_type, architecture in ((gpt2, "gpt2", "GPT2LMHeadModel"), (bert, "bert", "BertForMaskedLM")):
        config = ModelConfig.from_dict(read_json(base.path / "config.json"))
        assert base.parameters == count_parameters(config) and base.tokenizer_dir == base.path
        assert base.description.startswith(f"imported {model_type} {base.spec} ({architecture}), ")
        assert f"{base.parameters / 1e3:.0f}K parameters" in base.description
    assert resolve_base(project, "gpt2-tiny").path == gpt2.path
    assert resolve_base(None, str(bert.path)).kind == "imported"

    config, state, tokenizer = _load_base(gpt2)  # weights without the fine-tuned models' body. prefix
    saved = load_file(str(gpt2.path / "model.safetensors"))
    assert isinstance(tokenizer, HFTokenizer) and config.vocab_size == tokenizer.vocab_size
    assert set(state) == set(saved) and all(torch.equal(state[k], saved[k]) for k in saved)
    model = build_model(config, state, "classification", 2, layers_transferred=None, transfer_embeddings=True,
                        head_dropout=0.1, regression=False, seed=0)
    body = model.body.state_dict()
    assert all(torch.equal(body[k], saved[k]) for k in saved), "every imported weight starts the fine-tuning"

    broken = shutil.copytree(gpt2.path, tmp_path / "broken")
    save_file({"wte.weight": saved["wte.weight"]}, str(broken / "model.safetensors"))
    with pytest.raises(StudioError, match=r"model\.safetensors lacks .* blocks\.0\."):
        _load_base(resolve_base(None, str(broken)))


def test_the_gpt1_layout_uses_each_imports_own_special_tokens(project, files):
    data = load_task_data(files["snli_train"], "entailment", ENTAILMENT)
    gpt2 = resolve_base(project, "gpt2-tiny")
    tok = load_tokenizer(gpt2.path)
    ids = [i for i, _ in sequence_preview(gpt2, data, 0)[0]]
    # GPT-2 has no [SEP]/[CLS]: the importer's new ids after the vocabulary are the delimiter and the extract
    assert (tok.raw_piece(tok.bos_id), tok.raw_piece(tok.sep_id), tok.raw_piece(tok.cls_id)) == \
        ("<|endoftext|>", NEW_SEP, NEW_CLS)
    assert min(tok.sep_id, tok.cls_id) >= tok.base_vocab_size
    premise, hypothesis = _fitted(tok, data.examples[0].texts)
    assert ids == [tok.bos_id, *premise, tok.sep_id, *hypothesis, tok.cls_id]

    bert = resolve_base(project, "bert-tiny")
    wp = load_tokenizer(bert.path)
    ids = [i for i, _ in sequence_preview(bert, data, 0)[0]]
    assert (wp.raw_piece(wp.cls_id), wp.raw_piece(wp.sep_id)) == ("[CLS]", "[SEP]")
    premise, hypothesis = _fitted(wp, data.examples[0].texts)
    assert ids == [wp.cls_id, *premise, wp.sep_id, *hypothesis, wp.sep_id]
    assert wp.newline_id == -1 and -1 not in wp.special_ids  # WordPiece has no newline token


@pytest.mark.parametrize("name", ["gpt2-tiny", "bert-tiny"])
def test_classification_from_an_import_saves_a_model_that_reloads(project, files, name, tmp_path):
    train = load_task_data(files["train"], "classification", SENTIMENT)
    evaluation = load_task_data(files["eval"], "classification", SENTIMENT, labels=train.labels)
    result = finetune(project, name, train, FinetuneConfig(task="classification", **FAST), eval_data=evaluation,
                      name=f"sentiment-{name}")
    folder = project.models_dir / f"sentiment-{name}"
    assert result.model_path == folder and result.reason == "completed" and result.steps == 4
    assert result.base == name and 0 <= result.val_accuracy <= 1 and result.val_examples == 40
    assert {p.name for p in folder.iterdir()} == SAVED_FILES, "the HF tokenizer is saved, no SentencePiece copy"
    meta = read_json(folder / "finetune.json")
    assert meta["base"]["kind"] == "imported" and meta["base"]["spec"] == name
    tokenizer, original = load_tokenizer(folder), load_tokenizer(project.models_dir / name)
    assert isinstance(tokenizer, HFTokenizer)
    assert tokenizer.checksum == original.checksum == meta["tokenizer_sha256"]
    assert tokenizer.roles() == original.roles() and tokenizer.vocab_size == original.vocab_size

    saved = _predictions(folder / "predictions.csv")
    again = predict(folder, files["eval"], out_path=tmp_path / "predictions.csv")
    reloaded = _predictions(tmp_path / "predictions.csv")
    columns = [c for c in saved[0] if c.startswith("p_")]
    assert len(saved) == len(reloaded) == 40 and columns == ["p_negative", "p_positive"]
    for a, b in zip(saved, reloaded):
        assert a["row"] == b["row"] and [float(a[c]) for c in columns] == [float(b[c]) for c in columns]
    assert again["metrics"]["val_accuracy"] == pytest.approx(result.val_accuracy)

    texts = tmp_path / "texts.csv"  # a line break inside a text: BERT's WordPiece has no newline id (-1)
    texts.write_text('text\n"Great phone.\nWould buy again."\nBroke after a day.\n', encoding="utf-8")
    out = predict(folder, texts)
    assert len(out["predictions"]) == 2
    assert all(sum(p["probabilities"]) == pytest.approx(1.0) for p in out["predictions"])

    loaded = load_model(f"sentiment-{name}", project)  # the Playground's loader
    weights = load_file(str(folder / "model.safetensors"))
    assert loaded.kind == "finetuned" and loaded.family == ("gpt" if name.startswith("gpt") else "bert")
    assert isinstance(loaded.tokenizer, HFTokenizer) and loaded.tokenizer.checksum == meta["tokenizer_sha256"]
    assert torch.equal(loaded.model.wte.weight, weights["body.wte.weight"])

    again_base = resolve_base(project, f"sentiment-{name}")  # a fine-tuned import is a base in turn
    assert again_base.kind == "model" and again_base.family == loaded.family
    _, state, base_tokenizer = _load_base(again_base)
    assert isinstance(base_tokenizer, HFTokenizer) and torch.equal(state["wte.weight"], weights["body.wte.weight"])


def test_entailment_from_gpt2_reads_the_pair_across_the_delimiter(project, files, tmp_path):
    train = load_task_data(files["snli_train"], "entailment", ENTAILMENT)
    evaluation = load_task_data(files["snli_eval"], "entailment", ENTAILMENT, labels=train.labels)
    events = []
    result = finetune(project, "gpt2-tiny", train, FinetuneConfig(task="entailment", **FAST), eval_data=evaluation,
                      name="snli-gpt2", listeners=[events.append])
    assert result.steps == 2 and result.train_examples == 60 and result.val_examples == 30
    assert result.labels == ["contradiction", "entailment", "neutral"]
    losses = [e.loss for e in events if e.kind == "step"]
    assert len(losses) == 2 and all(loss == loss and loss > 0 for loss in losses)
    folder = project.models_dir / "snli-gpt2"
    tok = load_tokenizer(folder)
    ids = [i for i, _ in sequence_preview(resolve_base(project, "snli-gpt2"), evaluation, 3)[0]]
    premise, hypothesis = _fitted(tok, evaluation.examples[3].texts)
    assert ids == [tok.bos_id, *premise, tok.sep_id, *hypothesis, tok.cls_id]
    again = predict(folder, files["snli_eval"], out_path=tmp_path / "snli.csv")
    saved, reloaded = _predictions(folder / "predictions.csv"), _predictions(tmp_path / "snli.csv")
    columns = [c for c in saved[0] if c.startswith("p_")]
    assert len(columns) == 3 and again["rows"] == 30
    assert [[float(r[c]) for c in columns] for r in saved] == [[float(r[c]) for c in columns] for r in reloaded]


def test_the_cli_fine_tunes_from_an_imported_model(project, files, capsys, restore_signals):
    status = main(["finetune", str(project.root), "--base", "bert-tiny", "--task", "classification",
                   "--data", str(files["train"]), "--eval-data", str(files["eval"]), "--max-examples", "64",
                   "--epochs", "1", "--lr", "1e-3", "--name", "cli-bert", "--json", "--quiet"])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert status == 0 and out["ok"] and out["base"] == "bert-tiny"
    assert {"model_path", "epochs", "best_val_metric", "val_accuracy", "val_macro_f1"} <= set(out)
    assert out["train_examples"] == 64 and out["val_examples"] == 40 and out["steps"] == 2
    status = main(["predict", "cli-bert", "--project", str(project.root), "--data", str(files["eval"]), "--json"])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert status == 0 and out["rows"] == 40 and len(out["predictions"]) == 40
    status = main(["finetune", str(project.root), "--base", "nope", "--task", "classification",
                   "--data", str(files["train"]), "--json", "--quiet"])
    out = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert status == 1 and "No saved model is called 'nope'" in out["error"] and "gpt2-tiny" in out["error"]
