"""Import a local Hugging Face GPT-2 or BERT folder as a GPT Studio saved model, and load saved models back.

The folder needs ``config.json``, ``model.safetensors`` (or a weights-only ``pytorch_model.bin``) and its
tokenizer files; nothing is downloaded. It becomes ``PROJECT/models/NAME/``::

    config.json          the engine's ModelConfig
    model.safetensors    the weights under the engine's parameter names (see hf_mapping for the table)
    tokenizer.json       the Hugging Face tokenizer, plus tokenizer_roles.json (see hf_tokenizer for the rule)
    source.json          where it came from: model_type, architectures, the original config, what was mapped,
                         what was dropped (e.g. a classifier head) and what is missing (e.g. an NSP head)

GPT-2 maps onto the pre-LN switches (final LayerNorm, no embedding LayerNorm, GELU per ``activation_function``);
BERT onto post-LN with embedding LayerNorm, token types, the masked-LM head and, when the file has one, the
pooler + next-sentence head. The output layer stays tied to the token embedding, as in both originals; a file
whose output layer differs from its embedding is refused rather than silently changed. The folder is built
beside its final place and swapped in whole, so a failed or cancelled import leaves nothing behind.
"""

from __future__ import annotations

import datetime as _dt
import os
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gpt_studio.engine import hf_mapping as hfm
from gpt_studio.engine.atomic import fsync_file, read_json, replace_dir, temp_dir_beside, write_json
from gpt_studio.engine.errors import StudioError
from gpt_studio.engine.hf_tokenizer import HFTokenizer, load_tokenizer
from gpt_studio.engine.progress import Reporter

if TYPE_CHECKING:
    import torch

    from gpt_studio.engine.model import ModelConfig, Transformer
    from gpt_studio.engine.project import Project

SOURCE_FILE = "source.json"
SOURCE_VERSION = 1
SUPPORTED = {  # model_type -> the architectures whose weights map (task heads beyond these are dropped)
    "gpt2": ("GPT2LMHeadModel", "GPT2Model", "GPT2DoubleHeadsModel", "GPT2ForSequenceClassification"),
    "bert": ("BertForMaskedLM", "BertForPreTraining", "BertModel", "BertForSequenceClassification"),
}
GELU = {"gelu": "none", "gelu_python": "none", "gelu_new": "tanh", "gelu_pytorch_tanh": "tanh", "gelu_fast": "tanh"}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def supported_line() -> str:
    """The supported families, for messages: ``gpt2 (GPT2LMHeadModel, ...), bert (...)``."""
    return "; ".join(f"{kind} ({', '.join(archs)})" for kind, archs in SUPPORTED.items())


