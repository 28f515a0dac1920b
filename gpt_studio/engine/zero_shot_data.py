"""Zero-shot scoring of a whole dataset file: accuracy against chance, per-class results and every row's scores.

The shared datasets' formats (see ../shared/datasets/README.md):

- ``label-words``: CSV/TSV with a header (``text,label``; the header is row 1) or JSONL ``{"text", "label"}``;
- ``multiple-choice``: JSONL ``{"context", "choices", "label"}`` (COPA; its ``lm_context`` / ``lm_choices``
  renderings for language-model scoring are used when present, ``"question"`` is shown);
- ``winograd``: JSONL ``{"sentence", "pronoun", "pronoun_index", "options", "answer"}`` (WSC; its
  ``substituted`` sentences are used when present).

Loading and scoring are separate so the trainer can read a probe file once and score it at every evaluation;
``limit`` keeps an evenly spaced, fixed subset (the sentiment file is ordered by source), and every candidate
of every item shares padded forward passes.
"""

from __future__ import annotations

import csv
import json
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from gpt_studio.engine.errors import StudioError
from gpt_studio.engine.logprobs import CancelFn, ProgressFn, conditional_logprobs
from gpt_studio.engine.model import Transformer
from gpt_studio.engine.tokenizer import Tokenizer
from gpt_studio.engine.zero_shot import (
    DEFAULT_LABEL_WORDS,
    DEFAULT_TEMPLATE,
    check_normalisation,
    choice_pairs,
    fill_template,
    normalise,
    winograd_pair,
)

ZERO_SHOT_TASKS = ("label-words", "multiple-choice", "winograd")
TASK_DEFAULTS: dict[str, dict[str, Any]] = {
    "label-words": {"template": DEFAULT_TEMPLATE, "words": dict(DEFAULT_LABEL_WORDS), "normalisation": "sum",
                    "text_column": "text", "label_column": "label"},
    "multiple-choice": {"normalisation": "token", "delimiter": " ", "lm_fields": True},
    "winograd": {"substituted": True},
}


@dataclass
class ZeroShotItem:
    """One dataset row ready to score: a (context, continuation) pair per candidate."""

    row: int  # 1-based row in its file (CSV header = row 1), for messages and the results table
    text: str  # what the results table shows
    choices: list[str]  # candidate names: labels, answers or referents
    pairs: list[tuple[str, str]]  # the scored (context, continuation) of each candidate
    answers: list[str]  # the text "per character" normalisation divides by, one per candidate
    gold: int  # index of the right candidate
    normalisation: str  # sum | token | char


@dataclass
class ZeroShotReport:
    """Accuracy of a zero-shot heuristic on a dataset, against chance; ``rows`` has every item's scores."""

    task: str
    n: int  # items scored
    accuracy: float
    chance: float  # expected accuracy of guessing uniformly: the mean of 1 / candidates
    per_class: dict[str, dict[str, float]]  # gold class -> precision, recall, f1, support
    rows: list[dict]  # index, row, text, choices, scores, predicted, gold, correct (+ the indices)
    majority: float = 0.0  # accuracy of always answering the most common gold class
    normalisation: str = ""
    path: str = ""
    seconds: float = 0.0

    def to_dict(self, rows: bool = True) -> dict[str, Any]:
        """Plain JSON (``rows=False`` leaves the per-item table out)."""
        out = asdict(self)
        if not rows:
            out.pop("rows")
        return out


def task_options(task: str, options: dict[str, Any] | None) -> dict[str, Any]:
    """The task's defaults updated by ``options``; an unknown task or option is named with the valid ones."""
    if task not in TASK_DEFAULTS:
        raise StudioError(f"Unknown zero-shot task {task!r}; use one of {', '.join(ZERO_SHOT_TASKS)}.")
    merged = {**TASK_DEFAULTS[task], **{k: v for k, v in (options or {}).items() if v is not None}}
    unknown = sorted(set(merged) - set(TASK_DEFAULTS[task]))
    if unknown:
        raise StudioError(f"Option(s) {', '.join(unknown)} do not apply to the {task} task; its options are "
                          f"{', '.join(TASK_DEFAULTS[task])}.")
    if "normalisation" in merged:
        check_normalisation(merged["normalisation"])
    if task == "label-words":
        words = merged["words"]
        if not words or not all(isinstance(w, str) and w.strip() for w in words.values()):
            raise StudioError("Every label needs a non-empty label word (label=word, e.g. positive=\" good\").")
        fill_template(merged["template"], "")
    return merged


# ---------------------------------------------------------------------------------------------- reading

