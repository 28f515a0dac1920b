"""The Playground's Zero-shot tab: ask a model to choose without any fine-tuning, on one input or a whole file.

Left: the heuristic (label words, multiple choice, Winograd, acceptability), its editor, the normalisation
with its one-line definition, and a live preview of the exact strings the model will read, the scored part
underlined. Right: the scores of one input as bars, or a dataset file's accuracy against chance with every
row. Scoring runs on a worker with progress and Cancel.
"""

from __future__ import annotations

import csv
import html
import json
import math
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from gpt_studio.engine.progress import Reporter
from gpt_studio.ui import theme
from gpt_studio.ui.widgets.playground_common import (
    PlaygroundTab,
    ProbabilityBars,
    heading,
    muted_label,
    percent,
    signed,
    softmax,
)
from gpt_studio.ui.widgets.playground_heuristics import (
    EDITORS,
    HeuristicEditor,
    PreviewLine,
    SingleResult,
    preview_error,
)
from gpt_studio.ui.widgets.playground_results import DatasetResults

SINGLE, DATASET = 0, 1
LABEL_CHARS = 40  # of an answer on a bar's label


def first_record(path: Path) -> dict[str, Any] | None:
    """The first data row of a CSV/TSV (as a dict) or JSONL file, for the preview; None when unreadable."""
    try:
        with path.open(encoding="utf-8", newline="") as handle:
            if path.suffix.lower() == ".jsonl":
                line = next((line for line in handle if line.strip()), "")
                record = json.loads(line) if line else None
                return record if isinstance(record, dict) else None
            dialect = "excel-tab" if path.suffix.lower() == ".tsv" else "excel"
            return next(csv.DictReader(handle, dialect=dialect), None)
    except (OSError, UnicodeDecodeError, ValueError, csv.Error):
        return None


def guess_task(path: Path, record: dict[str, Any]) -> str | None:
    """The dataset task a file's first record belongs to (WSC, COPA or a text/label table), or None."""
    if {"sentence", "pronoun", "options"} <= set(record):
        return "winograd"
    if "choices" in record:
        return "multiple-choice"
    if path.suffix.lower() in (".csv", ".tsv") or "text" in record:
        return "label-words"
    return None


def preview_html(lines: list[PreviewLine]) -> str:
    """The scored strings, one per line: the label, then the text in quotes with the scored part underlined."""
    out = []
    for label, context, scored in lines:
        out.append(f"<p style='white-space:pre-wrap; margin:2px 0'><b>{html.escape(label)}</b>: “"
                   f"{html.escape(context)}<u style='background-color:rgba(66,133,244,0.22)'>"
                   f"{html.escape(scored)}</u>”</p>")
    return "".join(out)


