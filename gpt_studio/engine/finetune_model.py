"""The fine-tuning network and its inputs: GPT-1's input transformations, a task head on a pretrained body.

Sequences (special ids from the tokenizer):

- GPT:  ``<s> a [SEP] b [CLS]`` (one text: ``<s> a [CLS]``); the head reads the final hidden state at ``[CLS]``.
  Right padding needs no attention mask in a causal model: no real position attends to a later pad.
- BERT: ``[CLS] a [SEP] b [SEP]`` with token types 0 for ``[CLS] a [SEP]`` and 1 for ``b [SEP]``; the head reads
  position 0 through the pooler when the model has one (an NSP head), else the raw hidden state.

Similarity runs both orders through the body and adds the two representations; multiple choice gives each
answer its own sequence ``context [SEP] answer`` and a score, and the answers' scores go through a softmax.

Truncation: the longest text of the sequence is cut from its end, one token at a time, until the sequence
with its special tokens fits the length; an example counts as truncated when any of its texts was cut.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from gpt_studio.engine.errors import StudioError
from gpt_studio.engine.finetune_data import Example
from gpt_studio.engine.model import ModelConfig, Transformer
from gpt_studio.engine.objectives import IGNORE_INDEX, causal_lm_loss, mask_tokens, mlm_loss
from gpt_studio.engine.tokenizer import Tokenizer

EMBEDDING_PREFIXES = ("wte.", "wpe.", "wtt.", "ln_emb.")


@dataclass
class EncodedExample:
    """One example as token sequences: 1 (classification, entailment), 2 (similarity) or one per answer."""

    row: int
    seqs: list[list[int]]
    types: list[list[int]] | None  # BERT token types, per sequence
    label: int | None
    target: float | None  # regression: the raw score
    truncated: bool


def fit_parts(parts: list[list[int]], budget: int) -> tuple[list[list[int]], bool]:
    """Cut the longest part from its end, one token at a time, until all parts hold ``budget`` tokens together."""
    lengths = [len(p) for p in parts]
    excess = sum(lengths) - budget
    if excess <= 0:
        return parts, False
    for _ in range(excess):
        longest = max(range(len(lengths)), key=lambda i: lengths[i])  # the first of equals
        lengths[longest] -= 1
    return [p[:n] for p, n in zip(parts, lengths)], True


def layout(parts: list[list[int]], tokenizer: Tokenizer, causal: bool) -> tuple[list[int], list[int] | None]:
    """Token ids (and BERT token types) of one sequence built from one or two texts' ids."""
    if causal:
        ids = [tokenizer.bos_id, *parts[0]]
        if len(parts) > 1:
            ids += [tokenizer.sep_id, *parts[1]]
        return ids + [tokenizer.cls_id], None
    ids = [tokenizer.cls_id, *parts[0], tokenizer.sep_id]
    types = [0] * len(ids)
    if len(parts) > 1:
        ids += [*parts[1], tokenizer.sep_id]
        types += [1] * (len(parts[1]) + 1)
    return ids, types


def encode_examples(tokenizer: Tokenizer, causal: bool, task: str, examples: list[Example],
                    max_length: int) -> list[EncodedExample]:
    """Token sequences of every example, specials included, truncated to ``max_length``."""
    if max_length < 4:
        raise StudioError(f"A maximum length of {max_length} tokens leaves no room for text; use at least 8.")
    unique = sorted({t for e in examples for t in e.texts if t})
    ids_of = dict(zip(unique, tokenizer.encode_batch(unique))) if unique else {}

    def ids(text: str) -> list[int]:
        return ids_of.get(text, []) if text else []

    out = []
    for example in examples:
        texts = example.texts
        if task == "multiple-choice":
            context = ids(texts[0])
            pairs = [[context, ids(answer)] if texts[0] else [ids(answer)] for answer in texts[1:]]
        elif task == "classification":
            pairs = [[ids(texts[0])]]
        else:
            pairs = [[ids(texts[0]), ids(texts[1])]]
        seqs, types, cut = [], [], False
        for parts in pairs:
            fitted, was_cut = fit_parts(parts, max_length - 1 - len(parts))
            cut = cut or was_cut
            orders = [fitted, fitted[::-1]] if task == "similarity" else [fitted]
            for order in orders:
                seq, seq_types = layout(order, tokenizer, causal)
                seqs.append(seq)
                types.append(seq_types)
        out.append(EncodedExample(example.row, seqs, None if causal else types, example.label, example.target, cut))
    return out