def _records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(1-based row, record) of a CSV/TSV (header = row 1) or JSONL (line = row) file."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".tsv", ".jsonl"):
        raise StudioError(f"{path}: unsupported file type {suffix or '(none)'}; use .csv or .tsv with a header, "
                          "or .jsonl.")
    with open(path, encoding="utf-8-sig", newline="") as handle:
        if suffix == ".jsonl":
            for row, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise StudioError(f"{path}, row {row}: not valid JSON ({exc.msg}); each line must be one "
                                      "JSON object.") from exc
                if not isinstance(record, dict):
                    raise StudioError(f"{path}, row {row}: expected a JSON object {{...}}, found "
                                      f"{type(record).__name__}.")
                yield row, record
            return
        reader = csv.DictReader(handle, delimiter="\t" if suffix == ".tsv" else ",")
        for row, record in enumerate(reader, 2):
            yield row, record


def _label_words_item(record: dict[str, Any], row: int, opts: dict[str, Any]) -> ZeroShotItem:
    text_col, label_col, words = opts["text_column"], opts["label_column"], opts["words"]
    for col in (text_col, label_col):
        if col not in record:
            raise StudioError(f"no {col!r} column (found: {', '.join(map(str, record))}); label-words needs a "
                              f"text column and a label column.")
    text, label = str(record[text_col] or "").strip(), str(record[label_col] or "").strip()
    if not text:
        raise StudioError(f"the {text_col!r} cell is empty.")
    if label not in words:
        raise StudioError(f"label {label!r} has no label word; add one (--label-word {label}=WORD) or remove the "
                          f"row. Labels with words: {', '.join(words)}.")
    context = fill_template(opts["template"], text)
    names = list(words)
    return ZeroShotItem(row, text, names, [(context, words[n]) for n in names], [words[n] for n in names],
                        names.index(label), opts["normalisation"])


def _index(record: dict[str, Any], key: str, count: int) -> int:
    value = record.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < count:
        raise StudioError(f"{key!r} must be the 0-based index of the right answer (0 to {count - 1}), "
                          f"found {value!r}.")
    return value


def _strings(record: dict[str, Any], key: str) -> list[str]:
    value = record.get(key)
    if not isinstance(value, list) or len(value) < 2 or not all(isinstance(v, str) and v.strip() for v in value):
        raise StudioError(f"{key!r} must be a list of at least two non-empty strings, found {value!r}.")
    return value


def _multiple_choice_item(record: dict[str, Any], row: int, opts: dict[str, Any]) -> ZeroShotItem:
    choices = _strings(record, "choices")
    gold = _index(record, "label" if "label" in record else "answer", len(choices))
    context = record.get("context", "")
    if not isinstance(context, str):
        raise StudioError(f"'context' must be a string, found {context!r}.")
    scored_context, scored_choices = context, choices
    lm_choices = record.get("lm_choices")
    if opts["lm_fields"] and isinstance(record.get("lm_context"), str) and isinstance(lm_choices, list) \
            and len(lm_choices) == len(choices):
        scored_context, scored_choices = record["lm_context"], [str(c) for c in lm_choices]
    question = record.get("question")
    shown = f"{context} ({question})" if isinstance(question, str) and question else context
    return ZeroShotItem(row, shown, choices, choice_pairs(scored_context, scored_choices, opts["delimiter"]),
                        scored_choices, gold, opts["normalisation"])


def _winograd_item(record: dict[str, Any], row: int, opts: dict[str, Any]) -> ZeroShotItem:
    sentence, pronoun, at = record.get("sentence"), record.get("pronoun"), record.get("pronoun_index")
    if not isinstance(sentence, str) or not isinstance(pronoun, str) or isinstance(at, bool) \
            or not isinstance(at, int):
        raise StudioError("needs 'sentence' (text), 'pronoun' (text) and 'pronoun_index' (its character offset).")
    options = _strings(record, "options")
    gold = _index(record, "answer" if "answer" in record else "label", len(options))
    pairs = [winograd_pair(sentence, at, pronoun, option) for option in options]  # also checks the pronoun
    rest = pairs[0][1]
    substituted = record.get("substituted")
    if opts["substituted"] and isinstance(substituted, list) and len(substituted) == len(options) \
            and all(isinstance(s, str) and s.endswith(rest) for s in substituted):
        pairs = [(s[:len(s) - len(rest)], rest) for s in substituted]  # the dataset's own rendering
    normalisation = "sum"
    if not rest.strip():  # the pronoun ends the sentence: score whole sentences, per token
        pairs, normalisation = [("", prefix + r) for prefix, r in pairs], "token"
    return ZeroShotItem(row, sentence, options, pairs, [p[1] for p in pairs], gold, normalisation)


_BUILDERS = {"label-words": _label_words_item, "multiple-choice": _multiple_choice_item, "winograd": _winograd_item}


