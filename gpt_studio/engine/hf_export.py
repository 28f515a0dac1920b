"""Export a GPT Studio model as a Hugging Face folder: ``GPT2LMHeadModel`` for causal, ``BertForMaskedLM`` for masked.

The folder holds ``config.json`` + ``model.safetensors`` that ``transformers`` loads as is, the tokenizer, and a
README.txt on using them. A model trained on a project's SentencePiece tokenizer ships ``tokenizer.model``
(with GPT Studio's special-token ids in ``gpt_studio_tokenizer.json``): ``transformers`` has no class that
reproduces it exactly, so the README shows how to load it with ``sentencepiece``. An imported model ships its
Hugging Face ``tokenizer.json`` again, loadable with ``AutoTokenizer``.

What maps (the same name tables as the import, :mod:`gpt_studio.engine.hf_mapping`):

- causal, pre-LN, no embedding LayerNorm, no token types → GPT-2 (GELU exact → ``gelu``, tanh → ``gelu_new``);
- bidirectional, post-LN, embedding LayerNorm → BERT (no token types → one all-zero type row; an NSP head →
  ``BertForPreTraining`` with its pooler);
- ``bias=False`` → biases written as zeros, which computes the same function.

Refused, with the reason: a post-LN causal model (GPT-1 style: GPT-2 is pre-LN and has no post-LN switch), a
pre-LN masked model, a causal model with token types or an embedding LayerNorm, and a masked model saved without
its masked-LM head (a fine-tuned classifier's body: export its base model instead). The output layer is always
tied to the embedding in GPT Studio, as both targets expect.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gpt_studio.engine import hf_mapping as hfm
from gpt_studio.engine.atomic import fsync_file, replace_dir, temp_dir_beside, write_json, write_text
from gpt_studio.engine.errors import StudioError
from gpt_studio.engine.hf_tokenizer import HFTokenizer
from gpt_studio.engine.progress import Reporter

if TYPE_CHECKING:
    import torch

    from gpt_studio.engine.model import ModelConfig, Transformer
    from gpt_studio.engine.project import Project

GELU_NAMES = {"none": "gelu", "tanh": "gelu_new"}
SP_META_FILE = "gpt_studio_tokenizer.json"  # the SentencePiece meta under a name transformers does not claim
README_FILE = "README.txt"


def _resolve(spec: str, project: Project | None) -> tuple[Transformer, Any, bool, Path]:
    """(model, tokenizer, has its LM head, folder) for a saved-model folder or name, a run, or a checkpoint."""
    from gpt_studio.engine.checkpoint import MANIFEST_FILE
    from gpt_studio.engine.hf_import import read_saved
    from gpt_studio.engine.loading import is_saved_model, load_model
    from gpt_studio.engine.project import PROJECT_FILE, open_project
    from gpt_studio.engine.runs import RUN_FILE

    path = Path(spec).expanduser()
    if path.is_dir() and is_saved_model(path) and not (path / MANIFEST_FILE).is_file():
        model, tokenizer, lm_head = read_saved(path)
        return model, tokenizer, lm_head, path
    if not path.is_dir():
        if project is None and (Path.cwd() / PROJECT_FILE).is_file():
            project = open_project(Path.cwd())
        if project is not None and is_saved_model(project.models_dir / spec):
            model, tokenizer, lm_head = read_saved(project.models_dir / spec)
            return model, tokenizer, lm_head, project.models_dir / spec
    elif not ((path / MANIFEST_FILE).is_file() or (path / RUN_FILE).is_file()):
        raise StudioError(f"{path} is neither a saved model, a run nor a checkpoint folder.")
    loaded = load_model(spec, project)
    return loaded.model, loaded.tokenizer, loaded.lm_head, loaded.path


def refusal(config: ModelConfig, lm_head: bool = True) -> str | None:
    """Why this architecture has no exact Hugging Face equivalent, or None when it exports."""
    if config.causal:
        if not config.prenorm:
            return ("it is a post-LayerNorm (GPT-1 style) decoder; GPT-2 normalises before each sub-layer and has "
                    "no post-LN switch, so no GPT2LMHeadModel computes the same function")
        if config.uses_embed_layer_norm:
            return "it normalises its embeddings; GPT-2 has no embedding LayerNorm"
        if config.type_vocab_size:
            return "it has token-type (segment) embeddings; GPT-2 has none of its own"
        return None
    if config.prenorm:
        return "it is a pre-LayerNorm encoder; BERT is post-LN, so no BertForMaskedLM computes the same function"
    if not config.uses_embed_layer_norm:
        return "it does not normalise its embeddings; BERT always does"
    if not lm_head:
        return ("it was saved without its masked-LM head (a fine-tuned classifier's body); export the base model it "
                "was fine-tuned from")
    return None


def _zeros_if_absent(state: dict[str, torch.Tensor], name: str, size: int) -> torch.Tensor:
    """A bias, or zeros for a model built with bias=False (the same function)."""
    import torch

    return state[name] if name in state else torch.zeros(size)


def _gpt2_tensors(model: Transformer) -> dict[str, torch.Tensor]:
    state, config = model.state_dict(), model.config
    out = {}
    for hf, ours, transposed in hfm.expand(hfm.GPT2_BLOCK + hfm.GPT2_TOP, config.n_layer):
        size = state[ours.replace(".bias", ".weight")].shape[0]
        tensor = _zeros_if_absent(state, ours, size)
        out[f"transformer.{hf}"] = tensor.t() if transposed else tensor
    return out


def _bert_tensors(model: Transformer) -> dict[str, torch.Tensor]:
    import torch

    state, config = model.state_dict(), model.config
    d = config.d_model
    if "wtt.weight" not in state:  # BERT always adds a token-type row: an all-zero one changes nothing
        state["wtt.weight"] = torch.zeros(1, d)
    if "mlm_bias" not in state:
        state["mlm_bias"] = torch.zeros(config.vocab_size)
    rules = hfm.BERT_BLOCK + hfm.BERT_TOP + hfm.BERT_MLM + (hfm.BERT_NSP if config.nsp_head else ())
    out = {}
    for hf, ours, _ in hfm.expand(rules, config.n_layer):
        size = state[ours.replace(".bias", ".weight")].shape[0] if ours.endswith(".bias") else 0
        prefix = "" if hf.startswith("cls.") else "bert."
        out[prefix + hf] = _zeros_if_absent(state, ours, size)
    for i in range(config.n_layer):
        for part in ("weight", "bias"):
            fused = _zeros_if_absent(state, f"blocks.{i}.attn.qkv.{part}", 3 * d)
            for name, chunk in zip(hfm.BERT_QKV, fused.split(d), strict=True):
                out[f"bert.{name.format(i=i)}.{part}"] = chunk
    return out


def _gpt2_config(config: ModelConfig, tokenizer: Any) -> dict[str, Any]:
    return {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": config.vocab_size,
            "n_positions": config.context_length, "n_embd": config.d_model, "n_layer": config.n_layer,
            "n_head": config.n_head, "n_inner": config.ff_dim,
            "activation_function": GELU_NAMES[config.gelu_approximate], "resid_pdrop": config.dropout,
            "embd_pdrop": config.dropout, "attn_pdrop": config.dropout, "layer_norm_epsilon": config.layer_norm_eps,
            "initializer_range": 0.02, "scale_attn_weights": True, "scale_attn_by_inverse_layer_idx": False,
            "reorder_and_upcast_attn": False, "tie_word_embeddings": True, "use_cache": True,
            "bos_token_id": tokenizer.bos_id, "eos_token_id": tokenizer.eos_id, "pad_token_id": tokenizer.pad_id,
            "dtype": "float32"}


def _bert_config(config: ModelConfig, tokenizer: Any) -> dict[str, Any]:
    return {"architectures": ["BertForPreTraining" if config.nsp_head else "BertForMaskedLM"], "model_type": "bert",
            "vocab_size": config.vocab_size, "hidden_size": config.d_model, "num_hidden_layers": config.n_layer,
            "num_attention_heads": config.n_head, "intermediate_size": config.ff_dim,
            "hidden_act": GELU_NAMES[config.gelu_approximate], "hidden_dropout_prob": config.dropout,
            "attention_probs_dropout_prob": config.dropout, "max_position_embeddings": config.context_length,
            "type_vocab_size": max(config.type_vocab_size, 1), "initializer_range": 0.02,
            "layer_norm_eps": config.layer_norm_eps, "pad_token_id": tokenizer.pad_id,
            "position_embedding_type": "absolute", "is_decoder": False, "tie_word_embeddings": True,
            "dtype": "float32"}


# ---------------------------------------------------------------------------------------------- tokenizer

def _write_tokenizer(tokenizer: Any, folder: Path, context_length: int) -> str:
    """Ship the tokenizer beside the weights; returns "huggingface" or "sentencepiece"."""
    roles = ("pad", "unk", "bos", "eos", "mask", "cls", "sep")
    if isinstance(tokenizer, HFTokenizer):
        write_text(folder / "tokenizer.json", tokenizer.hf_backend_with_added().to_str(pretty=True))
        kept = [r for r in roles if not (r == "mask" and tokenizer.mask_id == tokenizer.unk_id)]  # GPT-2: no mask
        names = {f"{r}_token": tokenizer.raw_piece(getattr(tokenizer, f"{r}_id")) for r in kept}
        write_json(folder / "tokenizer_config.json", {"tokenizer_class": "PreTrainedTokenizerFast",
                                                      "model_max_length": context_length, **names})
        return "huggingface"
    shutil.copyfile(tokenizer.folder / "tokenizer.model", folder / "tokenizer.model")
    fsync_file(folder / "tokenizer.model")
    write_json(folder / SP_META_FILE, {**tokenizer.meta, "special_ids": {
        **{r: getattr(tokenizer, f"{r}_id") for r in roles}, "newline": tokenizer.newline_id}})
    return "sentencepiece"


def _readme(architecture: str, kind: str, tokenizer: Any, source: Path, bias_note: bool, finetuned: bool) -> str:
    causal = architecture == "GPT2LMHeadModel"
    lines = [f"Exported by GPT Studio from {source}.", "",
             "Load the model with transformers:", "",
             f"    from transformers import {architecture}",
             f"    model = {architecture}.from_pretrained('path/to/this/folder')", ""]
    if kind == "huggingface":
        lines += ["The tokenizer is a Hugging Face one:", "",
                  "    from transformers import AutoTokenizer",
                  "    tokenizer = AutoTokenizer.from_pretrained('path/to/this/folder')", "",
                  "Token ids GPT Studio added (e.g. <|cls|>, <|sep|> for GPT-2 fine-tuning inputs) are special tokens."]
    else:
        lines += ["The tokenizer is SentencePiece (tokenizer.model); transformers has no tokenizer class that cuts",
                  "text exactly like it, so use the sentencepiece package (pip install sentencepiece):", "",
                  "    import sentencepiece as spm",
                  "    sp = spm.SentencePieceProcessor(model_file='path/to/this/folder/tokenizer.model')",
                  "    ids = sp.encode('To be, or not to be')   # no special tokens added",
                  "    text = sp.decode(ids)", "",
                  f"Special ids (also in {SP_META_FILE}): pad {tokenizer.pad_id}, unk {tokenizer.unk_id}, "
                  f"<s> {tokenizer.bos_id}, </s> {tokenizer.eos_id}, [MASK] {tokenizer.mask_id}, "
                  f"[CLS] {tokenizer.cls_id}, [SEP] {tokenizer.sep_id}, newline {tokenizer.newline_id}."]
        lines += (["Pretraining separated documents with </s>: start a prompt with it, e.g.",
                   f"    input_ids = [[{tokenizer.eos_id}] + sp.encode(prompt)]"] if causal else
                  ["Masked-LM inputs look like [CLS] text [SEP], with [MASK] ids where a token is hidden."])
    if bias_note:
        lines += ["", "The model was trained without biases; they are written as zeros (the same function)."]
    if finetuned:
        lines += ["", "This is the body of a fine-tuned model: its task head (finetune.json) is not exported."]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------------- export

def _check_outdir(outdir: Path, replace: bool) -> None:
    if outdir.exists() and not outdir.is_dir():
        raise StudioError(f"{outdir} is a file; choose a folder for the export.")
    if outdir.is_dir() and any(outdir.iterdir()) and not replace:
        raise StudioError(f"{outdir} is not empty; choose a new or empty folder, or replace its contents (--replace).")


def export_hf(model: str | os.PathLike[str], outdir: str | os.PathLike[str], *, project: Project | None = None,
              progress: Reporter | None = None, replace: bool = False) -> Path:
    """Write ``model`` (a saved-model or checkpoint folder, a run id or a saved model's name) to ``outdir``.

    Returns ``outdir``. Causal models become GPT2LMHeadModel folders, masked ones BertForMaskedLM (or
    BertForPreTraining with an NSP head); an architecture without an exact equivalent is refused with the reason.
    """
    import torch
    from safetensors.torch import save_file

    reporter = progress or Reporter()
    reporter.what = "the export"
    out = Path(outdir).expanduser()
    _check_outdir(out, replace)
    reporter.progress(0, 3, f"Loading {model}", force=True)
    transformer, tokenizer, lm_head, source = _resolve(str(model), project)
    config = transformer.config
    why = refusal(config, lm_head)
    if why:
        target = "GPT-2" if config.causal else "BERT"
        raise StudioError(f"{model} cannot be exported as a Hugging Face {target} model: {why}.")
    reporter.check()
    reporter.progress(1, 3, "Converting the weights", force=True)
    tensors = _gpt2_tensors(transformer) if config.causal else _bert_tensors(transformer)
    tensors = {k: v.detach().to("cpu", dtype=torch.float32).contiguous().clone() for k, v in tensors.items()}
    hf_config = _gpt2_config(config, tokenizer) if config.causal else _bert_config(config, tokenizer)
    reporter.progress(2, 3, f"Writing {out}", force=True)
    staging = temp_dir_beside(out)
    try:
        save_file(tensors, str(staging / "model.safetensors"), metadata={"format": "pt"})
        fsync_file(staging / "model.safetensors")
        write_json(staging / "config.json", hf_config)
        kind = _write_tokenizer(tokenizer, staging, config.context_length)
        write_text(staging / README_FILE, _readme(hf_config["architectures"][0], kind, tokenizer, source,
                                                  not config.bias, (source / "finetune.json").is_file()))
        reporter.check()
        replace_dir(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    reporter.progress(3, 3, f"Exported to {out}", force=True)
    return out
