"""Labelled data for fine-tuning: reading CSV/TSV/JSONL, mapping columns, detecting and editing labels, splitting.

CONTRACT (written before the implementation so the engine and the Fine-tune wizard can be built in parallel):
the names, fields and signatures below are the public API. Every error a person can cause (missing column,
empty label, one class, an answer index out of range, an unreadable file) is a :class:`StudioError` whose
message names the file and the 1-based row (the header is row 1 in CSV/TSV; the first line is row 1 in JSONL)
and says what to do.

Column roles may name several columns separated by commas: for ``text``, ``text_pair`` and ``context`` their
values are joined with a space (``--context context,question`` for COPA); for ``choices`` each column is one
answer. A name that is itself a column (even with a comma in it) always means that one column.
"""

from __future__ import annotations

import csv
import json
import math
import random
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from gpt_studio.engine.errors import StudioError

TASKS = ("classification", "entailment", "similarity", "multiple-choice")
TASK_TITLES = {
    "classification": "Classification",
    "entailment": "Entailment",
    "similarity": "Similarity",
    "multiple-choice": "Multiple choice",
}
# One line each for the wizard's cards and --help, in the GPT-1 paper's notation.
TASK_DESCRIPTIONS = {
    "classification": "[start] text [extract] → label (sentiment, topic, ...)",
    "entailment": "[start] premise [delim] hypothesis [extract] → entailment / neutral / contradiction",
    "similarity": "both orders, a [delim] b and b [delim] a, summed → similar or not, or a score (regression)",
    "multiple-choice": "[start] context [delim] answer_k [extract] for each answer → softmax over the answers",
}
TABLE_SUFFIXES = (".csv", ".tsv", ".jsonl")
# The roles each task needs (context is optional for multiple choice).
REQUIRED_ROLES = {
    "classification": ("text", "label"),
    "entailment": ("text", "text_pair", "label"),
    "similarity": ("text", "text_pair", "label"),
    "multiple-choice": ("choices", "label"),
}
ROLE_OPTIONS = {"text": "--text", "text_pair": "--text-pair", "label": "--label", "context": "--context",
                "choices": "--choices"}