def evenly_spaced(count: int, limit: int | None) -> list[int]:
    """Indices of a fixed subset of ``limit`` items spread over ``count`` (all of them when limit is None)."""
    if limit is None or limit >= count:
        return list(range(count))
    if limit < 1:
        raise StudioError(f"limit must be 1 or more, not {limit}.")
    return [i * count // limit for i in range(limit)]


def load_zero_shot_items(path: str | Path, task: str, *, options: dict[str, Any] | None = None,
                         limit: int | None = None) -> list[ZeroShotItem]:
    """Read and check every row of ``path`` for ``task``; a bad row is an error naming the file and row."""
    path = Path(path)
    opts = task_options(task, options)
    if not path.is_file():
        raise StudioError(f"{path} does not exist or is not a file.")
    items = []
    try:
        for row, record in _records(path):
            try:
                items.append(_BUILDERS[task](record, row, opts))
            except StudioError as exc:
                raise StudioError(f"{path}, row {row}: {exc}") from None
    except UnicodeDecodeError as exc:
        raise StudioError(f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8.") from exc
    except csv.Error as exc:
        raise StudioError(f"{path}: not a readable CSV/TSV file ({exc}).") from exc
    if not items:
        raise StudioError(f"{path} has no rows to score.")
    return [items[i] for i in evenly_spaced(len(items), limit)]


# ---------------------------------------------------------------------------------------------- scoring

def _per_class(names: list[str], gold: list[int], predicted: list[int]) -> dict[str, dict[str, float]]:
    out = {}
    for k, name in enumerate(names):
        hits = sum(1 for g, p in zip(gold, predicted, strict=True) if g == p == k)
        support, guessed = gold.count(k), predicted.count(k)
        precision = hits / guessed if guessed else 0.0
        recall = hits / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        out[name] = {"precision": precision, "recall": recall, "f1": f1, "support": float(support)}
    return out


def _class_names(task: str, items: list[ZeroShotItem]) -> list[str]:
    """Label names for label words; "choice k" (the gold position) for multiple choice and Winograd."""
    if task == "label-words":
        return items[0].choices
    return [f"choice {k + 1}" for k in range(max(len(item.choices) for item in items))]


def score_zero_shot_items(model: Transformer, tokenizer: Tokenizer, items: list[ZeroShotItem], task: str, *,
                          batch_size: int = 32, progress: ProgressFn | None = None, cancel: CancelFn | None = None,
                          path: str = "") -> ZeroShotReport:
    """Score every candidate of every item (all sharing padded forward passes) and report accuracy vs chance.

    Puts the model in eval mode for the call and restores its mode after, so a trainer can call it between
    steps. ``progress(done, total)`` counts items; ``cancel()`` raises CancelledError between batches.
    """
    if not items:
        raise StudioError("There are no items to score.")
    started = time.perf_counter()
    pairs = [pair for item in items for pair in item.pairs]

    def on_pairs(done: int, total: int) -> None:
        assert progress is not None
        progress(done * len(items) // max(total, 1), len(items))

    scored = conditional_logprobs(model, tokenizer, pairs, batch_size=batch_size, top_k=0,
                                  progress=on_pairs if progress else None, cancel=cancel)
    rows, gold, predicted, offset = [], [], [], 0
    for index, item in enumerate(items):
        parts = scored[offset:offset + len(item.pairs)]
        offset += len(item.pairs)
        scores = [normalise(s, answer, item.normalisation) for s, answer in zip(parts, item.answers, strict=True)]
        best = max(range(len(scores)), key=lambda k: scores[k])
        gold.append(item.gold)
        predicted.append(best)
        rows.append({"index": index, "row": item.row, "text": item.text, "choices": item.choices, "scores": scores,
                     "predicted": item.choices[best], "gold": item.choices[item.gold], "correct": best == item.gold,
                     "predicted_index": best, "gold_index": item.gold})
    names = _class_names(task, items)
    n = len(items)
    return ZeroShotReport(
        task=task, n=n, accuracy=sum(r["correct"] for r in rows) / n,
        chance=sum(1 / len(item.choices) for item in items) / n,
        per_class=_per_class(names, gold, predicted), rows=rows,
        majority=max(gold.count(k) for k in set(gold)) / n, normalisation=items[0].normalisation, path=path,
        seconds=time.perf_counter() - started)


def zero_shot_dataset(model: Transformer, tokenizer: Tokenizer, path: str | Path, task: str, *,
                      options: dict | None = None, limit: int | None = None, batch_size: int = 32,
                      progress: ProgressFn | None = None, cancel: CancelFn | None = None) -> ZeroShotReport:
    """Zero-shot accuracy of ``model`` on a dataset file with one of :data:`ZERO_SHOT_TASKS`.

    ``options`` per task (defaults in :data:`TASK_DEFAULTS`): label-words ``template``, ``words`` (label ->
    word), ``normalisation``, ``text_column``, ``label_column``; multiple-choice ``normalisation``,
    ``delimiter``, ``lm_fields``; winograd ``substituted``. ``limit`` scores an evenly spaced subset.
    """
    items = load_zero_shot_items(path, task, options=options, limit=limit)
    return score_zero_shot_items(model, tokenizer, items, task, batch_size=batch_size, progress=progress,
                                 cancel=cancel, path=str(path))

