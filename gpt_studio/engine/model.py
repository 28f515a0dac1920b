"""One Transformer for both families: a GPT-style causal decoder and a BERT-style bidirectional encoder.

The two differ only in switches of :class:`ModelConfig`: ``causal`` (masked self-attention, LM head) versus
bidirectional attention with a masked-LM head, and ``prenorm`` (GPT-2/nanoGPT: LayerNorm before each
sub-layer plus a final LayerNorm) versus post-LayerNorm (GPT-1/BERT: LayerNorm after each residual sum).
Module names follow the papers' structure so that GPT-2, GPT-1 and BERT checkpoints map onto them 1:1.

Shapes: B batch, T sequence length, C = d_model, V vocabulary, H heads.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

GELU_APPROXIMATIONS = ("none", "tanh")


def _near_head_counts(d_model: int, n_head: int) -> list[int]:
    """Valid head counts (divisors of d_model) closest to the requested one, for error messages."""
    divisors = [h for h in range(1, d_model + 1) if d_model % h == 0]
    return sorted(sorted(divisors, key=lambda h: (abs(h - n_head), h))[:3])


@dataclass(kw_only=True)
class ModelConfig:
    """Architecture of a :class:`Transformer`; saved as JSON next to every checkpoint."""

    vocab_size: int  # number of token ids, including special tokens
    n_layer: int  # number of Transformer blocks
    n_head: int  # attention heads per block; must divide d_model
    d_model: int  # width of the residual stream (C)
    d_ff: int | None = None  # hidden width of the MLP; None means 4 * d_model
    context_length: int  # longest sequence the position embeddings cover
    dropout: float = 0.1  # embedding, attention and residual dropout probability
    causal: bool = True  # True: GPT decoder (left-to-right); False: BERT encoder (bidirectional)
    prenorm: bool = True  # True: pre-LN + final LayerNorm (GPT-2); False: post-LN (GPT-1, BERT)
    bias: bool = True  # biases in Linear and LayerNorm layers (and the masked-LM output bias)
    type_vocab_size: int = 0  # token-type (segment) embeddings: 0 for GPT, 2 for BERT sentence A/B
    nsp_head: bool = False  # BERT next-sentence-prediction head (pooler + 2-way classifier)
    layer_norm_eps: float = 1e-5  # LayerNorm epsilon (1e-5 GPT, 1e-12 BERT)
    gelu_approximate: str = "none"  # GELU variant: "none" (exact erf) or "tanh" (GPT-2)
    embed_layer_norm: bool | None = None  # LayerNorm on the embeddings; None: yes for post-LN (BERT)

    def __post_init__(self) -> None:
        for name in ("vocab_size", "n_layer", "n_head", "d_model", "context_length"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive integer, got {value!r}.")
        if self.d_ff is not None and (not isinstance(self.d_ff, int) or self.d_ff < 1):
            raise ValueError(f"d_ff must be a positive integer or None (4 x d_model), got {self.d_ff!r}.")
        if self.d_model % self.n_head:
            near = ", ".join(map(str, _near_head_counts(self.d_model, self.n_head)))
            raise ValueError(
                f"d_model ({self.d_model}) must be divisible by n_head ({self.n_head}); "
                f"try n_head = {near}, or change d_model to a multiple of {self.n_head}."
            )
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout!r}.")
        if self.type_vocab_size < 0:
            raise ValueError(f"type_vocab_size must be 0 (no segments) or more, got {self.type_vocab_size}.")
        if self.nsp_head and self.causal:
            raise ValueError("nsp_head needs a bidirectional encoder: set causal=False or nsp_head=False.")
        if self.layer_norm_eps <= 0:
            raise ValueError(f"layer_norm_eps must be positive, got {self.layer_norm_eps!r}.")
        if self.gelu_approximate not in GELU_APPROXIMATIONS:
            raise ValueError(
                f"gelu_approximate must be one of {GELU_APPROXIMATIONS}, got {self.gelu_approximate!r}."
            )

    @property
    def family(self) -> str:
        """Model family shown in the UI and stored in checkpoints: "gpt" or "bert"."""
        return "gpt" if self.causal else "bert"

    @property
    def ff_dim(self) -> int:
        """The MLP hidden width actually used (d_ff, or 4 * d_model when unset)."""
        return self.d_ff if self.d_ff is not None else 4 * self.d_model

    @property
    def uses_embed_layer_norm(self) -> bool:
        """Whether the embeddings are layer-normalised (explicit setting, else post-LN models do)."""
        return (not self.prenorm) if self.embed_layer_norm is None else self.embed_layer_norm

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready field values."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelConfig:
        """Rebuild a config from :meth:`to_dict` output; unknown keys are an error, not silently dropped."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(
                f"Unknown model config key(s): {', '.join(unknown)}. Valid keys: {', '.join(sorted(known))}."
            )
        return cls(**data)