@dataclass
class ColumnMap:
    """Which column/field holds what. Unused roles stay None.

    classification: ``text``, ``label``; entailment: ``text`` (premise), ``text_pair`` (hypothesis), ``label``;
    similarity: ``text``, ``text_pair``, ``label`` (a class or, for regression, a number);
    multiple-choice: ``context`` (may be None: answers alone), ``choices`` (a JSON list field, or several
    columns given as ``"col_a,col_b,..."``), ``label`` (0-based index of the right answer).
    """

    text: str | None = None
    text_pair: str | None = None
    label: str | None = None
    context: str | None = None
    choices: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON for finetune.json and the CLI."""
        return {k: v for k, v in self.__dict__.items() if v is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ColumnMap:
        """Inverse of :meth:`to_dict` (unknown keys are ignored)."""
        return cls(**{k: data.get(k) for k in ("text", "text_pair", "label", "context", "choices")})


@dataclass
class LabelPlan:
    """Edits to the detected labels before the label set is fixed.

    ``rename`` maps old → new (two olds to one new = merge); ``exclude`` drops rows whose (original) label is
    listed (``""`` drops rows with an empty label).
    """

    rename: dict[str, str] = field(default_factory=dict)
    exclude: set[str] = field(default_factory=set)


@dataclass
class Table:
    """The first rows of a file as the wizard previews them: column names and string cells."""

    path: Path
    columns: list[str]
    rows: list[dict[str, Any]]  # at most the requested number
    total_rows: int | None  # None when counting would need a full read (not done for a preview)


@dataclass
class Example:
    """One labelled example after column mapping.

    ``texts`` holds 1 (classification), 2 (entailment, similarity) or, for multiple choice, the context
    followed by the answers (``texts[0]`` = context, "" if none). ``label`` is the class index (or answer
    index); ``target`` the number for regression.
    """

    row: int  # 1-based row in its file, for messages and the predictions file
    texts: list[str]
    label: int | None = None
    target: float | None = None


@dataclass
class TaskData:
    """A loaded, validated data file for one task format."""

    path: Path
    task: str
    columns: ColumnMap
    examples: list[Example]
    labels: list[str]  # class names by index ([] for regression; ["answer 1", ...] for multiple choice)
    regression: bool = False
    skipped: list[str] = field(default_factory=list)  # one line per row dropped (excluded label), for the report

    def label_counts(self) -> dict[str, int]:
        """Examples per class (empty for regression)."""
        if self.regression:
            return {}
        counts = dict.fromkeys(self.labels, 0)
        for example in self.examples:
            if example.label is not None:
                counts[self.labels[example.label]] += 1
        return counts

    @property
    def labelled(self) -> bool:
        """Whether every example carries a label (or a target): prediction files may have none."""
        return all(e.label is not None or e.target is not None for e in self.examples)


# ----------------------------------------------------------------------------------------------- reading

def _check_path(path: Path) -> None:
    if path.suffix.lower() not in TABLE_SUFFIXES:
        raise StudioError(f"{path}: unsupported file type {path.suffix or '(none)'!r}; fine-tuning data must be "
                          f"{', '.join(TABLE_SUFFIXES)} (a header row in CSV/TSV, one JSON object per line in JSONL).")
    if not path.is_file():
        raise StudioError(f"{path}: file not found; check the path.")


def read_rows(path: str | Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(row number, record) for every row of a CSV/TSV (header = row 1) or JSONL file (line = row)."""
    path = Path(path).expanduser()
    _check_path(path)
    row = 0
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            if path.suffix.lower() == ".jsonl":
                for row, line in enumerate(handle, start=1):
                    if not line.strip():
                        continue
                    try:
                        record = json.loads(line)
                    except ValueError as exc:
                        raise StudioError(f"{path}, row {row}: not valid JSON ({exc}); fix or delete the line."
                                          ) from exc
                    if not isinstance(record, dict):
                        raise StudioError(f"{path}, row {row}: expected a JSON object ({{\"field\": value, ...}}), "
                                          f"got {type(record).__name__}.")
                    yield row, record
                return
            reader = csv.reader(handle, delimiter="\t" if path.suffix.lower() == ".tsv" else ",")
            header = next(reader, None)
            row = 1
            if not header:
                raise StudioError(f"{path}, row 1: the file is empty; it needs a header row naming the columns.")
            header = [name.strip() for name in header]
            duplicates = sorted({n for n in header if header.count(n) > 1})
            if duplicates:
                raise StudioError(f"{path}, row 1: the header repeats column name(s) {', '.join(map(repr, duplicates))}"
                                  "; give every column its own name.")
            for row, cells in enumerate(reader, start=2):
                if not cells or (len(cells) == 1 and not cells[0].strip() and len(header) > 1):
                    continue  # blank line
                if len(cells) != len(header):
                    raise StudioError(f"{path}, row {row}: {len(cells)} fields but the header has {len(header)}; "
                                      "quote fields that contain the separator, or fix the row.")
                yield row, dict(zip(header, cells))
    except UnicodeDecodeError as exc:
        raise StudioError(f"{path}, row {_first_undecodable_line(path)}: not UTF-8 text ({exc.reason}); save the "
                          "file as UTF-8.") from exc
    except csv.Error as exc:
        raise StudioError(f"{path}, row {row + 1}: cannot be read as CSV ({exc}).") from exc
    except OSError as exc:
        raise StudioError(f"{path}: cannot be read ({exc.strerror or exc}).") from exc


def _first_undecodable_line(path: Path) -> int:
    """The 1-based line that is not UTF-8 (text is decoded in blocks, so the reader's own count runs ahead)."""
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            try:
                line.decode("utf-8")
            except UnicodeDecodeError:
                return number
    return 1


