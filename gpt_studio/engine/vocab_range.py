"""Which vocabulary sizes a corpus can fill, asked of SentencePiece itself before anyone trains.

SentencePiece refuses a vocabulary that is too large for the corpus ("Vocabulary size too high (20000).
Please set it to a value <= 8114") and one too small for the characters it must keep, and both limits
depend on the corpus, the model type, the character coverage and byte fallback in ways no rule of thumb
predicts (on 60 KB of Shakespeare: at most 8,114 for BPE but 2,034 for unigram). The trainer finds them in
its first pass over the text, before any merging, so this module runs it in a child process with a size
far too large and one far too small and reads the two limits from its refusals: the exact range, in
0.5-2 s for BPE and 1-5 s for unigram on 1-26 MB (benchmarks/bench_vocab_range.py). The trainer samples the
same lines as real training does, so the range holds for the training that follows.

Results are cached in ``corpus/vocab_ranges.json`` by corpus checksum and settings; a new import replaces
the corpus folder and with it the cache.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from gpt_studio.engine import corpus
from gpt_studio.engine.atomic import read_json, write_json
from gpt_studio.engine.errors import StudioError
from gpt_studio.engine.progress import Reporter
from gpt_studio.engine.project import Project
from gpt_studio.engine.tokenizer import (
    SPECIAL_IDS,
    VOCAB_TOO_HIGH,
    VOCAB_TOO_LOW,
    TokenizerSettings,
    minimum_parts,
    run_trainer_child,
    trainer_kwargs,
)

CACHE_FILE = "vocab_ranges.json"
TOO_SMALL = len(SPECIAL_IDS) + 1  # the smallest size the settings accept: below what any corpus needs
TOO_LARGE = 10_000_000  # far above what any corpus fills (SentencePiece then names its largest)
PROBE_NICE = 10  # the check runs while a person works in the app: it yields the CPU to everything else


@dataclass(frozen=True)
class VocabRange:
    """The vocabulary sizes SentencePiece accepts for one corpus and one set of tokenizer settings.

    ``maximum`` is None where no size is too large: a character model stops at its characters, and a
    larger size just means all of them (``all_characters`` says how many that is).
    """

    minimum: int
    maximum: int | None
    model_type: str
    character_coverage: float
    byte_fallback: bool
    all_characters: int | None = None  # char models: the size that gives every character an id

    def problem(self, vocab_size: int) -> str | None:
        """Why ``vocab_size`` cannot be trained on this corpus (what to set instead); None when it can."""
        if self.model_type == "char" and vocab_size == 0:
            return None
        if vocab_size < self.minimum:
            return (f"Vocab size {vocab_size:,} is too small: "
                    f"{minimum_parts(self.character_coverage, self.byte_fallback)} need at least "
                    f"{self.minimum:,}. Set {self.minimum:,} or more, or lower the character coverage.")
        if self.maximum is not None and vocab_size > self.maximum:
            return (f"Vocab size {vocab_size:,} is more than this corpus can fill with {self.model_type}: "
                    f"at most {self.maximum:,}. Set {self.maximum:,} or less, or import more text.")
        return None

    def describe(self) -> str:
        """One line for a person: the range and what its ends mean."""
        if self.maximum is None:
            every = f"; {self.all_characters:,} gives every character its own id" if self.all_characters else ""
            return f"Feasible vocab sizes for this corpus: {self.minimum:,} or more{every}."
        return f"Feasible vocab sizes for this corpus ({self.model_type}): {self.minimum:,} to {self.maximum:,}."


def _key(settings: TokenizerSettings, corpus_sha: str) -> str:
    return (f"{corpus_sha}:{settings.model_type}:{settings.character_coverage:.6f}:{int(settings.byte_fallback)}:"
            f"{settings.max_sentences}:{settings.seed}")


def _read_cache(project: Project) -> dict[str, Any]:
    try:
        cached = read_json(project.corpus_dir / CACHE_FILE)
    except (OSError, ValueError):
        return {}
    return cached if isinstance(cached, dict) else {}


def _probe(kwargs: dict[str, Any], size: int, settings: TokenizerSettings, staging: Path,
           reporter: Reporter) -> tuple[str, int]:
    """Train with ``size`` and read SentencePiece's answer: ("high" | "low" | "ok", the number it gives)."""
    prefix = staging / f"probe-{size}"
    message = run_trainer_child({**kwargs, "vocab_size": size, "model_prefix": str(prefix), "minloglevel": 2},
                                settings.seed, staging, reporter, nice=PROBE_NICE)
    if message is None:
        import sentencepiece as spm

        return "ok", spm.SentencePieceProcessor(model_file=f"{prefix}.model").get_piece_size()
    for kind, pattern in (("high", VOCAB_TOO_HIGH), ("low", VOCAB_TOO_LOW)):
        found = pattern.search(message)
        if found:
            return kind, int(found.group(2))  # the limit SentencePiece names
    raise StudioError(f"SentencePiece could not read the corpus: {message.strip().splitlines()[-1][-300:]}")


def vocab_range(project: Project, settings: TokenizerSettings | None = None,
                reporter: Reporter | None = None) -> VocabRange:
    """The range of vocabulary sizes that ``settings`` (its vocab size aside) can train on the project's corpus.

    Cached per corpus and settings; otherwise two short trainer runs in a child process (cancellable through
    ``reporter``; progress is indeterminate).
    """
    settings = settings or TokenizerSettings()
    reporter = reporter or Reporter()
    reporter.what = "checking the vocabulary sizes"
    manifest = corpus.load_manifest(project)
    key = _key(settings, manifest["split"]["sha256"])
    cached = _read_cache(project).get(key)
    if isinstance(cached, dict):
        try:
            return VocabRange(**cached)
        except TypeError:
            pass  # written by another version: probe again
    reporter.progress(0, 0, "Checking which vocab sizes the corpus can fill", force=True)
    with tempfile.TemporaryDirectory(prefix="gpt-studio-vocab-range-") as folder:  # throwaway models: not the project
        staging = Path(folder)
        kwargs = trainer_kwargs(settings, project.corpus_dir / "train.txt", staging / "probe", os.cpu_count() or 1)
        found = _measure(kwargs, settings, staging, reporter)
    cache = _read_cache(project)
    cache[key] = asdict(found)
    try:
        write_json(project.corpus_dir / CACHE_FILE, cache)
    except OSError:  # a read-only project: the range holds all the same, it is only asked again next time
        pass
    return found


def _measure(kwargs: dict[str, Any], settings: TokenizerSettings, staging: Path, reporter: Reporter) -> VocabRange:
    common = {"model_type": settings.model_type, "character_coverage": settings.character_coverage,
              "byte_fallback": settings.byte_fallback}
    if settings.model_type == "char":  # any size trains; the characters are what "all" means
        kind, pieces = _probe({**kwargs, "hard_vocab_limit": False}, TOO_LARGE, settings, staging, reporter)
        return VocabRange(minimum=TOO_SMALL, maximum=None, all_characters=pieces if kind == "ok" else None, **common)
    low_kind, low = _probe(kwargs, TOO_SMALL, settings, staging, reporter)
    high_kind, high = _probe(kwargs, TOO_LARGE, settings, staging, reporter)
    minimum = low if low_kind == "low" else TOO_SMALL
    maximum = high if high_kind == "high" else None
    return VocabRange(minimum=minimum, maximum=maximum, **common)
