"""Tiny, randomly initialised Hugging Face GPT-2 and BERT folders for the import/export tests.

The tokenizers are trained here with the ``tokenizers`` library on real lines of tiny Shakespeare, and the
folders are written by ``transformers``' own ``save_pretrained``, so they look exactly like published ones.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import torch

TRAIN_LINES = 600  # lines of tiny Shakespeare the test tokenizers learn from
D_MODEL = 48


def shakespeare_lines(path: Path, start: int = 0, count: int = TRAIN_LINES) -> list[str]:
    """Non-empty lines of the real text."""
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return lines[start:start + count]


def _quiet_transformers() -> None:
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from transformers.utils import logging

    logging.set_verbosity_error()
    logging.disable_progress_bar()


def make_gpt2_folder(folder: Path, lines: list[str], vocab_size: int = 500, seed: int = 0) -> Path:
    """A GPT-2 folder: byte-level BPE trained on ``lines`` (vocab.json + merges.txt + tokenizer.json) and a model."""
    _quiet_transformers()
    from tokenizers import ByteLevelBPETokenizer
    from transformers import AutoTokenizer, GPT2Config, GPT2LMHeadModel

    folder.mkdir(parents=True, exist_ok=True)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(lines, vocab_size=vocab_size, min_frequency=2, special_tokens=["<|endoftext|>"],
                            show_progress=False)
    with tempfile.TemporaryDirectory() as files:
        bpe.save_model(files)
        Path(files, "tokenizer_config.json").write_text('{"tokenizer_class": "GPT2Tokenizer"}')
        hf_tokenizer = AutoTokenizer.from_pretrained(files)  # the fast one (tokenizer.json) in transformers 4 and 5
    hf_tokenizer.save_pretrained(folder)
    bpe.save_model(str(folder))  # the vocabulary files too, as published GPT-2 folders have them
    torch.manual_seed(seed)
    config = GPT2Config(vocab_size=len(hf_tokenizer), n_positions=64, n_embd=D_MODEL, n_layer=2, n_head=4,
                        bos_token_id=hf_tokenizer.eos_token_id, eos_token_id=hf_tokenizer.eos_token_id)
    model = GPT2LMHeadModel(config)
    _perturb_layer_norms(model)
    model.save_pretrained(folder)
    return folder


def make_bert_folder(folder: Path, lines: list[str], vocab_size: int = 400, seed: int = 0,
                     architecture: str = "BertForMaskedLM", vocab_from: Path | None = None) -> Path:
    """A BERT folder: WordPiece trained on ``lines`` (or ``vocab_from``'s vocab.txt) and a model of ``architecture``."""
    _quiet_transformers()
    import shutil

    import transformers
    from tokenizers import BertWordPieceTokenizer
    from transformers import AutoTokenizer, BertConfig

    folder.mkdir(parents=True, exist_ok=True)
    if vocab_from is not None:
        shutil.copy(vocab_from / "vocab.txt", folder / "vocab.txt")
    else:
        wordpiece = BertWordPieceTokenizer(lowercase=True)
        wordpiece.train_from_iterator(lines, vocab_size=vocab_size, show_progress=False,
                                      special_tokens=["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"])
        wordpiece.save_model(str(folder))
    (folder / "tokenizer_config.json").write_text('{"tokenizer_class": "BertTokenizer", "do_lower_case": true}')
    hf_tokenizer = AutoTokenizer.from_pretrained(folder)
    hf_tokenizer.save_pretrained(folder)
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=len(hf_tokenizer), hidden_size=D_MODEL, num_hidden_layers=2, num_attention_heads=4,
                        intermediate_size=4 * D_MODEL, max_position_embeddings=64, pad_token_id=0)
    model = getattr(transformers, architecture)(config)
    _perturb_layer_norms(model)
    model.save_pretrained(folder)
    return folder


def _perturb_layer_norms(model: torch.nn.Module) -> None:
    """Random LayerNorm gains/biases and output biases, so a swapped or dropped one shows in the logits."""
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "LayerNorm" in name or ".ln_" in name or name.endswith("predictions.bias"):
                param.add_(torch.randn_like(param) * 0.1)


def save_as_bin(folder: Path) -> None:
    """Replace model.safetensors by a pytorch_model.bin of the same tensors (as older folders ship)."""
    from safetensors.torch import load_file

    state = load_file(str(folder / "model.safetensors"))
    torch.save(state, folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()
