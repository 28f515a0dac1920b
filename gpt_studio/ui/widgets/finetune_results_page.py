"""Wizard step 7: how good the model is — metrics, a confusion-matrix heat map, the most confident mistakes.

Numbers come from the run's result (``FinetuneResult.to_dict()``); the mistakes from the ``predictions.csv``
the engine wrote in the model folder (validation rows with one probability column per label). Clicking a
cell of the confusion matrix lists the examples behind it, so a pattern in the errors leads to the rows.
For regression the page shows Pearson, Spearman and MSE and the largest errors instead. A second tab holds
the paper's analyses (pretrained vs scratch, layers transferred 0..n; see ``finetune_analysis_group``).
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from gpt_studio.ui.widgets.finetune_analysis_group import AnalysesGroup
from gpt_studio.ui.widgets.finetune_common import FinetuneChoices, WizardPage, blend, heading, note, readable_on

PREDICTIONS_FILE = "predictions.csv"
MAX_MISTAKES = 200
TEXT_CHARS = 300  # longer texts are cut in the table (the tooltip holds them whole)


def read_predictions(path: Path, task: str, regression: bool) -> list[dict[str, Any]]:
    """Rows of predictions.csv as {row, text, true, predicted, probability | error}; [] if the file is missing."""
    try:
        with open(path, encoding="utf-8", newline="") as handle:
            records = list(csv.DictReader(handle))
    except (OSError, csv.Error, UnicodeDecodeError):
        return []
    out = []
    for record in records:
        item: dict[str, Any] = {"row": record.get("row", ""), "text": _texts(record, task)}
        if regression:
            try:
                true, predicted = float(record["score"]), float(record["predicted_score"])
            except (KeyError, TypeError, ValueError):
                continue
            item.update(true=true, predicted=predicted, error=abs(predicted - true))
        else:
            predicted = record.get("predicted", "")
            try:
                probability = float(record.get(f"p_{predicted}", "nan"))
            except ValueError:
                probability = float("nan")
            item.update(true=record.get("label", ""), predicted=predicted, probability=probability)
        out.append(item)
    return out


def _texts(record: dict[str, str], task: str) -> str:
    """One line for the example's texts: "a ‖ b" for pairs, the context and numbered answers for choices."""
    if task == "multiple-choice":
        answers = [record[k] for k in sorted((k for k in record if k.startswith("answer_")),
                                             key=lambda k: int(k.split("_")[1]))]
        numbered = "  ".join(f"({n}) {a}" for n, a in enumerate(answers, start=1) if a)
        return f"{record.get('context', '')}  →  {numbered}".strip(" →")
    if "text_pair" in record:
        return f"{record.get('text', '')}  ‖  {record.get('text_pair', '')}"
    return record.get("text", "")


def mistakes(rows: list[dict[str, Any]], regression: bool, true: str | None = None,
             predicted: str | None = None) -> list[dict[str, Any]]:
    """Wrong predictions, most confident first (regression: largest error first); optionally one matrix cell."""
    if regression:
        return sorted(rows, key=lambda r: -r["error"])
    wrong = [r for r in rows if r["true"] != r["predicted"]
             and (true is None or r["true"] == true) and (predicted is None or r["predicted"] == predicted)]
    if true is not None and true == predicted:  # a diagonal cell: the right answers behind it
        wrong = [r for r in rows if r["true"] == true and r["predicted"] == true]
    return sorted(wrong, key=lambda r: -(r["probability"] if r["probability"] == r["probability"] else 0.0))


