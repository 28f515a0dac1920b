"""Text generation on a QThread: the engine's streamed pieces become coalesced Qt signals, with a stop button.

Why not a plain :class:`~gpt_studio.workers.job.Job`: generation has a result that grows as it goes. A queued
signal per token (hundreds per second on a tiny model) keeps the GUI thread busy and, through the GIL, slows
generation itself (NOTES-qt), so ``text_streamed`` carries every piece since the previous emit, at most every
50 ms; the end flushes the rest first. Wiring as in :mod:`gpt_studio.workers.training`: a parentless worker
moved to its own QThread emits, and its signals are forwarded to this GUI-thread object, so every slot, lambdas
included, runs on the GUI thread. Stop is cooperative: the engine checks the flag between tokens.
"""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Callable, Iterable
from typing import Any

from PySide6.QtCore import QObject, Signal, Slot

from gpt_studio.engine.errors import StudioError
from gpt_studio.workers.threaded import ThreadedJob, hand_back

STREAM_EMIT_INTERVAL_S = 0.05  # at most ~20 text_streamed per second

# (model, tokenizer, prompt, options, cancel) -> pieces; the engine's generate_stream has this shape, and its
# stream also tells ``token_ids`` and ``stop_reason``, used when there
StreamFn = Callable[[Any, Any, str, Any, Callable[[], bool]], Iterable[str]]


class _GenerationWorker(QObject):
    """Runs on the job's QThread: iterates the stream, coalesces pieces, times the tokens."""

    text_streamed = Signal(str, int)
    failed = Signal(str, str)
    finished = Signal(object)

    def __init__(self, stream: StreamFn, model: Any, tokenizer: Any, prompt: str, options: Any) -> None:
        super().__init__()
        self._tokens = 0
        self._args = (model, tokenizer, prompt, options)
        self._stream = stream
        self.stop_event = threading.Event()
        self._pending: list[str] = []
        self._last_emit = -float("inf")

    @Slot()
    def run(self) -> None:
        """The thread's body: exactly one ``finished(stats)`` at the end, whatever happens."""
        started, first_at, error = time.perf_counter(), None, False
        stream: Any = None
        yielded, text = 0, []
        try:
            stream = self._stream(*self._args, self.stop_event.is_set)
            for piece in stream:
                if first_at is None:
                    first_at = time.perf_counter()
                yielded += 1
                # the engine's stream counts its tokens (a piece may hold several); else one per piece
                self._tokens = len(getattr(stream, "token_ids", ())) or yielded
                text.append(piece)
                self._add(piece)
        except StudioError as exc:
            error = True
            self.failed.emit(str(exc), "")
        except MemoryError:
            error = True
            self.failed.emit("Out of memory while generating; ask for fewer tokens.", traceback.format_exc())
        except Exception as exc:  # noqa: BLE001 - any bug becomes a dialog, never a dead GUI
            error = True
            self.failed.emit(f"Generation failed: {exc}", traceback.format_exc())
        finally:
            self._flush()
            tokens = len(getattr(stream, "token_ids", ())) or yielded
            reason = "error" if error else getattr(stream, "stop_reason", "") or (
                "cancelled" if self.stop_event.is_set() else "max_tokens")
            stream, self._stream, self._args = None, None, ()  # the model and the stream's frames go here
            hand_back(self)
            self.finished.emit(_stats(tokens, started, first_at, "".join(text), reason))

    def _add(self, piece: str) -> None:
        self._pending.append(piece)
        if time.monotonic() - self._last_emit >= STREAM_EMIT_INTERVAL_S:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            text, self._pending = "".join(self._pending), []
            self._last_emit = time.monotonic()
            self.text_streamed.emit(text, self._tokens)


def _stats(tokens: int, started: float, first_at: float | None, text: str, reason: str) -> dict[str, Any]:
    """What the Generate tab reports: tokens, seconds and the rate after the first token (the prompt's pass)."""
    end = time.perf_counter()
    # the first token waits for the prompt's forward pass; the rate after it is what the cache makes fast
    streaming = end - first_at if first_at is not None else 0.0
    rate = (tokens - 1) / streaming if tokens > 1 and streaming > 0 else 0.0
    return {"tokens": tokens, "seconds": end - started, "tokens_per_second": rate, "text": text, "reason": reason}


class GenerationJob(ThreadedJob):
    """Streams a continuation of ``prompt`` on its own thread.

    Signals: ``text_streamed(text, tokens)`` (the pieces since the last emit, in order, and the number of
    tokens so far); ``failed(reason, details)``
    for an exception (a :class:`StudioError` has empty details); always ``finished(stats)`` last, with
    ``tokens``, ``seconds``, ``tokens_per_second``, ``text`` and ``reason``: the engine's stop reason
    (max_tokens, stop, eos, cancelled) or error.
    """

    text_streamed = Signal(str, int)
    what = "generating text"

    def __init__(self, stream: StreamFn, model: Any, tokenizer: Any, prompt: str, options: Any) -> None:
        super().__init__()
        self._run_on_thread(_GenerationWorker(stream, model, tokenizer, prompt, options), "generation",
                            ("text_streamed", "failed"))

    def stop(self) -> None:
        """Stop after the current token (callable from any thread)."""
        self._worker.stop_event.set()
