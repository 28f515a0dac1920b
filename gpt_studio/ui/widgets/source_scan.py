"""Reading corpus sources for the sources table, without Qt: rows, field sniffing, status lines.

A folder expands with the engine's own :func:`discover`, so the table lists exactly what an import reads; the
JSONL keys / CSV header come from the first 64 KB only, so even a huge file is sniffed in milliseconds.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gpt_studio.engine.corpus import discover
from gpt_studio.ui.widgets.wording import plural

SNIFF_BYTES = 64 * 1024
FIELD_FORMATS = ("jsonl", "csv", "tsv")
_PREFERRED = ("text", "content", "body", "document", "sentence", "review")


@dataclass
class SourceRow:
    """One file of the corpus: what it is, which field holds its text, and what the last import did."""

    path: Path
    size: int
    fmt: str | None  # text | jsonl | csv | tsv, or None: not a text type (skipped inside folders)
    field: str | None = None  # JSONL key / CSV column holding the text
    choices: list[str] | None = None  # None: not read yet
    status: str = "new"  # new | imported | skipped | missing
    detail: str = "not imported yet"
    tooltip: str = ""


# ---------------------------------------------------------------------------------------------- scanning

def _head_text(path: Path) -> tuple[str, bool]:
    """The first 64 KB as text, and whether that is the whole file."""
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as handle:
        data = handle.read(SNIFF_BYTES + 1)
    whole = len(data) <= SNIFF_BYTES
    return data[:SNIFF_BYTES].decode("utf-8", errors="replace").lstrip("\ufeff"), whole


def sniff_fields(path: Path, fmt: str) -> tuple[list[str], str | None]:
    """Field names seen in the first 64 KB (JSON keys or the CSV header) and the likeliest text field."""
    try:
        text, whole = _head_text(path)
    except (OSError, EOFError, gzip.BadGzipFile):
        return [], None
    lines = text.splitlines()
    if not whole and lines:
        lines = lines[:-1]  # the cut left the last line incomplete
    if fmt == "jsonl":
        rows = []
        for line in lines[:200]:
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(obj, dict):
                rows.append(obj)
        keys = list(dict.fromkeys(k for row in rows for k in row))
        return keys, _guess(keys, [[row.get(k) for k in keys] for row in rows])
    reader = csv.reader(io.StringIO("\n".join(lines)), delimiter="\t" if fmt == "tsv" else ",")
    try:
        table = list(reader)
    except csv.Error:
        table = []
    if not table:
        return [], None
    header = [h.strip() for h in table[0]]
    return header, _guess(header, [row for row in table[1:201] if len(row) == len(header)])


def _guess(keys: list[str], rows: list[list[Any]]) -> str | None:
    """A conventional name if there is one, else the field whose values are the longest text on average."""
    for name in _PREFERRED:
        if name in keys:
            return name
    best, best_len = None, 0.0
    for i, key in enumerate(keys):
        values = [row[i] for row in rows if i < len(row) and isinstance(row[i], str)]
        mean = sum(map(len, values)) / len(values) if values else 0.0
        if mean > best_len:
            best, best_len = key, mean
    return best or (keys[0] if keys else None)


def scan_paths(paths: list[Path]) -> list[SourceRow]:
    """Rows for files and folders (expanded like an import would), with field choices read for JSONL/CSV."""
    rows = []
    for spec, fmt in discover([Path(p) for p in paths]):
        row = SourceRow(path=spec.path, size=spec.path.stat().st_size, fmt=fmt)
        if fmt in FIELD_FORMATS:
            row.choices, row.field = sniff_fields(spec.path, fmt)
        rows.append(row)
    return rows


def key_of(path: Path | str) -> str:
    """The identity of a file in the table: its real path (a file listed twice is one source)."""
    return os.path.realpath(path)


def human_size(size: float) -> str:
    """1234567 → "1.2 MB"."""
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1000 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    return f"{size:.1f} TB"


def short_reason(reason: str) -> str:
    """The first clause of an engine reason, for the table cell (the whole reason goes in the tooltip)."""
    for cut in (" (", ";"):
        reason = reason.split(cut, 1)[0]
    return reason.strip()


def status_of(report: dict[str, Any]) -> tuple[str, str, str]:
    """(status, one-line detail, tooltip) of a manifest source report."""
    reason = report.get("reason", "")
    if report.get("status") == "skipped":
        detail = f"skipped: {short_reason(reason) or 'no documents'}"
    else:
        docs = report.get("documents", 0)
        parts = [f"imported {plural(docs, 'doc')}"]
        parts += [f"{n:,} {what}" for n, what in ((report.get("duplicates", 0), "duplicates dropped"),
                                                 (report.get("empty", 0), "empty skipped"),
                                                 (report.get("bad_rows", 0), "bad rows")) if n]
        if reason:
            parts.append(short_reason(reason))
        detail = " · ".join(parts)
    lines = [detail] + ([reason] if reason and short_reason(reason) != reason else [])
    if report.get("encoding"):
        lines.append(f"encoding: {report['encoding']} · {report.get('characters', 0):,} characters")
    warnings = report.get("warnings") or []
    if warnings:
        lines += ["", "Warnings:"] + [f"• {w}" for w in warnings]
    if report.get("bad_rows", 0) > len(warnings):
        lines.append(f"… and {report['bad_rows'] - len(warnings):,} more")
    return str(report.get("status", "imported")), detail, "\n".join(lines)