def read_hf_config(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """A Hugging Face ``config.json``, with a refusal naming its ``model_type`` when it is not supported."""
    folder = Path(folder).expanduser()
    path = folder / "config.json"
    if not folder.is_dir():
        raise StudioError(f"{folder} is not a folder; choose the folder that holds the model's config.json.")
    if not path.is_file():
        raise StudioError(f"{folder} has no config.json, so it is not a Hugging Face model folder.")
    try:
        config = read_json(path)
    except (ValueError, UnicodeDecodeError) as exc:
        raise StudioError(f"{path} is not valid JSON ({exc}).") from exc
    if not isinstance(config, dict):
        raise StudioError(f"{path} is not a JSON object.")
    model_type = config.get("model_type")
    if model_type is None and "n_layer" in config and "vocab_size" in config:
        raise StudioError(f"{path} has no model_type (a GPT Studio config.json?); this is for Hugging Face folders.")
    if model_type not in SUPPORTED:
        raise StudioError(f"Unsupported architecture: model_type {model_type!r} "
                          f"({', '.join(config.get('architectures') or []) or 'no architectures listed'}) in {path}. "
                          f"GPT Studio imports {supported_line()}.")
    return config


def inspect_hf_folder(folder: str | os.PathLike[str]) -> dict[str, Any]:
    """What an import would bring in, from JSON alone (cheap enough for a dialog's preview); refuses early."""
    folder = Path(folder).expanduser()
    config = read_hf_config(folder)
    gpt = config["model_type"] == "gpt2"
    weights = next((n for n in (hfm.SAFETENSORS, hfm.SAFETENSORS_INDEX, hfm.PYTORCH_BIN, hfm.PYTORCH_BIN_INDEX)
                    if (folder / n).is_file()), None)
    return {"model_type": config["model_type"], "architectures": list(config.get("architectures") or []),
            "family": "gpt" if gpt else "bert", "weights_file": weights, "vocab_size": config.get("vocab_size"),
            "n_layer": config.get("n_layer" if gpt else "num_hidden_layers", 12),
            "d_model": config.get("n_embd" if gpt else "hidden_size", 768),
            "context_length": config.get("n_positions" if gpt else "max_position_embeddings", 1024 if gpt else 512)}


# ------------------------------------------------------------------------------------------------ configs

def _gelu(config: dict[str, Any], key: str, default: str) -> str:
    name = config.get(key, default)
    if name not in GELU:
        raise StudioError(f"config.json: {key} {name!r} has no counterpart in GPT Studio; supported: "
                          f"{', '.join(GELU)}.")
    return GELU[name]


def _refuse_options(config: dict[str, Any], unsupported: dict[str, Any]) -> None:
    """Options whose non-default value changes the computation in a way the engine does not reproduce."""
    for key, default in unsupported.items():
        if key in config and config[key] != default:
            raise StudioError(f"config.json: {key} = {config[key]!r} is not supported by GPT Studio's Transformer "
                              f"(only {default!r}); this model cannot be imported exactly.")


def _model_config(hf: dict[str, Any], vocab_size: int, nsp_head: bool) -> ModelConfig:
    """The engine's config for a GPT-2 or BERT config.json (Hugging Face's defaults for absent keys)."""
    from gpt_studio.engine.model import ModelConfig

    if hf["model_type"] == "gpt2":
        _refuse_options(hf, {"scale_attn_weights": True, "scale_attn_by_inverse_layer_idx": False,
                             "add_cross_attention": False})
        fields = dict(n_layer=hf.get("n_layer", 12), n_head=hf.get("n_head", 12), d_model=hf.get("n_embd", 768),
                      d_ff=hf.get("n_inner"), context_length=hf.get("n_positions", 1024),
                      dropout=hf.get("resid_pdrop", 0.1), causal=True, prenorm=True,
                      layer_norm_eps=hf.get("layer_norm_epsilon", 1e-5),
                      gelu_approximate=_gelu(hf, "activation_function", "gelu_new"))
    else:
        _refuse_options(hf, {"position_embedding_type": "absolute", "is_decoder": False, "add_cross_attention": False})
        fields = dict(n_layer=hf.get("num_hidden_layers", 12), n_head=hf.get("num_attention_heads", 12),
                      d_model=hf.get("hidden_size", 768), d_ff=hf.get("intermediate_size", 3072),
                      context_length=hf.get("max_position_embeddings", 512), dropout=hf.get("hidden_dropout_prob", 0.1),
                      causal=False, prenorm=False, type_vocab_size=hf.get("type_vocab_size", 2), nsp_head=nsp_head,
                      layer_norm_eps=hf.get("layer_norm_eps", 1e-12),
                      gelu_approximate=_gelu(hf, "hidden_act", "gelu"))
    try:
        return ModelConfig(vocab_size=vocab_size, bias=True, **fields)
    except (TypeError, ValueError) as exc:
        raise StudioError(f"config.json describes a model GPT Studio cannot build: {exc}") from exc


# ------------------------------------------------------------------------------------------------ weights

class _Mapping:
    """Collects the engine's tensors from a Hugging Face state dict and remembers which names were used."""

    def __init__(self, state: dict[str, torch.Tensor], file: str) -> None:
        self.state, self.file = state, file
        self.tensors: dict[str, torch.Tensor] = {}
        self.used: set[str] = set()
        self.rules: list[str] = []

    def take(self, name: str) -> torch.Tensor:
        if name not in self.state:
            raise StudioError(f"{self.file} has no tensor {name!r}, which config.json implies; the weights and the "
                              "config do not belong together (or the file is incomplete).")
        self.used.add(name)
        return self.state[name]

    def apply(self, rules: tuple[tuple[str, str, bool], ...], n_layer: int) -> None:
        for hf, ours, transposed in hfm.expand(rules, n_layer):
            tensor = self.take(hf)
            self.tensors[ours] = (tensor.t() if transposed else tensor).float().contiguous()
        self.rules += hfm.describe(rules)

    def check_tied(self, name: str, embedding: torch.Tensor) -> None:
        """An output layer stored beside the embedding must equal it: the engine ties the two."""
        import torch

        if name in self.state:
            self.used.add(name)
            if self.state[name].shape != embedding.shape or not torch.equal(self.state[name].float(), embedding):
                raise StudioError(f"{self.file}: the output layer {name!r} differs from the token embedding (an "
                                  "untied head); GPT Studio ties them, so this model cannot be imported exactly.")


def _gpt2_tensors(mapping: _Mapping, n_layer: int) -> None:
    mapping.apply(hfm.GPT2_BLOCK + hfm.GPT2_TOP, n_layer)
    mapping.check_tied("lm_head.weight", mapping.tensors["wte.weight"])
    mapping.used |= {k for k in mapping.state if k.endswith(hfm.GPT2_BUFFERS)}


def _bert_tensors(mapping: _Mapping, n_layer: int, nsp_head: bool) -> list[str]:
    """Map BERT; returns what is missing (a masked-LM head absent from the file)."""
    import torch

    for i in range(n_layer):
        for part in ("weight", "bias"):
            names = [f"{p.format(i=i)}.{part}" for p in hfm.BERT_QKV]
            mapping.tensors[f"blocks.{i}.attn.qkv.{part}"] = torch.cat([mapping.take(n) for n in names]).float()
    mapping.rules.append("encoder.layer.{i}.attention.self.{query,key,value} -> blocks.{i}.attn.qkv (concatenated)")
    mapping.apply(hfm.BERT_BLOCK + hfm.BERT_TOP, n_layer)
    missing = []
    if "cls.predictions.bias" not in mapping.state and "cls.predictions.decoder.bias" in mapping.state:
        mapping.state["cls.predictions.bias"] = mapping.state["cls.predictions.decoder.bias"]
    mapping.used.add("cls.predictions.decoder.bias")  # tied to cls.predictions.bias in transformers
    if "cls.predictions.transform.dense.weight" in mapping.state:
        mapping.apply(hfm.BERT_MLM, n_layer)
        mapping.check_tied("cls.predictions.decoder.weight", mapping.tensors["wte.weight"])
    else:
        missing.append("masked-LM head (cls.predictions.*): fill-mask and pseudo-perplexity need it trained first")
    if nsp_head:
        mapping.apply(hfm.BERT_NSP, n_layer)
    mapping.used |= set(hfm.BERT_BUFFERS)
    return missing


def _drop_reason(name: str) -> str:
    if name.startswith("pooler."):
        return "BERT pooler without a next-sentence head: GPT Studio keeps a pooler only together with NSP"
    if name.startswith(("multiple_choice_head.", "score.", "classifier.", "qa_outputs.")):
        return "a task head: fine-tune a new one in GPT Studio"
    return "not part of the language model GPT Studio maps"


def _add_rows(tensors: dict[str, torch.Tensor], rows: int) -> None:
    """Append ``rows`` embedding rows (and masked-LM biases) initialised to the mean of the existing ones."""
    import torch

    if rows <= 0:
        return
    wte = tensors["wte.weight"]
    tensors["wte.weight"] = torch.cat([wte, wte.mean(dim=0, keepdim=True).expand(rows, -1)]).contiguous()
    if "mlm_bias" in tensors:
        bias = tensors["mlm_bias"]
        tensors["mlm_bias"] = torch.cat([bias, bias.mean().expand(rows)]).contiguous()


def _check_shapes(tensors: dict[str, torch.Tensor], config: ModelConfig, file: str) -> None:
    """Every engine parameter present (the masked-LM head may be absent) with the shape the config gives."""
    import torch

    from gpt_studio.engine.loading import MASKED_LM_KEYS
    from gpt_studio.engine.model import Transformer

    with torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in Transformer(config).state_dict().items()}
    missing = [k for k in expected if k not in tensors and not k.startswith(MASKED_LM_KEYS)]
    wrong = [f"{k} {tuple(tensors[k].shape)} vs {expected[k]}" for k in expected
             if k in tensors and tuple(tensors[k].shape) != expected[k]]
    if missing or wrong:
        raise StudioError(f"{file} does not match its config.json: missing {', '.join(missing[:4]) or 'none'}; "
                          f"wrong shape {'; '.join(wrong[:4]) or 'none'}.")


