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
import csv
import gzip
import hashlib
import io
import json
import os
import re
import shutil
import sys
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

from gpt_studio.engine import corpus_stats
from gpt_studio.engine.atomic import read_json, replace_dir, temp_dir_beside, write_json
from gpt_studio.engine.errors import StudioError
from gpt_studio.engine.progress import Reporter
from gpt_studio.engine.project import Project

MANIFEST = "manifest.json"
MANIFEST_VERSION = 1
SPLITS = ("train", "val")
TEXT_EXTS = {".txt", ".text", ".md", ".markdown", ".rst"}
FORMATS_BY_EXT = {**{e: "text" for e in TEXT_EXTS}, ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv",
                  ".tsv": "tsv"}
NORMALIZATIONS = ("none", "NFC", "NFKC")
WHITESPACE_MODES = ("keep", "strip", "collapse")
SPLIT_MODES = ("auto", "document", "tail")
CHUNK_CHARS = 1 << 20  # lines are read in batches of about this many characters
MAX_ROW_WARNINGS = 20  # per source; the rest are counted
_SNIFF_BYTES = 64 * 1024
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_TRAILING_WS = re.compile(r"[ \t]+\n")
_MANY_BLANKS = re.compile(r"\n{3,}")
_ANY_WS = re.compile(r"\s+")


@dataclass(kw_only=True)
class ImportOptions:
    """How sources are read, cleaned and split; saved in the manifest so an import can be repeated."""

    jsonl_field: str = "text"  # key of the text in each JSONL object
    csv_column: str = "text"  # header name of the text column in CSV/TSV
    normalization: str = "NFC"  # Unicode normal form: NFC keeps meaning, NFKC also folds look-alikes (ﬁ → fi)
    whitespace: str = "strip"  # keep | strip (line ends, blank runs) | collapse (all whitespace → one space)
    dedup: bool = True  # drop documents whose normalised text exactly repeats an earlier one
    val_fraction: float = 0.1  # share of the text held out for validation
    split: str = "auto"  # auto | document | tail (the contiguous last part of the text)
    seed: int = 0  # salts the document split so a different seed picks different validation documents
    encoding: str | None = None  # force a text encoding instead of UTF-8 + detection

    def __post_init__(self) -> None:
        if self.normalization not in NORMALIZATIONS:
            raise StudioError(f"normalization must be one of {', '.join(NORMALIZATIONS)}, not {self.normalization!r}.")
        if self.whitespace not in WHITESPACE_MODES:
            raise StudioError(f"whitespace must be one of {', '.join(WHITESPACE_MODES)}, not {self.whitespace!r}.")
        if self.split not in SPLIT_MODES:
            raise StudioError(f"split must be one of {', '.join(SPLIT_MODES)}, not {self.split!r}.")
        if not 0.0 < self.val_fraction < 0.5:
            raise StudioError(f"val_fraction must be above 0 and below 0.5 (got {self.val_fraction}).")
        if self.encoding is not None:
            try:
                codecs.lookup(self.encoding)
            except LookupError as exc:
                raise StudioError(f"Unknown text encoding {self.encoding!r}; try utf-8, cp1252 or latin-1.") from exc


@dataclass(kw_only=True)
class SourceSpec:
    """One file or folder to import, with optional per-source field/column choices."""

    path: Path
    jsonl_field: str | None = None
    csv_column: str | None = None


@dataclass
class SourceReport:
    """What happened to one file: shown per row in the UI table and in ``import --json``."""

    path: str
    format: str
    status: str = "imported"  # imported | skipped
    reason: str = ""  # why skipped, or notes (encoding used)
    encoding: str = "utf-8"
    documents: int = 0
    duplicates: int = 0
    empty: int = 0
    bad_rows: int = 0
    characters: int = 0
    bytes_in: int = 0
    warnings: list[str] = field(default_factory=list)

    def warn(self, message: str) -> None:
        """Record a row-level problem; only the first few are kept verbatim."""
        self.bad_rows += 1
        if len(self.warnings) < MAX_ROW_WARNINGS:
            self.warnings.append(message)


class _RetryWithEncoding(Exception):
    """UTF-8 decoding failed part-way through a source; it is re-read with a detected encoding."""


class _SkipSource(Exception):
    """The whole source is unusable; the message says why."""


# ----------------------------------------------------------------------------------------------- discovery

