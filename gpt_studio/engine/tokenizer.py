r"""Tokenizer: train a SentencePiece model on the corpus, with the special tokens later stages rely on.

Special tokens have fixed ids in every project, recorded in ``tokenizer/tokenizer.json``::

    0 <pad>   1 <unk>   2 <s>   3 </s>   4 [MASK]   5 [CLS]   6 [SEP]   7 "\\n"

``[MASK] [CLS] [SEP]`` are control symbols: they are never produced from text, only inserted by id, so a
corpus that happens to contain the string "[MASK]" is not confused with the mask. The newline is a
user-defined piece so that text keeps its line structure (SentencePiece otherwise reads line by line and
never sees it). Normalisation is done at import, so SentencePiece runs with the identity rule and
``decode(encode(x)) == x`` for the imported text (exactly so with byte fallback or full character coverage).

Training runs in a child process: it can then be cancelled at any moment (SentencePiece's C++ trainer
cannot be interrupted in-process), and its log gives live progress.
"""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import os
import re
import shutil
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from gpt_studio.engine import _spm_child, corpus
from gpt_studio.engine.atomic import read_json, replace_dir, temp_dir_beside, write_json
from gpt_studio.engine.errors import StudioError
from gpt_studio.engine.progress import Reporter
from gpt_studio.engine.project import Project

MODEL_FILE = "tokenizer.model"
META_FILE = "tokenizer.json"
META_VERSION = 1
MODEL_TYPES = ("bpe", "unigram", "char")
SPECIAL_TOKENS = ("<pad>", "<unk>", "<s>", "</s>", "[MASK]", "[CLS]", "[SEP]")
NEWLINE = "\n"
SPECIAL_IDS = {"pad": 0, "unk": 1, "bos": 2, "eos": 3, "mask": 4, "cls": 5, "sep": 6, "newline": 7}
MAX_SENTENCE_BYTES = 1 << 15  # lines longer than this are left out of training (SentencePiece's default: 4192)


@dataclass(kw_only=True)
class TokenizerSettings:
    """What to train; saved in tokenizer.json."""

    model_type: str = "bpe"  # bpe merges frequent pairs; unigram prunes a big vocabulary; char: one id per character
    vocab_size: int = 8000  # total ids including the 8 reserved ones; 0 with char = as many as there are characters
    character_coverage: float = 1.0  # share of characters that get their own id; rarer ones become <unk> or bytes
    byte_fallback: bool = False  # spell uncovered characters as UTF-8 bytes (256 extra ids) so nothing is <unk>
    max_sentences: int = 2_000_000  # sample at most this many lines of a huge corpus for training
    seed: int = 0  # fixes the sampling of huge corpora

    def __post_init__(self) -> None:
        if self.model_type not in MODEL_TYPES:
            raise StudioError(f"model type must be one of {', '.join(MODEL_TYPES)}, not {self.model_type!r}.")
        if not 0.9 <= self.character_coverage <= 1.0:
            raise StudioError(f"character coverage must be between 0.9 and 1.0 (got {self.character_coverage}).")
        if self.vocab_size < 0 or (self.vocab_size == 0 and self.model_type != "char"):
            raise StudioError("vocab size must be a positive number (0 is allowed only for char: 'all characters').")
        if 0 < self.vocab_size <= len(SPECIAL_IDS):
            raise StudioError(f"vocab size {self.vocab_size} leaves no room for text: the {len(SPECIAL_IDS)} "
                              "reserved tokens alone need that many. Use a larger value (e.g. 1000 or more).")
        if self.max_sentences < 1000:
            raise StudioError("max_sentences must be at least 1000.")