def collate(items: list[EncodedExample], pad_id: int, causal: bool) -> dict[str, Any]:
    """CPU tensors for a batch: sequences flattened example-major, padded on the right to the longest."""
    flat = [(b, s, seq) for b, item in enumerate(items) for s, seq in enumerate(item.seqs)]
    T = max(len(seq) for _, _, seq in flat)
    ids = np.full((len(flat), T), pad_id, dtype=np.int64)
    mask = np.zeros((len(flat), T), dtype=np.int64)
    types = None if causal else np.zeros((len(flat), T), dtype=np.int64)
    for n, (b, s, seq) in enumerate(flat):
        ids[n, :len(seq)] = seq
        mask[n, :len(seq)] = 1
        if types is not None:
            types[n, :len(seq)] = items[b].types[s]  # type: ignore[index]
    lengths = mask.sum(axis=1)
    batch: dict[str, Any] = {
        "input_ids": torch.from_numpy(ids), "attention_mask": torch.from_numpy(mask),
        "extract": torch.from_numpy(lengths - 1 if causal else np.zeros_like(lengths)),
        "owner": torch.tensor([b for b, _, _ in flat]), "slot": torch.tensor([s for _, s, _ in flat]),
        "n_examples": len(items), "n_slots": max(len(item.seqs) for item in items), "tokens": int(lengths.sum()),
    }
    if types is not None:
        batch["token_type_ids"] = torch.from_numpy(types)
    if all(item.label is not None for item in items):
        batch["labels"] = torch.tensor([item.label for item in items])
    if all(item.target is not None for item in items):
        batch["targets"] = torch.tensor([item.target for item in items], dtype=torch.float32)
    return batch


def to_device(batch: dict[str, Any], device: torch.device) -> dict[str, Any]:
    """The batch's tensors on ``device`` (other entries unchanged)."""
    return {k: v.to(device) if isinstance(v, torch.Tensor) else v for k, v in batch.items()}