# ------------------------------------------------------------------------------------------------- import

def _target(project: Project | str | os.PathLike[str], name: str, replace: bool) -> Path:
    """``PROJECT/models/NAME``, after checking the name and that nothing is overwritten unasked."""
    from gpt_studio.engine.project import Project, open_project

    if not _NAME.match(name or ""):
        raise StudioError(f"Model name {name!r} is not usable as a folder name: use letters, digits, '.', '_' or '-', "
                          "starting with a letter or digit (e.g. gpt2-small).")
    project = project if isinstance(project, Project) else open_project(project)
    target = project.models_dir / name
    if target.exists() and not replace:
        raise StudioError(f"{target} already exists; choose another name, or replace it (--replace).")
    return target


def _source(folder: Path, hf: dict[str, Any], file: str, mapping: _Mapping, tokenizer: HFTokenizer,
            missing: list[str], notes: list[str]) -> dict[str, Any]:
    from gpt_studio import __version__

    dropped = {k: _drop_reason(k) for k in sorted(set(mapping.state) - mapping.used)}
    added = {tokenizer.id_to_piece(i): i for i in range(hf["vocab_size"], tokenizer.vocab_size)}
    return {"format_version": SOURCE_VERSION, "imported_from": str(folder.resolve()),
            "imported_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            "gpt_studio_version": __version__, "model_type": hf["model_type"],
            "architectures": list(hf.get("architectures") or []), "weights_file": file,
            "source_dtypes": sorted({str(v.dtype).replace("torch.", "") for v in mapping.state.values()}),
            "hf_config": hf, "mapped": mapping.rules, "dropped": dropped, "missing": missing,
            "added_tokens": added, "tokenizer": {"model_type": tokenizer.model_type, "special_ids": tokenizer.roles()},
            "notes": notes}


