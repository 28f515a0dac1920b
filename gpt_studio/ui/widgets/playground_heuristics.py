"""The four zero-shot heuristics of the Zero-shot tab, each as a small editor.

Each editor holds its inputs, the exact strings it will score (for the live preview), the scoring call for one
input, and its options for a dataset file. The scoring call is built on the GUI thread from the editor's
current values and runs on a worker: it never touches a widget. A preview line is ``(label, context, scored)``:
the model reads ``context + scored`` and only the log-probability of ``scored`` counts, which the preview
shows underlined.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QWidget,
)

from gpt_studio.engine.errors import StudioError

PreviewLine = tuple[str, str, str]  # label, context (read, not scored), scored part
DEFAULT_WORDS = {"positive": " positive", "negative": " negative"}


@dataclass
class SingleResult:
    """What scoring one input gives: one score per label (log-probabilities; higher = more likely)."""

    labels: list[str]
    scores: list[float]
    unit: str = "log p"
    verdicts: list[str] = field(default_factory=list)  # acceptability: per sentence, "acceptable" or not
    # multiple choice: every normalisation's scores side by side (normalisation -> scores per label)
    by_normalisation: dict[str, list[float]] = field(default_factory=dict)


ScoreFn = Callable[[Any, Any, str], SingleResult]  # (model, tokenizer, normalisation) -> result


def _lines(edit: QPlainTextEdit) -> list[str]:
    return [line.strip() for line in edit.toPlainText().splitlines() if line.strip()]


def _text_box(text: str, lines: int, placeholder: str) -> QPlainTextEdit:
    box = QPlainTextEdit(text)
    box.setPlaceholderText(placeholder)
    box.setFixedHeight(box.fontMetrics().lineSpacing() * lines + 12)
    return box


def find_pronoun(sentence: str, pronoun: str) -> int:
    """Where ``pronoun`` first stands as a whole word in ``sentence`` (case-insensitive), or -1."""
    if not pronoun.strip():
        return -1
    match = re.search(rf"(?<!\w){re.escape(pronoun.strip())}(?!\w)", sentence, flags=re.IGNORECASE)
    return match.start() if match else -1


class HeuristicEditor(QWidget):
    """Base of the four editors."""

    changed = Signal()  # any input changed: refresh the preview
    key = ""
    title = ""
    task: str | None = None  # the engine's dataset task, None when there is no dataset mode
    uses_normalisation = False
    default_normalisation = "token"
    description = ""

    def example_text(self) -> str:
        """The text the preview shows (in dataset mode: the file's first row is put here)."""
        return ""

    def set_example(self, record: dict[str, Any]) -> None:
        """Show a dataset's first row (a CSV row or JSONL record) as the example the preview uses."""

    def preview(self) -> list[PreviewLine]:
        """The exact strings that will be scored; ValueError/StudioError with a reason when the input is wrong."""
        raise NotImplementedError

    def score_fn(self) -> ScoreFn:
        """The call that scores the current input (values captured now; runs on a worker)."""
        raise NotImplementedError

    def dataset_options(self, normalisation: str) -> dict[str, Any]:
        """The engine's ``options`` for a dataset file."""
        return {}

    def _emit_changed(self, *_args: Any) -> None:
        self.changed.emit()


class LabelWordsEditor(HeuristicEditor):
    """A template around the text and one word per label: the word the model expects most is the answer."""

    key, title, task = "label-words", "Label words", "label-words"
    uses_normalisation = True
    default_normalisation = "sum"
    description = ("Put the text into a template and compare how likely each label's word is to come next "
                   "(GPT-1's sentiment probe: “… very” → “ positive” or “ negative”).")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.text = _text_box("A wonderful little film; I loved every minute of it.", 3, "The text to classify.")
        self.template = QLineEdit("{text} very")
        self.template.setToolTip("{text} stands for the text; each label's word is appended to the result.")
        self.words = QTableWidget(0, 2)
        self.words.setHorizontalHeaderLabels(["Label", "Word appended"])
        self.words.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.words.verticalHeader().setVisible(False)
        self.words.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.words.setToolTip("Start a word with a space when it follows a word (“ good”, not “good”): the model "
                              "reads exactly this string. Several tokens are fine (“ really good”).")
        self.set_words(DEFAULT_WORDS)
        add, remove = QPushButton("Add label"), QPushButton("Remove label")
        add.clicked.connect(lambda: self._add_row("", ""))
        remove.clicked.connect(self._remove_row)
        buttons = QHBoxLayout()
        buttons.addWidget(add)
        buttons.addWidget(remove)
        buttons.addStretch(1)
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Text:", self.text)
        form.addRow("Template:", self.template)
        form.addRow("Label words:", self.words)
        form.addRow("", buttons)
        self.text.textChanged.connect(self._emit_changed)
        self.template.textChanged.connect(self._emit_changed)
        self.words.itemChanged.connect(self._emit_changed)

    def set_words(self, words: dict[str, str]) -> None:
        """Replace the label → word rows."""
        self.words.setRowCount(0)
        for label, word in words.items():
            self._add_row(label, word)
        rows = max(self.words.rowCount(), 2)
        self.words.setFixedHeight(self.words.horizontalHeader().height() + rows * self.words.rowHeight(0) + 4)

    def _add_row(self, label: str, word: str) -> None:
        row = self.words.rowCount()
        self.words.insertRow(row)
        self.words.setItem(row, 0, QTableWidgetItem(label))
        self.words.setItem(row, 1, QTableWidgetItem(word))
        self.changed.emit()

    def _remove_row(self) -> None:
        rows = sorted({index.row() for index in self.words.selectedIndexes()}, reverse=True)
        for row in rows or [self.words.rowCount() - 1]:
            if row >= 0:
                self.words.removeRow(row)
        self.changed.emit()

    def word_map(self) -> dict[str, str]:
        """The label → word table; a label with no word or a repeated label is an error."""
        out: dict[str, str] = {}
        for row in range(self.words.rowCount()):
            label = (self.words.item(row, 0).text() if self.words.item(row, 0) else "").strip()
            word = self.words.item(row, 1).text() if self.words.item(row, 1) else ""
            if not label and not word:
                continue
            if not label or not word:
                raise ValueError(f"Row {row + 1} of the label words needs both a label and a word.")
            if label in out:
                raise ValueError(f"The label {label!r} appears twice; give each label one word.")
            out[label] = word
        if len(out) < 2:
            raise ValueError("Give at least two labels, each with its word.")
        return out

    def example_text(self) -> str:
        """The text box."""
        return self.text.toPlainText()

    def set_example(self, record: dict[str, Any]) -> None:
        """A sentiment row's text."""
        text = record.get("text") or record.get("sentence")
        if isinstance(text, str):
            self.text.setPlainText(text)

    def preview(self) -> list[PreviewLine]:
        """``label_word_strings``: the template filled in, each word appended (the scored part)."""
        from gpt_studio.engine.scoring import label_word_strings

        words = self.word_map()
        strings = label_word_strings(self.example_text(), self.template.text(), words)
        return [(label, s[:len(s) - len(words[label])], words[label]) for label, s in strings.items()]

    def score_fn(self) -> ScoreFn:
        """``label_words`` on the text, under every normalisation (shown side by side)."""
        from gpt_studio.engine.scoring import NORMALISATIONS, label_words

        text, template, words = self.example_text(), self.template.text(), self.word_map()

        def score(model: Any, tokenizer: Any, normalisation: str) -> SingleResult:
            table = {n: [float(v) for v in label_words(model, tokenizer, text, template=template, words=words,
                                                       normalisation=n).values()] for n in NORMALISATIONS}
            return SingleResult(list(words), table[normalisation], by_normalisation=table)

        return score

    def dataset_options(self, normalisation: str) -> dict[str, Any]:
        """The template and words."""
        return {"template": self.template.text(), "words": self.word_map(), "normalisation": normalisation}


class MultipleChoiceEditor(HeuristicEditor):
    """A context and several answers: the answer whose tokens are most likely after the context wins."""

    key, title, task = "multiple-choice", "Multiple choice", "multiple-choice"
    uses_normalisation = True
    default_normalisation = "token"
    description = ("Score each answer's tokens after the context and pick the most likely answer "
                   "(COPA-style questions; lm-evaluation-harness's acc and acc_norm).")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = _text_box("My body cast a shadow over the grass because", 2, "The question or context.")
        self.choices = _text_box("the sun was rising.\nthe grass was cut.", 4, "One answer per line.")
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Context:", self.context)
        form.addRow("Answers:", self.choices)
        self.context.textChanged.connect(self._emit_changed)
        self.choices.textChanged.connect(self._emit_changed)

    def example_text(self) -> str:
        """The context."""
        return self.context.toPlainText()

    def set_example(self, record: dict[str, Any]) -> None:
        """A COPA-style record: its LM-ready context and answers when it has them."""
        context = record.get("lm_context") or record.get("context")
        choices = record.get("lm_choices") or record.get("choices")
        if isinstance(context, str):
            self.context.setPlainText(context)
        if isinstance(choices, list) and all(isinstance(c, str) for c in choices):
            self.choices.setPlainText("\n".join(choices))

    def _choices(self) -> list[str]:
        choices = _lines(self.choices)
        if len(choices) < 2:
            raise ValueError("Give at least two answers, one per line.")
        return choices

    def preview(self) -> list[PreviewLine]:
        """The engine's ``choice_pairs``: the context, then each answer (the scored part)."""
        from gpt_studio.engine.scoring import choice_pairs

        pairs = choice_pairs(self.context.toPlainText().strip(), self._choices())
        return [(f"answer {k}", context, answer) for k, (context, answer) in enumerate(pairs, 1)]

    def score_fn(self) -> ScoreFn:
        """``score_choices`` under every normalisation (shown side by side), the chosen one drives the bars."""
        from gpt_studio.engine.scoring import NORMALISATIONS, score_choices

        context, choices = self.context.toPlainText().strip(), self._choices()

        def score(model: Any, tokenizer: Any, normalisation: str) -> SingleResult:
            table = {n: [float(s) for s in score_choices(model, tokenizer, context, choices, normalisation=n)]
                     for n in NORMALISATIONS}
            labels = [f"{k}. {c}" for k, c in enumerate(choices, 1)]
            return SingleResult(labels, table[normalisation], by_normalisation=table)

        return score

    def dataset_options(self, normalisation: str) -> dict[str, Any]:
        """The normalisation."""
        return {"normalisation": normalisation}


class WinogradEditor(HeuristicEditor):
    """Replace the pronoun by each candidate and score what follows it (GPT-1's partial scoring)."""

    key, title, task = "winograd", "Winograd (pronoun)", "winograd"
    description = ("Put each candidate in the pronoun's place and score only the words after it: the candidate "
                   "that makes the rest of the sentence most likely is the answer (GPT-1's partial scoring).")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.sentence = _text_box("The trophy doesn't fit into the brown suitcase because it is too large.", 2,
                                  "A sentence with a pronoun.")
        self.pronoun = QLineEdit("it")
        self.pronoun.setToolTip("The pronoun to replace; its first whole-word occurrence is used.")
        self.options = _text_box("the trophy\nthe suitcase", 3, "One candidate per line.")
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Sentence:", self.sentence)
        form.addRow("Pronoun:", self.pronoun)
        form.addRow("Candidates:", self.options)
        for box in (self.sentence, self.options):
            box.textChanged.connect(self._emit_changed)
        self.pronoun.textChanged.connect(self._emit_changed)

    def example_text(self) -> str:
        """The sentence."""
        return self.sentence.toPlainText()

    def set_example(self, record: dict[str, Any]) -> None:
        """A WSC-style record: sentence, pronoun and candidates."""
        if isinstance(record.get("sentence"), str):
            self.sentence.setPlainText(record["sentence"])
        if isinstance(record.get("pronoun"), str):
            self.pronoun.setText(record["pronoun"])
        options = record.get("options")
        if isinstance(options, list) and all(isinstance(o, str) for o in options):
            self.options.setPlainText("\n".join(options))

    def _parts(self) -> tuple[str, str, int, list[str]]:
        sentence, pronoun = self.sentence.toPlainText().strip(), self.pronoun.text().strip()
        index = find_pronoun(sentence, pronoun)
        if index < 0:
            raise ValueError(f"The pronoun {pronoun!r} is not a word of the sentence." if pronoun
                             else "Type the pronoun to replace.")
        options = _lines(self.options)
        if len(options) < 2:
            raise ValueError("Give at least two candidates, one per line.")
        return sentence, pronoun, index, options

    def preview(self) -> list[PreviewLine]:
        """The engine's ``winograd_pair``: each candidate substituted; what follows the pronoun is scored."""
        from gpt_studio.engine.scoring import winograd_pair

        sentence, pronoun, index, options = self._parts()
        pronoun = sentence[index:index + len(pronoun)]
        pairs = [winograd_pair(sentence, index, pronoun, option) for option in options]
        if not any(rest.strip() for _, rest in pairs):  # the pronoun ends the sentence: whole sentences count
            return [(option, "", prefix + rest) for option, (prefix, rest) in zip(options, pairs, strict=True)]
        return [(option, prefix, rest) for option, (prefix, rest) in zip(options, pairs, strict=True)]

    def score_fn(self) -> ScoreFn:
        """``winograd`` on the sentence."""
        from gpt_studio.engine.scoring import winograd

        sentence, pronoun, index, options = self._parts()

        def score(model: Any, tokenizer: Any, _normalisation: str) -> SingleResult:
            scores = winograd(model, tokenizer, sentence, index, sentence[index:index + len(pronoun)], options)
            return SingleResult(options, [float(s) for s in scores])

        return score


class AcceptabilityEditor(HeuristicEditor):
    """The mean log-probability per token of each sentence, against a threshold."""

    key, title, task = "acceptability", "Acceptability", None
    description = ("Average log-probability per token of each sentence: a well-formed sentence should score "
                   "higher than a scrambled one; above the threshold counts as acceptable.")

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.sentences = _text_box("The cat sat on the mat.\nMat the on sat cat the.", 4, "One sentence per line.")
        self.threshold = QDoubleSpinBox()
        self.threshold.setRange(-50.0, 0.0)
        self.threshold.setSingleStep(0.5)
        self.threshold.setValue(-5.0)
        self.threshold.setSuffix(" nats per token")
        self.threshold.setToolTip("A sentence whose mean token log-probability is at least this counts as "
                                  "acceptable. Compare a few sentences you know to pick it.")
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Sentences:", self.sentences)
        form.addRow("Threshold:", self.threshold)
        self.sentences.textChanged.connect(self._emit_changed)
        self.threshold.valueChanged.connect(self._emit_changed)

    def example_text(self) -> str:
        """The sentences."""
        return self.sentences.toPlainText()

    def _sentences(self) -> list[str]:
        sentences = _lines(self.sentences)
        if not sentences:
            raise ValueError("Type at least one sentence.")
        return sentences

    def preview(self) -> list[PreviewLine]:
        """Every token of each sentence is scored."""
        return [(f"sentence {k}", "", s) for k, s in enumerate(self._sentences(), 1)]

    def score_fn(self) -> ScoreFn:
        """``acceptability`` for each sentence, with its verdict."""
        from gpt_studio.engine.scoring import acceptability

        sentences, threshold = self._sentences(), self.threshold.value()

        def score(model: Any, tokenizer: Any, _normalisation: str) -> SingleResult:
            scores = [float(acceptability(model, tokenizer, s)) for s in sentences]
            verdicts = ["acceptable" if s >= threshold else "not acceptable" for s in scores]
            return SingleResult(sentences, scores, unit="mean log p", verdicts=verdicts)

        return score


EDITORS: tuple[type[HeuristicEditor], ...] = (LabelWordsEditor, MultipleChoiceEditor, WinogradEditor,
                                              AcceptabilityEditor)


def preview_error(exc: Exception) -> str:
    """A preview's error as one line (a StudioError or ValueError message is already meant for a person)."""
    return str(exc) if isinstance(exc, (ValueError, StudioError)) else f"{type(exc).__name__}: {exc}"