def _cell_text(value: Any) -> str:
    """A cell as the preview shows it: strings as they are, other JSON values as JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def _csv_header(path: Path) -> list[str] | None:
    """The header of a CSV/TSV file (None for JSONL)."""
    if path.suffix.lower() == ".jsonl":
        return None
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            header = next(csv.reader(handle, delimiter="\t" if path.suffix.lower() == ".tsv" else ","), None)
    except (UnicodeDecodeError, csv.Error, OSError):
        return None
    return [name.strip() for name in header] if header else None


def preview_table(path: str | Path, limit: int = 20) -> Table:
    """The columns and first ``limit`` rows, for the wizard's mapping page."""
    path = Path(path).expanduser()
    _check_path(path)
    columns = _csv_header(path) or []
    rows: list[dict[str, Any]] = []
    for _, record in read_rows(path):
        if len(rows) >= limit:
            break
        for key in record:
            if key not in columns:
                columns.append(key)
        rows.append({k: _cell_text(v) for k, v in record.items()})
    return Table(path, columns, rows, None)


# ------------------------------------------------------------------------------------------ column guess

_TEXT = ("text", "sentence", "review", "content", "document", "body", "input", "text_a", "text1", "s1", "utterance")
_GUESSES: dict[str, dict[str, tuple[str, ...]]] = {
    "classification": {"text": _TEXT + ("sentence1", "premise", "question"),
                       "label": ("label", "labels", "sentiment", "class", "category", "target", "gold_label", "y",
                                 "polarity", "topic")},
    "entailment": {"text": ("premise", "sentence1", "text_a", "text", "sentence", "s1", "text1"),
                   "text_pair": ("hypothesis", "sentence2", "text_b", "text_pair", "s2", "text2"),
                   "label": ("label", "gold_label", "labels", "class", "target", "y")},
    "similarity": {"text": ("sentence1", "text_a", "text1", "s1", "text", "sentence", "premise", "question1"),
                   "text_pair": ("sentence2", "text_b", "text2", "s2", "text_pair", "hypothesis", "question2"),
                   "label": ("score", "similarity", "label", "relatedness", "is_duplicate", "target", "y")},
    "multiple-choice": {"context": ("context", "premise", "question", "prompt", "stem", "sentence", "story", "text",
                                    "ctx"),
                        "choices": ("choices", "options", "answers", "endings", "candidates", "alternatives"),
                        "label": ("label", "answer", "answer_index", "correct", "gold", "target", "y")},
}


def _numbered_choice_columns(columns: list[str]) -> str | None:
    """Columns like choice1/choice2, ending0..3, option_a..: the answers spread over several columns."""
    for stem in ("choice", "option", "ending", "answer", "alternative", "alt", "candidate"):
        found = [c for c in columns if c.lower().rstrip("0123456789").rstrip("_ ") == stem and c.lower() != stem]
        if len(found) < 2:
            found = [c for c in columns if len(c) > len(stem) and c.lower().startswith(stem)
                     and c.lower()[len(stem):].lstrip("_ ") in ("a", "b", "c", "d", "e")]
        if len(found) >= 2:
            return ",".join(found)
    return None


def guess_columns(columns: list[str], task: str) -> ColumnMap:
    """A best guess from the column names, so the known datasets map with no clicks.

    Looks for text/sentence/premise/hypothesis/sentence1/2/label/score/choices and the like, case-insensitively;
    a column is used for one role at most.
    """
    if task not in TASKS:
        raise StudioError(f"Unknown task {task!r}; choose one of {', '.join(TASKS)}.")
    by_lower = {c.lower().strip(): c for c in reversed(columns)}
    used: set[str] = set()
    guess = ColumnMap()
    for role, candidates in _GUESSES[task].items():
        for name in candidates:
            column = by_lower.get(name)
            if column is not None and column not in used:
                setattr(guess, role, column)
                used.add(column)
                break
    if task == "multiple-choice" and guess.choices is None:
        guess.choices = _numbered_choice_columns([c for c in columns if c not in used])
    if task != "multiple-choice" and guess.text is None:  # one remaining column that is not the label: the text
        rest = [c for c in columns if c not in used]
        if len(rest) == 1 and task == "classification":
            guess.text = rest[0]
    return guess