class ResultsPage(WizardPage):
    """Metrics, per-class precision/recall, the confusion matrix and the examples it got wrong."""

    title = "Results"

    def __init__(self, choices: FinetuneChoices, parent: QWidget | None = None) -> None:
        super().__init__(choices, parent)
        self.predictions: list[dict[str, Any]] = []
        self.cell: tuple[str, str] | None = None
        self.regression = False
        self.summary = note()
        self.metrics = _table(["Metric", "Value"], stretch=0)
        self.per_class = _table(["Class", "Precision", "Recall", "F1", "Support"], stretch=0)
        self.confusion = QTableWidget()
        self.confusion.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.confusion.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.confusion.setToolTip("Rows: the true class; columns: what the model predicted. Click a cell to list "
                                  "its examples.")
        self.confusion.cellClicked.connect(self._on_cell_clicked)
        self.mistakes_title = heading("Most confident mistakes", scale=1.1)
        self.mistakes_note = note()
        self.show_all = QPushButton("All mistakes")
        self.show_all.setToolTip("Stop filtering by the chosen confusion-matrix cell.")
        self.show_all.clicked.connect(lambda: self.filter_mistakes(None))
        self.mistakes = _table(["Row", "Text", "True", "Predicted", "Probability"], stretch=1)
        # the paper's analyses rerun these choices; while one runs the person stays here (reason() says why)
        self.analyses = AnalysesGroup(choices)
        self.analyses.busy_changed.connect(lambda _busy: self.changed.emit())
        self._analysed_result: dict[str, Any] | None = None  # the run the analyses' figures belong with
        self._layout()

    def _layout(self) -> None:
        top = QHBoxLayout()
        metrics_box = QVBoxLayout()
        metrics_box.addWidget(heading("Metrics", scale=1.1))
        metrics_box.addWidget(self.metrics)
        classes_box = QVBoxLayout()
        classes_box.addWidget(heading("Per class", scale=1.1))
        classes_box.addWidget(self.per_class)
        metrics_box.addStretch(1)
        classes_box.addStretch(1)
        top.addLayout(metrics_box, 2)
        top.addLayout(classes_box, 3)
        self.confusion_box = QWidget()
        confusion_column = QVBoxLayout(self.confusion_box)
        confusion_column.setContentsMargins(0, 0, 0, 0)
        confusion_column.addWidget(heading("Confusion matrix", scale=1.1))
        confusion_column.addWidget(note("Rows: true class · columns: predicted. Darker = a larger share of the "
                                        "row. Click a cell to see its examples."))
        confusion_column.addWidget(self.confusion, 1)
        mistakes_box = QWidget()
        mistakes_column = QVBoxLayout(mistakes_box)
        mistakes_column.setContentsMargins(0, 0, 0, 0)
        header = QHBoxLayout()
        header.addWidget(self.mistakes_title)
        header.addStretch(1)
        header.addWidget(self.show_all)
        mistakes_column.addLayout(header)
        mistakes_column.addWidget(self.mistakes_note)
        mistakes_column.addWidget(self.mistakes, 1)
        bottom = QSplitter(Qt.Orientation.Horizontal)
        bottom.addWidget(self.confusion_box)
        bottom.addWidget(mistakes_box)
        bottom.setSizes([350, 650])
        bottom.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.addWidget(heading("Results"))
        layout.addWidget(self.summary)
        layout.addLayout(top)
        # tabs, not a third column: the sweep plot and the mistakes table each need the full width to read
        self.tabs = QTabWidget()
        self.tabs.addTab(bottom, "Confusion matrix and mistakes")
        self.tabs.addTab(self.analyses, "Pretrained vs scratch · layers transferred")
        layout.addWidget(self.tabs, 1)

    # ----------------------------------------------------------------------------------------- entering

    def enter(self) -> None:
        """Show the latest run's result (a new run clears the analyses, which measured other choices)."""
        self.show_result(self.choices.result)
        if self.choices.result is not self._analysed_result and not self.analyses.busy():
            self._analysed_result = self.choices.result
            self.analyses.reset()
        self.analyses.refresh()

    def busy(self) -> bool:
        """While an analysis runs, Back would leave it unseen."""
        return self.analyses.busy()

    def reason(self) -> str:
        """Next waits for a running analysis (its models train on the same CPU as anything started next)."""
        if self.analyses.busy():
            return "An analysis is running: wait for it to end, or Stop it."
        return ""

    def shutdown(self) -> None:
        """Stop a running analysis and wait for it (the window is closing)."""
        self.analyses.shutdown()

    def show_result(self, result: dict[str, Any] | None) -> None:
        """Fill every table from a FinetuneResult dict and the model folder's predictions.csv."""
        if not result:
            self.summary.setText("No results yet: train a model first.")
            return
        regression = result.get("metric_name") == "pearson" or result.get("val_pearson") is not None
        self.summary.setText(_summary(result))
        self._fill_metrics(result, regression)
        self._fill_per_class(result)
        self._fill_confusion(result)
        self.confusion_box.setVisible(not regression)
        self.per_class.setVisible(not regression)
        path = Path(result["model_path"]) / PREDICTIONS_FILE if result.get("model_path") else None
        self.predictions = read_predictions(path, result.get("task", ""), regression) if path else []
        self.regression = regression
        self.mistakes_title.setText("Largest errors" if regression else "Most confident mistakes")
        self.mistakes.setHorizontalHeaderLabels(["Row", "Text", "Score", "Predicted", "Error"] if regression else
                                                ["Row", "Text", "True", "Predicted", "Probability"])
        self.filter_mistakes(None)

    def _fill_metrics(self, result: dict[str, Any], regression: bool) -> None:
        rows: list[tuple[str, str]] = []
        if regression:
            for key, name in (("val_pearson", "Pearson r"), ("val_spearman", "Spearman ρ"), ("val_mse", "MSE")):
                if result.get(key) is not None:
                    rows.append((name, f"{result[key]:.4f}"))
        else:
            for key, name in (("val_accuracy", "Accuracy"), ("val_macro_f1", "Macro-F1")):
                if result.get(key) is not None:
                    rows.append((name, f"{result[key]:.4f}"))
        if result.get("val_loss") is not None:
            rows.append(("Validation loss", f"{result['val_loss']:.4f}"))
        rows += [("Trained on", f"{result.get('train_examples', 0):,} examples"),
                 ("Validated on", f"{result.get('val_examples', 0):,} examples"),
                 ("Best at step", f"{result.get('best_step', 0):,} of {result.get('steps', 0):,}")]
        if result.get("truncated"):
            rows.append(("Cut to fit the context", f"{result['truncated']:,} examples"))
        _fill(self.metrics, rows)
        _fit_rows(self.metrics, 9)

    def _fill_per_class(self, result: dict[str, Any]) -> None:
        per_class = result.get("per_class") or {}
        _fill(self.per_class, [(name, f"{v.get('precision', 0):.3f}", f"{v.get('recall', 0):.3f}",
                                f"{v.get('f1', 0):.3f}", f"{int(v.get('support', 0)):,}")
                               for name, v in per_class.items()])
        _fit_rows(self.per_class, 9)

    def _fill_confusion(self, result: dict[str, Any]) -> None:
        labels, matrix = list(result.get("labels") or []), result.get("confusion") or []
        table = self.confusion
        table.clear()
        table.setRowCount(len(matrix))
        table.setColumnCount(len(labels))
        table.setHorizontalHeaderLabels(labels)
        table.setVerticalHeaderLabels(labels[:len(matrix)])
        palette = self.palette()
        base, accent = palette.color(QPalette.ColorRole.Base), palette.color(QPalette.ColorRole.Highlight)
        wrong = QColor("#d0342c")
        for r, row in enumerate(matrix):
            total = sum(row) or 1
            for c, count in enumerate(row):
                share = count / total
                fill = blend(base, accent if r == c else wrong, 0.15 + 0.85 * share if count else 0.0)
                item = QTableWidgetItem(f"{count:,}")
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                item.setBackground(fill)
                item.setForeground(readable_on(fill))
                item.setToolTip(f"true {labels[r]}, predicted {labels[c]}: {count:,} ({share:.0%} of the row)")
                table.setItem(r, c, item)
        table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)

    def cell_color(self, row: int, column: int) -> QColor:
        """The background of one confusion-matrix cell (tests check the heat map's ordering)."""
        return self.confusion.item(row, column).background().color()

    # ------------------------------------------------------------------------------------------ mistakes

    def _on_cell_clicked(self, row: int, column: int) -> None:
        labels = [self.confusion.horizontalHeaderItem(c).text() for c in range(self.confusion.columnCount())]
        self.filter_mistakes((labels[row], labels[column]))

    def filter_mistakes(self, cell: tuple[str, str] | None) -> None:
        """List the most confident mistakes, or the examples of one (true, predicted) cell."""
        self.cell = cell
        regression = self.regression
        rows = mistakes(self.predictions, regression, *(cell or (None, None)))[:MAX_MISTAKES]
        if not self.predictions:
            self.mistakes_note.setText("The model folder has no predictions file to list examples from.")
        elif regression:
            self.mistakes_note.setText("Validation examples whose predicted score is furthest from the true one.")
        elif cell is None:
            self.mistakes_note.setText(f"{len(rows):,} wrong predictions on the validation set, the most confident "
                                       "first: often a wrong label, or a pattern the model has not learned.")
        else:
            what = "right answers" if cell[0] == cell[1] else "mistakes"
            self.mistakes_note.setText(f"{what.capitalize()} with true “{cell[0]}” and predicted “{cell[1]}”: "
                                       f"{len(rows):,}.")
        self.show_all.setEnabled(cell is not None)
        last = "error" if regression else "probability"
        _fill(self.mistakes, [(str(r["row"]), r["text"], _value(r["true"]), _value(r["predicted"]),
                               f"{r[last]:.3f}") for r in rows])

    def mistake_rows(self) -> list[tuple[str, ...]]:
        """The mistakes table's cells, row by row."""
        return [tuple(self.mistakes.item(r, c).text() for c in range(self.mistakes.columnCount()))
                for r in range(self.mistakes.rowCount())]


