"""Run directories: every file of a pretraining run, each name defined here once.

``PROJECT/runs/<run-id>/``::

    run.json          full config, data and tokenizer checksums, device, library versions, corrections, parent
    metrics.jsonl     append-only, one JSON object per line, flushed per record (another process can follow it)
    samples.jsonl     generated samples at each evaluation (GPT)
    checkpoints/step-000120/   see checkpoint.py
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
import secrets
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gpt_studio.engine.atomic import read_json, write_json
from gpt_studio.engine.errors import StudioError
from gpt_studio.engine.project import Project

RUN_FILE = "run.json"
METRICS_FILE = "metrics.jsonl"
SAMPLES_FILE = "samples.jsonl"
CHECKPOINTS_DIR = "checkpoints"
RUN_FORMAT_VERSION = 1


def new_run_id(family: str) -> str:
    """Sortable, readable and unique: ``20261124-031500-gpt-3f2a``."""
    stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    return f"{stamp}-{family}-{secrets.token_hex(2)}"


def library_versions() -> dict[str, str]:
    """Versions that decide whether a run can be reproduced."""
    import numpy
    import torch

    versions = {"python": sys.version.split()[0], "torch": torch.__version__, "numpy": numpy.__version__,
                "platform": platform.platform()}
    try:
        import sentencepiece

        versions["sentencepiece"] = sentencepiece.__version__
    except (ImportError, AttributeError):
        pass
    from gpt_studio import __version__

    versions["gpt_studio"] = __version__
    return versions


@dataclass(frozen=True)
class RunDir:
    """Paths of one run."""

    root: Path

    @property
    def run_id(self) -> str:
        """The folder name."""
        return self.root.name

    @property
    def run_file(self) -> Path:
        """run.json."""
        return self.root / RUN_FILE

    @property
    def metrics_file(self) -> Path:
        """metrics.jsonl."""
        return self.root / METRICS_FILE

    @property
    def samples_file(self) -> Path:
        """samples.jsonl."""
        return self.root / SAMPLES_FILE

    @property
    def checkpoints_dir(self) -> Path:
        """Folder of step-N checkpoints."""
        return self.root / CHECKPOINTS_DIR

    def read(self) -> dict[str, Any]:
        """run.json's contents."""
        if not self.run_file.is_file():
            raise StudioError(f"{self.root} is not a run folder (no {RUN_FILE}).")
        return read_json(self.run_file)

    def write(self, info: dict[str, Any]) -> None:
        """Replace run.json atomically."""
        write_json(self.run_file, info)

    def update(self, **changes: Any) -> dict[str, Any]:
        """Read, change and rewrite run.json."""
        info = self.read()
        info.update(changes)
        self.write(info)
        return info


def create_run(project: Project, run_id: str, info: dict[str, Any]) -> RunDir:
    """Make a new run folder with its run.json."""
    run = RunDir(project.runs_dir / run_id)
    if run.root.exists():
        raise StudioError(f"A run named {run_id} already exists in {project.runs_dir}.")
    run.checkpoints_dir.mkdir(parents=True)
    run.write({"format_version": RUN_FORMAT_VERSION, "run_id": run_id, **info})
    return run


def find_run(project: Project, run_id: str) -> RunDir:
    """An existing run by id (a unique prefix is enough), or a message listing the runs there are."""
    exact = project.runs_dir / run_id
    if (exact / RUN_FILE).is_file():
        return RunDir(exact)
    matches = [p for p in list_runs(project) if p.run_id.startswith(run_id)]
    if len(matches) == 1:
        return matches[0]
    known = ", ".join(r.run_id for r in list_runs(project)[-5:]) or "none yet"
    why = "is ambiguous" if matches else "was not found"
    raise StudioError(f"Run {run_id!r} {why} in {project.runs_dir} (recent runs: {known}).")


def list_runs(project: Project) -> list[RunDir]:
    """All runs, oldest first (ids sort by creation time)."""
    if not project.runs_dir.is_dir():
        return []
    return [RunDir(p) for p in sorted(project.runs_dir.iterdir()) if (p / RUN_FILE).is_file()]


class JsonlWriter:
    """Append-only JSON lines, flushed per record so a monitor in another process sees each one at once."""

    def __init__(self, path: Path) -> None:
        self._file = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()

    def write(self, record: dict[str, Any]) -> None:
        """Append one record."""
        self._file.write(json.dumps(record, ensure_ascii=False, allow_nan=True) + "\n")
        self._file.flush()

    def close(self) -> None:
        """Flush to disk and close."""
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Records of a JSON-lines file; a torn last line (a crash mid-write) is skipped."""
    if not path.is_file():
        return
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if line.endswith("\n"):
                yield json.loads(line)


TAIL_BLOCK_BYTES = 1 << 16  # read backwards this much at a time when looking for a resume's cut


def _kept_bytes(path: Path, step: int) -> int:
    """Bytes at the start of ``path`` that hold every complete record up to ``step``: the cut for a resume.

    The trainer appends records in step order and cuts later ones on every resume, so the file is sorted by
    step: reading lines backwards from the end until one is at or before ``step`` finds the cut without
    parsing the whole file (a 100k-step run's 40 MB took about a second of pure Python, which held up the
    GUI thread through the GIL). A torn last line (a crash mid-write) and damaged lines after the cut are
    dropped with it.
    """
    with open(path, "rb") as handle:
        pos = handle.seek(0, os.SEEK_END)
        end: int | None = None  # the offset just past the last complete line not yet judged
        rest = b""  # the file's bytes from ``pos`` to ``end`` (to the file's end until ``end`` is known)
        while pos > 0:
            start = max(0, pos - TAIL_BLOCK_BYTES)
            handle.seek(start)
            rest, pos = handle.read(pos - start) + rest, start
            if end is None:
                newline = rest.rfind(b"\n")
                if newline < 0:
                    continue
                rest, end = rest[:newline + 1], pos + newline + 1
            while rest:
                previous = rest.rfind(b"\n", 0, len(rest) - 1)
                if previous < 0 and pos > 0:
                    break  # the line starts in an earlier block
                line = rest[previous + 1:]
                if _step_of(line) <= step:
                    return end
                end -= len(line)
                rest = rest[:previous + 1]
    return 0


def _step_of(line: bytes) -> float:
    """A record's step; infinity for a damaged line, so that it is dropped with what follows the cut."""
    try:
        return float(json.loads(line).get("step", 0))
    except (ValueError, UnicodeDecodeError, AttributeError):
        return math.inf


def truncate_metrics_after(run: RunDir, step: int, samples: bool = False) -> None:
    """On resume from ``step``, drop records of later steps (they were not kept in any checkpoint).

    Only the file's tail is read, and a file with nothing to drop is not rewritten (the usual resume after
    a stop, whose checkpoint is at the last recorded step).
    """
    path = run.samples_file if samples else run.metrics_file
    if not path.is_file():
        return
    keep = _kept_bytes(path, step)
    if keep == path.stat().st_size:
        return
    from gpt_studio.engine.atomic import atomic_open

    with open(path, "rb") as source, atomic_open(path, "wb") as handle:
        while keep > 0:
            block = source.read(min(keep, 1 << 20))
            handle.write(block)
            keep -= len(block)
