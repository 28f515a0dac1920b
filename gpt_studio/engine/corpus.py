r"""Corpus import: a person's files and folders become one normalised, de-duplicated, split text corpus.

Streaming with bounded memory: files are read in chunks of lines, never whole, so a 10 GB file imports in
the same memory as a 1 MB one. The result is written to a staging folder and swapped in for
``PROJECT/corpus/`` only when complete, so a cancelled or failed import leaves the project as it was.

Output (see docs/PROJECT_FORMAT.md)::

    corpus/train.txt, corpus/val.txt   documents, each ending in "\\n", concatenated (UTF-8)
    corpus/train.idx, corpus/val.idx   little-endian uint64 byte offsets of document starts, plus the end
    corpus/manifest.json               options, per-source report, statistics, split, checksum
"""

from __future__ import annotations

import codecs
import gzip
import hashlib
import os
import re
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from gpt_studio.engine import corpus_stats
from gpt_studio.engine.atomic import read_json, replace_dir, temp_dir_beside, write_json
from gpt_studio.engine.corpus_sources import (  # noqa: F401 - re-exported: the corpus API lives here
    FORMATS_BY_EXT,
    MAX_ROW_WARNINGS,
    ImportOptions,
    SourceReport,
    SourceSpec,
    _iter_documents,
    _looks_binary,
    _RetryWithEncoding,
    _sample,
    _SkipSource,
    detect_encoding,
    discover,
    finish_document,
    normalize_text,
)
from gpt_studio.engine.errors import StudioError
from gpt_studio.engine.progress import Reporter
from gpt_studio.engine.project import Project

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
SPLITS = ("train", "val")
PIECE_BYTES = 1 << 18  # long documents are read in pieces of about this size
_MANY_BLANKS = re.compile(r"\n{3,}")
_ANY_WS = re.compile(r"\s+")
# ------------------------------------------------------------------------------------------- the writer

class _StagingWriter:
    """Appends documents to the staging ``all.txt`` with a record per document; rolls back a source."""

    RECORD = np.dtype([("offset", "<u8"), ("chars", "<u8"), ("val", "u1")])

    def __init__(self, folder: Path, options: ImportOptions) -> None:
        self.options = options
        self.text = open(folder / "all.txt", "wb")  # noqa: SIM115 - closed in close()
        self.records = open(folder / "all.rec", "wb")  # noqa: SIM115
        self.seen: set[bytes] = set()
        self.doc_start = 0
        self.doc_chars = 0
        self.doc_hash = hashlib.blake2b(digest_size=16)
        self.salt = str(options.seed).encode()
        self.val_chars_if_by_document = 0

    def mark(self) -> tuple[int, int, int]:
        """A point to roll back to if the current source must be re-read or dropped."""
        return (self.text.tell(), self.records.tell(), self.val_chars_if_by_document)

    def rollback(self, mark: tuple[int, int, int], added: set[bytes]) -> None:
        """Forget everything written since ``mark``; ``added`` are the hashes recorded meanwhile."""
        text_pos, rec_pos, val_chars = mark
        self.text.seek(text_pos)
        self.text.truncate()
        self.records.seek(rec_pos)
        self.records.truncate()
        self.seen -= added
        self.val_chars_if_by_document = val_chars

    def begin(self) -> None:
        """Start a new document."""
        self.doc_start = self.text.tell()
        self.doc_chars = 0
        self.doc_hash = hashlib.blake2b(digest_size=16)

    def write(self, piece: str) -> None:
        """Append normalised text to the current document."""
        if not piece:
            return
        data = piece.encode("utf-8")
        self.text.write(data)
        self.doc_hash.update(data)
        self.doc_chars += len(piece)

    def end(self, report: SourceReport, added: set[bytes]) -> None:
        """Close the document: drop it if empty or a duplicate, else record it and its split assignment."""
        if self.doc_chars == 0:
            report.empty += 1
            return
        digest = self.doc_hash.digest()
        if self.options.dedup and digest in self.seen:
            self.text.seek(self.doc_start)
            self.text.truncate()
            report.duplicates += 1
            return
        if self.options.dedup:
            self.seen.add(digest)
            added.add(digest)
        is_val = _hash_fraction(digest, self.salt) < self.options.val_fraction
        if is_val:
            self.val_chars_if_by_document += self.doc_chars
        rec = np.array([(self.doc_start, self.doc_chars, int(is_val))], dtype=self.RECORD)
        self.records.write(rec.tobytes())
        report.documents += 1
        report.characters += self.doc_chars

    def close(self) -> None:
        """Flush and close the staging files."""
        self.text.close()
        self.records.close()


