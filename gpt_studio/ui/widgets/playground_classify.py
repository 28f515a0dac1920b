"""The Playground's Classify tab: a fine-tuned model's label probabilities for text typed in, as bars.

The inputs follow the model's task (read from its finetune.json): one text for classification, a premise and
a hypothesis for entailment, two texts for similarity, a context and answers for multiple choice.

How it classifies: the fine-tuning engine (issue 6) offers ``predict(model_path, data_path)``, which scores the
rows of a file with a saved model, and no call for texts in memory. The tab therefore writes the typed input
as a one-row JSONL file (under the columns the model was trained with) in a temporary folder and calls
``predict`` on a worker. It reloads the model each time (fast for the small models this app trains); an
in-memory call would avoid that (asked for in the issue-7 report).
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFormLayout, QHBoxLayout, QLabel, QPlainTextEdit, QPushButton, QVBoxLayout, QWidget

from gpt_studio.engine.errors import StudioError
from gpt_studio.engine.progress import Reporter
from gpt_studio.ui import theme
from gpt_studio.ui.widgets.playground_common import PlaygroundTab, ProbabilityBars, heading, muted_label, percent

# task -> the boxes shown, as (role in the model's columns, label, placeholder)
FIELDS = {
    "classification": (("text", "Text:", "The text to classify."),),
    "entailment": (("text", "Premise:", "What is given."),
                   ("text_pair", "Hypothesis:", "Does it follow from the premise, contradict it, or neither?")),
    "similarity": (("text", "Text A:", "The first text."), ("text_pair", "Text B:", "The second text.")),
    "multiple-choice": (("context", "Context:", "The question or situation (may be empty)."),
                        ("choices", "Answers:", "One answer per line.")),
}
DEFAULTS = {"text": "A wonderful little film; I loved every minute of it.", "text_pair": "", "context": "",
            "choices": ""}


def classifier_available() -> bool:
    """Whether the fine-tuning engine can score a saved model's input (its ``predict``)."""
    try:
        from gpt_studio.engine import finetune
    except ImportError:
        return False
    return callable(getattr(finetune, "predict", None))


def _names(spec: str | None) -> list[str]:
    return [part.strip() for part in (spec or "").split(",") if part.strip()]


