"""The SentencePiece trainer's child process, kept in a module with no heavy imports so it starts fast.

Child processes are always spawned, never forked: a fork of a process whose native thread pools
(SentencePiece's own, torch's OpenMP, Qt's) are in use can deadlock in the child.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def train(kwargs: dict[str, Any], seed: int, log_path: str, error_path: str, nice: int = 0) -> None:
    """Run the trainer with its log (stderr) sent to a file that the parent reads for progress.

    ``nice`` lowers the child's priority (where the system has it): for checks nobody waits on.
    """
    if nice and hasattr(os, "nice"):
        os.nice(nice)
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    os.dup2(fd, 2)
    import sentencepiece as spm

    try:
        spm.set_random_generator_seed(seed)
        spm.SentencePieceTrainer.train(**kwargs)
    except Exception as exc:  # noqa: BLE001 - any trainer failure is reported to the parent as text
        Path(error_path).write_text(str(exc), encoding="utf-8")
        os._exit(1)
    os._exit(0)