def _format_of(path: Path) -> str | None:
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    return FORMATS_BY_EXT.get(Path(name).suffix)


def discover(sources: Iterable[SourceSpec | str | os.PathLike[str]]) -> list[tuple[SourceSpec, str | None]]:
    """Expand folders (recursively, sorted, hidden files skipped) into files with their detected formats.

    An explicitly named file of unknown type is read as text; inside folders only known types are taken
    and the others reported as skipped.
    """
    out: list[tuple[SourceSpec, str | None]] = []
    for src in sources:
        spec = src if isinstance(src, SourceSpec) else SourceSpec(path=Path(src))
        path = Path(spec.path).expanduser()
        if not path.exists():
            raise StudioError(f"{path}: no such file or folder.")
        if path.is_file():
            out.append((SourceSpec(path=path, jsonl_field=spec.jsonl_field, csv_column=spec.csv_column),
                        _format_of(path) or "text"))
            continue
        for root, dirs, files in os.walk(path):
            dirs[:] = sorted(d for d in dirs if not d.startswith("."))
            for name in sorted(files):
                if name.startswith("."):
                    continue
                child = Path(root) / name
                out.append((SourceSpec(path=child, jsonl_field=spec.jsonl_field, csv_column=spec.csv_column),
                            _format_of(child)))
    return out


# --------------------------------------------------------------------------------------------- decoding

def _open_raw(path: Path) -> tuple[BinaryIO, BinaryIO]:
    """(decompressed stream, raw file): the raw file's position measures progress through a .gz too."""
    raw = open(path, "rb")  # noqa: SIM115 - closed by the caller via the returned pair
    if path.name.lower().endswith(".gz"):
        return gzip.GzipFile(fileobj=raw, mode="rb"), raw  # type: ignore[return-value]
    return raw, raw


