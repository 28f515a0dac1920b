"""Token shards: the corpus encoded once into flat binary token files that training reads by memmap.

Per split (``train``, ``val``) in ``PROJECT/data/``::

    {split}.bin    token ids, uint16 when the vocabulary fits (else uint32), documents each followed by </s>
    {split}.docs   little-endian uint64 token offsets of document starts, followed by the total
    meta.json      vocab size, dtype, token counts, UTF-8 bytes of the source text (for bits per byte),
                   and the tokenizer's and corpus's checksums, so stale shards are refused, not used

Encoding uses every core (a process pool with a bounded number of chunks in flight, so memory does not
grow with the corpus) and falls back to one process for small corpora, where starting workers costs more
than it saves.
"""

from __future__ import annotations

import collections
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gpt_studio.engine import corpus
from gpt_studio.engine.atomic import read_json, replace_dir, temp_dir_beside, write_json
from gpt_studio.engine.errors import StaleDataError, StudioError
from gpt_studio.engine.progress import Reporter
from gpt_studio.engine.project import Project
from gpt_studio.engine.tokenizer import Tokenizer, load_tokenizer, mp_context

META_FILE = "meta.json"
META_VERSION = 1
CHUNK_BYTES = 1 << 18  # bytes of text per encoding task: amortises IPC, bounds memory and GIL holds
PARALLEL_MIN_BYTES = 8 << 20  # below this, one process is faster than starting a pool


def token_dtype(vocab_size: int) -> np.dtype:
    """uint16 halves the disk and memory of shards whenever the ids fit."""
    return np.dtype("<u2") if vocab_size <= 65536 else np.dtype("<u4")


# --------------------------------------------------------------------------------------------- encoding

_worker_tokenizer: Any = None


def _init_worker(model_path: str) -> None:
    global _worker_tokenizer
    import sentencepiece as spm

    _worker_tokenizer = spm.SentencePieceProcessor(model_file=model_path)


def _encode_texts(sp: Any, texts: list[str], last_is_partial: bool, eos_id: int,
                  dtype: np.dtype) -> tuple[bytes, list[int]]:
    """Encode whole documents (each followed by </s>) or one piece of a long document (no </s> yet).

    Texts are cut into lines first: SentencePiece encodes a batch of short lines several times faster than
    one long string, and the newline is its own piece, so the ids are the same.
    """
    arrays, lengths = [], []
    eos = np.array([eos_id], dtype=dtype)
    for k, text in enumerate(texts):
        ids = sp.encode(text.splitlines(keepends=True))
        flat = np.fromiter((i for line in ids for i in line), dtype=dtype, count=sum(map(len, ids)))
        arrays.append(flat)
        if not (last_is_partial and k == len(texts) - 1):
            arrays.append(eos)
        lengths.append(len(flat))
    return (np.concatenate(arrays).tobytes() if arrays else b""), lengths


def _encode_task(task: tuple[list[str], bool, int, str]) -> tuple[bytes, list[int]]:
    texts, partial, eos_id, dtype = task
    return _encode_texts(_worker_tokenizer, texts, partial, eos_id, np.dtype(dtype))


def _tasks(project: Project, split: str) -> Iterator[tuple[list[str], bool, int]]:
    """(texts, last_is_partial, source bytes) groups of about CHUNK_BYTES bytes, read piece by piece.

    Whole documents are grouped; a long document arrives in pieces, and its </s> follows the last piece.
    """
    batch: list[str] = []
    size = 0
    for text, nbytes, ends_document in corpus.iter_document_pieces(project, split, CHUNK_BYTES):
        batch.append(text)
        size += nbytes
        if not ends_document or size >= CHUNK_BYTES:
            yield batch, not ends_document, size
            batch, size = [], 0
    if batch:
        yield batch, False, size


@dataclass
class _SplitWriter:
    """Appends encoded chunks to ``{split}.bin`` and records document token offsets."""

    tokens_file: Any
    doc_starts: list[int]
    tokens: int = 0
    open_doc: bool = False

    def add(self, data: bytes, lengths: list[int], partial: bool, itemsize: int) -> None:
        offset = self.tokens
        for k, length in enumerate(lengths):
            if not self.open_doc:
                self.doc_starts.append(offset)
            is_last_piece = partial and k == len(lengths) - 1
            offset += length + (0 if is_last_piece else 1)
            self.open_doc = is_last_piece
        self.tokens_file.write(data)
        self.tokens += len(data) // itemsize


def _encode_split(project: Project, tokenizer: Tokenizer, split: str, staging: Path, dtype: np.dtype,
                  pool: Any, reporter: Reporter, progress: list[int], total_bytes: int) -> dict[str, Any]:
    writer = _SplitWriter(open(staging / f"{split}.bin", "wb"), [])  # noqa: SIM115 - closed below
    try:
        pending: collections.deque[tuple[Any, bool, int]] = collections.deque()
        in_flight = 2 * (getattr(pool, "_processes", 1) or 1)

        def drain_one() -> None:
            result, partial, nbytes = pending.popleft()
            data, lengths = result.get() if pool is not None else result
            writer.add(data, lengths, partial, dtype.itemsize)
            progress[0] += nbytes
            reporter.progress(progress[0], total_bytes, f"Encoding {split}: {writer.tokens:,} tokens")

        for texts, partial, nbytes in _tasks(project, split):
            reporter.check()
            if pool is None:
                pending.append((_encode_texts(tokenizer.sp, texts, partial, tokenizer.eos_id, dtype), partial, nbytes))
            else:
                task = (texts, partial, tokenizer.eos_id, dtype.str)
                pending.append((pool.apply_async(_encode_task, (task,)), partial, nbytes))
            while len(pending) >= in_flight or (pool is None and pending):
                drain_one()
        while pending:
            reporter.check()
            drain_one()
    finally:
        writer.tokens_file.close()
    np.array(writer.doc_starts + [writer.tokens], dtype="<u8").tofile(staging / f"{split}.docs")
    return {"tokens": writer.tokens, "documents": len(writer.doc_starts), "file": f"{split}.bin"}