class Tokenizer:
    """A trained tokenizer: encode/decode plus the special-token ids every other part uses."""

    def __init__(self, folder: str | os.PathLike[str]) -> None:
        import sentencepiece as spm

        folder = Path(folder)
        meta_path, model_path = folder / META_FILE, folder / MODEL_FILE
        if not meta_path.is_file() or not model_path.is_file():
            raise StudioError(f"No trained tokenizer in {folder}; train one first "
                              f"(`gpt-studio tokenizer {folder.parent}`).")
        self.meta: dict[str, Any] = read_json(meta_path)
        if self.meta.get("format_version", 0) > META_VERSION:
            raise StudioError(f"{meta_path} was written by a newer GPT Studio; upgrade to use this tokenizer.")
        self.folder = folder
        self.sp = spm.SentencePieceProcessor(model_file=str(model_path))
        self.checksum: str = self.meta["model_sha256"]
        ids = self.meta["special_ids"]
        self.pad_id, self.unk_id, self.bos_id, self.eos_id = ids["pad"], ids["unk"], ids["bos"], ids["eos"]
        self.mask_id, self.cls_id, self.sep_id, self.newline_id = ids["mask"], ids["cls"], ids["sep"], ids["newline"]

    @property
    def vocab_size(self) -> int:
        """Number of ids (the model's embedding rows)."""
        return self.sp.get_piece_size()

    @property
    def special_ids(self) -> list[int]:
        """Ids that are never masked or sampled as random replacements (the newline is ordinary text)."""
        return [self.pad_id, self.unk_id, self.bos_id, self.eos_id, self.mask_id, self.cls_id, self.sep_id]

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` (newlines included)."""
        return self.sp.encode(text)

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        """Token ids of many texts in one call (much faster than a Python loop)."""
        return self.sp.encode(list(texts))

    def decode(self, ids: Iterable[int]) -> str:
        """Text of ``ids``; special tokens decode to nothing."""
        return self.sp.decode(list(ids))

    def id_to_piece(self, token_id: int) -> str:
        """The vocabulary entry for an id (``▁`` marks a leading space)."""
        return self.sp.id_to_piece(token_id)

    def piece_to_id(self, piece: str) -> int:
        """The id of a vocabulary entry (the unknown id if absent)."""
        return self.sp.piece_to_id(piece)

    def pieces(self, text: str) -> list[str]:
        """The pieces ``text`` is cut into, for the token preview."""
        return self.sp.encode(text, out_type=str)

    def vocabulary(self) -> list[tuple[int, str, float]]:
        """(id, piece, score) for every entry, for the searchable vocabulary table."""
        return [(i, self.sp.id_to_piece(i), self.sp.get_score(i)) for i in range(self.vocab_size)]


def load_tokenizer(project: Project) -> Tokenizer:
    """The project's tokenizer, or a message saying how to train one."""
    return Tokenizer(project.tokenizer_dir)


def sha256_file(path: Path) -> str:
    """Checksum used to tie shards and runs to the exact tokenizer that made them."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------- training

def trainer_kwargs(settings: TokenizerSettings, input_path: Path, prefix: Path, threads: int) -> dict[str, Any]:
    char_all = settings.model_type == "char" and settings.vocab_size == 0
    return {
        "input": str(input_path), "model_prefix": str(prefix), "model_type": settings.model_type,
        "vocab_size": 100_000 if char_all else settings.vocab_size, "hard_vocab_limit": not char_all,
        "character_coverage": settings.character_coverage, "byte_fallback": settings.byte_fallback,
        "pad_id": 0, "unk_id": 1, "bos_id": 2, "eos_id": 3,
        "control_symbols": list(SPECIAL_TOKENS[4:]), "user_defined_symbols": [NEWLINE],
        "normalization_rule_name": "identity", "remove_extra_whitespaces": False, "add_dummy_prefix": False,
        "max_sentence_length": MAX_SENTENCE_BYTES, "input_sentence_size": settings.max_sentences,
        "shuffle_input_sentence": True, "num_threads": threads,
        "train_extremely_large_corpus": False, "minloglevel": 0,
    }


def mp_context() -> mp.context.BaseContext:
    """Worker processes are spawned: forking a process with live native thread pools can deadlock."""
    return mp.get_context("spawn")


VOCAB_TOO_HIGH = re.compile(r"Vocabulary size too high \((\d+)\)\. Please set it to a value <= (\d+)")
VOCAB_TOO_LOW = re.compile(r"Vocabulary size is smaller than required_chars\. (\d+) vs (\d+)")  # asked, needed
_BPE_PROGRESS = re.compile(r"Added: freq=\d+ size=(\d+)")
_UNIGRAM_PROGRESS = re.compile(r"EM sub_iter=\d+ size=(\d+)")


def _progress_from_log(log_path: Path, settings: TokenizerSettings, reporter: Reporter) -> None:
    try:
        with open(log_path, "rb") as handle:
            handle.seek(max(0, os.path.getsize(log_path) - 4096))
            tail = handle.read().decode("utf-8", "replace")
    except OSError:
        return
    sizes = _BPE_PROGRESS.findall(tail) or _UNIGRAM_PROGRESS.findall(tail)
    if sizes and settings.model_type == "bpe" and settings.vocab_size:
        reporter.progress(int(sizes[-1]), settings.vocab_size, f"Training {settings.model_type}: {sizes[-1]} pieces")
    elif sizes:
        reporter.progress(0, 0, f"Training {settings.model_type}: {sizes[-1]} pieces")
    elif "Loading corpus" in tail or "LOG(INFO)" in tail:
        reporter.progress(0, 0, "Reading the corpus")


def minimum_parts(coverage: float, byte_fallback: bool) -> str:
    """What the smallest vocabulary must hold, in words: the reserved ids, the covered characters, the bytes."""
    kept = (f"the characters kept at coverage {coverage:.4f}".rstrip("0").rstrip(".") if coverage < 1
            else "every character of the corpus")
    parts = [f"the {len(SPECIAL_IDS)} reserved tokens", kept, *(["the 256 byte pieces"] if byte_fallback else [])]
    return f"{', '.join(parts[:-1])} and {parts[-1]}"


def _explain_trainer_error(message: str, settings: TokenizerSettings) -> str:
    """Turn SentencePiece's check failures into advice that names the feasible value."""
    high = VOCAB_TOO_HIGH.search(message)
    if high:
        return (f"Vocab size {high.group(1)} is too large for this corpus: the largest feasible value is "
                f"{high.group(2)}. Set the vocab size to {high.group(2)} or less, or import more text.")
    low = VOCAB_TOO_LOW.search(message)
    if low:
        needed = minimum_parts(settings.character_coverage, settings.byte_fallback)
        return (f"Vocab size {low.group(1)} is too small: {needed} need at least {low.group(2)}. Set the vocab "
                f"size to {low.group(2)} or more (or lower the character coverage).")
    return f"SentencePiece could not train the tokenizer: {message.strip().splitlines()[-1][-300:]}"


def run_trainer_child(kwargs: dict[str, Any], seed: int, staging: Path, reporter: Reporter,
                      on_poll: Callable[[Path], None] | None = None, nice: int = 0) -> str | None:
    """Run SentencePiece's trainer in a child process (cancellable); its error message, or None on success.

    ``on_poll(log_path)`` runs every 50 ms while it works (progress from the trainer's log); ``nice`` lowers
    the child's priority.
    """
    log_path, error_path = staging / "train.log", staging / "train.error"
    child = mp_context().Process(target=_spm_child.train, daemon=True,
                                  args=(kwargs, seed, str(log_path), str(error_path), nice))
    child.start()
    try:
        while child.is_alive():
            child.join(0.05)
            if reporter.cancelled:
                child.terminate()
                child.join()
                reporter.check()
            if on_poll is not None:
                on_poll(log_path)
    finally:
        if child.is_alive():
            child.kill()
            child.join()
    if child.exitcode == 0:
        return None
    return error_path.read_text(encoding="utf-8") if error_path.exists() else f"exit code {child.exitcode}"


def _run_trainer(kwargs: dict[str, Any], staging: Path, settings: TokenizerSettings, reporter: Reporter) -> None:
    message = run_trainer_child(kwargs, settings.seed, staging, reporter,
                                lambda log: _progress_from_log(log, settings, reporter))
    if message is not None:
        raise StudioError(_explain_trainer_error(message, settings))


def train_tokenizer(project: Project, settings: TokenizerSettings | None = None,
                    reporter: Reporter | None = None) -> dict[str, Any]:
    """Train on the corpus's training split, measure it on the validation split, and install it whole.

    Returns the tokenizer.json contents. The previous tokenizer stays in place until the new one is complete.
    """
    settings = settings or TokenizerSettings()
    reporter = reporter or Reporter()
    reporter.what = "tokenizer training"
    manifest = corpus.load_manifest(project)
    staging = temp_dir_beside(project.tokenizer_dir)
    try:
        started = time.perf_counter()
        reporter.progress(0, 0, "Reading the corpus", force=True)
        kwargs = trainer_kwargs(settings, project.corpus_dir / "train.txt", staging / "tokenizer",
                                 os.cpu_count() or 1)
        _run_trainer(kwargs, staging, settings, reporter)
        train_seconds = time.perf_counter() - started
        (staging / "tokenizer.vocab").unlink(missing_ok=True)
        meta = {"format_version": META_VERSION, "settings": asdict(settings),
                "special_tokens": list(SPECIAL_TOKENS) + [NEWLINE], "special_ids": dict(SPECIAL_IDS),
                "model_sha256": sha256_file(staging / MODEL_FILE), "corpus_sha256": manifest["split"]["sha256"],
                "train_seconds": round(train_seconds, 3)}
        write_json(staging / META_FILE, meta)
        reporter.progress(0, 0, "Measuring on the validation split", force=True)
        tokenizer = Tokenizer(staging)
        meta["vocab_size"] = tokenizer.vocab_size
        meta["report"] = evaluate_tokenizer(tokenizer, project, reporter)
        write_json(staging / META_FILE, meta)
        (staging / "train.log").replace(staging / "train.log.txt")
        replace_dir(staging, project.tokenizer_dir)
        reporter.progress(1, 1, "Tokenizer ready", force=True)
        return meta
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def evaluate_tokenizer(tokenizer: Tokenizer, project: Project, reporter: Reporter | None = None,
                       max_chars: int = 20_000_000) -> dict[str, Any]:
    """Fertility (tokens per whitespace word) and unknown rate on the validation split (first ``max_chars``)."""
    tokens = words = unknown = chars = 0
    for piece, _, _ in corpus.iter_document_pieces(project, "val"):
        if reporter is not None:
            reporter.check()
        for ids in tokenizer.encode_batch(piece.splitlines(keepends=True)):
            tokens += len(ids)
            unknown += ids.count(tokenizer.unk_id)
        words += len(piece.split())
        chars += len(piece)
        if chars >= max_chars:
            break
    return {"val_tokens_measured": tokens, "val_words": words, "val_characters": chars,
            "fertility": round(tokens / max(words, 1), 4), "chars_per_token": round(chars / max(tokens, 1), 4),
            "unknown_rate": round(unknown / max(tokens, 1), 6)}
