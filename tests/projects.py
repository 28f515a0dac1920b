"""Test helpers: private copies of the session's shared project, so runs and models written by one test file are
seen by no other; and a recorder for the error dialogs a module would show."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import ModuleType

import pytest

from gpt_studio.engine.project import Project, open_project


def private_copy(project: Project, root: Path) -> Project:
    """``project`` copied to ``root`` without its runs (corpus, tokenizer and shards only), opened."""
    shutil.copytree(project.root, root, ignore=shutil.ignore_patterns("runs"))
    return open_project(root)


def pretrained_copy(project: Project, root: Path) -> Project:
    """A private copy with one tiny GPT pretrained for 30 steps: a base for fine-tuning tests."""
    from gpt_studio.engine.pretrain import pretrain

    copy = private_copy(project, root)
    pretrain(copy, preset_name="tiny-gpt", max_steps=30,
             settings={"eval_batches": 2, "batch_size": 8, "eval_interval": 15, "checkpoint_interval": 30,
                       "warmup_steps": 2, "lr": 3e-3, "sample_tokens": 0})
    return copy


def capture_errors(monkeypatch: pytest.MonkeyPatch, module: ModuleType) -> list[tuple[str, str]]:
    """Replace ``module.show_error`` for the test: the (reason, details) it would have shown, in order."""
    shown: list[tuple[str, str]] = []
    monkeypatch.setattr(module, "show_error", lambda parent, reason, details="": shown.append((reason, details)))
    return shown
