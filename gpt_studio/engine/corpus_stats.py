"""Corpus statistics computed in large blocks with numpy, so counting never dominates an import.

Characters, words (whitespace-separated), bytes, the character inventory and the document-length
histogram that the Corpus pane draws.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

BLOCK_BYTES = 1 << 18  # small enough that no call on a block holds the GIL for long (GUI threads)
TOP_CHARS = 200  # characters kept with counts in the manifest; the distinct count is always exact


@dataclass
class TextStats:
    """Running totals over one or more texts."""

    characters: int = 0
    bytes: int = 0
    words: int = 0
    lines: int = 0
    char_counts: dict[int, int] = field(default_factory=dict)

    def add(self, text: str, nbytes: int) -> None:
        """Count one block of text (must end at a character boundary)."""
        self.characters += len(text)
        self.bytes += nbytes
        self.words += len(text.split())
        self.lines += text.count("\n")
        points = np.frombuffer(text.encode("utf-32-le"), dtype="<u4")
        if points.size and int(points.max()) < 1 << 17:  # bincount is ~10× faster than unique when bins are few
            bins = np.bincount(points)
            codes = np.flatnonzero(bins)
            counts = bins[codes]
        else:
            codes, counts = np.unique(points, return_counts=True)
        for code, count in zip(codes.tolist(), counts.tolist()):
            self.char_counts[code] = self.char_counts.get(code, 0) + count

    def merge(self, other: TextStats) -> None:
        """Add another set of totals into this one."""
        self.characters += other.characters
        self.bytes += other.bytes
        self.words += other.words
        self.lines += other.lines
        for code, count in other.char_counts.items():
            self.char_counts[code] = self.char_counts.get(code, 0) + count

    def as_dict(self, top_chars: int = TOP_CHARS) -> dict[str, Any]:
        """JSON-ready figures; ``top_chars`` most frequent characters with counts and Unicode names."""
        out: dict[str, Any] = {"characters": self.characters, "bytes": self.bytes, "words": self.words,
                               "lines": self.lines, "distinct_characters": len(self.char_counts)}
        if top_chars:
            ranked = sorted(self.char_counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top_chars]
            out["top_characters"] = [
                {"char": chr(c), "count": n, "name": unicodedata.name(chr(c), f"U+{c:04X}")} for c, n in ranked
            ]
        return out


def text_stats(path: Path, hasher: hashlib._Hash | None = None) -> TextStats:
    """Statistics of a UTF-8 file, read in blocks cut at character boundaries; optionally hashes the bytes."""
    stats = TextStats()
    carry = b""
    with open(path, "rb") as handle:
        while True:
            block = handle.read(BLOCK_BYTES)
            if hasher is not None and block:
                hasher.update(block)
            data = carry + block
            if not data:
                break
            if block:
                cut = last_boundary(data)
                data, carry = data[:cut], data[cut:]
            else:
                carry = b""
            if data:
                stats.add(data.decode("utf-8"), len(data))
            if not block:
                break
    return stats


def last_boundary(data: bytes) -> int:
    """Index after the last whole line (so words stay whole); without a newline, before the last character."""
    cut = data.rfind(b"\n") + 1
    if cut:
        return cut
    cut = len(data) - 1
    while cut > 0 and (data[cut] & 0xC0) == 0x80:  # back up over UTF-8 continuation bytes
        cut -= 1
    return cut


def length_histogram(lengths: np.ndarray, bins_per_decade: int = 4) -> dict[str, Any]:
    """Document lengths (characters) on log-spaced bins, the shape the Corpus pane plots, plus summary figures."""
    lengths = np.asarray(lengths, dtype=np.float64)
    if lengths.size == 0:
        return {"edges": [], "counts": [], "min": 0, "max": 0, "mean": 0.0, "median": 0.0}
    top = max(1.0, float(np.log10(lengths.max())))
    edges = np.logspace(0, np.ceil(top * bins_per_decade) / bins_per_decade, int(np.ceil(top * bins_per_decade)) + 1)
    counts, edges = np.histogram(np.clip(lengths, 1, None), bins=edges)
    return {"edges": [round(float(e), 3) for e in edges], "counts": counts.tolist(), "min": int(lengths.min()),
            "max": int(lengths.max()), "mean": float(lengths.mean()), "median": float(np.median(lengths))}
