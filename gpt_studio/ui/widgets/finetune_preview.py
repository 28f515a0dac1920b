"""What the model reads: one example's token sequence(s), specials included, as token chips.

``sequence_preview(base, data, index)`` gives one list of (id, piece) per sequence the model reads for the
example (one for classification and entailment, both orders for similarity, one per answer for multiple
choice); each is drawn with :class:`TokenChips` under a caption, so the person sees exactly where <s>,
[SEP] and [CLS] go and whether a long text was cut.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtWidgets import QHBoxLayout, QLabel, QSpinBox, QVBoxLayout, QWidget

from gpt_studio.engine.errors import StudioError
from gpt_studio.ui.widgets.finetune_common import ENGINE_MISSING, ERROR_STYLE, heading, note
from gpt_studio.ui.widgets.token_chips import TokenChips
from gpt_studio.ui.widgets.wording import plural


class SequencePreview(QWidget):
    """An example picker over captions and token chips, one pair per sequence the model reads."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.base: Any = None
        self.data: Any = None
        self.chips: list[TokenChips] = []
        self.captions: list[QLabel] = []
        self.example = QSpinBox()
        self.example.setRange(1, 1)
        self.example.setPrefix("example ")
        self.example.setToolTip("Which example to preview (or select a row in the table).")
        self.example.valueChanged.connect(lambda _v: self.refresh())
        self.example_label = note()
        self.error = note(style=ERROR_STYLE)
        self.error.hide()
        self.sequences = QVBoxLayout()
        header = QHBoxLayout()
        header.addWidget(heading("What the model reads", scale=1.1))
        header.addStretch(1)
        header.addWidget(self.example)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(header)
        layout.addWidget(self.example_label)
        layout.addWidget(self.error)
        layout.addLayout(self.sequences)
        layout.addStretch(1)

    def set_data(self, base: Any, data: Any) -> None:
        """Preview ``data`` (a TaskData, or None to clear) as ``base`` (a BaseModel) will read it."""
        self.base, self.data = base, data
        self.example.blockSignals(True)
        self.example.setRange(1, max(len(data.examples) if data is not None else 1, 1))
        self.example.blockSignals(False)
        self.refresh()

    def show_row(self, file_row: int) -> None:
        """Preview the example read from ``file_row`` of the file (if it was not excluded)."""
        examples = self.data.examples if self.data is not None else []
        index = next((k for k, e in enumerate(examples) if e.row == file_row), None)
        if index is not None:
            self.example.setValue(index + 1)

    def tokens(self) -> list[list[tuple[str, int]]]:
        """The (piece, id) sequences shown now."""
        return [chips.tokens() for chips in self.chips if chips.isVisibleTo(self)]

    def refresh(self) -> None:
        """Show the chosen example's sequences (``sequence_preview``) as chips; an error says why not."""
        for widget in (*self.chips, *self.captions):
            widget.hide()
        self.example_label.setText("")
        self._set_error("")
        data, base = self.data, self.base
        if data is None or base is None or not data.examples:
            return
        from gpt_studio.engine.finetune import sequence_preview

        index = min(self.example.value() - 1, len(data.examples) - 1)
        try:
            sequences = sequence_preview(base, data, index)
        except NotImplementedError:
            sequences = []
            self._set_error(ENGINE_MISSING)
        except StudioError as exc:
            sequences = []
            self._set_error(str(exc))
        example = data.examples[index]
        self.example_label.setText(f"Row {example.row} of {data.path.name} · {_answer_text(data, example)}")
        while len(self.chips) < len(sequences):
            caption, chips = QLabel(), TokenChips()
            self.captions.append(caption)
            self.chips.append(chips)
            self.sequences.addWidget(caption)
            self.sequences.addWidget(chips)
        for k, sequence in enumerate(sequences):
            self.captions[k].setText(_caption(data.task, k, len(sequences), len(sequence), example))
            self.chips[k].set_tokens([(piece, token_id) for token_id, piece in sequence])
            self.captions[k].show()
            self.chips[k].show()

    def _set_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))


def _answer_text(data: Any, example: Any) -> str:
    if example.target is not None:
        return f"score {example.target:g}"
    if example.label is not None and example.label < len(data.labels):
        return f"label: {data.labels[example.label]}"
    return "no label"


def _caption(task: str, k: int, count: int, length: int, example: Any) -> str:
    tokens = plural(length, "token")
    if task == "similarity":
        return f"Order {k + 1} of 2 ({'a then b' if k == 0 else 'b then a'}), {tokens}"
    if task == "multiple-choice":
        right = " — the right answer" if example.label == k else ""
        return f"Answer {k + 1} of {count}, {tokens}{right}"
    return f"The sequence, {tokens}"
