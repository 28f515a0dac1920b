"""Reading sources for corpus import: discovery, encoding detection, normalisation and per-format readers.

Every reader streams: text files in batches of whole lines, JSONL and CSV row by row, so memory does not
depend on file size. Row-level problems are recorded in the source's report with their line numbers.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import os
import re
import sys
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from gpt_studio.engine.errors import StudioError

TEXT_EXTS = {".txt", ".text", ".md", ".markdown", ".rst"}
FORMATS_BY_EXT = {**{e: "text" for e in TEXT_EXTS}, ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv",
                  ".tsv": "tsv"}
NORMALIZATIONS = ("none", "NFC", "NFKC")
WHITESPACE_MODES = ("keep", "strip", "collapse")
SPLIT_MODES = ("auto", "document", "tail")
CHUNK_CHARS = 1 << 18  # lines are read in batches of about this many characters (short GIL holds)
MAX_ROW_WARNINGS = 20  # per source; the rest are counted
_SNIFF_BYTES = 64 * 1024
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
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
    text_field: str | None = None  # the JSONL key / CSV column the text was read from (None for plain text)
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
            if match.encoding == preferred and match.chaos <= best.chaos + 0.25:
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
    if options.whitespace == "strip" and (" \n" in text or "\t\n" in text):
        text = _strip_line_ends(text)
    elif options.whitespace == "collapse":
        text = _ANY_WS.sub(" ", text)
    return text


def _strip_line_ends(text: str) -> str:
    """Remove spaces and tabs before each newline (3× faster than the equivalent regex)."""
    lines = text.split("\n")
    return "\n".join([line.rstrip(" \t") for line in lines[:-1]] + [lines[-1]])


def finish_document(text: str, options: ImportOptions) -> str:
    """Whole-document rules: trim the ends, squeeze blank-line runs, end with exactly one newline."""
    if options.whitespace == "keep":
        return text if text.endswith("\n") or not text else text + "\n"
    if options.whitespace == "strip" and "\n\n\n" in text:
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