# ------------------------------------------------------------------------------------------------ labels

def _label_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def detect_labels(path: str | Path, column: str) -> dict[str, int]:
    """Every distinct value of the label column with its count (in first-seen order), for the labels page.

    Empty labels are counted under ``""`` so the page can offer to exclude them.
    """
    path = Path(path).expanduser()
    _check_path(path)
    header = _csv_header(path)
    if header is not None and column not in header:
        raise StudioError(f"{path}, row 1: no column {column!r} (columns: {', '.join(header)}); choose the label "
                          "column.")
    counts: dict[str, int] = {}
    for row, record in read_rows(path):
        if column not in record:
            raise StudioError(f"{path}, row {row}: no field {column!r} (fields: {', '.join(record)}); choose the "
                              "label field, or add it to every row.")
        key = _label_text(record[column])
        counts[key] = counts.get(key, 0) + 1
    return counts


def _natural_key(label: str) -> tuple[int, float, str]:
    try:
        return (0, float(label), label)
    except ValueError:
        return (1, 0.0, label)


# -------------------------------------------------------------------------------------------- load data

def _split_spec(spec: str, available: set[str] | None) -> list[str]:
    """The columns a role names: itself when it is a column, else its comma-separated parts."""
    if available is not None and spec in available:
        return [spec]
    parts = [p.strip() for p in spec.split(",") if p.strip()]
    return parts or [spec]


class _Reader:
    """Looks up role values in records, with messages that name the file, the row and the option to change."""

    def __init__(self, path: Path, columns: ColumnMap) -> None:
        self.path, self.columns = path, columns
        self.header = _csv_header(path)
        self.available = set(self.header) if self.header is not None else None

    def check_header(self, roles: list[str]) -> None:
        """For CSV/TSV: every named column exists (reported as row 1, the header)."""
        if self.header is None:
            return
        for role in roles:
            spec = getattr(self.columns, role)
            if spec is None:
                continue
            for name in _split_spec(spec, self.available):
                if name not in self.available:  # type: ignore[operator]
                    raise StudioError(f"{self.path}, row 1: no column {name!r} for the {role.replace('_', ' ')} "
                                      f"(columns: {', '.join(self.header)}); set {ROLE_OPTIONS[role]} to one of them.")

    def value(self, row: int, record: dict[str, Any], role: str, name: str) -> Any:
        """One field of one row, or an error naming the row."""
        if name not in record:
            raise StudioError(f"{self.path}, row {row}: no field {name!r} for the {role.replace('_', ' ')} "
                              f"(fields: {', '.join(record)}); set {ROLE_OPTIONS[role]} or fix the row.")
        return record[name]

    def text(self, row: int, record: dict[str, Any], role: str) -> str:
        """A text role: the named fields' values joined by a space."""
        spec = getattr(self.columns, role)
        if spec is None:
            return ""
        values = []
        for name in _split_spec(spec, self.available if self.available is not None else set(record)):
            value = self.value(row, record, role, name)
            if isinstance(value, (list, dict)):
                raise StudioError(f"{self.path}, row {row}: field {name!r} holds a {type(value).__name__}, not text; "
                                  f"choose another column for {ROLE_OPTIONS[role]}.")
            values.append(_cell_text(value))
        return " ".join(v for v in values if v)

    def choices(self, row: int, record: dict[str, Any]) -> list[str]:
        """The answers: a JSON list field (or a CSV cell holding a JSON list), or one answer per named column."""
        spec = self.columns.choices or ""
        names = _split_spec(spec, self.available if self.available is not None else set(record))
        if len(names) == 1:
            value = self.value(row, record, "choices", names[0])
            if isinstance(value, str):
                try:
                    value = json.loads(value)
                except ValueError:
                    value = None
            if not isinstance(value, list):
                raise StudioError(f"{self.path}, row {row}: field {names[0]!r} should hold a list of answers "
                                  '(["first", "second", ...]); or give one column per answer: --choices a,b.')
            answers = [_cell_text(v) for v in value]
        else:
            answers = [_cell_text(self.value(row, record, "choices", n)) for n in names]
        if len(answers) < 2:
            raise StudioError(f"{self.path}, row {row}: {len(answers)} answer(s); multiple choice needs at least 2.")
        return answers


