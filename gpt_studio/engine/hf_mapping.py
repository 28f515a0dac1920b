"""Parameter names of Hugging Face GPT-2 and BERT against the engine's :class:`Transformer`, both directions.

One table per family serves the import and the export, so the two cannot drift apart. GPT-2 stores its
projections as ``Conv1D`` (weight shape ``(in, out)``), the transpose of ``nn.Linear``; BERT keeps query, key and
value in three Linears that concatenate (in that order, along the output rows) into the engine's fused ``qkv``.

Weights are read from safetensors; a ``pytorch_model.bin`` only with ``torch.load(weights_only=True)``, which
refuses anything but tensors and plain containers; every other format is refused with the reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from gpt_studio.engine.atomic import read_json
from gpt_studio.engine.errors import StudioError

if TYPE_CHECKING:
    import torch

# (Hugging Face name, engine name, transposed): per block with {i}, and outside the blocks
GPT2_BLOCK = (
    ("h.{i}.ln_1.weight", "blocks.{i}.ln_1.weight", False), ("h.{i}.ln_1.bias", "blocks.{i}.ln_1.bias", False),
    ("h.{i}.attn.c_attn.weight", "blocks.{i}.attn.qkv.weight", True),
    ("h.{i}.attn.c_attn.bias", "blocks.{i}.attn.qkv.bias", False),
    ("h.{i}.attn.c_proj.weight", "blocks.{i}.attn.proj.weight", True),
    ("h.{i}.attn.c_proj.bias", "blocks.{i}.attn.proj.bias", False),
    ("h.{i}.ln_2.weight", "blocks.{i}.ln_2.weight", False), ("h.{i}.ln_2.bias", "blocks.{i}.ln_2.bias", False),
    ("h.{i}.mlp.c_fc.weight", "blocks.{i}.mlp.fc.weight", True),
    ("h.{i}.mlp.c_fc.bias", "blocks.{i}.mlp.fc.bias", False),
    ("h.{i}.mlp.c_proj.weight", "blocks.{i}.mlp.proj.weight", True),
    ("h.{i}.mlp.c_proj.bias", "blocks.{i}.mlp.proj.bias", False),
)
GPT2_TOP = (("wte.weight", "wte.weight", False), ("wpe.weight", "wpe.weight", False),
            ("ln_f.weight", "ln_f.weight", False), ("ln_f.bias", "ln_f.bias", False))
GPT2_BUFFERS = (".attn.bias", ".attn.masked_bias")  # causal-mask buffers older files carry: not parameters

BERT_QKV = ("encoder.layer.{i}.attention.self.query", "encoder.layer.{i}.attention.self.key",
            "encoder.layer.{i}.attention.self.value")
BERT_BLOCK = (
    ("encoder.layer.{i}.attention.output.dense.weight", "blocks.{i}.attn.proj.weight", False),
    ("encoder.layer.{i}.attention.output.dense.bias", "blocks.{i}.attn.proj.bias", False),
    ("encoder.layer.{i}.attention.output.LayerNorm.weight", "blocks.{i}.ln_1.weight", False),
    ("encoder.layer.{i}.attention.output.LayerNorm.bias", "blocks.{i}.ln_1.bias", False),
    ("encoder.layer.{i}.intermediate.dense.weight", "blocks.{i}.mlp.fc.weight", False),
    ("encoder.layer.{i}.intermediate.dense.bias", "blocks.{i}.mlp.fc.bias", False),
    ("encoder.layer.{i}.output.dense.weight", "blocks.{i}.mlp.proj.weight", False),
    ("encoder.layer.{i}.output.dense.bias", "blocks.{i}.mlp.proj.bias", False),
    ("encoder.layer.{i}.output.LayerNorm.weight", "blocks.{i}.ln_2.weight", False),
    ("encoder.layer.{i}.output.LayerNorm.bias", "blocks.{i}.ln_2.bias", False),
)
BERT_TOP = (
    ("embeddings.word_embeddings.weight", "wte.weight", False),
    ("embeddings.position_embeddings.weight", "wpe.weight", False),
    ("embeddings.token_type_embeddings.weight", "wtt.weight", False),
    ("embeddings.LayerNorm.weight", "ln_emb.weight", False), ("embeddings.LayerNorm.bias", "ln_emb.bias", False),
)
BERT_MLM = (
    ("cls.predictions.transform.dense.weight", "mlm_dense.weight", False),
    ("cls.predictions.transform.dense.bias", "mlm_dense.bias", False),
    ("cls.predictions.transform.LayerNorm.weight", "mlm_ln.weight", False),
    ("cls.predictions.transform.LayerNorm.bias", "mlm_ln.bias", False),
    ("cls.predictions.bias", "mlm_bias", False),
)
BERT_NSP = (("pooler.dense.weight", "pooler.weight", False), ("pooler.dense.bias", "pooler.bias", False),
            ("cls.seq_relationship.weight", "nsp.weight", False), ("cls.seq_relationship.bias", "nsp.bias", False))
BERT_BUFFERS = ("embeddings.position_ids", "embeddings.token_type_ids")

SAFETENSORS, SAFETENSORS_INDEX = "model.safetensors", "model.safetensors.index.json"
PYTORCH_BIN, PYTORCH_BIN_INDEX = "pytorch_model.bin", "pytorch_model.bin.index.json"
REFUSED_FORMATS = ("tf_model.h5", "flax_model.msgpack", "model.ckpt.index", "*.pt", "*.pth", "*.pkl", "*.ckpt")


def expand(rules: tuple[tuple[str, str, bool], ...], n_layer: int) -> list[tuple[str, str, bool]]:
    """The per-block rules written out for blocks 0 .. n_layer-1 (rules without {i} pass through once)."""
    out: list[tuple[str, str, bool]] = []
    for hf, ours, transposed in rules:
        layers = range(n_layer) if "{i}" in hf else [0]
        out += [(hf.format(i=i), ours.format(i=i), transposed) for i in layers]
    return out


def describe(rules: tuple[tuple[str, str, bool], ...]) -> list[str]:
    """Readable lines for source.json: ``hf name -> engine name (transposed)``."""
    return [f"{hf} -> {ours}" + (" (transposed)" if transposed else "") for hf, ours, transposed in rules]


# ------------------------------------------------------------------------------------------------- reading

def _load_safetensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except (SafetensorError, OSError, RuntimeError) as exc:
        raise StudioError(f"{path} cannot be read as safetensors ({exc}); the file is damaged or incomplete.") from exc


def _load_bin(path: Path) -> dict[str, torch.Tensor]:
    """A torch.save file, read with ``weights_only=True``: tensors and plain containers, never arbitrary objects."""
    import pickle

    import torch

    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[-1][:200] if str(exc).strip() else "unsupported content"
        raise StudioError(
            f"{path} holds Python objects besides tensors, and loading it would mean unpickling them, which can "
            f"run arbitrary code; GPT Studio refuses ({first}). Save the model as model.safetensors (e.g. "
            "`model.save_pretrained(folder)` in transformers) where you trust the file, then import that.") from exc
    except Exception as exc:  # noqa: BLE001 - torch raises many types for a damaged file
        raise StudioError(f"{path} cannot be read ({exc}); the file is damaged or not a PyTorch weights file.") \
            from exc
    if isinstance(data, dict) and set(data) <= {"state_dict", "model"} and len(data) == 1:
        data = next(iter(data.values()))
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise StudioError(f"{path} is not a flat name → tensor mapping (a state dict); it cannot be imported.")
    return dict(data)


def _load_index(folder: Path, index_name: str, loader: Any) -> dict[str, torch.Tensor]:
    """Sharded weights: the index names a file per tensor; each shard is read once."""
    index = read_json(folder / index_name)
    shards = sorted(set((index.get("weight_map") or {}).values()))
    if not shards:
        raise StudioError(f"{folder / index_name} lists no weight files.")
    state: dict[str, torch.Tensor] = {}
    for shard in shards:
        if Path(shard).name != shard or not (folder / shard).is_file():
            raise StudioError(f"{folder / index_name} names {shard!r}, which is not a file in {folder}.")
        state.update(loader(folder / shard))
    return state


def read_hf_weights(folder: Path) -> tuple[dict[str, torch.Tensor], str]:
    """(name → tensor, the file read) from safetensors (preferred) or ``pytorch_model.bin`` (weights only)."""
    if (folder / SAFETENSORS).is_file():
        return _load_safetensors(folder / SAFETENSORS), SAFETENSORS
    if (folder / SAFETENSORS_INDEX).is_file():
        return _load_index(folder, SAFETENSORS_INDEX, _load_safetensors), SAFETENSORS_INDEX
    if (folder / PYTORCH_BIN).is_file():
        return _load_bin(folder / PYTORCH_BIN), PYTORCH_BIN
    if (folder / PYTORCH_BIN_INDEX).is_file():
        return _load_index(folder, PYTORCH_BIN_INDEX, _load_bin), PYTORCH_BIN_INDEX
    others = sorted({p.name for pattern in REFUSED_FORMATS for p in folder.glob(pattern)})
    found = f" It holds {', '.join(others)}, which would need TensorFlow, Flax or unpickling; GPT Studio reads " \
            "only safetensors and weights-only PyTorch files." if others else ""
    raise StudioError(f"No weights in {folder}: expected {SAFETENSORS} or {PYTORCH_BIN}.{found}")


def normalise_names(state: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """Drop the body prefix (``transformer.`` / ``bert.``) and rename TF-era LayerNorm ``gamma``/``beta``."""
    out = {}
    for key, value in state.items():
        name = key[len(prefix):] if key.startswith(prefix) else key
        if name.endswith(".gamma"):
            name = name[:-len("gamma")] + "weight"
        elif name.endswith(".beta"):
            name = name[:-len("beta")] + "bias"
        out[name] = value
    return out