def _hash_fraction(digest: bytes, salt: bytes) -> float:
    """A document's stable position in [0, 1): the split of a document never depends on the others."""
    value = int.from_bytes(hashlib.blake2b(digest, key=salt[:64], digest_size=8).digest(), "little")
    return value / 2**64


# ------------------------------------------------------------------------------------------- importing

def _import_source(spec: SourceSpec, fmt: str | None, writer: _StagingWriter, options: ImportOptions,
                   reporter: Reporter, progress: tuple[int, int]) -> SourceReport:
    """Read one file into the staging writer; returns its report (skipped sources leave nothing behind)."""
    size = spec.path.stat().st_size
    report = SourceReport(path=str(spec.path), format=fmt or "unsupported", bytes_in=size)
    if fmt is None:
        report.status, report.reason = "skipped", f"unsupported file type {spec.path.suffix or '(none)'}"
        return report
    try:
        head = _sample(spec.path)
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        report.status, report.reason = "skipped", f"unreadable: {exc}"
        return report
    if not head.strip():
        report.status, report.reason = "skipped", "empty file"
        return report
    if _looks_binary(head):
        report.status, report.reason = "skipped", "binary (contains NUL bytes); not a text file"
        return report
    encoding = options.encoding or ("utf-8-sig" if head.startswith(codecs.BOM_UTF8) else "utf-8")
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) and options.encoding is None:
        encoding = detect_encoding(head) or "utf-16"
    tried: list[str] = []
    while True:
        tried.append(encoding)
        report.encoding = encoding
        mark = writer.mark()
        added: set[bytes] = set()
        attempt = SourceReport(path=report.path, format=fmt, encoding=encoding, bytes_in=size)
        try:
            _stream_into(spec, fmt, encoding, writer, options, attempt, added, reporter, progress)
            report = attempt
            break
        except _RetryWithEncoding:
            writer.rollback(mark, added)
            guess = detect_encoding(head)
            if guess is None or guess in tried:
                report.status = "skipped"
                report.reason = f"undecodable: not valid text in any encoding tried ({', '.join(tried)})"
                return report
            encoding = guess
        except _SkipSource as exc:
            writer.rollback(mark, added)
            attempt.status, attempt.reason = "skipped", str(exc)
            return attempt
    if encoding not in ("utf-8", "utf-8-sig"):
        report.reason = f"decoded as {encoding} (not valid UTF-8)"
    if report.documents == 0:
        report.status = "skipped"
        reasons = [r for r, n in (("empty after cleaning", report.empty), ("all duplicates", report.duplicates),
                                  ("every row was bad", report.bad_rows)) if n]
        report.reason = "; ".join(reasons) or "no text found"
    return report


def _stream_into(spec: SourceSpec, fmt: str, encoding: str, writer: _StagingWriter, options: ImportOptions,
                 report: SourceReport, added: set[bytes], reporter: Reporter, progress: tuple[int, int]) -> None:
    done_before, total = progress
    raw_pos = [0]
    open_doc = False
    pending_text = ""
    for starts_new, piece in _iter_documents(spec, fmt, encoding, options, report, raw_pos):
        reporter.check()
        if starts_new:
            if open_doc:
                _close_streamed(writer, pending_text, options, report, added)
            writer.begin()
            open_doc, pending_text = True, ""
        clean = normalize_text(piece, options)
        if fmt == "text":
            # stream pieces out, holding back only trailing newlines so the document's end can be trimmed
            clean = pending_text + clean
            if options.whitespace == "keep":
                body = clean.rstrip("\n")
            else:
                if options.whitespace == "collapse":
                    clean = _ANY_WS.sub(" ", clean)
                elif options.whitespace == "strip" and "\n\n\n" in clean:
                    clean = _MANY_BLANKS.sub("\n\n", clean)
                if not writer.doc_chars:
                    clean = clean.lstrip()
                body = clean.rstrip()
            pending_text = clean[len(body):]
            writer.write(body)
        else:
            pending_text = clean
        reporter.progress(done_before + raw_pos[0], total, f"Importing {spec.path.name}")
    if open_doc:
        _close_streamed(writer, pending_text, options, report, added)


def _close_streamed(writer: _StagingWriter, tail: str, options: ImportOptions, report: SourceReport,
                    added: set[bytes]) -> None:
    """End a document: rows are finished whole; streamed text gets its final newline."""
    if writer.doc_chars == 0:
        writer.write(finish_document(tail, options))
    elif options.whitespace == "keep":
        writer.write(tail if tail else "\n")
    else:
        writer.write("\n")
    writer.end(report, added)