USE_SHORT_CAUSAL = True  # switch for A/B benchmarks; the SDPA path is the reference
SHORT_CONTEXT = 128  # up to this length, causal attention on CPU uses :class:`_ShortCausalAttention`


class _ShortCausalAttention(torch.autograd.Function):
    """Causal attention as three batched matmuls with a hand-written backward, for short contexts on CPU.

    At nanoGPT's CPU shape (T=64, head size 32) the CPU flash kernel spends more time on tiling and
    bookkeeping than on arithmetic; materialising the (T, T) scores is cheap there and its backward is
    five bmm/softmax calls. Same result as SDPA to ~1e-6 (tested); used only without dropout or masks.
    """

    @staticmethod
    def forward(ctx: Any, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        """q, k, v: (N, T, hs) contiguous; bias: (T, T) with -inf above the diagonal. Returns (N, T, hs)."""
        scale = q.size(-1) ** -0.5
        probs = torch.softmax(torch.baddbmm(bias, q, k.transpose(1, 2), alpha=scale), dim=-1)  # (N, T, T)
        ctx.save_for_backward(q, k, v, probs)
        ctx.scale = scale
        return torch.bmm(probs, v)

    @staticmethod
    def backward(ctx: Any, grad_out: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        """The softmax-attention gradients; the -inf bias makes the masked scores' gradient zero."""
        q, k, v, probs = ctx.saved_tensors
        grad_v = torch.bmm(probs.transpose(1, 2), grad_out)
        grad_probs = torch.bmm(grad_out, v.transpose(1, 2))
        grad_scores = torch._softmax_backward_data(grad_probs, probs, -1, probs.dtype)
        grad_q = torch.bmm(grad_scores, k).mul_(ctx.scale)
        grad_k = torch.bmm(grad_scores.transpose(1, 2), q).mul_(ctx.scale)
        return grad_q, grad_k, grad_v, None


@functools.lru_cache(maxsize=8)
def _causal_bias(T: int, dtype: torch.dtype) -> torch.Tensor:
    """(T, T) additive mask: 0 on and below the diagonal, -inf above (cached per length and dtype)."""
    return torch.full((T, T), float("-inf"), dtype=dtype).triu_(1)


class KVCache:
    """Keys and values of the positions a causal model has already processed, one buffer pair per block.

    Generation feeds one new token per forward pass; without a cache every pass recomputes the keys and
    values of the whole window. Buffers are allocated once at the model's context length (on the first
    write, so they take the activations' device and dtype) and filled in place instead of concatenated.
    """

    def __init__(self, n_layer: int, capacity: int) -> None:
        self.n_layer = n_layer
        self.capacity = capacity  # the model's context_length: positions beyond it have no embedding
        self.length = 0  # positions filled so far (the same in every layer once a forward pass ends)
        self._keys: list[torch.Tensor | None] = [None] * n_layer  # (B, H, capacity, hs) each
        self._values: list[torch.Tensor | None] = [None] * n_layer

    def append(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store the new positions' keys and values (B, H, T, hs); return everything cached, new ones included."""
        keys, values = self._keys[layer], self._values[layer]
        if keys is None or keys.shape[0] != k.shape[0] or keys.dtype != k.dtype or keys.device != k.device:
            shape = (*k.shape[:2], self.capacity, k.shape[3])
            keys = self._keys[layer] = k.new_zeros(shape)
            values = self._values[layer] = v.new_zeros(shape)
        assert values is not None
        end = self.length + k.size(2)
        keys[:, :, self.length:end] = k
        values[:, :, self.length:end] = v
        return keys[:, :, :end], values[:, :, :end]

    def advance(self, count: int) -> None:
        """Mark ``count`` more positions as filled (called once per forward pass, after every block)."""
        self.length += count

    def reset(self) -> None:
        """Forget every position (to re-fill with a slid window); the buffers are reused."""
        self.length = 0


class SelfAttention(nn.Module):
    """Multi-head self-attention with a fused qkv projection, via ``scaled_dot_product_attention``."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.n_head = config.n_head
        self.dropout = config.dropout
        self.qkv = nn.Linear(config.d_model, 3 * config.d_model, bias=config.bias)
        self.proj = nn.Linear(config.d_model, config.d_model, bias=config.bias)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None, is_causal: bool,
                cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        """Attend over the sequence; ``mask`` (B, 1, T, T) bool is True where attention is allowed.

        With a ``cache`` (generation), x holds only the new positions; they attend to the cached keys too.
        """
        if cache is not None:
            return self._forward_cached(x, cache, layer)
        B, T, C = x.shape
        hs = C // self.n_head
        if self._short_causal_path(x, mask, is_causal):
            qkv = self.qkv(x).view(B, T, 3, self.n_head, hs).permute(2, 0, 3, 1, 4).contiguous()  # (3, B, H, T, hs)
            q, k, v = (t.view(B * self.n_head, T, hs) for t in qkv)
            y = _ShortCausalAttention.apply(q, k, v, _causal_bias(T, x.dtype)).view(B, self.n_head, T, hs)
            return self.proj(y.transpose(1, 2).reshape(B, T, C))  # (B, T, C)
        q, k, v = self.qkv(x).split(C, dim=2)  # 3 x (B, T, C)
        q, k, v = (t.view(B, T, self.n_head, hs).transpose(1, 2) for t in (q, k, v))  # 3 x (B, H, T, C/H)
        y = F.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, dropout_p=self.dropout if self.training else 0.0, is_causal=is_causal
        )  # (B, H, T, C/H)
        return self.proj(y.transpose(1, 2).reshape(B, T, C))  # (B, T, C)

    def _forward_cached(self, x: torch.Tensor, cache: KVCache, layer: int) -> torch.Tensor:
        """Causal attention of T new positions over the ``cache.length`` cached ones plus themselves."""
        B, T, C = x.shape
        hs = C // self.n_head
        q, k, v = self.qkv(x).split(C, dim=2)  # 3 x (B, T, C)
        q, k, v = (t.view(B, T, self.n_head, hs).transpose(1, 2) for t in (q, k, v))  # 3 x (B, H, T, hs)
        keys, values = cache.append(layer, k, v)  # 2 x (B, H, start + T, hs)
        start = keys.size(2) - T
        if T == 1:  # the usual decoding step: one query sees every key, no mask at all
            mask, is_causal = None, False
        elif start == 0:  # the prompt (pre-fill): plain causal attention
            mask, is_causal = None, True
        else:  # several new tokens after cached ones: query i sees keys up to start + i
            mask = torch.ones(T, start + T, dtype=torch.bool, device=x.device).tril(diagonal=start)
            is_causal = False
        y = F.scaled_dot_product_attention(q, keys, values, attn_mask=mask, is_causal=is_causal)  # (B, H, T, hs)
        return self.proj(y.transpose(1, 2).reshape(B, T, C))  # (B, T, C)

    def _short_causal_path(self, x: torch.Tensor, mask: torch.Tensor | None, is_causal: bool) -> bool:
        """Whether :class:`_ShortCausalAttention` applies: CPU, fp32, causal, no mask, no dropout, short T."""
        return (USE_SHORT_CAUSAL and is_causal and mask is None and x.device.type == "cpu"
                and x.dtype == torch.float32 and x.size(1) <= SHORT_CONTEXT
                and not (self.training and self.dropout > 0) and not torch.is_autocast_enabled("cpu"))


class MLP(nn.Module):
    """Position-wise feed-forward network: Linear, GELU, Linear."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.fc = nn.Linear(config.d_model, config.ff_dim, bias=config.bias)
        self.act = nn.GELU(approximate=config.gelu_approximate)
        self.proj = nn.Linear(config.ff_dim, config.d_model, bias=config.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Transform each position independently."""
        return self.proj(self.act(self.fc(x)))  # (B, T, C)


class Block(nn.Module):
    """One Transformer block; pre-LN (x + f(LN(x))) or post-LN (LN(x + f(x))) per the config."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.prenorm = config.prenorm
        self.ln_1 = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps, bias=config.bias)
        self.attn = SelfAttention(config)
        self.ln_2 = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps, bias=config.bias)
        self.mlp = MLP(config)
        self.drop = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None, is_causal: bool,
                cache: KVCache | None = None, layer: int = 0) -> torch.Tensor:
        """Apply attention then the MLP, each with a residual connection."""
        if self.prenorm:
            x = x + self.drop(self.attn(self.ln_1(x), mask, is_causal, cache, layer))
            return x + self.drop(self.mlp(self.ln_2(x)))
        x = self.ln_1(x + self.drop(self.attn(x, mask, is_causal, cache, layer)))
        return self.ln_2(x + self.drop(self.mlp(x)))


class Transformer(nn.Module):
    """Embeddings, a stack of blocks and the heads (tied LM, masked-LM, next-sentence) of GPT and BERT."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        d, eps, bias = config.d_model, config.layer_norm_eps, config.bias
        self.wte = nn.Embedding(config.vocab_size, d)  # token embedding We, tied to the output layer
        self.wpe = nn.Embedding(config.context_length, d)  # learned position embedding Wp
        self.wtt = nn.Embedding(config.type_vocab_size, d) if config.type_vocab_size else None
        self.ln_emb = nn.LayerNorm(d, eps=eps, bias=bias) if config.uses_embed_layer_norm else None
        self.drop = nn.Dropout(config.dropout)
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.n_layer))
        self.ln_f = nn.LayerNorm(d, eps=eps, bias=bias) if config.prenorm else None
        if not config.causal:  # masked-LM head: transform, then the tied decoder plus an output bias
            self.mlm_dense = nn.Linear(d, d, bias=bias)
            self.mlm_act = nn.GELU(approximate=config.gelu_approximate)
            self.mlm_ln = nn.LayerNorm(d, eps=eps, bias=bias)
            self.mlm_bias = nn.Parameter(torch.zeros(config.vocab_size)) if bias else None
        if config.nsp_head:
            self.pooler = nn.Linear(d, d, bias=bias)
            self.nsp = nn.Linear(d, 2, bias=bias)
        self.apply(self._init_weights)
        for name, param in self.named_parameters():
            if name.endswith(("attn.proj.weight", "mlp.proj.weight")):  # GPT-2: scale residual projections
                nn.init.normal_(param, mean=0.0, std=0.02 / math.sqrt(2 * config.n_layer))

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        """GPT-2 initialisation: N(0, 0.02) weights, zero biases, unit LayerNorm gains."""
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)

    def _attention_mask(
        self, attention_mask: torch.Tensor | None, T: int
    ) -> tuple[torch.Tensor | None, bool]:
        """Turn a (B, T) 1=real/0=pad mask into SDPA's (B, 1, T, T) bool mask, or use the causal fast path.

        A (B, T, T) mask says directly which keys each query may see (packed rows: several continuations
        after one shared context, each seeing the context and itself only); a causal model still never
        lets a query see a later position.
        """
        if attention_mask is None:
            return None, self.config.causal
        if attention_mask.dim() == 3:
            mask = attention_mask.to(torch.bool)[:, None]  # (B, 1, T, T)
        else:
            keys = attention_mask.to(torch.bool)[:, None, None, :]  # (B, 1, 1, T)
            mask = keys.expand(-1, 1, T, T)  # (B, 1, T, T)
        eye = torch.eye(T, dtype=torch.bool, device=mask.device)  # a query always sees itself: no empty rows
        if self.config.causal:
            mask = mask & torch.ones(T, T, dtype=torch.bool, device=mask.device).tril()
        return mask | eye, False

    def forward(
        self,
        idx: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
        attention_mask: torch.Tensor | None = None,
        past_key_values: KVCache | None = None,
        position_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Run token ids (B, T) through the network and return the final hidden states (B, T, C).

        With ``past_key_values`` (causal models, for generation) ``idx`` holds only the tokens that follow
        the cached ones: they take the next positions, attend to the cache, and are appended to it.
        ``position_ids`` (B, T) replaces the default 0..T-1 (packed rows, where continuations restart at the
        position after their shared context); it goes with a (B, T, T) ``attention_mask``.
        """
        B, T = idx.shape
        start = self._check_cache(past_key_values, attention_mask, T)
        if start + T > self.config.context_length and position_ids is None:
            raise ValueError(
                f"Sequence of {start + T} tokens is longer than the model's context_length "
                f"({self.config.context_length}); crop it or use a model with a longer context."
            )
        if position_ids is not None:
            if past_key_values is not None:
                raise ValueError("position_ids and past_key_values cannot be combined.")
            pos = position_ids  # (B, T)
        else:
            pos = torch.arange(start, start + T, device=idx.device)  # (T,)
        h = self.wte(idx) + self.wpe(pos)  # (B, T, C): h0 = U·We + Wp
        if self.wtt is not None:
            if token_type_ids is None:
                token_type_ids = torch.zeros_like(idx)
            h = h + self.wtt(token_type_ids)  # (B, T, C)
        elif token_type_ids is not None:
            raise ValueError("token_type_ids given, but this model has no segment embeddings; drop them.")
        if self.ln_emb is not None:
            h = self.ln_emb(h)
        h = self.drop(h)
        mask, is_causal = self._attention_mask(attention_mask, T)
        for layer, block in enumerate(self.blocks):
            h = block(h, mask, is_causal, past_key_values, layer)  # (B, T, C)
        if past_key_values is not None:
            past_key_values.advance(T)
        return self.ln_f(h) if self.ln_f is not None else h

    def _check_cache(self, cache: KVCache | None, attention_mask: torch.Tensor | None, T: int) -> int:
        """The position of the first new token: the cache's length, or 0 without a cache."""
        if cache is None:
            return 0
        if not self.config.causal:
            raise ValueError("A key/value cache is for causal (GPT-style) generation; this is a bidirectional encoder.")
        if attention_mask is not None:
            raise ValueError("past_key_values and attention_mask cannot be combined; the cache is for one "
                             "unpadded sequence per row.")
        if cache.n_layer != self.config.n_layer or cache.capacity != self.config.context_length:
            raise ValueError("This key/value cache was made for another model; create one with new_kv_cache().")
        return cache.length

    def new_kv_cache(self) -> KVCache:
        """An empty key/value cache sized for this model's context (buffers appear on first use)."""
        return KVCache(self.config.n_layer, self.config.context_length)

    def lm_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Next-token logits (B, T, V) through the output layer tied to the token embedding: h·Weᵀ."""
        return F.linear(hidden, self.wte.weight)

    def mlm_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Masked-LM logits (B, T, V): dense + GELU + LayerNorm, then the tied decoder plus output bias."""
        if self.config.causal:
            raise ValueError("mlm_logits needs a bidirectional (BERT-style) model; this one is causal.")
        x = self.mlm_ln(self.mlm_act(self.mlm_dense(hidden)))  # (B, T, C)
        return F.linear(x, self.wte.weight, self.mlm_bias)  # (B, T, V)

    def pooled(self, hidden: torch.Tensor) -> torch.Tensor:
        """BERT pooler: tanh(Linear(h at position 0)), shape (B, C); the input of sentence-level heads."""
        if not self.config.nsp_head:
            raise ValueError("This model has no pooler: it was built with nsp_head=False.")
        return torch.tanh(self.pooler(hidden[:, 0]))  # (B, C)

    def nsp_logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """Next-sentence logits (B, 2); index 0 = "B follows A", 1 = "B is random" (BERT's convention)."""
        return self.nsp(self.pooled(hidden))  # (B, 2)

    def num_parameters(self, non_embedding: bool = False) -> int:
        """Count unique parameters (tied weights once); optionally without token/position/type embeddings."""
        total = sum(p.numel() for p in self.parameters())  # parameters() already de-duplicates shared tensors
        if non_embedding:
            total -= sum(e.weight.numel() for e in (self.wte, self.wpe, self.wtt) if e is not None)
        return total

    @torch.no_grad()
    def generate(
        self,
        idx: torch.Tensor,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_k: int | None = None,
        generator: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Sample a continuation of idx (B, T) without a KV cache; temperature <= 0 means greedy decoding."""
        if not self.config.causal:
            raise ValueError("generate needs a causal (GPT-style) model; this is a bidirectional encoder.")
        for _ in range(max_new_tokens):
            window = idx[:, -self.config.context_length :]  # (B, <=ctx)
            logits = self.lm_logits(self(window)[:, -1, :])  # (B, V)
            if temperature <= 0:
                nxt = logits.argmax(dim=-1, keepdim=True)  # (B, 1)
            else:
                logits = logits / temperature
                if top_k is not None:
                    kth = torch.topk(logits, min(top_k, logits.size(-1))).values[:, -1:]  # (B, 1)
                    logits = logits.masked_fill(logits < kth, float("-inf"))
                probs = F.softmax(logits, dim=-1)
                nxt = torch.multinomial(probs, num_samples=1, generator=generator)  # (B, 1)
            idx = torch.cat([idx, nxt], dim=1)
        return idx


def count_parameters(config: ModelConfig, non_embedding: bool = False) -> int:
    """Parameters of ``Transformer(config)`` computed analytically (no allocation); equals num_parameters."""
    d, ff, b = config.d_model, config.ff_dim, int(config.bias)

    def linear(n_in: int, n_out: int) -> int:
        return n_in * n_out + b * n_out

    layer_norm = d * (1 + b)
    embeddings = d * (config.vocab_size + config.context_length + config.type_vocab_size)
    block = 2 * layer_norm + linear(d, 3 * d) + linear(d, d) + linear(d, ff) + linear(ff, d)
    total = config.n_layer * block
    total += layer_norm * (int(config.uses_embed_layer_norm) + int(config.prenorm))
    if not config.causal:
        total += linear(d, d) + layer_norm + b * config.vocab_size
    if config.nsp_head:
        total += linear(d, d) + linear(d, 2)
    return total if non_embedding else total + embeddings


# ----------------------------------------------------------------------------------------------- presets

PresetFn = Callable[..., ModelConfig]
PRESETS: dict[str, PresetFn] = {}
_DESCRIPTIONS: dict[str, str] = {}


def _register(name: str, description: str) -> Callable[[PresetFn], PresetFn]:
    """Add a preset function to :data:`PRESETS` under ``name`` with a one-line description."""

    def decorator(fn: PresetFn) -> PresetFn:
        PRESETS[name] = fn
        _DESCRIPTIONS[name] = description
        return fn

    return decorator


@_register("tiny-gpt", "2-layer causal decoder, d=64: trains in seconds on a CPU; for trying things out")
def tiny_gpt(*, vocab_size: int = 512) -> ModelConfig:
    """A minimal GPT for smoke tests and first runs."""
    return ModelConfig(vocab_size=vocab_size, n_layer=2, n_head=2, d_model=64, context_length=64, dropout=0.0)


@_register("tiny-bert", "2-layer bidirectional encoder, d=64, segments + MLM head: seconds on a CPU")
def tiny_bert(*, vocab_size: int = 512) -> ModelConfig:
    """A minimal BERT (masked-LM only) for smoke tests and first runs."""
    return ModelConfig(
        vocab_size=vocab_size,
        n_layer=2,
        n_head=2,
        d_model=64,
        context_length=64,
        dropout=0.0,
        causal=False,
        prenorm=False,
        type_vocab_size=2,
        layer_norm_eps=1e-12,
    )


@_register("shakespeare-char", "nanoGPT's CPU recipe: 4 layers, 4 heads, d=128, 64 tokens of context")
def shakespeare_char(*, vocab_size: int = 65) -> ModelConfig:
    """The character-level Shakespeare model nanoGPT trains on a laptop CPU (no biases, as nanoGPT's train.py)."""
    return ModelConfig(
        vocab_size=vocab_size, n_layer=4, n_head=4, d_model=128, context_length=64, dropout=0.0, bias=False
    )


@_register("gpt1", "GPT-1 (Radford et al. 2018): 12 layers, d=768, 12 heads, 512 context, post-LN")
def gpt1(*, vocab_size: int = 40478) -> ModelConfig:
    """The original GPT: post-LN decoder without embedding LayerNorm, 40,478-token BPE vocabulary."""
    return ModelConfig(
        vocab_size=vocab_size,
        n_layer=12,
        n_head=12,
        d_model=768,
        d_ff=3072,
        context_length=512,
        dropout=0.1,
        prenorm=False,
        embed_layer_norm=False,
    )


@_register("bert-base", "BERT-Base (Devlin et al. 2018): 12 layers, d=768, 12 heads, 512 context, MLM + NSP")
def bert_base(*, vocab_size: int = 30522) -> ModelConfig:
    """BERT-Base with segment embeddings, masked-LM and next-sentence heads, 30,522-token WordPiece vocab."""
    return ModelConfig(
        vocab_size=vocab_size,
        n_layer=12,
        n_head=12,
        d_model=768,
        d_ff=3072,
        context_length=512,
        dropout=0.1,
        causal=False,
        prenorm=False,
        type_vocab_size=2,
        nsp_head=True,
        layer_norm_eps=1e-12,
    )


def preset(name: str, **overrides: Any) -> ModelConfig:
    """Build a preset's config, then apply field overrides (``vocab_size`` and any ModelConfig field)."""
    if name not in PRESETS:
        raise ValueError(f"Unknown model preset {name!r}. Valid presets: {', '.join(PRESETS)}.")
    fields = {f.name for f in dataclasses.fields(ModelConfig)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        valid = ", ".join(sorted(fields))
        raise ValueError(f"Unknown model setting(s) {', '.join(unknown)}; valid settings: {valid}.")
    vocab = {"vocab_size": overrides.pop("vocab_size")} if "vocab_size" in overrides else {}
    config = PRESETS[name](**vocab)
    return dataclasses.replace(config, **overrides) if overrides else config


@dataclass(frozen=True)
class PresetInfo:
    """What the UI shows for a preset: its one-line description and real parameter counts."""

    name: str  # key in PRESETS
    description: str  # one line for a chooser
    parameters: int  # total unique parameters at the preset's default vocabulary
    non_embedding_parameters: int  # without token/position/type embeddings

    @property
    def line(self) -> str:
        """``name — description (N params)`` with N in K/M."""
        n = self.parameters
        size = f"{n / 1e6:.1f}M" if n >= 1e6 else f"{n / 1e3:.0f}K"
        return f"{self.name} — {self.description} ({size} parameters)"


def preset_descriptions() -> dict[str, PresetInfo]:
    """One :class:`PresetInfo` per preset, with parameter counts at each preset's default vocabulary."""
    infos = {}
    for name, fn in PRESETS.items():
        config = fn()
        infos[name] = PresetInfo(
            name=name,
            description=_DESCRIPTIONS[name],
            parameters=count_parameters(config),
            non_embedding_parameters=count_parameters(config, non_embedding=True),
        )
    return infos
