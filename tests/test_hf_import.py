"""Importing Hugging Face GPT-2 / BERT folders: logits and token ids identical to transformers, clear refusals."""

from __future__ import annotations

import fractions
import json
import shutil

import pytest
import torch
from hf_models import make_bert_folder, make_gpt2_folder, save_as_bin, shakespeare_lines
from safetensors.torch import load_file, save_file

from gpt_studio.cli import main
from gpt_studio.engine.atomic import read_json
from gpt_studio.engine.errors import CancelledError, StudioError
from gpt_studio.engine.finetune_model import layout
from gpt_studio.engine.generate import GenerateOptions, generate
from gpt_studio.engine.hf_import import import_hf_model, load_saved_model, read_saved
from gpt_studio.engine.hf_tokenizer import NEW_CLS, NEW_SEP, HFTokenizer, load_tokenizer
from gpt_studio.engine.progress import Reporter
from gpt_studio.engine.project import init_project
from gpt_studio.engine.scoring import fill_mask

TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def folders(tmp_path_factory, shakespeare):
    lines = shakespeare_lines(shakespeare)
    root = tmp_path_factory.mktemp("hf")
    bert = make_bert_folder(root / "bert", lines)
    return {"gpt2": make_gpt2_folder(root / "gpt2", lines), "bert": bert,
            "pretraining": make_bert_folder(root / "pretraining", lines, seed=1, architecture="BertForPreTraining",
                                            vocab_from=bert),
            "classifier": make_bert_folder(root / "classifier", lines, seed=2,
                                           architecture="BertForSequenceClassification", vocab_from=bert)}


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return init_project(tmp_path_factory.mktemp("import") / "proj")


@pytest.fixture(scope="module")
def texts(shakespeare):
    """Real lines the tokenizers never trained on (they learned from the first 600)."""
    return shakespeare_lines(shakespeare, start=20_000, count=200)


def _copy(folder, tmp_path, name="copy"):
    return shutil.copytree(folder, tmp_path / name)


def _padded(rows: list[list[int]], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(len(r) for r in rows)
    ids = torch.tensor([r + [pad] * (width - len(r)) for r in rows])
    mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows])
    return ids, mask


def test_imported_gpt2_gives_transformers_logits_on_real_text(folders, project, texts):
    from transformers import GPT2LMHeadModel

    path = import_hf_model(folders["gpt2"], project, "gpt2-tiny")
    model, tokenizer = load_saved_model(path)
    reference = GPT2LMHeadModel.from_pretrained(folders["gpt2"]).eval()
    rows = [tokenizer.encode(" ".join(texts[:6]))[:64], tokenizer.encode(" ".join(texts[6:9]))[:40]]
    ids, mask = _padded(rows, tokenizer.pad_id)
    with torch.no_grad():
        expected = reference(ids, attention_mask=mask).logits  # (B, T, V)
        ours = model.lm_logits(model(ids, attention_mask=mask))[..., :expected.size(-1)]
        alone = model.lm_logits(model(ids[:1]))[..., :expected.size(-1)]  # no mask: the fast causal path
    real = mask.bool()
    assert (ours - expected)[real].abs().max().item() < TOLERANCE
    assert (alone - expected[:1]).abs().max().item() < TOLERANCE
    assert expected.abs().max().item() > 0.05  # logits that are not all zero: a mismatch would show
    # GELU variants differ by ~1e-6 in a model this small, below the tolerance: check the mapping itself
    assert (model.config.gelu_approximate, model.config.prenorm, model.config.context_length) == ("tanh", True, 64)


def test_imported_gpt2_tokenizer_ids_equal_hugging_face_from_either_file_set(folders, tmp_path, texts):
    from transformers import AutoTokenizer

    reference = AutoTokenizer.from_pretrained(folders["gpt2"])
    expected = [reference(t, add_special_tokens=False)["input_ids"] for t in texts]
    assert HFTokenizer(folders["gpt2"]).encode_batch(texts) == expected
    vocab_only = _copy(folders["gpt2"], tmp_path)
    (vocab_only / "tokenizer.json").unlink()  # vocab.json + merges.txt only, as older GPT-2 folders
    tokenizer = HFTokenizer(vocab_only)
    assert [tokenizer.encode(t) for t in texts] == expected
    assert tokenizer.decode(expected[0]) == texts[0] == reference.decode(expected[0])