def import_corpus(project: Project, sources: Iterable[SourceSpec | str | os.PathLike[str]],
                  options: ImportOptions | None = None, reporter: Reporter | None = None) -> dict[str, Any]:
    """Import ``sources`` into ``project``'s corpus, replacing the previous corpus only on success.

    Returns the manifest. Raises :class:`StudioError` (nothing changed) when no source yields a usable document,
    and :class:`CancelledError` (nothing changed) when cancelled.
    """
    options = options or ImportOptions()
    reporter = reporter or Reporter()
    reporter.what = "the import"
    files = discover(sources)
    if not files:
        raise StudioError("Nothing to import: the sources are empty folders.")
    total = sum(s.path.stat().st_size for s, _ in files)
    staging = temp_dir_beside(project.corpus_dir)
    try:
        writer = _StagingWriter(staging, options)
        reports: list[SourceReport] = []
        done = 0
        try:
            for spec, fmt in files:
                report = _import_source(spec, fmt, writer, options, reporter, (done, total))
                if fmt == "jsonl":
                    report.text_field = spec.jsonl_field or options.jsonl_field
                elif fmt in ("csv", "tsv"):
                    report.text_field = spec.csv_column or options.csv_column
                reports.append(report)
                done += spec.path.stat().st_size
                reporter.progress(done, total, f"Imported {spec.path.name}")
        finally:
            writer.close()
        documents = sum(r.documents for r in reports)
        if documents == 0:
            raise StudioError(_no_documents_message(reports))
        reporter.progress(0, 1, "Splitting train / validation", force=True)
        split_info, stats, doc_chars = _split(staging, writer, options, reporter)
        manifest = _manifest(options, reports, split_info, stats, doc_chars)
        write_json(staging / MANIFEST, manifest)
        replace_dir(staging, project.corpus_dir)
        reporter.progress(1, 1, "Import finished", force=True)
        return manifest
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def _no_documents_message(reports: list[SourceReport]) -> str:
    reasons = [f"{Path(r.path).name}: {(r.reason or 'no documents').rstrip('.')}" for r in reports[:8]]
    more = f" (and {len(reports) - 8} more)" if len(reports) > 8 else ""
    return ("No usable documents in the sources, so nothing was imported and the project is unchanged. "
            + "; ".join(reasons) + more + ".")


# ------------------------------------------------------------------------------------------- splitting

def _split(staging: Path, writer: _StagingWriter, options: ImportOptions,
           reporter: Reporter) -> tuple[dict[str, Any], corpus_stats.TextStats, np.ndarray]:
    """Write train/val text and indexes from the staging file, choosing the split mode for ``auto``."""
    records = np.fromfile(staging / "all.rec", dtype=_StagingWriter.RECORD)
    total_chars = int(records["chars"].sum())
    mode = options.split
    if mode == "auto":
        share = writer.val_chars_if_by_document / total_chars
        mode = "document" if 0.25 * options.val_fraction <= share <= 3 * options.val_fraction else "tail"
    all_size = (staging / "all.txt").stat().st_size
    offsets = np.append(records["offset"], np.uint64(all_size))
    hasher = hashlib.sha256()
    outs = {s: open(staging / f"{s}.txt", "wb") for s in SPLITS}  # noqa: SIM115
    starts: dict[str, list[int]] = {s: [] for s in SPLITS}
    cut_char = int(round(total_chars * (1.0 - options.val_fraction)))
    chars_before = np.concatenate([[0], np.cumsum(records["chars"])]).astype(np.int64)
    try:
        with open(staging / "all.txt", "rb") as src:
            for i in range(len(records)):
                reporter.check()
                src.seek(int(offsets[i]))
                data = src.read(int(offsets[i + 1] - offsets[i]))
                if mode == "document":
                    _emit(outs, starts, "val" if records["val"][i] else "train", data)
                elif chars_before[i + 1] <= cut_char:
                    _emit(outs, starts, "train", data)
                elif chars_before[i] >= cut_char:
                    _emit(outs, starts, "val", data)
                else:  # the document that straddles the cut is split at the exact character
                    text = data.decode("utf-8")
                    k = cut_char - int(chars_before[i])
                    head, tail = text[:k], text[k:]
                    _emit(outs, starts, "train", head.encode())  # train + val = the text, exactly
                    _emit(outs, starts, "val", tail.encode())
                reporter.progress(i + 1, len(records), "Splitting train / validation")
    finally:
        for handle in outs.values():
            handle.close()
    info: dict[str, Any] = {"mode": mode, "requested": options.split, "val_fraction": options.val_fraction}
    totals = corpus_stats.TextStats()
    for split in SPLITS:
        path = staging / f"{split}.txt"
        size = path.stat().st_size
        idx = np.array(starts[split] + [size], dtype="<u8")
        idx.tofile(staging / f"{split}.idx")
        stats = corpus_stats.text_stats(path, hasher)
        totals.merge(stats)
        info[split] = {"documents": len(starts[split]), **stats.as_dict(top_chars=0)}
    if info["val"]["documents"] == 0 or info["train"]["documents"] == 0:
        raise StudioError("The corpus is too small to split into train and validation; add more text.")
    (staging / "all.txt").unlink()
    (staging / "all.rec").unlink()
    info["sha256"] = hasher.hexdigest()
    return info, totals, records["chars"].copy()