def _map_weights(hf: dict[str, Any], raw: dict[str, torch.Tensor], file: str,
                 tokenizer: HFTokenizer) -> tuple[ModelConfig, _Mapping, dict[str, Any]]:
    """(engine config, mapped tensors, source.json fields: missing, notes, hf config with the true row count)."""
    gpt = hf["model_type"] == "gpt2"
    state = hfm.normalise_names(raw, "transformer." if gpt else "bert.")
    nsp_head = not gpt and {"pooler.dense.weight", "cls.seq_relationship.weight"} <= set(state)
    config = _model_config(hf, tokenizer.vocab_size, nsp_head)
    mapping, missing, notes = _Mapping(state, file), [], []
    if gpt:
        _gpt2_tensors(mapping, config.n_layer)
    else:
        missing = _bert_tensors(mapping, config.n_layer, nsp_head)
        if not nsp_head:
            notes.append("No next-sentence-prediction head in the file (e.g. BertForMaskedLM): nsp_head is off.")
    rows = mapping.tensors["wte.weight"].shape[0]
    if isinstance(hf.get("vocab_size"), int) and rows != hf["vocab_size"]:
        raise StudioError(f"{file} has {rows} token embeddings but config.json says vocab_size {hf['vocab_size']}.")
    _add_rows(mapping.tensors, tokenizer.vocab_size - rows)
    if tokenizer.vocab_size > rows:
        notes.append(f"Added {tokenizer.vocab_size - rows} token id(s) after the vocabulary (embedding = mean row).")
    _check_shapes(mapping.tensors, config, file)
    return config, mapping, {"missing": missing, "notes": notes, "hf": {**hf, "vocab_size": rows}}