def test_pieces_are_shown_in_the_apps_convention_and_map_back_to_ids(folders, texts):
    gpt2, bert = HFTokenizer(folders["gpt2"]), HFTokenizer(folders["bert"])
    for text in texts[:40]:  # byte-level pieces put the text back together exactly, ▁ standing for a space
        assert "".join(gpt2.pieces(text)).replace("\u2581", " ") == text
    assert gpt2.pieces(" the") == ["\u2581the"] and gpt2.piece_to_id("\u2581the") == gpt2.piece_to_id("Ġthe")
    ids = bert.encode("walking thence")
    shown = bert.pieces("walking thence")
    assert [bert.piece_to_id(p) for p in shown] == ids and shown[0].startswith("\u2581")
    assert [bert.raw_piece(i) for i in ids] == bert.backend.encode("walking thence", add_special_tokens=False).tokens
    assert all(not p.startswith("##") for p in shown)  # a suffix piece simply has no ▁ in front
    table = gpt2.vocabulary()
    assert len(table) == gpt2.vocab_size and table[gpt2.eos_id][1] == "<|endoftext|>"


def test_gpt2_gets_new_cls_and_sep_ids_initialised_to_the_mean_embedding(folders, project):
    path = project.models_dir / "gpt2-tiny"
    if not path.exists():
        import_hf_model(folders["gpt2"], project, "gpt2-tiny")
    model, tokenizer = load_saved_model(path)
    original = read_json(path / "source.json")["hf_config"]["vocab_size"]
    assert (tokenizer.cls_id, tokenizer.sep_id, tokenizer.vocab_size) == (original, original + 1, original + 2)
    assert tokenizer.id_to_piece(tokenizer.cls_id) == NEW_CLS and tokenizer.piece_to_id(NEW_SEP) == tokenizer.sep_id
    assert tokenizer.bos_id == tokenizer.eos_id == tokenizer.pad_id == tokenizer.piece_to_id("<|endoftext|>")
    assert {tokenizer.cls_id, tokenizer.sep_id, tokenizer.eos_id} <= set(tokenizer.special_ids)
    assert tokenizer.id_to_piece(tokenizer.newline_id) == "\n" and tokenizer.raw_piece(tokenizer.newline_id) == "Ċ"
    mean = model.wte.weight[:original].mean(dim=0)
    assert torch.allclose(model.wte.weight[tokenizer.cls_id], mean) and torch.allclose(model.wte.weight[-1], mean)
    ids, _ = layout([tokenizer.encode("To be"), tokenizer.encode(" or not")], tokenizer, causal=True)
    assert ids[0] == tokenizer.eos_id and tokenizer.sep_id in ids and ids[-1] == tokenizer.cls_id
    assert tokenizer.decode(ids) == "To be or not"  # the added ids decode to nothing
    result = generate(model, tokenizer, "ROMEO:", GenerateOptions(max_new_tokens=8, temperature=0, seed=0))
    assert result["tokens"] >= 1 and not set(result["token_ids"]) & {tokenizer.cls_id, tokenizer.sep_id}


