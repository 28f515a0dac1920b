"""Text generation for causal models: sampling controls, a key/value cache and text streamed as it comes.

Each new token costs one forward pass of one position over the cached keys and values, instead of the whole
window again (:class:`model.KVCache`). Learned position embeddings stop at the context length, so when the
window is full it slides: the cache is re-filled from the last three quarters of the context and decoding
goes on (without the cache every step re-reads the last ``context_length`` tokens, as ``Transformer.generate``).

The prompt is preceded by ``</s>``, the separator the shards put before every document, so an empty prompt
starts a new document (as the trainer's samples do).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import torch

from gpt_studio.engine.errors import StudioError
from gpt_studio.engine.model import KVCache, Transformer
from gpt_studio.engine.tokenizer import Tokenizer

CancelFn = Callable[[], bool]
KEEP_ON_SLIDE = 0.75  # share of the context kept when the window slides (re-filled into the cache)
REPLACEMENT = "\ufffd"  # what decoding shows for an incomplete UTF-8 byte sequence


@dataclass
class GenerateOptions:
    """Sampling settings of one generation; temperature 0 is greedy decoding (deterministic)."""

    max_new_tokens: int = 100  # tokens to generate at most
    temperature: float = 0.8  # divides the logits: < 1 sharper, > 1 flatter; 0 = always the most likely token
    top_k: int | None = 40  # sample among the k most likely tokens only; None or 0 = no limit
    top_p: float = 1.0  # nucleus: the smallest set of tokens whose probabilities reach p; 1 = no limit
    stop: list[str] = field(default_factory=list)  # generation ends before the first of these texts
    seed: int | None = None  # fixes the sampling; None = different every time
    use_cache: bool = True  # key/value cache (off: recompute the window each step, for comparison)

    def __post_init__(self) -> None:
        if not isinstance(self.max_new_tokens, int) or self.max_new_tokens < 0:
            raise ValueError(f"max tokens must be 0 or more, not {self.max_new_tokens!r}.")
        if self.temperature < 0:
            raise ValueError(f"temperature must be 0 (greedy) or more, not {self.temperature}.")
        if self.top_k is not None and self.top_k < 0:
            raise ValueError(f"top-k must be 1 or more (or 0 for no limit), not {self.top_k}.")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"top-p must be in (0, 1], not {self.top_p}; 1 keeps every token.")
        self.stop = [s for s in self.stop if s]


def _filter_logits(logits: torch.Tensor, top_k: int | None, top_p: float) -> torch.Tensor:
    """Keep the top-k tokens, then the smallest nucleus of probability ``top_p``; the rest get -inf. (V,)."""
    if top_k:
        kth = torch.topk(logits, min(top_k, logits.size(-1))).values[-1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = torch.sort(logits, descending=True)
        cumulative = torch.softmax(sorted_logits, dim=-1).cumsum(-1)
        drop = cumulative - torch.softmax(sorted_logits, dim=-1) >= top_p  # mass before this token already >= p
        logits = logits.masked_fill(torch.zeros_like(drop).scatter(0, order, drop), float("-inf"))
    return logits


class _Decoder:
    """Turns the growing list of token ids into new text pieces, holding back what might still change.

    A byte-fallback character spans several tokens and decodes to U+FFFD until complete; text that could be
    the start of a stop string is held until it is clear it is not one.
    """

    def __init__(self, tokenizer: Tokenizer, stop: list[str]) -> None:
        self.tokenizer, self.stop = tokenizer, stop
        self.ids: list[int] = []
        self.emitted = 0  # characters of the text already handed out
        self.stopped = False
        self.text = ""

    def push(self, token: int) -> str:
        """Add a token; return the text that is now final (may be empty)."""
        self.ids.append(token)
        self.text = self.tokenizer.decode(self.ids)
        for stop in self.stop:
            at = self.text.find(stop, max(0, self.emitted - len(stop)))
            if at >= 0:
                self.stopped = True
                self.text = self.text[:at]
                return self.flush()
        safe = len(self.text.rstrip(REPLACEMENT)) if self.text.endswith(REPLACEMENT) else len(self.text)
        safe -= max((n for s in self.stop for n in range(1, len(s)) if self.text[:safe].endswith(s[:n])),
                    default=0)
        return self._take(max(safe, self.emitted))

    def flush(self) -> str:
        """Everything not yet handed out (at the end)."""
        return self._take(len(self.text))

    def _take(self, upto: int) -> str:
        piece = self.text[self.emitted:upto]
        self.emitted = max(self.emitted, upto)
        return piece


class GenerationStream:
    """An iterator of text pieces that also records the tokens, the reason it stopped and the time taken."""

    def __init__(self, model: Transformer, tokenizer: Tokenizer, prompt: str, options: GenerateOptions,
                 cancel: CancelFn | None = None) -> None:
        if not model.config.causal:
            raise StudioError("Generation needs a causal (GPT-style) model; this is a masked (BERT-style) model. "
                              "Use Fill mask with it, or pick a GPT model.")
        self.model, self.tokenizer, self.options, self.cancel = model, tokenizer, options, cancel
        self.prompt_ids = [tokenizer.eos_id, *tokenizer.encode(prompt)]
        self.token_ids: list[int] = []  # generated ids (the stop string's tokens included, </s> not)
        self.stop_reason = ""  # max_tokens | stop | eos | cancelled
        self.seconds = 0.0
        self.text = ""
        self._decoder = _Decoder(tokenizer, options.stop)
        self._pieces = self._run()

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        return next(self._pieces)

    def _run(self) -> Iterator[str]:
        model, options = self.model, self.options
        was_training = model.training
        model.eval()
        started = time.perf_counter()
        try:
            stepper = _Stepper(model, self.prompt_ids, options.use_cache)
            generator = _generator(options.seed, stepper.device)
            allowed = {self.tokenizer.eos_id, self.tokenizer.unk_id}
            banned = torch.tensor(sorted(set(self.tokenizer.special_ids) - allowed), device=stepper.device)
            self.stop_reason = "max_tokens"
            for _ in range(options.max_new_tokens):
                if self.cancel is not None and self.cancel():
                    self.stop_reason = "cancelled"
                    break
                with torch.no_grad():
                    logits = stepper.logits().float()  # (V,)
                logits[banned] = float("-inf")  # padding, [MASK], [CLS] ... never appear as a GPT's next token
                token = _pick(logits, options, generator)
                if token == self.tokenizer.eos_id:
                    self.stop_reason = "eos"
                    break
                self.token_ids.append(token)
                stepper.push(token)
                piece = self._decoder.push(token)
                if piece:
                    yield piece
                if self._decoder.stopped:
                    self.stop_reason = "stop"
                    break
            rest = self._decoder.flush()
            if rest:
                yield rest
        finally:
            self.text = self._decoder.text
            self.seconds = time.perf_counter() - started
            model.train(was_training)


def _generator(seed: int | None, device: torch.device) -> torch.Generator | None:
    if seed is None:
        return None
    return torch.Generator(device=device).manual_seed(seed)


def _pick(logits: torch.Tensor, options: GenerateOptions, generator: torch.Generator | None) -> int:
    """The next token: argmax at temperature 0, else a sample from the filtered, tempered distribution."""
    if options.temperature <= 0:
        return int(logits.argmax())
    logits = _filter_logits(logits / options.temperature, options.top_k, options.top_p)
    probs = torch.softmax(logits, dim=-1)
    return int(torch.multinomial(probs, 1, generator=generator))


class _Stepper:
    """Next-token logits for a growing sequence, with or without the key/value cache."""

    def __init__(self, model: Transformer, prompt_ids: list[int], use_cache: bool) -> None:
        self.model, self.use_cache = model, use_cache
        self.device = next(model.parameters()).device
        self.ids = list(prompt_ids)
        self.limit = model.config.context_length
        self.cache: KVCache | None = model.new_kv_cache() if use_cache else None
        self._pending: list[int] = []  # tokens not yet in the cache
        self._last = torch.empty(0)  # logits after the last cached position

    def push(self, token: int) -> None:
        """Append the chosen token."""
        self.ids.append(token)
        self._pending.append(token)

    def logits(self) -> torch.Tensor:
        """Logits (V,) for the token after ``self.ids``."""
        model = self.model
        if self.cache is None:
            window = torch.tensor([self.ids[-self.limit:]], device=self.device)
            return model.lm_logits(model(window)[0, -1])
        if self.cache.length == 0 or self.cache.length + len(self._pending) > self.limit:
            self._refill()
        elif self._pending:
            new = torch.tensor([self._pending], device=self.device)
            self._last = model.lm_logits(model(new, past_key_values=self.cache)[0, -1])
        self._pending = []
        return self._last

    def _refill(self) -> None:
        """Start the cache over from the last tokens: all of them if they fit, else 3/4 of a context (the slide)."""
        assert self.cache is not None
        keep = len(self.ids) if len(self.ids) <= self.limit else max(1, int(self.limit * KEEP_ON_SLIDE))
        self.cache.reset()
        window = torch.tensor([self.ids[-keep:]], device=self.device)
        self._last = self.model.lm_logits(self.model(window, past_key_values=self.cache)[0, -1])


def generate_stream(model: Transformer, tokenizer: Tokenizer, prompt: str, options: GenerateOptions,
                    cancel: CancelFn | None = None) -> Iterator[str]:
    """Yield the continuation of ``prompt`` piece by piece, as the tokens come.

    Stops at max tokens, a stop text (not included), ``</s>`` or ``cancel()``. Pieces are decoded from the
    whole sequence so characters spread over several byte tokens come out whole. The returned
    :class:`GenerationStream` also records the token ids, the stop reason and the time taken.
    """
    return GenerationStream(model, tokenizer, prompt, options, cancel)


def generate(model: Transformer, tokenizer: Tokenizer, prompt: str, options: GenerateOptions,
             cancel: CancelFn | None = None) -> dict[str, Any]:
    """Generate to the end: text, tokens (count), token_ids, stop_reason, seconds, tokens_per_second."""
    stream = GenerationStream(model, tokenizer, prompt, options, cancel)
    for _ in stream:
        pass
    count = len(stream.token_ids)
    return {"text": stream.text, "tokens": count, "token_ids": stream.token_ids, "stop_reason": stream.stop_reason,
            "prompt_tokens": len(stream.prompt_ids), "seconds": stream.seconds,
            "tokens_per_second": count / stream.seconds if stream.seconds > 0 else 0.0}
