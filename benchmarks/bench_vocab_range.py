"""How long asking SentencePiece for the feasible vocab range takes (``gpt-studio tokenizer --range``, the line
under the Tokenizer settings), and that the range is what training accepts.

Run from the repository root::

    .venv/bin/python benchmarks/bench_vocab_range.py            # Tiny Shakespeare, War and Peace, 35 MB of both
    .venv/bin/python benchmarks/bench_vocab_range.py --json     # ... plus one JSON object as the last line

For each corpus (imported with the engine's own calls into a temporary project) and each model type, the
first (uncached) check is timed, then a second one that reads the cache. For BPE the maximum is then trained
and maximum + 1 refused, on the smaller corpora (training at the maximum of the 35 MB corpus takes minutes).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from gpt_studio.engine.corpus import import_corpus  # noqa: E402
from gpt_studio.engine.errors import StudioError  # noqa: E402
from gpt_studio.engine.project import init_project  # noqa: E402
from gpt_studio.engine.tokenizer import TokenizerSettings, train_tokenizer  # noqa: E402
from gpt_studio.engine.vocab_range import vocab_range  # noqa: E402

DATASETS = Path(os.environ.get("GPT_STUDIO_DATASETS", "/work/shared/datasets"))
SHAKESPEARE = DATASETS / "tinyshakespeare" / "input.txt"
WAR_AND_PEACE = DATASETS / "war_and_peace" / "war_and_peace_body.txt"


def corpora(tmp: Path) -> dict[str, list[Path]]:
    """The three corpora: two books, and eight copies of both as distinct files (about 35 MB)."""
    copies = []
    for i in range(8):
        path = tmp / f"copy{i}.txt"
        path.write_text(f"Copy {i}.\n" + WAR_AND_PEACE.read_text(encoding="utf-8") + SHAKESPEARE.read_text(
            encoding="utf-8"), encoding="utf-8")
        copies.append(path)
    return {"tiny_shakespeare": [SHAKESPEARE], "war_and_peace": [WAR_AND_PEACE], "both_x8": copies}


def _trains(project: Any, size: int) -> bool:
    try:
        train_tokenizer(project, TokenizerSettings(vocab_size=size))
    except StudioError:
        return False
    return True


def measure(name: str, sources: list[Path], tmp: Path) -> dict[str, Any]:
    project = init_project(tmp / name)
    import_corpus(project, sources)
    out: dict[str, Any] = {"corpus": name, "characters": project.corpus_dir.joinpath("train.txt").stat().st_size}
    for model_type in ("bpe", "unigram", "char"):
        settings = TokenizerSettings(model_type=model_type, vocab_size=0 if model_type == "char" else 1000)
        started = time.perf_counter()
        found = vocab_range(project, settings)
        first = time.perf_counter() - started
        started = time.perf_counter()
        vocab_range(project, settings)
        out[model_type] = {"minimum": found.minimum, "maximum": found.maximum, "all_characters": found.all_characters,
                           "seconds": round(first, 3), "cached_seconds": round(time.perf_counter() - started, 4)}
    if name != "both_x8":
        top = out["bpe"]["maximum"]
        out["bpe"]["maximum_trains"] = _trains(project, top)
        out["bpe"]["maximum_plus_one_refused"] = not _trains(project, top + 1)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        results = [measure(name, sources, tmp) for name, sources in corpora(tmp).items()]
    print(f"{'corpus':<18}{'train MB':>9}  {'type':<8}{'range':>18}{'first s':>9}{'cached s':>10}")
    for row in results:
        for model_type in ("bpe", "unigram", "char"):
            r = row[model_type]
            every = f"{r['minimum']:,}+ (all {r['all_characters']})"
            span = f"{r['minimum']:,}–{r['maximum']:,}" if r["maximum"] else every
            print(f"{row['corpus']:<18}{row['characters'] / 1e6:>9.1f}  {model_type:<8}{span:>18}{r['seconds']:>9.2f}"
                  f"{r['cached_seconds']:>10.4f}")
        if "maximum_trains" in row["bpe"]:
            print(f"{'':<29}bpe maximum trains: {row['bpe']['maximum_trains']}, maximum + 1 refused: "
                  f"{row['bpe']['maximum_plus_one_refused']}")
    if args.json:
        print(json.dumps({"machine": {"python": platform.python_version(), "cpu_count": os.cpu_count()},
                          "results": results}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