def load_task_data(path: str | Path, task: str, columns: ColumnMap, *, plan: LabelPlan | None = None,
                   regression: bool = False, labels: list[str] | None = None,
                   require_labels: bool = True) -> TaskData:
    """Read and validate a file for ``task``.

    ``labels`` fixes the class order (an evaluation file must use the training file's labels; a label not in it
    is an error naming the row). ``require_labels=False`` (prediction files) accepts rows without a label
    column; such examples have neither ``label`` nor ``target``.
    """
    path = Path(path).expanduser()
    if task not in TASKS:
        raise StudioError(f"Unknown task {task!r}; choose one of {', '.join(TASKS)}.")
    if regression and task != "similarity":
        raise StudioError(f"Regression (predicting a number) is for the similarity task only, not {task}.")
    plan = plan or LabelPlan()
    needed = [r for r in REQUIRED_ROLES[task] if require_labels or r != "label"]
    missing = [r for r in needed if getattr(columns, r) is None]
    if missing:
        options = ", ".join(ROLE_OPTIONS[r] for r in missing)
        raise StudioError(f"{TASK_TITLES[task]} needs the column(s) {', '.join(missing)}: set {options} "
                          f"(file {path}).")
    _check_path(path)
    reader = _Reader(path, columns)
    roles = [r for r in ("text", "text_pair", "context", "choices") if getattr(columns, r) is not None]
    with_label = columns.label is not None and (require_labels or reader.header is None
                                                or columns.label in reader.header)
    reader.check_header(roles + (["label"] if with_label else []))
    fixed = list(labels) if labels is not None else None
    raw: list[tuple[int, list[str], str | None]] = []
    skipped: list[str] = []
    for row, record in read_rows(path):
        if task == "multiple-choice":
            texts = [reader.text(row, record, "context"), *reader.choices(row, record)]
        elif task == "classification":
            texts = [reader.text(row, record, "text")]
        else:
            texts = [reader.text(row, record, "text"), reader.text(row, record, "text_pair")]
        label: str | None = None
        if with_label:
            if not require_labels and columns.label not in record:
                label = None
            else:
                label = _label_text(reader.value(row, record, "label", columns.label))  # type: ignore[arg-type]
                if task != "multiple-choice":
                    if label in plan.exclude:
                        skipped.append(f"row {row}: label {label!r} excluded")
                        continue
                    if label == "":
                        raise StudioError(f"{path}, row {row}: the label ({columns.label!r}) is empty; fill it in, "
                                          "or exclude empty labels (--exclude '').")
                    label = plan.rename.get(label, label)
        raw.append((row, texts, label))
    if not raw:
        raise StudioError(f"{path}: no rows to use" + (f" ({len(skipped)} excluded by label)" if skipped else "")
                          + "; check the file and the excluded labels.")
    examples: list[Example] = []
    if task == "multiple-choice":
        most = max(len(texts) - 1 for _, texts, _ in raw)
        names = [f"answer {k + 1}" for k in range(most)]
        for row, texts, label in raw:
            index = None
            if label is not None:
                count = len(texts) - 1
                try:
                    index = int(float(label))
                    if float(label) != index:
                        raise ValueError(label)
                except ValueError:
                    raise StudioError(f"{path}, row {row}: the answer index {label!r} is not a whole number; give the "
                                      f"0-based position of the right answer (0..{count - 1}).") from None
                if not 0 <= index < count:
                    raise StudioError(f"{path}, row {row}: answer index {index} is out of range for {count} answers "
                                      f"(0-based: 0..{count - 1}); fix the label or the answers.")
            examples.append(Example(row, texts, index))
        return TaskData(path, task, columns, examples, names, False, skipped)
    if regression:
        for row, texts, label in raw:
            target = None
            if label is not None:
                try:
                    target = float(label)
                except ValueError:
                    raise StudioError(f"{path}, row {row}: the score {label!r} is not a number; regression needs a "
                                      "number in every row (or untick regression to treat scores as classes)."
                                      ) from None
                if not math.isfinite(target):
                    raise StudioError(f"{path}, row {row}: the score {label!r} is not a finite number.")
            examples.append(Example(row, texts, None, target))
        return TaskData(path, task, columns, examples, [], True, skipped)
    if fixed is None:
        seen = sorted({label for _, _, label in raw if label is not None}, key=_natural_key)
        if len(seen) < 2 and require_labels:
            only = seen[0] if seen else ""
            raise StudioError(f"{path}, rows 2–{raw[-1][0]}: every row has the label {only!r}; a classifier needs "
                              "at least two classes. Check the label column or the merged/excluded labels.")
        fixed = seen
    index_of = {name: i for i, name in enumerate(fixed)}
    for row, texts, label in raw:
        if label is not None and label not in index_of:
            raise StudioError(f"{path}, row {row}: label {label!r} is not one of the training labels "
                              f"({', '.join(fixed)}); rename or exclude it.")
        examples.append(Example(row, texts, index_of[label] if label is not None else None))
    return TaskData(path, task, columns, examples, fixed, False, skipped)