def _write(target: Path, config: ModelConfig, tensors: dict[str, torch.Tensor], tokenizer: HFTokenizer,
           source: dict[str, Any], reporter: Reporter) -> None:
    """Build the model folder beside ``target`` and swap it in whole (nothing is left behind on failure)."""
    from safetensors.torch import save_file

    staging = temp_dir_beside(target)
    try:
        save_file(tensors, str(staging / "model.safetensors"), metadata={"format": "pt"})
        fsync_file(staging / "model.safetensors")
        write_json(staging / "config.json", config.to_dict())
        tokenizer.save(staging)
        write_json(staging / SOURCE_FILE, source)
        reporter.check()
        replace_dir(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def import_hf_model(folder: str | os.PathLike[str], project: Project | str | os.PathLike[str], name: str,
                    progress: Reporter | None = None, *, replace: bool = False) -> Path:
    """Import the Hugging Face model in ``folder`` as ``PROJECT/models/NAME/``; returns that folder.

    ``progress`` reports the steps and can cancel between them; ``replace`` overwrites an existing NAME.
    """
    reporter = progress or Reporter()
    reporter.what = "the model import"
    src = Path(folder).expanduser()
    target = _target(project, name, replace)
    reporter.progress(0, 5, "Reading config.json", force=True)
    hf = read_hf_config(src)
    reporter.progress(1, 5, "Reading the tokenizer", force=True)
    rows = hf.get("vocab_size")
    tokenizer = HFTokenizer(src, vocab_size=rows if isinstance(rows, int) else None)
    reporter.check()
    reporter.progress(2, 5, "Reading the weights", force=True)
    raw, file = hfm.read_hf_weights(src)
    reporter.check()
    reporter.progress(3, 5, "Mapping the weights", force=True)
    config, mapping, extra = _map_weights(hf, raw, file, tokenizer)
    reporter.check()
    reporter.progress(4, 5, f"Writing {target}", force=True)
    source = _source(src, extra["hf"], file, mapping, tokenizer, extra["missing"], extra["notes"])
    _write(target, config, mapping.tensors, tokenizer, source, reporter)
    reporter.progress(5, 5, f"Imported {name}", force=True)
    return target


# ------------------------------------------------------------------------------------------------ loading

def _tokenizer_for(folder: Path) -> Any:
    """The folder's own tokenizer, else that of the project it lies in (a plain saved model keeps none)."""
    from gpt_studio.engine.project import PROJECT_FILE
    from gpt_studio.engine.tokenizer import Tokenizer

    try:
        return load_tokenizer(folder)
    except StudioError:
        for parent in folder.resolve().parents:
            if (parent / PROJECT_FILE).is_file():
                return Tokenizer(parent / "tokenizer")
        raise


def read_saved(folder: str | os.PathLike[str], device: str = "cpu") -> tuple[Transformer, Any, bool]:
    """(model in eval mode on ``device``, tokenizer, whether the masked-LM head was saved) of a saved-model folder.

    Fine-tuned folders keep the body under a prefix (``body.``) beside a task head; the body is loaded.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from gpt_studio.engine.devices import resolve_device
    from gpt_studio.engine.loading import MASKED_LM_KEYS
    from gpt_studio.engine.model import ModelConfig, Transformer

    folder = Path(folder).expanduser()
    try:
        config = ModelConfig.from_dict(read_json(folder / "config.json"))
    except FileNotFoundError as exc:
        raise StudioError(f"{folder} has no config.json; it is not a saved model folder.") from exc
    except (TypeError, ValueError) as exc:
        raise StudioError(f"{folder / 'config.json'} is not a GPT Studio model configuration ({exc}).") from exc
    tokenizer = _tokenizer_for(folder)
    try:
        state = load_file(str(folder / "model.safetensors"))
    except (SafetensorError, OSError, RuntimeError) as exc:
        raise StudioError(f"{folder / 'model.safetensors'} cannot be read ({exc}).") from exc
    prefix = next((k[:-len("wte.weight")] for k in sorted(state, key=len) if k.endswith("wte.weight")), None)
    if prefix is None:
        raise StudioError(f"{folder / 'model.safetensors'} holds no Transformer weights (no 'wte.weight').")
    body = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
    model = Transformer(config)
    expected = model.state_dict()
    _check_shapes({k: v for k, v in body.items() if k in expected}, config, str(folder / "model.safetensors"))
    model.load_state_dict({k: v for k, v in body.items() if k in expected}, strict=False)
    if config.vocab_size != tokenizer.vocab_size:
        raise StudioError(f"{folder} has a vocabulary of {config.vocab_size} tokens but its tokenizer has "
                          f"{tokenizer.vocab_size}; they do not belong together.")
    lm_head = config.causal or all(k in body for k in expected if k.startswith(MASKED_LM_KEYS))
    return model.to(resolve_device(device)).eval(), tokenizer, lm_head


def load_saved_model(folder: str | os.PathLike[str], device: str = "cpu") -> tuple[Transformer, Any]:
    """(Transformer in eval mode, its tokenizer) of a saved-model folder: imported, fine-tuned or plain."""
    model, tokenizer, _ = read_saved(folder, device)
    return model, tokenizer
