"""Exporting GPT Studio models to the Hugging Face format: transformers loads them and gives the same logits."""

from __future__ import annotations

import inspect
import json

import pytest
import torch
from hf_models import make_gpt2_folder, shakespeare_lines
from safetensors.torch import save_model

from gpt_studio.cli import main
from gpt_studio.engine.atomic import read_json, write_json
from gpt_studio.engine.errors import StudioError
from gpt_studio.engine.hf_export import SP_META_FILE, export_hf
from gpt_studio.engine.hf_import import import_hf_model
from gpt_studio.engine.hf_tokenizer import HFTokenizer, load_tokenizer
from gpt_studio.engine.loading import load_model
from gpt_studio.engine.model import Transformer, preset
from gpt_studio.engine.pretrain import pretrain
from gpt_studio.engine.tokenizer import Tokenizer

TOLERANCE = 1e-4
FAST = {"batch_size": 8, "eval_batches": 1, "eval_interval": 1000, "warmup_steps": 1, "sample_tokens": 0,
        "device": "cpu"}


@pytest.fixture(scope="module")
def runs(shakespeare_project):
    return {family: pretrain(shakespeare_project, preset_name=f"tiny-{family}", max_steps=3, settings=FAST)["run_id"]
            for family in ("gpt", "bert")}


@pytest.fixture(scope="module")
def text(shakespeare):
    return "\n".join(shakespeare_lines(shakespeare, start=30_000, count=12))


def _save(project, name: str, model: Transformer) -> None:
    """A plain saved-model folder (config + weights) in the project's models/, using the project's tokenizer."""
    folder = project.models_dir / name
    folder.mkdir(parents=True, exist_ok=True)
    write_json(folder / "config.json", model.config.to_dict())
    save_model(model, str(folder / "model.safetensors"))


def _random_model(config_name: str, **overrides) -> Transformer:
    torch.manual_seed(0)
    model = Transformer(preset(config_name, vocab_size=1000, **overrides)).eval()
    with torch.no_grad():  # non-trivial LayerNorms and biases, so a dropped one would show
        for name, param in model.named_parameters():
            if "ln" in name or name.endswith("bias"):
                param.add_(torch.randn_like(param) * 0.1)
    return model


def test_exported_gpt_loads_in_transformers_with_the_same_logits(shakespeare_project, runs, text, tmp_path):
    from transformers import GPT2LMHeadModel

    out = export_hf(runs["gpt"], tmp_path / "gpt", project=shakespeare_project)
    loaded = load_model(runs["gpt"], shakespeare_project)
    reference = GPT2LMHeadModel.from_pretrained(out).eval()
    ids = torch.tensor([[loaded.tokenizer.eos_id, *loaded.tokenizer.encode(text)][:64]])
    with torch.no_grad():
        ours = loaded.model.lm_logits(loaded.model(ids))
        theirs = reference(ids).logits
    assert (ours - theirs).abs().max().item() < TOLERANCE
    config = read_json(out / "config.json")
    assert config["architectures"] == ["GPT2LMHeadModel"]
    assert (config["activation_function"], config["n_positions"], config["vocab_size"]) == ("gelu", 64, 1000)


def test_exported_gpt_ships_the_sentencepiece_tokenizer_with_a_readme(shakespeare_project, runs, text, tmp_path):
    import sentencepiece as spm

    out = export_hf(runs["gpt"], tmp_path / "gpt", project=shakespeare_project)
    project_tokenizer = Tokenizer(shakespeare_project.tokenizer_dir)
    sp = spm.SentencePieceProcessor(model_file=str(out / "tokenizer.model"))
    assert sp.encode(text) == project_tokenizer.encode(text)
    assert read_json(out / SP_META_FILE)["special_ids"]["eos"] == project_tokenizer.eos_id == 3
    readme = (out / "README.txt").read_text()
    assert "sentencepiece" in readme and "GPT2LMHeadModel.from_pretrained" in readme
    assert not (out / "tokenizer.json").exists()  # transformers must not mistake the meta for its own file


def test_exported_bert_loads_as_bert_for_masked_lm_with_the_same_logits(shakespeare_project, runs, text, tmp_path):
    from transformers import BertForMaskedLM

    out = export_hf(runs["bert"], tmp_path / "bert", project=shakespeare_project)
    loaded = load_model(runs["bert"], shakespeare_project)
    reference = BertForMaskedLM.from_pretrained(out).eval()
    tok = loaded.tokenizer
    rows = [[tok.cls_id, *tok.encode(text)[:40], tok.mask_id, tok.sep_id], [tok.cls_id, *tok.encode(text)[50:60],
                                                                           tok.sep_id]]
    width = max(map(len, rows))
    ids = torch.tensor([r + [tok.pad_id] * (width - len(r)) for r in rows])
    mask = (torch.arange(width)[None, :] < torch.tensor([len(r) for r in rows])[:, None]).long()
    with torch.no_grad():
        ours = loaded.model.mlm_logits(loaded.model(ids, attention_mask=mask))
        theirs = reference(ids, attention_mask=mask).logits
    assert (ours - theirs)[mask.bool()].abs().max().item() < TOLERANCE
    config = read_json(out / "config.json")
    assert (config["architectures"], config["hidden_act"], config["layer_norm_eps"]) == (["BertForMaskedLM"], "gelu",
                                                                                        1e-12)