class FinetuneModel(nn.Module):
    """A pretrained :class:`Transformer` body plus a dropout + linear head for one task format."""

    def __init__(self, config: ModelConfig, task: str, num_outputs: int, head_dropout: float = 0.1,
                 regression: bool = False) -> None:
        super().__init__()
        self.task, self.regression = task, regression
        self.frozen_body = False
        self.body = Transformer(config)
        self.head_drop = nn.Dropout(head_dropout)
        self.head = nn.Linear(config.d_model, num_outputs)
        nn.init.normal_(self.head.weight, mean=0.0, std=0.02)
        nn.init.zeros_(self.head.bias)

    def freeze_body(self) -> None:
        """Train the head only: the body gets no gradients and runs without dropout."""
        self.frozen_body = True
        for param in self.body.parameters():
            param.requires_grad_(False)
        self.body.eval()

    def train(self, mode: bool = True) -> FinetuneModel:
        """As nn.Module.train, but a frozen body stays in evaluation mode."""
        super().train(mode)
        if self.frozen_body:
            self.body.eval()
        return self

    def hidden(self, batch: dict[str, Any], input_ids: torch.Tensor | None = None) -> torch.Tensor:
        """Final hidden states (N, T, C) of the batch's sequences (or of other ids of the same shape)."""
        ids = batch["input_ids"] if input_ids is None else input_ids
        causal = self.body.config.causal
        with torch.set_grad_enabled(torch.is_grad_enabled() and not self.frozen_body):
            return self.body(ids, batch.get("token_type_ids"), None if causal else batch["attention_mask"])

    def forward(self, batch: dict[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        """(scores, hidden): scores (B, classes), (B,) for regression, or (B, answers) with -inf for absent answers."""
        hidden = self.hidden(batch)  # (N, T, C)
        if self.body.config.causal:
            rep = hidden[torch.arange(hidden.size(0), device=hidden.device), batch["extract"]]  # (N, C)
        elif self.body.config.nsp_head:
            rep = self.body.pooled(hidden)  # (N, C)
        else:
            rep = hidden[:, 0]  # (N, C)
        B = batch["n_examples"]
        if self.task == "similarity":
            rep = rep.view(B, 2, -1).sum(dim=1)  # (B, C): a;b + b;a
        out = self.head(self.head_drop(rep))
        if self.task == "multiple-choice":
            flat = out.squeeze(-1)  # (N,)
            scores = torch.full((B, batch["n_slots"]), float("-inf"), dtype=flat.dtype, device=flat.device)
            scores[batch["owner"], batch["slot"]] = flat
            return scores, hidden
        return (out.squeeze(-1) if self.regression else out), hidden


def task_loss(scores: torch.Tensor, batch: dict[str, Any], regression: bool,
              target_mean: float = 0.0, target_std: float = 1.0) -> torch.Tensor:
    """L2: cross-entropy over classes or answers, or MSE on standardised targets for regression."""
    if regression:
        return F.mse_loss(scores.float(), (batch["targets"] - target_mean) / target_std)
    return F.cross_entropy(scores.float(), batch["labels"])


def lm_batch(batch: dict[str, Any], tokenizer: Tokenizer, vocab_size: int, generator: torch.Generator,
             mlm_probability: float = 0.15) -> dict[str, Any]:
    """Add the masked-LM inputs and labels of a BERT batch (on the CPU, before it moves to the device)."""
    ids = batch["input_ids"]
    inputs, labels = mask_tokens(ids, vocab_size=vocab_size, mask_id=tokenizer.mask_id,
                                 special_ids=tokenizer.special_ids, generator=generator, mask_prob=mlm_probability)
    return {**batch, "mlm_input_ids": inputs, "mlm_labels": labels}


def aux_lm_loss(model: FinetuneModel, batch: dict[str, Any], hidden: torch.Tensor) -> torch.Tensor:
    """L1 on the input sequences: next-token loss (GPT, on the same forward pass) or masked-LM loss (BERT)."""
    body = model.body
    mask = batch["attention_mask"]
    if body.config.causal:
        targets = batch["input_ids"][:, 1:].masked_fill(mask[:, 1:] == 0, IGNORE_INDEX)  # (N, T-1)
        return causal_lm_loss(body.lm_logits(hidden[:, :-1]), targets)
    labels = batch["mlm_labels"]
    selected = labels != IGNORE_INDEX  # (N, T)
    if not bool(selected.any()):
        return hidden.new_zeros(())
    masked_hidden = model.hidden(batch, batch["mlm_input_ids"])  # (N, T, C)
    return mlm_loss(body.mlm_logits(masked_hidden[selected]), labels[selected])  # (M, V) vs (M,)


def body_keys_to_copy(key: str, n_layer: int, layers: int, embeddings: bool) -> bool:
    """Whether a body weight comes from the base model.

    The first ``layers`` blocks; token/position/type embeddings (and the embedding LayerNorm) when
    ``embeddings``; the top of the body (final LayerNorm, masked-LM transform, pooler) only when every block is.
    """
    if key.startswith("blocks."):
        return int(key.split(".")[1]) < layers
    if key.startswith(EMBEDDING_PREFIXES):
        return embeddings
    return layers == n_layer


def build_model(config: ModelConfig, base_state: dict[str, torch.Tensor], task: str, num_outputs: int, *,
                layers_transferred: int | None, transfer_embeddings: bool, head_dropout: float,
                regression: bool, seed: int) -> FinetuneModel:
    """A fresh fine-tuning model (the model's own init, from ``seed``) with the chosen base weights copied in."""
    layers = config.n_layer if layers_transferred is None else layers_transferred
    if not 0 <= layers <= config.n_layer:
        raise StudioError(f"layers_transferred must be between 0 and {config.n_layer} (the base model's blocks), "
                          f"not {layers}.")
    torch.manual_seed(seed)
    model = FinetuneModel(config, task, num_outputs, head_dropout, regression)
    own = model.body.state_dict()
    with torch.no_grad():
        for key, tensor in base_state.items():
            if key in own and body_keys_to_copy(key, config.n_layer, layers, transfer_embeddings):
                if own[key].shape != tensor.shape:
                    raise StudioError(f"The base model's weight {key} has shape {tuple(tensor.shape)}, not "
                                      f"{tuple(own[key].shape)}; the base is damaged or of another architecture.")
                own[key].copy_(tensor)
    return model
