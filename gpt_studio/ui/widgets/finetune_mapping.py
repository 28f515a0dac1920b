"""Column roles per task format, and reading a mapped data file (on a job's thread) for the data page.

Kept apart from the page's widgets: these are the rules (which roles a task needs, what a role means, how a
file is read and checked), the page only shows them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gpt_studio.engine.finetune_data import ColumnMap, LabelPlan

NONE_TEXT = "(none)"
# the roles each task needs: (ColumnMap field, label, required, tooltip)
ROLES: dict[str, list[tuple[str, str, bool, str]]] = {
    "classification": [
        ("text", "Text", True, "The text to classify."),
        ("label", "Label", True, "The class of each row (any text: positive / negative, a topic, …)."),
    ],
    "entailment": [
        ("text", "Premise", True, "The first text, which may or may not support the hypothesis."),
        ("text_pair", "Hypothesis", True, "The second text, judged against the premise."),
        ("label", "Label", True, "entailment / neutral / contradiction (or any names you use)."),
    ],
    "similarity": [
        ("text", "Sentence A", True, "One text of the pair (the model reads both orders, so which is A "
                                     "does not matter)."),
        ("text_pair", "Sentence B", True, "The other text of the pair."),
        ("label", "Label or score", True, "A class (similar / not) or a number to regress on (0–5 in STS-B)."),
    ],
    "multiple-choice": [
        ("context", "Context", False, "The question or situation the answers follow; (none) scores the answers "
                                      "alone."),
        ("choices", "Answers", True, "A field holding a list of answers (JSONL), or several columns typed as "
                                     "col_a,col_b,…"),
        ("label", "Right answer", True, "The 0-based index of the right answer in the list."),
    ],
}


def read_task_file(path: Path, task: str, columns: ColumnMap) -> dict[str, Any]:
    """On the job's thread: label counts, whether they are numbers, and the file read for ``task``."""
    from gpt_studio.engine.finetune_data import detect_labels, load_task_data

    counts = detect_labels(path, columns.label) if columns.label else {}
    numeric = bool(counts) and all(is_number(k) for k in counts)
    regression = task == "similarity" and numeric and len(counts) > 10  # a score (STS-B), not a few classes
    # rows without a label cannot train; they start excluded (the labels page shows them and can keep them out)
    plan = LabelPlan(exclude={""}) if "" in counts and task != "multiple-choice" else None
    data = load_task_data(path, task, columns, plan=plan, regression=regression)
    return {"data": data, "counts": counts, "numeric": numeric, "regression": regression}


def is_number(text: str) -> bool:
    """Whether a label reads as a number (a score to regress on, for similarity)."""
    try:
        float(text)
    except (TypeError, ValueError):
        return False
    return True


def mapped_columns(columns: ColumnMap) -> list[str]:
    """Every column the mapping reads (an evaluation file must have them all)."""
    names = [c for c in (columns.text, columns.text_pair, columns.label, columns.context) if c]
    if columns.choices:
        names += [c.strip() for c in columns.choices.split(",") if c.strip()]
    return names


def cell_text(value: Any) -> str:
    """A table cell as text (lists and objects from JSONL as JSON)."""
    if value is None:
        return ""
    if isinstance(value, (list, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