def test_imported_bert_from_pytorch_bin_gives_transformers_masked_lm_logits(folders, project, texts, tmp_path):
    from transformers import AutoTokenizer, BertForMaskedLM

    folder = _copy(folders["bert"], tmp_path)
    save_as_bin(folder)
    path = import_hf_model(folder, project, "bert-from-bin")
    source = read_json(path / "source.json")
    assert source["weights_file"] == "pytorch_model.bin" and source["model_type"] == "bert"
    model, tokenizer = load_saved_model(path)
    reference = BertForMaskedLM.from_pretrained(folders["bert"]).eval()
    hf_tokenizer = AutoTokenizer.from_pretrained(folders["bert"])
    assert tokenizer.encode_batch(texts) == [hf_tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    pairs = [layout([tokenizer.encode(texts[0]), tokenizer.encode(texts[1])], tokenizer, causal=False),
             layout([tokenizer.encode(texts[2])[:20]], tokenizer, causal=False)]
    ids, mask = _padded([p[0] for p in pairs], tokenizer.pad_id)
    types, _ = _padded([p[1] for p in pairs], 0)
    assert hf_tokenizer(texts[0], texts[1])["input_ids"] == pairs[0][0]  # the same [CLS] a [SEP] b [SEP] layout
    with torch.no_grad():
        expected = reference(ids, attention_mask=mask, token_type_ids=types).logits
        ours = model.mlm_logits(model(ids, types, mask))
    assert (ours - expected)[mask.bool()].abs().max().item() < TOLERANCE
    assert (model.config.gelu_approximate, model.config.prenorm, model.config.layer_norm_eps) == ("none", False, 1e-12)
    guesses = fill_mask(model, tokenizer, "to be or not to [MASK]")
    assert len(guesses) == 1 and len(guesses[0].pieces) == 5


def test_bert_pretraining_folder_keeps_its_next_sentence_head(folders, project, texts):
    from transformers import BertForPreTraining

    path = import_hf_model(folders["pretraining"], project, "bert-nsp")
    model, tokenizer = load_saved_model(path)
    assert model.config.nsp_head and read_json(path / "source.json")["dropped"] == {}
    reference = BertForPreTraining.from_pretrained(folders["pretraining"]).eval()
    ids, types = layout([tokenizer.encode(texts[3]), tokenizer.encode(texts[4])], tokenizer, causal=False)
    ids, types = torch.tensor([ids]), torch.tensor([types])
    with torch.no_grad():
        out = reference(ids, token_type_ids=types)
        hidden = model(ids, types)
    assert (model.nsp_logits(hidden) - out.seq_relationship_logits).abs().max().item() < TOLERANCE
    assert (model.mlm_logits(hidden) - out.prediction_logits).abs().max().item() < TOLERANCE


def test_source_json_records_what_was_dropped_and_what_is_missing(folders, project):
    path = import_hf_model(folders["classifier"], project, "bert-classifier")
    source = read_json(path / "source.json")
    assert source["architectures"] == ["BertForSequenceClassification"]
    assert set(source["dropped"]) == {"classifier.weight", "classifier.bias", "pooler.dense.weight",
                                      "pooler.dense.bias"}
    assert "task head" in source["dropped"]["classifier.weight"]
    assert any("masked-LM head" in m for m in source["missing"])
    assert any("query,key,value" in rule for rule in source["mapped"])
    assert source["hf_config"]["hidden_size"] == 48 and source["tokenizer"]["special_ids"]["cls"] == 2
    _, _, lm_head = read_saved(path)
    assert lm_head is False


def test_published_naming_variants_and_a_padded_embedding_import_exactly(folders, project, tmp_path, texts):
    """Hub files differ: no ``transformer.`` prefix, causal-mask buffers, and rows padded past the tokenizer."""
    from transformers import GPT2LMHeadModel

    folder = _copy(folders["gpt2"], tmp_path)
    state = load_file(str(folder / "model.safetensors"))
    state = {k.removeprefix("transformer."): v for k, v in state.items()}
    state["wte.weight"] = torch.cat([state["wte.weight"], torch.randn(3, state["wte.weight"].shape[1]) * 0.02])
    state.update({f"h.{i}.attn.bias": torch.ones(1, 1, 64, 64).tril() for i in range(2)})
    save_file(state, str(folder / "model.safetensors"), metadata={"format": "pt"})
    config = read_json(folder / "config.json")
    (folder / "config.json").write_text(json.dumps({**config, "vocab_size": config["vocab_size"] + 3}))
    model, tokenizer = load_saved_model(import_hf_model(folder, project, "gpt2-padded"))
    rows = config["vocab_size"] + 3
    assert tokenizer.id_to_piece(rows - 1) == "<|unused_2|>" and (tokenizer.cls_id, tokenizer.vocab_size) == (rows,
                                                                                                              rows + 2)
    ids = torch.tensor([tokenizer.encode(" ".join(texts[10:16]))[:64]])
    with torch.no_grad():
        expected = GPT2LMHeadModel.from_pretrained(folder).eval()(ids).logits
        ours = model.lm_logits(model(ids))[..., :rows]
    assert expected.shape[-1] == rows and (ours - expected).abs().max().item() < TOLERANCE


def test_unknown_model_type_is_refused_naming_it_and_the_supported_ones(folders, project, tmp_path):
    folder = _copy(folders["gpt2"], tmp_path)
    config = read_json(folder / "config.json")
    (folder / "config.json").write_text(json.dumps({**config, "model_type": "roberta"}))
    with pytest.raises(StudioError, match=r"model_type 'roberta'.*gpt2 \(GPT2LMHeadModel.*bert \(BertForMaskedLM"):
        import_hf_model(folder, project, "roberta")
    assert not (project.models_dir / "roberta").exists()


def test_a_bin_that_needs_unpickling_is_refused_and_nothing_is_written(folders, project, tmp_path):
    folder = _copy(folders["gpt2"], tmp_path)
    state = load_file(str(folder / "model.safetensors"))
    (folder / "model.safetensors").unlink()
    torch.save({**state, "training_args": fractions.Fraction(1, 3)}, folder / "pytorch_model.bin")
    with pytest.raises(StudioError, match="unpickling"):
        import_hf_model(folder, project, "pickled")
    assert not (project.models_dir / "pickled").exists()
    assert not [p for p in project.models_dir.iterdir() if p.name.startswith(".")]  # no staging folder left


def test_other_unrepresentable_folders_are_refused_with_the_reason(folders, project, tmp_path):
    untied = _copy(folders["gpt2"], tmp_path, "untied")
    state = load_file(str(untied / "model.safetensors"))
    save_file({**state, "lm_head.weight": torch.randn_like(state["transformer.wte.weight"])},
              str(untied / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(StudioError, match="untied"):
        import_hf_model(untied, project, "untied")
    tf_only = _copy(folders["gpt2"], tmp_path, "tf")
    (tf_only / "model.safetensors").rename(tf_only / "tf_model.h5")
    with pytest.raises(StudioError, match="tf_model.h5"):
        import_hf_model(tf_only, project, "tf")
    if not (project.models_dir / "gpt2-tiny").exists():
        import_hf_model(folders["gpt2"], project, "gpt2-tiny")
    with pytest.raises(StudioError, match="already exists"):
        import_hf_model(folders["gpt2"], project, "gpt2-tiny")
    with pytest.raises(StudioError, match="folder name"):
        import_hf_model(folders["gpt2"], project, "../outside")


def test_import_reports_progress_and_a_cancel_leaves_nothing_behind(folders, project):
    messages = []

    def cancel_when_mapping(done: float, total: float, message: str) -> None:
        messages.append(message)
        if message.startswith("Mapping"):
            reporter.cancel()

    reporter = Reporter(cancel_when_mapping)
    with pytest.raises(CancelledError):
        import_hf_model(folders["bert"], project, "cancelled", reporter)
    assert messages[:3] == ["Reading config.json", "Reading the tokenizer", "Reading the weights"]
    assert not (project.models_dir / "cancelled").exists()
    assert not [p for p in project.models_dir.iterdir() if p.name.startswith(".")]


def test_load_tokenizer_chooses_by_the_files_present(folders, tmp_path):
    assert isinstance(load_tokenizer(folders["bert"]), HFTokenizer)
    vocab_txt = tmp_path / "wordpiece"
    vocab_txt.mkdir()
    shutil.copy(folders["bert"] / "vocab.txt", vocab_txt / "vocab.txt")
    tokenizer = load_tokenizer(vocab_txt)
    assert tokenizer.model_type == "wordpiece" and (tokenizer.cls_id, tokenizer.sep_id) == (2, 3)
    assert tokenizer.newline_id == -1  # WordPiece reads a newline as a space
    with pytest.raises(StudioError, match="No tokenizer"):
        load_tokenizer(tmp_path / "nothing-here")


def test_cli_import_model_prints_one_json_object_and_a_refusal_exits_1(folders, project, capsys):
    code = main(["import-model", str(project.root), str(folders["bert"]), "--name", "bert-cli", "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    result = json.loads(captured.out.strip().splitlines()[-1])
    assert (result["ok"], result["model_type"], result["family"], result["vocab_size"]) == (True, "bert", "bert", 400)
    assert result["path"] == str(project.models_dir / "bert-cli") and "Reading the weights" in captured.err
    code = main(["import-model", str(project.root), str(folders["bert"]), "--name", "bert-cli", "--json"])
    error = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert code == 1 and error["ok"] is False and "already exists" in error["error"]