def _short(text: str, chars: int = LABEL_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= chars else text[:chars - 1] + "…"


class ZeroShotTab(PlaygroundTab):
    """Zero-shot scoring with the GPT-1 heuristics (a masked model scores by pseudo-log-likelihood)."""

    title = "Zero-shot"
    intro = ("Zero-shot: let a model choose between answers with no fine-tuning at all, by comparing how likely "
             "it finds each one; on one input or a whole dataset file.")
    scored = Signal(object)  # SingleResult of one input
    dataset_scored = Signal(object)  # ZeroShotReport of a file

    def __init__(self, parent: QWidget | None = None) -> None:
        self.editors: list[HeuristicEditor] = []
        self.preview_lines: list[PreviewLine] = []
        self.preview_problem = ""
        self.result: SingleResult | None = None
        self._heuristic_key = ""
        super().__init__(parent)

    # ------------------------------------------------------------------------------------------ building

    def _build(self) -> QWidget:
        from gpt_studio.engine.scoring import NORMALISATIONS

        self.heuristic = QComboBox()
        self.editor_stack = QStackedWidget()
        for cls in EDITORS:
            editor = cls()
            editor.changed.connect(self.update_preview)
            self.editors.append(editor)
            self.heuristic.addItem(editor.title, editor.key)
            self.editor_stack.addWidget(editor)
        self.heuristic.currentIndexChanged.connect(self._on_heuristic)
        self.description = muted_label("")
        self.single_radio, self.dataset_radio = QRadioButton("One input"), QRadioButton("A dataset file")
        self.single_radio.setChecked(True)
        self.mode = QButtonGroup(self)
        self.mode.addButton(self.single_radio, SINGLE)
        self.mode.addButton(self.dataset_radio, DATASET)
        self.mode.idToggled.connect(lambda _id, on: on and self._on_mode())
        self.normalisation = QComboBox()
        for name in NORMALISATIONS:
            self.normalisation.addItem(name, name)
        self.normalisation.setCurrentIndex(max(self.normalisation.findData("token"), 0))
        self.normalisation.currentIndexChanged.connect(self._on_normalisation)
        self.normalisation_help = muted_label("")
        self.preview = QTextEdit()
        self.preview.setReadOnly(True)
        self.preview.setFixedHeight(self.preview.fontMetrics().lineSpacing() * 5 + 14)
        self.preview_note = muted_label("")
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self._scroll(self._inputs()))
        splitter.addWidget(self._outputs())
        splitter.setStretchFactor(0, 2)
        splitter.setStretchFactor(1, 3)  # results (a table of rows) need the room more than the inputs
        splitter.setChildrenCollapsible(False)
        self._on_heuristic()
        return splitter

    def _scroll(self, widget: QWidget) -> QScrollArea:
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(widget)
        return scroll

    def _inputs(self) -> QWidget:
        box = QWidget()
        top = QHBoxLayout()
        top.addWidget(QLabel("Heuristic:"))
        top.addWidget(self.heuristic, 1)
        top.addSpacing(12)
        top.addWidget(self.single_radio)
        top.addWidget(self.dataset_radio)
        self.normalisation_row = QWidget()
        row = QHBoxLayout(self.normalisation_row)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(QLabel("Normalisation:"))
        row.addWidget(self.normalisation)
        row.addWidget(self.normalisation_help, 1)
        layout = QVBoxLayout(box)
        layout.setContentsMargins(0, 0, 6, 0)
        layout.addLayout(top)
        layout.addWidget(self.description)
        layout.addWidget(self.editor_stack)
        layout.addWidget(self.normalisation_row)
        layout.addWidget(heading("What the model will read", scale=1.0))
        layout.addWidget(self.preview)
        layout.addWidget(self.preview_note)
        layout.addStretch(1)
        return box

    def _outputs(self) -> QWidget:
        self.output_stack = QStackedWidget()
        self.output_stack.addWidget(self._single_output())
        self.output_stack.addWidget(self._dataset_output())
        box = QWidget()
        layout = QVBoxLayout(box)
        layout.setContentsMargins(6, 0, 0, 0)
        layout.addWidget(self.output_stack, 1)
        layout.addWidget(self.job_bar)
        return box

    def _single_output(self) -> QWidget:
        self.score_button = QPushButton("Score")
        self.score_button.setDefault(True)
        self.score_button.clicked.connect(self.score_single)
        self.answer = QLabel("")
        self.answer.setWordWrap(True)
        self.answer.setFont(theme.scaled_font(self.answer, 1.25))
        self.bars = ProbabilityBars()
        self.bars.setVisible(False)
        self.single_note = muted_label("Click Score to see how likely the model finds each option.")
        self.side_by_side_note = muted_label("Every normalisation side by side; in bold, the option each one picks.")
        self.side_by_side_note.setVisible(False)
        self.side_by_side = QTableWidget(0, 0)
        self.side_by_side.verticalHeader().setVisible(False)
        self.side_by_side.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.side_by_side.setVisible(False)
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(self.score_button)
        row.addStretch(1)
        layout.addLayout(row)
        layout.addWidget(self.answer)
        layout.addWidget(self.bars)
        layout.addWidget(self.single_note)
        layout.addWidget(self.side_by_side_note)
        layout.addWidget(self.side_by_side)
        layout.addStretch(1)
        return page

    def _dataset_output(self) -> QWidget:
        self.path = QLineEdit()
        self.path.setPlaceholderText("A sentiment CSV (text,label), COPA JSONL or WSC JSONL file")
        self.path.textChanged.connect(self._on_path)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self.choose_file)
        self.limit = QSpinBox()
        self.limit.setRange(0, 10_000_000)
        self.limit.setSpecialValueText("all rows")
        self.limit.setPrefix("first ")
        self.limit.setSuffix(" rows")
        self.limit.setToolTip("Score only the first rows (quicker for a first look); “all rows” scores the file.")
        self.dataset_button = QPushButton("Score dataset")
        self.dataset_button.clicked.connect(self.score_dataset)
        self.results = DatasetResults()
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        row.addWidget(self.path, 1)
        row.addWidget(browse)
        layout.addLayout(row)
        row = QHBoxLayout()
        row.addWidget(self.limit)
        row.addWidget(self.dataset_button)
        row.addStretch(1)
        layout.addLayout(row)
        layout.addWidget(self.results, 1)
        return page

    # ------------------------------------------------------------------------------------- the inputs

    @property
    def editor(self) -> HeuristicEditor:
        """The editor of the chosen heuristic."""
        return self.editors[self.heuristic.currentIndex()]

    def set_heuristic(self, key: str) -> None:
        """Choose a heuristic by its key (label-words, multiple-choice, winograd, acceptability)."""
        self.heuristic.setCurrentIndex(self.heuristic.findData(key))

    def set_mode(self, mode: int) -> None:
        """SINGLE or DATASET."""
        (self.dataset_radio if mode == DATASET else self.single_radio).setChecked(True)

    def _on_heuristic(self) -> None:
        editor = self.editor
        for other in self.editors:  # the stack is as tall as the shown editor, not the tallest one
            vertical = QSizePolicy.Policy.Preferred if other is editor else QSizePolicy.Policy.Ignored
            other.setSizePolicy(QSizePolicy.Policy.Preferred, vertical)
        self.editor_stack.setCurrentWidget(editor)
        text = editor.description
        if self.loaded is not None and self.loaded.family == "bert":
            text += " A masked model scores a string by pseudo-log-likelihood (each token masked in turn)."
        self.description.setText(text)
        self.normalisation_row.setVisible(editor.uses_normalisation)
        if editor.uses_normalisation and editor.key != self._heuristic_key:  # a new heuristic: its usual default
            self.normalisation.setCurrentIndex(max(self.normalisation.findData(editor.default_normalisation), 0))
        self._heuristic_key = editor.key
        has_dataset = editor.task is not None
        self.dataset_radio.setEnabled(has_dataset)
        self.dataset_radio.setToolTip("" if has_dataset else "Dataset files cover label words, multiple choice and "
                                      "Winograd (the formats of the shared datasets); score sentences one by one here.")
        if not has_dataset:
            self.single_radio.setChecked(True)
        self._on_normalisation()
        self._on_mode()
        self.update_preview()

    def _on_normalisation(self) -> None:
        from gpt_studio.engine.scoring import NORMALISATION_HELP

        self.normalisation_help.setText(NORMALISATION_HELP.get(self.normalisation.currentData(), ""))
        if self.result is not None and self.result.by_normalisation:
            self._show_single(self.result)

    def _on_mode(self) -> None:
        self.output_stack.setCurrentIndex(self.mode.checkedId() if self.mode.checkedId() >= 0 else SINGLE)
        self.update_preview()  # its note depends on the mode

    def update_preview(self) -> None:
        """Show the exact strings the model will score, or why the input cannot be scored yet."""
        try:
            self.preview_lines, self.preview_problem = self.editor.preview(), ""
        except Exception as exc:  # noqa: BLE001 - any problem with the input is shown in place of the preview
            self.preview_lines, self.preview_problem = [], preview_error(exc)
        if self.preview_problem:
            self.preview.setHtml(f"<p style='color:#c62828'>{html.escape(self.preview_problem)}</p>")
        else:
            self.preview.setHtml(preview_html(self.preview_lines))
        note = ("The model reads each line; only the underlined part's log-probability counts."
                if self.preview_lines and any(c for _, c, _ in self.preview_lines) else "")
        if note and self.mode.checkedId() == DATASET:
            note += " Shown for the file's first row; every row is read the same way."
        self.preview_note.setText(note)
        self._set_running(self.busy)

    def preview_strings(self) -> list[str]:
        """The full strings of the preview (what the model reads)."""
        return [context + scored for _label, context, scored in self.preview_lines]

    # --------------------------------------------------------------------------------- one input

    def score_single(self) -> bool:
        """Score the current input on a worker; False when nothing can run."""
        if self.preview_problem or self.loaded is None:
            return False
        score, normalisation, loaded = self.editor.score_fn(), self.normalisation.currentData(), self.loaded

        def work(reporter: Reporter) -> SingleResult:
            reporter.progress(0, 0, "Scoring…")
            return score(loaded.model, loaded.tokenizer, normalisation)

        return self.run_job(work, "zero-shot scoring", self._on_single)

    def _on_single(self, result: SingleResult) -> None:
        self.result = result
        self.job_bar.set_message("")
        self._show_single(result)
        self.scored.emit(result)

    def _show_single(self, result: SingleResult) -> None:
        scores = result.by_normalisation.get(self.normalisation.currentData(), result.scores)
        if result.verdicts:  # acceptability: a typical token's probability, not a share among choices
            values = [math.exp(s) for s in scores]
            texts = [f"{result.unit} {signed(s)} · {v}" for s, v in zip(scores, result.verdicts, strict=True)]
            best = {i for i, v in enumerate(result.verdicts) if v == "acceptable"}
            self.answer.setText(f"{len(best)} of {len(scores)} acceptable.")
            note = "Bar: the geometric-mean probability of a token, exp(mean log p)."
            highlight: Any = best
        else:
            values = softmax(scores)
            texts = [f"{result.unit} {signed(s)} · {percent(v)}" for s, v in zip(scores, values, strict=True)]
            highlight = max(range(len(scores)), key=lambda i: scores[i]) if scores else None
            self.answer.setText(f"The model's answer: <b>{html.escape(result.labels[highlight])}</b>"
                                if highlight is not None else "")
            note = "Bar: each option's share of the probability among the options (a softmax of the scores)."
        self.bars.setVisible(True)
        self.bars.set_bars([_short(label) for label in result.labels], values, texts, highlight=highlight,
                           x_max=max(values, default=1.0))
        self.single_note.setText(note)
        self._fill_side_by_side(result)

    def _fill_side_by_side(self, result: SingleResult) -> None:
        """Every normalisation's scores next to each other; each column's winner in bold."""
        table = result.by_normalisation
        self.side_by_side.setVisible(bool(table))
        self.side_by_side_note.setVisible(bool(table))
        if not table:
            return
        names = list(table)
        self.side_by_side.clear()
        self.side_by_side.setColumnCount(len(names) + 1)
        self.side_by_side.setRowCount(len(result.labels))
        self.side_by_side.setHorizontalHeaderLabels(["option", *names])
        bold = QFont(self.side_by_side.font())
        bold.setBold(True)
        for r, label in enumerate(result.labels):
            self.side_by_side.setItem(r, 0, QTableWidgetItem(_short(label)))
        for c, name in enumerate(names, 1):
            best = max(range(len(table[name])), key=lambda i: table[name][i])
            for r, value in enumerate(table[name]):
                item = QTableWidgetItem(signed(value, 3))
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if r == best:
                    item.setFont(bold)
                self.side_by_side.setItem(r, c, item)
        self.side_by_side.resizeColumnsToContents()
        self.side_by_side.setFixedHeight(self.side_by_side.horizontalHeader().height()
                                         + sum(self.side_by_side.rowHeight(r) for r in range(len(result.labels))) + 4)

    # ------------------------------------------------------------------------------------ a dataset

    def choose_file(self) -> None:
        """Pick a dataset file."""
        start = self.path.text() or str(Path.home())
        path, _ = QFileDialog.getOpenFileName(self, "Choose a dataset to score", start,
                                              "Datasets (*.csv *.tsv *.jsonl);;All files (*)")
        if path:
            self.path.setText(path)

    def _on_path(self, text: str) -> None:
        """Show the file's first row in the editor, so the preview is what the model will read for it."""
        path = Path(text.strip())
        record = first_record(path) if text.strip() and path.is_file() else None
        if record:
            task = guess_task(path, record)
            if task is not None and task != self.editor.task:  # a COPA file means multiple choice, and so on
                self.set_heuristic(task)
            self.editor.set_example(record)
        self._set_running(self.busy)

    def score_dataset(self) -> bool:
        """Score the chosen file on a worker (progress, Cancel); False when nothing can run."""
        from gpt_studio.engine.scoring import zero_shot_dataset

        path, task, loaded = Path(self.path.text().strip()), self.editor.task, self.loaded
        if not path.is_file() or task is None or loaded is None:
            if self.path.text().strip() and not path.is_file():
                self.job_bar.set_message(f"There is no file at {path}.")
            return False
        try:
            options = self.editor.dataset_options(self.normalisation.currentData())
        except ValueError as exc:
            self.job_bar.set_message(str(exc))
            return False
        limit = self.limit.value() or None

        def work(reporter: Reporter) -> Any:
            reporter.progress(0, 0, f"Reading {path.name}…")
            return zero_shot_dataset(loaded.model, loaded.tokenizer, path, task, options=options, limit=limit,
                                     progress=lambda done, total: reporter.progress(
                                         done, total, f"Scored {int(done):,} of {int(total):,} rows"),
                                     cancel=lambda: reporter.cancelled)

        self.results.clear()
        return self.run_job(work, f"scoring {path.name}", lambda report: self._on_report(report, path))

    def _on_report(self, report: Any, path: Path) -> None:
        note = f"{path.name} · {self.editor.title.lower()}"
        if self.editor.uses_normalisation:
            note += f" · {self.normalisation.currentData()} normalisation"
        self.results.set_report(report, note)
        self.job_bar.set_message("")
        self.dataset_scored.emit(report)

    # --------------------------------------------------------------------------------------- state

    def _set_running(self, running: bool) -> None:
        can_score = not running and not self.preview_problem
        self.score_button.setEnabled(can_score)
        self.dataset_button.setEnabled(not running and bool(self.path.text().strip()) and self.editor.task is not None)
        self.heuristic.setEnabled(not running)

    def _on_model(self, loaded: Any) -> None:
        self.result = None
        self.bars.setVisible(False)
        self.side_by_side.setVisible(False)
        self.side_by_side_note.setVisible(False)
        self.answer.setText("")
        self.results.clear()
        self._on_heuristic()
