"""Test helper: private copies of the session's shared project, so runs and models written by one test file are
seen by no other."""

from __future__ import annotations

import shutil
from pathlib import Path

from gpt_studio.engine.project import Project, open_project


def private_copy(project: Project, root: Path) -> Project:
    """``project`` copied to ``root`` without its runs (corpus, tokenizer and shards only), opened."""
    shutil.copytree(project.root, root, ignore=shutil.ignore_patterns("runs"))
    return open_project(root)
