"""A small reporter that long engine jobs receive, so they can show progress and be cancelled without Qt.

The engine calls ``reporter.progress(done, total, message)`` as it goes and ``reporter.check()`` at safe points;
``check`` raises :class:`CancelledError` once someone called ``cancel()`` from another thread. The UI's worker
wraps one of these and turns progress into signals; the CLI prints it to stderr.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable

from gpt_studio.engine.errors import CancelledError

ProgressFn = Callable[[float, float, str], None]


class Reporter:
    """Progress sink plus a thread-safe cancel flag; throttles progress calls to keep hot loops cheap."""

    def __init__(self, on_progress: ProgressFn | None = None, min_interval_s: float = 0.05) -> None:
        self._on_progress = on_progress
        self._cancel = threading.Event()
        self._min_interval_s = min_interval_s
        self._last_emit = 0.0
        self.what = "the job"

    def progress(self, done: float, total: float, message: str = "", force: bool = False) -> None:
        """Report ``done`` of ``total`` units (``total`` 0 = unknown); rate-limited unless ``force``."""
        if self._on_progress is None:
            return
        now = time.monotonic()
        if force or now - self._last_emit >= self._min_interval_s or (total and done >= total):
            self._last_emit = now
            self._on_progress(done, total, message)

    def cancel(self) -> None:
        """Ask the job to stop at its next safe point (callable from any thread)."""
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        """Whether cancellation was requested."""
        return self._cancel.is_set()

    def check(self) -> None:
        """Raise :class:`CancelledError` if cancellation was requested."""
        if self._cancel.is_set():
            raise CancelledError(self.what)


_line_open = False


def end_progress_line() -> None:
    """Finish an updating stderr progress line so the next message starts on a line of its own."""
    global _line_open
    if _line_open:
        sys.stderr.write("\n")
        sys.stderr.flush()
        _line_open = False


def stderr_reporter(enabled: bool = True) -> Reporter:
    """A reporter that draws one updating progress line on stderr (for the CLI)."""
    if not enabled:
        return Reporter()

    def show(done: float, total: float, message: str) -> None:
        global _line_open
        pct = f"{100.0 * done / total:5.1f}% " if total else ""
        sys.stderr.write(f"\r{pct}{message[:100]:<100}")
        _line_open = True
        if total and done >= total:
            end_progress_line()
        sys.stderr.flush()

    return Reporter(show, min_interval_s=0.2)
