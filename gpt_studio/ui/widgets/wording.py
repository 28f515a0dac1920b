"""Counts in words: "1 document", "2 documents", "1,204 files" — one helper so no message says "1 files"."""

from __future__ import annotations


def plural(n: int, one: str, many: str | None = None) -> str:
    """``n`` with thousands separators and the singular or plural noun (``many`` defaults to ``one`` + "s")."""
    return f"{n:,} {one if n == 1 else many or one + 's'}"


def noun(n: int, one: str, many: str | None = None) -> str:
    """Just the noun that fits ``n`` (for captions under a number shown elsewhere)."""
    return one if n == 1 else many or one + "s"