# ------------------------------------------------------------------------------------------------ split

def _subset(data: TaskData, indices: list[int]) -> TaskData:
    return replace(data, examples=[data.examples[i] for i in sorted(indices)], skipped=list(data.skipped))


def stratified_split(data: TaskData, fraction: float, seed: int = 0) -> tuple[TaskData, TaskData]:
    """(train, validation) with each class's share kept (random for regression); deterministic for a seed."""
    if not 0.0 < fraction < 1.0:
        raise StudioError(f"The validation fraction must be between 0 and 1, not {fraction}.")
    n = len(data.examples)
    rng = random.Random(seed)
    groups: dict[int | None, list[int]] = {}
    for i, example in enumerate(data.examples):
        groups.setdefault(None if data.regression else example.label, []).append(i)
    val: list[int] = []
    for key in sorted(groups, key=lambda k: -1 if k is None else k):
        members = groups[key]
        rng.shuffle(members)
        take = round(len(members) * fraction)
        if len(members) >= 2:
            take = min(max(take, 1), len(members) - 1)  # every class on both sides when it can be
        val.extend(members[:take])
    if not val or len(val) == n:
        raise StudioError(f"{data.path}: {n} row(s) are too few to hold out a validation share of {fraction:g}; "
                          "add rows or give a separate evaluation file.")
    chosen = set(val)
    return _subset(data, [i for i in range(n) if i not in chosen]), _subset(data, val)


def subsample(data: TaskData, count: int, seed: int = 0) -> TaskData:
    """Exactly ``count`` examples (all if fewer), each class's share kept, drawn at random; file order is kept."""
    n = len(data.examples)
    if count >= n:
        return data
    if count < 1:
        raise StudioError(f"The number of examples must be 1 or more, not {count}.")
    rng = random.Random(seed)
    groups: dict[int | None, list[int]] = {}
    for i, example in enumerate(data.examples):
        groups.setdefault(None if data.regression else example.label, []).append(i)
    keys = sorted(groups, key=lambda k: -1 if k is None else k)
    exact = {k: len(groups[k]) * count / n for k in keys}
    quota = {k: int(exact[k]) for k in keys}
    for k in sorted(keys, key=lambda k: exact[k] - quota[k], reverse=True)[:count - sum(quota.values())]:
        quota[k] += 1  # largest remainders first
    chosen: list[int] = []
    for k in keys:
        members = groups[k]
        rng.shuffle(members)
        chosen.extend(members[:quota[k]])
    return _subset(data, chosen)
