"""A Studio project: one folder that holds every file of one piece of work.

Layout (documented in docs/PROJECT_FORMAT.md; every name is defined here once)::

    PROJECT/studio.json     format marker and version
    PROJECT/sources/        copies of source text the project was made from (sample corpus, downloads)
    PROJECT/corpus/         imported, normalised text split into train/val + manifest.json
    PROJECT/tokenizer/      SentencePiece model + tokenizer.json (special-token ids, report)
    PROJECT/data/           token shards (*.bin) + meta.json
    PROJECT/runs/<run-id>/  pretraining runs
    PROJECT/models/<name>/  fine-tuned or imported models
"""

from __future__ import annotations

import datetime as _dt
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gpt_studio import __version__
from gpt_studio.engine.atomic import read_json, write_json
from gpt_studio.engine.errors import ProjectFormatError

PROJECT_FILE = "studio.json"
PROJECT_MARKER = "gpt-studio-project"
FORMAT_VERSION = 1
SUBDIRS = ("sources", "corpus", "tokenizer", "data", "runs", "models")


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _migrate_0_to_1(meta: dict[str, Any], root: Path) -> dict[str, Any]:
    """Format 0 (pre-release) had no ``models/`` folder and no ``created_by`` field."""
    (root / "models").mkdir(exist_ok=True)
    meta.setdefault("created_by", "gpt-studio <0.1")
    return meta


# Each entry upgrades a studio.json from version k to k + 1; opening an old project runs them in order.
MIGRATIONS: dict[int, Callable[[dict[str, Any], Path], dict[str, Any]]] = {0: _migrate_0_to_1}


@dataclass(frozen=True)
class Project:
    """An opened project folder; paths only, no open handles, so it is cheap to pass between threads."""

    root: Path

    @property
    def name(self) -> str:
        """The folder's name, shown in titles."""
        return self.root.name

    @property
    def sources_dir(self) -> Path:
        """Text kept with the project (the sample corpus, downloads); the user's own files stay where they are."""
        return self.root / "sources"

    @property
    def corpus_dir(self) -> Path:
        """Imported text and its manifest."""
        return self.root / "corpus"

    @property
    def tokenizer_dir(self) -> Path:
        """The trained tokenizer."""
        return self.root / "tokenizer"

    @property
    def data_dir(self) -> Path:
        """Token shards."""
        return self.root / "data"

    @property
    def runs_dir(self) -> Path:
        """Pretraining runs."""
        return self.root / "runs"

    @property
    def models_dir(self) -> Path:
        """Saved models (fine-tuned or imported)."""
        return self.root / "models"

    def meta(self) -> dict[str, Any]:
        """The contents of studio.json."""
        return read_json(self.root / PROJECT_FILE)


def init_project(path: str | os.PathLike[str]) -> Project:
    """Create a project at ``path`` (an empty or missing folder), or return it if it already is one."""
    root = Path(path).expanduser().resolve()
    if (root / PROJECT_FILE).exists():
        return open_project(root)
    if root.exists() and not root.is_dir():
        raise ProjectFormatError(f"{root} is a file; choose a folder (new or empty) for the project.")
    if root.exists() and any(p.name not in SUBDIRS for p in root.iterdir()):
        raise ProjectFormatError(
            f"{root} already holds other files; choose a new or empty folder so nothing of yours is mixed in."
        )
    root.mkdir(parents=True, exist_ok=True)
    for sub in SUBDIRS:
        (root / sub).mkdir(exist_ok=True)
    write_json(
        root / PROJECT_FILE,
        {"format": PROJECT_MARKER, "format_version": FORMAT_VERSION, "created_by": f"gpt-studio {__version__}",
         "created": _now()},
    )
    return Project(root)


def open_project(path: str | os.PathLike[str]) -> Project:
    """Open an existing project, upgrading an older format in place, or explain why it cannot be opened."""
    root = Path(path).expanduser().resolve()
    marker = root / PROJECT_FILE
    if not marker.is_file():
        raise ProjectFormatError(
            f"{root} is not a GPT Studio project (no {PROJECT_FILE}); create one with `gpt-studio init {root}`."
        )
    try:
        meta = read_json(marker)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProjectFormatError(f"{marker} is damaged ({exc}); restore it from a backup or re-create it.") from exc
    if not isinstance(meta, dict) or meta.get("format") != PROJECT_MARKER:
        raise ProjectFormatError(f"{marker} is not a GPT Studio project file (no \"format\": \"{PROJECT_MARKER}\").")
    version = meta.get("format_version")
    if not isinstance(version, int):
        raise ProjectFormatError(f"{marker} has no integer format_version; it is damaged.")
    if version > FORMAT_VERSION:
        raise ProjectFormatError(
            f"{root} was written by a newer GPT Studio (project format {version}); this version reads formats "
            f"up to {FORMAT_VERSION}. Upgrade GPT Studio to open it."
        )
    if version < FORMAT_VERSION:
        for step in range(version, FORMAT_VERSION):
            meta = MIGRATIONS[step](meta, root)
        meta["format_version"] = FORMAT_VERSION
        meta["upgraded"] = _now()
        write_json(marker, meta)
    for sub in SUBDIRS:
        (root / sub).mkdir(exist_ok=True)
    return Project(root)