def encode_corpus(project: Project, reporter: Reporter | None = None, workers: int | None = None) -> dict[str, Any]:
    """Encode both splits with the project's tokenizer into fresh shards; the old ones stay until done.

    ``workers`` defaults to every core; small corpora are encoded in-process regardless.
    """
    reporter = reporter or Reporter()
    reporter.what = "encoding"
    manifest = corpus.load_manifest(project)
    tokenizer = load_tokenizer(project)
    notes = []
    if tokenizer.meta.get("corpus_sha256") != manifest["split"]["sha256"]:
        notes.append("the tokenizer was trained on an earlier import of the corpus; retrain it if the text "
                     "changed much (unknown pieces, worse compression)")
    dtype = token_dtype(tokenizer.vocab_size)
    total_bytes = sum(manifest["split"][s]["bytes"] for s in corpus.SPLITS)
    workers = workers or os.cpu_count() or 1
    use_pool = workers > 1 and total_bytes >= PARALLEL_MIN_BYTES
    staging = temp_dir_beside(project.data_dir)
    started = time.perf_counter()
    pool = None
    try:
        if use_pool:
            pool = mp_context().Pool(workers, initializer=_init_worker,
                                      initargs=(str(tokenizer.folder / "tokenizer.model"),))
        progress = [0]
        splits = {s: _encode_split(project, tokenizer, s, staging, dtype, pool, reporter, progress, total_bytes)
                  for s in corpus.SPLITS}
        seconds = time.perf_counter() - started
        for s in corpus.SPLITS:
            splits[s]["bytes"] = manifest["split"][s]["bytes"]
        total_tokens = sum(v["tokens"] for v in splits.values())
        meta = {"format_version": META_VERSION, "vocab_size": tokenizer.vocab_size, "dtype": dtype.name,
                "tokenizer_sha256": tokenizer.checksum, "corpus_sha256": manifest["split"]["sha256"],
                "special_ids": tokenizer.meta["special_ids"], "document_separator": "eos", "splits": splits,
                "encode_seconds": round(seconds, 3), "workers": workers if use_pool else 1,
                "tokens_per_second": round(total_tokens / max(seconds, 1e-9)), "notes": notes}
        write_json(staging / META_FILE, meta)
        replace_dir(staging, project.data_dir)
        reporter.progress(1, 1, f"Encoded {total_tokens:,} tokens", force=True)
        return meta
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()


# ---------------------------------------------------------------------------------------------- reading

def load_meta(project: Project, check_fresh: bool = True) -> dict[str, Any]:
    """The shards' meta.json; refuses shards made with another tokenizer or from another corpus."""
    path = project.data_dir / META_FILE
    if not path.is_file():
        raise StudioError(f"{project.root} has no token shards yet; run `gpt-studio encode {project.root}`.")
    meta = read_json(path)
    if meta.get("format_version", 0) > META_VERSION:
        raise StudioError(f"{path} was written by a newer GPT Studio; upgrade, or encode the corpus again.")
    if check_fresh:
        tokenizer_meta = read_json(project.tokenizer_dir / "tokenizer.json") \
            if (project.tokenizer_dir / "tokenizer.json").is_file() else {}
        if tokenizer_meta.get("model_sha256") != meta["tokenizer_sha256"]:
            raise StaleDataError("The token shards were made with a different tokenizer than the project's "
                                 f"current one; run `gpt-studio encode {project.root}` again.")
        manifest = corpus.load_manifest(project)
        if manifest["split"]["sha256"] != meta["corpus_sha256"]:
            raise StaleDataError("The corpus was re-imported after the shards were made; run "
                                 f"`gpt-studio encode {project.root}` again.")
    return meta


class TokenShard:
    """One split's tokens as a read-only memmap plus its document boundaries."""

    def __init__(self, project: Project, split: str, meta: dict[str, Any] | None = None) -> None:
        meta = meta or load_meta(project)
        if split not in meta["splits"]:
            raise StudioError(f"No {split!r} split in the shards; splits: {', '.join(meta['splits'])}.")
        info = meta["splits"][split]
        self.meta = meta
        self.split = split
        self.tokens = np.memmap(project.data_dir / info["file"], dtype=np.dtype(meta["dtype"]), mode="r",
                                shape=(info["tokens"],)) if info["tokens"] else np.zeros(0, dtype=meta["dtype"])
        self.doc_starts = np.fromfile(project.data_dir / f"{split}.docs", dtype="<u8").astype(np.int64)
        self.source_bytes: int = info["bytes"]

    def __len__(self) -> int:
        return int(self.tokens.shape[0])

    @property
    def documents(self) -> int:
        """Number of documents in the split."""
        return len(self.doc_starts) - 1

    def document(self, index: int) -> np.ndarray:
        """Tokens of one document, its </s> excluded."""
        start, end = self.doc_starts[index], self.doc_starts[index + 1]
        return np.asarray(self.tokens[start:end - 1])