def _emit(outs: dict[str, BinaryIO], starts: dict[str, list[int]], split: str, data: bytes) -> None:
    if not data:
        return
    starts[split].append(outs[split].tell())
    outs[split].write(data)


def _manifest(options: ImportOptions, reports: list[SourceReport], split_info: dict[str, Any],
              stats: corpus_stats.TextStats, doc_chars: np.ndarray) -> dict[str, Any]:
    from gpt_studio import __version__

    summary = stats.as_dict(top_chars=corpus_stats.TOP_CHARS)
    summary["documents"] = int(len(doc_chars))
    summary["doc_length_histogram"] = corpus_stats.length_histogram(doc_chars)
    summary["duplicates_removed"] = sum(r.duplicates for r in reports)
    summary["empty_skipped"] = sum(r.empty for r in reports)
    summary["bad_rows"] = sum(r.bad_rows for r in reports)
    summary["sources_imported"] = sum(r.status == "imported" for r in reports)
    summary["sources_skipped"] = sum(r.status == "skipped" for r in reports)
    return {
        "format_version": MANIFEST_VERSION,
        "created_by": f"gpt-studio {__version__}",
        "options": asdict(options),
        "stats": summary,
        "split": split_info,
        "sources": [asdict(r) for r in reports],
    }


# --------------------------------------------------------------------------------------------- reading

def load_manifest(project: Project) -> dict[str, Any]:
    """The corpus manifest, or a message saying to import first."""
    path = project.corpus_dir / MANIFEST
    if not path.is_file():
        raise StudioError(f"{project.root} has no corpus yet; import text first (`gpt-studio import {project.root} "
                          "FILES...`).")
    manifest = read_json(path)
    if manifest.get("format_version", 0) > MANIFEST_VERSION:
        raise StudioError(f"{path} was written by a newer GPT Studio; upgrade to read it.")
    return manifest


def document_offsets(project: Project, split: str) -> np.ndarray:
    """Byte offsets of each document's start in ``split``.txt, followed by the file's size."""
    return np.fromfile(project.corpus_dir / f"{split}.idx", dtype="<u8")


def iter_document_pieces(project: Project, split: str,
                         max_bytes: int = PIECE_BYTES) -> Iterator[tuple[str, int, bool]]:
    """(text, UTF-8 bytes, ends_document) for each document, a long one in pieces cut after a newline.

    Memory stays bounded however long a document is, and no single string operation on a piece holds the
    interpreter lock long enough to stall a GUI thread.
    """
    offsets = document_offsets(project, split)
    with open(project.corpus_dir / f"{split}.txt", "rb") as handle:
        for start, end in zip(offsets[:-1], offsets[1:]):
            handle.seek(int(start))
            remaining, carry = int(end - start), b""
            while remaining > 0 or carry:
                block = handle.read(min(max(max_bytes - len(carry), 1), remaining))
                remaining -= len(block)
                data = carry + block
                carry = b""
                if remaining > 0:
                    cut = corpus_stats.last_boundary(data) or len(data)
                    data, carry = data[:cut], data[cut:]
                yield data.decode("utf-8"), len(data), remaining == 0 and not carry


def iter_documents(project: Project, split: str) -> Iterator[str]:
    """Yield each document of a split as text (one at a time: bounded memory)."""
    offsets = document_offsets(project, split)
    with open(project.corpus_dir / f"{split}.txt", "rb") as handle:
        for start, end in zip(offsets[:-1], offsets[1:]):
            handle.seek(int(start))
            yield handle.read(int(end - start)).decode("utf-8")