def input_record(task: str, columns: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
    """One JSONL record holding ``values`` (role -> typed text) under the model's own column names.

    A role the model read from several columns gets the text in the first and empty strings in the rest;
    answers go in a list field, or one per column when the model was trained on answer columns.
    """
    record: dict[str, Any] = {}
    for role, value in values.items():
        names = _names(columns.get(role)) or [role]
        if role == "choices":
            answers = [line.strip() for line in value.splitlines() if line.strip()]
            if len(answers) < 2:
                raise StudioError("Give at least two answers, one per line.")
            if len(names) == 1:
                record[names[0]] = answers
            else:
                if len(answers) != len(names):
                    raise StudioError(f"This model reads exactly {len(names)} answers; give {len(names)}, one per "
                                      "line.")
                record.update(zip(names, answers, strict=True))
            continue
        if role != "context" and not value.strip():
            raise StudioError("Fill in every text box first.")
        record[names[0]] = value
        record.update(dict.fromkeys(names[1:], ""))
    if task == "multiple-choice" and columns.get("context") is None:
        record.pop("context", None)
    return record


def classify(model_path: Path, task: str, columns: dict[str, Any], values: dict[str, str]) -> dict[str, Any]:
    """The fine-tuned model's output for one typed input: ``labels`` and ``probabilities``, or ``score``."""
    from gpt_studio.engine.finetune import predict

    record = input_record(task, columns, values)
    with tempfile.TemporaryDirectory(prefix="gpt-studio-classify-") as tmp:
        path = Path(tmp) / "input.jsonl"
        path.write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
        result = predict(model_path, path)
    row = (result.get("predictions") or [{}])[0]
    return {"labels": list(result.get("labels") or []), "probabilities": list(row.get("probabilities") or []),
            "score": row.get("score"), "regression": bool(result.get("regression")),
            "truncated": int(result.get("truncated") or 0)}


class ClassifyTab(PlaygroundTab):
    """Type an input; the fine-tuned model's probability for each label, as bars."""

    title = "Classify"
    intro = "Classify: a fine-tuned classifier's probability for each of its labels, for any text you type."
    classified = Signal(object)  # the result dict of :func:`classify`

    def __init__(self, parent: QWidget | None = None) -> None:
        self.boxes: dict[str, QPlainTextEdit] = {}
        self.task = "classification"
        super().__init__(parent)

    def _build(self) -> QWidget:
        body = QWidget()
        self.what = muted_label("")
        self.form_box = QWidget()
        self.form = QFormLayout(self.form_box)
        self.form.setContentsMargins(0, 0, 0, 0)
        self.classify_button = QPushButton("Classify")
        self.classify_button.setDefault(True)
        self.classify_button.clicked.connect(self.classify)
        self.answer = QLabel("")
        self.answer.setFont(theme.scaled_font(self.answer, 1.5, bold=True))
        self.bars = ProbabilityBars()
        self.bars.setVisible(False)
        self.note = muted_label("")
        row = QHBoxLayout()
        row.addWidget(self.classify_button)
        row.addStretch(1)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.what)
        layout.addWidget(self.form_box)
        layout.addLayout(row)
        layout.addWidget(self.job_bar)
        layout.addWidget(heading("Prediction"))
        layout.addWidget(self.answer)
        layout.addWidget(self.bars)
        layout.addWidget(self.note)
        layout.addStretch(1)
        return body

    def _on_model(self, loaded: Any) -> None:
        """Boxes for the model's task; old results cleared."""
        self.answer.setText("")
        self.bars.setVisible(False)
        self.note.setText("")
        meta = (loaded.finetune if loaded is not None else None) or {}
        self.task = str(meta.get("task", "classification"))
        while self.form.rowCount():
            self.form.removeRow(0)
        self.boxes = {}
        for role, label, placeholder in FIELDS.get(self.task, FIELDS["classification"]):
            box = QPlainTextEdit(DEFAULTS.get(role, "") if self.task == "classification" else "")
            box.setPlaceholderText(placeholder)
            box.setFixedHeight(box.fontMetrics().lineSpacing() * (4 if role == "choices" else 3) + 12)
            self.boxes[role] = box
            self.form.addRow(label, box)
        labels = meta.get("labels") or []
        regression = bool(meta.get("regression"))
        self.what.setText(f"A model fine-tuned for {self.task}" + (" (a score, by regression)" if regression else "")
                          + (f"; its labels: {', '.join(map(str, labels))}." if labels and not regression else "."))

    def values(self) -> dict[str, str]:
        """What is typed, by role."""
        return {role: box.toPlainText() for role, box in self.boxes.items()}

    def classify(self) -> bool:
        """Run the fine-tuned model on the typed input (on a worker); False when nothing can run."""
        loaded = self.loaded
        if loaded is None or not loaded.finetune:
            return False
        path, task, values = Path(loaded.path), self.task, self.values()
        columns = dict(loaded.finetune.get("columns") or {})
        try:
            input_record(task, columns, values)  # a missing input is said at once, not after a job
        except StudioError as exc:
            self.job_bar.set_message(str(exc))
            return False

        def work(reporter: Reporter) -> dict[str, Any]:
            reporter.progress(0, 0, "Classifying…")
            return classify(path, task, columns, values)

        return self.run_job(work, "classifying", self.show_result)

    def show_result(self, result: dict[str, Any]) -> None:
        """Bars of the label probabilities (or the predicted score of a regression model)."""
        self.job_bar.set_message("")
        note = "The input was cut to fit the model's context." if result.get("truncated") else ""
        if result.get("regression"):
            self.answer.setText(f"Predicted score: {float(result.get('score') or 0.0):.3f}")
            self.bars.setVisible(False)
        else:
            labels, probs = result["labels"], result["probabilities"]
            best = max(range(len(probs)), key=lambda i: probs[i]) if probs else None
            self.answer.setText(f"{labels[best]} ({percent(probs[best])})" if best is not None else "")
            self.bars.setVisible(bool(probs))
            self.bars.set_bars([str(label) for label in labels], probs, [percent(p) for p in probs],
                               highlight=best, x_max=1.0)
        self.note.setText(note)
        self.classified.emit(result)

    def _set_running(self, running: bool) -> None:
        self.classify_button.setEnabled(not running)