def _looks_binary(head: bytes) -> bool:
    """NUL bytes in the first block mean binary, unless a UTF-16/32 byte-order mark explains them."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        return False
    return b"\x00" in head


def detect_encoding(sample: bytes) -> str | None:
    """Best guess for non-UTF-8 bytes; prefers Windows-1252 when it is about as plausible as the best guess.

    Short Western-European samples are often mis-labelled as Baltic or Central-European code pages, while
    cp1252 is by far the most common legacy encoding of real files, so it wins near-ties.
    """
    from charset_normalizer import from_bytes

    for bom, name in ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"),
                      (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if sample.startswith(bom):
            return name
    matches = list(from_bytes(sample))
    if not matches:
        return None
    best = min(matches, key=lambda m: m.chaos)
    for preferred in ("cp1252", "latin_1"):
        for match in matches:
            if match.encoding == preferred and match.chaos <= best.chaos + 0.15:
                return preferred
    return best.encoding


def _sample(path: Path) -> bytes:
    stream, raw = _open_raw(path)
    try:
        return stream.read(_SNIFF_BYTES)
    finally:
        stream.close()
        raw.close()


# ----------------------------------------------------------------------------------------- normalising

def normalize_text(text: str, options: ImportOptions) -> str:
    r"""Apply the chosen Unicode and whitespace normalisation (line endings always become ``\\n``).

    Safe to apply to any run of whole lines independently, which is what lets big files stream.
    """
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text).replace("\ufeff", "")
    if options.normalization != "none" and not unicodedata.is_normalized(options.normalization, text):
        text = unicodedata.normalize(options.normalization, text)
    if options.whitespace == "strip":
        text = _TRAILING_WS.sub("\n", text)
    elif options.whitespace == "collapse":
        text = _ANY_WS.sub(" ", text)
    return text


def _finish_document(text: str, options: ImportOptions) -> str:
    """Whole-document rules: trim the ends, squeeze blank-line runs, end with exactly one newline."""
    if options.whitespace == "keep":
        return text if text.endswith("\n") or not text else text + "\n"
    if options.whitespace == "strip":
        text = _MANY_BLANKS.sub("\n\n", text)
    text = text.strip()
    return text + "\n" if text else ""


# ------------------------------------------------------------------------------------- reading sources

def _text_stream(stream: BinaryIO, encoding: str) -> io.TextIOWrapper:
    return io.TextIOWrapper(stream, encoding=encoding, errors="strict", newline="")


def _iter_text_chunks(text: io.TextIOWrapper) -> Iterator[str]:
    """Batches of whole lines of about CHUNK_CHARS characters."""
    while True:
        lines = text.readlines(CHUNK_CHARS)
        if not lines:
            return
        yield "".join(lines)


def _iter_jsonl(text: io.TextIOWrapper, key: str, report: SourceReport) -> Iterator[str]:
    keys_seen: set[str] = set()
    any_text = False
    for lineno, line in enumerate(text, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            report.warn(f"line {lineno}: not valid JSON ({exc.msg} at column {exc.colno}); line skipped")
            continue
        if not isinstance(obj, dict):
            report.warn(f"line {lineno}: a JSON {type(obj).__name__}, not an object; line skipped")
            continue
        keys_seen.update(obj)
        value = obj.get(key)
        if not isinstance(value, str):
            why = "missing" if value is None else f"a {type(value).__name__}, not text"
            report.warn(f"line {lineno}: field {key!r} is {why}; line skipped")
            continue
        any_text = True
        yield value
    if not any_text and keys_seen:
        raise _SkipSource(f"no line has a text field {key!r}; fields seen: {', '.join(sorted(keys_seen)[:12])}. "
                          "Choose the field with --field.")


def _iter_csv(text: io.TextIOWrapper, column: str, delimiter: str, report: SourceReport) -> Iterator[str]:
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    reader = csv.reader(text, delimiter=delimiter)
    header = next(reader, None)
    if header is None:
        return
    header = [h.strip().lstrip("\ufeff") for h in header]
    if column not in header:
        raise _SkipSource(f"no column {column!r} in the header; columns: {', '.join(header[:20])}. "
                          "Choose one with --column.")
    index = header.index(column)
    try:
        for row in reader:
            if not row:
                continue
            if len(row) != len(header):
                report.warn(f"row at line {reader.line_num}: {len(row)} fields but the header has {len(header)}; "
                            "row skipped (check for an unquoted delimiter)")
                continue
            yield row[index]
    except csv.Error as exc:
        report.warn(f"line {reader.line_num}: {exc}; the rest of the file was skipped")


def _iter_documents(spec: SourceSpec, fmt: str, encoding: str, options: ImportOptions,
                    report: SourceReport, raw_pos: list[int]) -> Iterator[tuple[bool, str]]:
    """Yield (starts_new_document, text piece): text files stream as one document in pieces; rows are documents."""
    stream, raw = _open_raw(spec.path)
    try:
        text = _text_stream(stream, encoding)
        if fmt == "text":
            first = True
            for chunk in _iter_text_chunks(text):
                raw_pos[0] = raw.tell()
                yield first, chunk
                first = False
        elif fmt == "jsonl":
            for i, value in enumerate(_iter_jsonl(text, spec.jsonl_field or options.jsonl_field, report)):
                if i % 256 == 0:
                    raw_pos[0] = raw.tell()
                yield True, value
        else:
            delimiter = "\t" if fmt == "tsv" else ","
            column = spec.csv_column or options.csv_column
            for i, value in enumerate(_iter_csv(text, column, delimiter, report)):
                if i % 256 == 0:
                    raw_pos[0] = raw.tell()
                yield True, value
    except UnicodeDecodeError as exc:
        if encoding.replace("-", "").lower() in ("utf8", "utf8sig") and options.encoding is None:
            raise _RetryWithEncoding(str(exc)) from exc
        raise _SkipSource(f"undecodable: not valid {encoding} ({exc.reason} at byte {exc.start} of a block); "
                          "choose the encoding with --encoding") from exc
    except (OSError, EOFError, gzip.BadGzipFile) as exc:
        raise _SkipSource(f"unreadable: {exc}") from exc
    finally:
        stream.close()
        raw.close()


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
                elif options.whitespace == "strip":
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
        writer.write(_finish_document(tail, options))
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
                reports.append(_import_source(spec, fmt, writer, options, reporter, (done, total)))
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


def iter_documents(project: Project, split: str) -> Iterator[str]:
    """Yield each document of a split as text (one at a time: bounded memory)."""
    offsets = document_offsets(project, split)
    with open(project.corpus_dir / f"{split}.txt", "rb") as handle:
        for start, end in zip(offsets[:-1], offsets[1:]):
            handle.seek(int(start))
            yield handle.read(int(end - start)).decode("utf-8")