def test_bias_free_and_next_sentence_models_export_exactly(shakespeare_project, text, tmp_path):
    from transformers import BertForPreTraining, GPT2LMHeadModel

    tok = Tokenizer(shakespeare_project.tokenizer_dir)
    gpt = _random_model("tiny-gpt", bias=False, gelu_approximate="tanh")
    bert = _random_model("tiny-bert", nsp_head=True, type_vocab_size=0)
    _save(shakespeare_project, "export-nobias", gpt)
    _save(shakespeare_project, "export-nsp", bert)
    gpt_out = export_hf("export-nobias", tmp_path / "nobias", project=shakespeare_project)
    bert_out = export_hf(shakespeare_project.models_dir / "export-nsp", tmp_path / "nsp")
    assert "without biases" in (gpt_out / "README.txt").read_text()
    assert read_json(gpt_out / "config.json")["activation_function"] == "gelu_new"  # tanh GELU (~1e-6 apart here)
    bert_config = read_json(bert_out / "config.json")
    assert (bert_config["architectures"], bert_config["type_vocab_size"]) == (["BertForPreTraining"], 1)
    ids = torch.tensor([[tok.cls_id, *tok.encode(text)[:60], tok.sep_id]])
    with torch.no_grad():
        assert (gpt.lm_logits(gpt(ids)) - GPT2LMHeadModel.from_pretrained(gpt_out)(ids).logits).abs().max() < TOLERANCE
        out = BertForPreTraining.from_pretrained(bert_out).eval()(ids)
        hidden = bert(ids)
    assert (bert.mlm_logits(hidden) - out.prediction_logits).abs().max().item() < TOLERANCE
    assert (bert.nsp_logits(hidden) - out.seq_relationship_logits).abs().max().item() < TOLERANCE


def test_an_architecture_without_a_hugging_face_equivalent_is_refused(shakespeare_project, runs, tmp_path):
    _save(shakespeare_project, "export-gpt1-style", _random_model("tiny-gpt", prenorm=False))
    with pytest.raises(StudioError, match="post-LayerNorm.*GPT-2"):
        export_hf("export-gpt1-style", tmp_path / "gpt1", project=shakespeare_project)
    _save(shakespeare_project, "export-prenorm-bert", _random_model("tiny-bert", prenorm=True))
    with pytest.raises(StudioError, match="pre-LayerNorm encoder"):
        export_hf("export-prenorm-bert", tmp_path / "bert", project=shakespeare_project)
    assert not (tmp_path / "gpt1").exists() and not (tmp_path / "bert").exists()
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    with pytest.raises(StudioError, match="not empty"):
        export_hf(runs["gpt"], busy, project=shakespeare_project)
    assert (busy / "notes.txt").read_text() == "mine"


def test_cli_export_hf_writes_the_folder_and_reports_it_as_json(shakespeare_project, runs, tmp_path, capsys):
    code = main(["export-hf", runs["bert"], str(tmp_path / "out"), "--project", str(shakespeare_project.root),
                 "--json", "--quiet"])
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 0 and result["architecture"] == "BertForMaskedLM" and result["tokenizer"] == "sentencepiece"
    assert {"config.json", "model.safetensors", "tokenizer.model", "README.txt"} <= set(result["files"])
    code = main(["export-hf", "no-such-model", str(tmp_path / "none"), "--project", str(shakespeare_project.root),
                 "--json", "--quiet"])
    error = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 1 and error["ok"] is False and "no-such-model" in error["error"]


def test_an_imported_gpt2_exports_back_with_its_hugging_face_tokenizer(shakespeare_project, shakespeare, tmp_path):
    from transformers import AutoTokenizer, GPT2LMHeadModel

    lines = shakespeare_lines(shakespeare, count=300)
    original = make_gpt2_folder(tmp_path / "gpt2", lines, vocab_size=400)
    import_hf_model(original, shakespeare_project, "export-roundtrip", replace=True)
    out = export_hf("export-roundtrip", tmp_path / "out", project=shakespeare_project)
    texts = shakespeare_lines(shakespeare, start=25_000, count=50)
    theirs, ours = AutoTokenizer.from_pretrained(original), AutoTokenizer.from_pretrained(out)
    assert [ours(t)["input_ids"] for t in texts] == [theirs(t)["input_ids"] for t in texts]
    assert ours.convert_ids_to_tokens(400) == "<|cls|>" and ours.sep_token == "<|sep|>"
    ids = torch.tensor([theirs(" ".join(texts[:8]))["input_ids"][:64]])
    with torch.no_grad():
        before = GPT2LMHeadModel.from_pretrained(original)(ids).logits
        after = GPT2LMHeadModel.from_pretrained(out)(ids).logits
    assert after.shape[-1] == before.shape[-1] + 2
    assert (after[..., :before.shape[-1]] - before).abs().max().item() < TOLERANCE


def test_hf_tokenizer_offers_everything_the_sentencepiece_tokenizer_does(shakespeare_project, tmp_path, shakespeare):
    sp = load_tokenizer(shakespeare_project.tokenizer_dir)
    assert isinstance(sp, Tokenizer)
    hf = load_tokenizer(shakespeare_project.models_dir / "export-roundtrip") \
        if (shakespeare_project.models_dir / "export-roundtrip").is_dir() \
        else HFTokenizer(make_gpt2_folder(tmp_path / "g", shakespeare_lines(shakespeare, count=300), 400))
    assert isinstance(hf, HFTokenizer)
    public = {name for name in dir(sp) if not name.startswith("_") and name != "sp"}  # sp: SentencePiece itself
    assert public <= set(dir(hf)), public - set(dir(hf))
    for name in ("encode", "encode_batch", "decode", "id_to_piece", "piece_to_id", "pieces", "vocabulary"):
        assert list(inspect.signature(getattr(Tokenizer, name)).parameters) == \
            list(inspect.signature(getattr(HFTokenizer, name)).parameters), name
    assert set(sp.meta["special_ids"]) == set(hf.meta["special_ids"])
    assert len(hf.vocabulary()) == hf.vocab_size
