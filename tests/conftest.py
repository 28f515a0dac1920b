"""Shared fixtures: real datasets from ../shared/datasets and ready-made projects (built once per session)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Tiny test models gain nothing from threads, and OpenMP's spinning threads slow to a crawl when the cores
# are busy (e.g. CI running beside something else); subprocesses inherit this too.
os.environ.setdefault("OMP_NUM_THREADS", "1")

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
SHAKESPEARE = DATASETS / "tinyshakespeare" / "input.txt"
WAR_AND_PEACE = DATASETS / "war_and_peace" / "war_and_peace_body.txt"
SENTIMENT = DATASETS / "sentiment_labelled_sentences" / "sentiment.csv"


def _require(path: Path) -> Path:
    if not path.exists():
        pytest.fail(f"shared dataset missing: {path} (tests read real text from ../shared/datasets)")
    return path


@pytest.fixture(scope="session")
def shakespeare() -> Path:
    return _require(SHAKESPEARE)


@pytest.fixture(scope="session")
def war_and_peace() -> Path:
    return _require(WAR_AND_PEACE)


@pytest.fixture(scope="session")
def sentiment_csv() -> Path:
    return _require(SENTIMENT)


@pytest.fixture(scope="session")
def shakespeare_project(tmp_path_factory: pytest.TempPathFactory, shakespeare: Path):
    """Tiny Shakespeare imported, a 1000-piece BPE tokenizer trained, and shards encoded (read-only use)."""
    from gpt_studio.engine.corpus import import_corpus
    from gpt_studio.engine.data import encode_corpus
    from gpt_studio.engine.project import init_project
    from gpt_studio.engine.tokenizer import TokenizerSettings, train_tokenizer

    project = init_project(tmp_path_factory.mktemp("shakespeare") / "proj")
    import_corpus(project, [shakespeare])
    train_tokenizer(project, TokenizerSettings(model_type="bpe", vocab_size=1000))
    encode_corpus(project)
    return project
