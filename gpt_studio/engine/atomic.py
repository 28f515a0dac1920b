"""Atomic file writes: a reader, a crash or a cancel never sees a half-written file.

Every file the engine writes goes through here: write to a temporary sibling, fsync, ``os.replace``.
Folders that must appear whole (a trained tokenizer, a checkpoint) are built in a temporary sibling folder
and swapped in with :func:`replace_dir`.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _umask()


def _fsync_dir(path: Path) -> None:
    """Persist a rename: the directory entry itself must reach the disk (POSIX only)."""
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "wb") -> Iterator[BinaryIO]:
    """Open a temporary sibling of ``path`` for writing; it replaces ``path`` only if the block succeeds."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    tmp = Path(tmp_name)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the permissions a plain open() would
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8", "newline": ""})) as handle:
            yield handle  # type: ignore[misc]
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
        _fsync_dir(target.parent)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bytes(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_open(path, "wb") as handle:
        handle.write(data)


def write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    write_bytes(path, text.encode("utf-8"))


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as indented JSON atomically (keys kept in insertion order for readable diffs)."""
    write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def read_json(path: str | os.PathLike[str]) -> Any:
    """Read a JSON file (UTF-8)."""
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def temp_dir_beside(target: str | os.PathLike[str]) -> Path:
    """A fresh hidden folder next to ``target`` (same file system, so a rename is atomic)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    os.chmod(staged, 0o777 & ~_UMASK)
    return staged


def replace_dir(staged: Path, target: Path) -> None:
    """Swap the finished folder ``staged`` in for ``target``.

    POSIX cannot atomically replace a non-empty folder, so the old one is first renamed aside; at every
    instant either the old or the new folder is complete under some name, and the aside copy is removed last.
    """
    target = Path(target)
    aside = None
    if target.exists():
        aside = target.with_name(f".{target.name}.old.{os.getpid()}")
        if aside.exists():
            shutil.rmtree(aside)
        os.replace(target, aside)
    os.replace(staged, target)
    _fsync_dir(target.parent)
    if aside is not None:
        shutil.rmtree(aside, ignore_errors=True)


def fsync_file(path: str | os.PathLike[str]) -> None:
    """Flush a finished file to disk before it is renamed into place."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