def _summary(result: dict[str, Any]) -> str:
    how = {"completed": "completed", "early_stopped": "stopped early", "stopped": "was stopped"}.get(
        str(result.get("reason")), "ended")
    if result.get("val_accuracy") is not None:
        metric = (f"accuracy <b>{result['val_accuracy']:.1%}</b>, macro-F1 <b>{result.get('val_macro_f1') or 0:.3f}"
                  "</b>")
    else:
        metric = f"Pearson r <b>{result.get('val_pearson') or 0:.3f}</b>"
    return (f"The run {how} after {result.get('steps', 0):,} steps ({result.get('wall_seconds', 0):.1f} s). On "
            f"{result.get('val_examples', 0):,} validation examples the best model scores {metric}.")


def _value(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _table(headers: list[str], stretch: int) -> QTableWidget:
    """A read-only table with compact rows; column ``stretch`` takes the spare width, the others fit."""
    table = QTableWidget(0, len(headers))
    table.setHorizontalHeaderLabels(headers)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.verticalHeader().hide()
    table.verticalHeader().setDefaultSectionSize(table.fontMetrics().height() + 8)
    table.setWordWrap(False)
    header = table.horizontalHeader()
    header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
    header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    return table


def _fit_rows(table: QTableWidget, most: int) -> None:
    """Make ``table`` as tall as its rows (at most ``most`` of them; more scroll)."""
    rows = max(min(table.rowCount(), most), 1)
    row_height = table.verticalHeader().defaultSectionSize()
    table.setFixedHeight(table.horizontalHeader().sizeHint().height() + rows * row_height + 2 * table.frameWidth() + 2)


def _fill(table: QTableWidget, rows: list[tuple[str, ...]]) -> None:
    table.setRowCount(len(rows))
    for r, cells in enumerate(rows):
        for c, text in enumerate(cells):
            shown = text if len(text) <= TEXT_CHARS else text[:TEXT_CHARS - 1] + "…"
            item = QTableWidgetItem(shown)
            item.setToolTip(text)
            if c and _numeric(text):
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            table.setItem(r, c, item)


def _numeric(text: str) -> bool:
    try:
        float(text.replace(",", "").split()[0])
    except (ValueError, IndexError):
        return False
    return True
