"""Wizard step 2: the task format, as four cards each drawing its input transformation (GPT-1, Figure 1 right).

A drawing is painted with QPainter from a small description of boxes (special tokens, text slots, the
Transformer, the head) so it scales with the font and follows the palette. For a BERT base the specials are
drawn as BERT uses them ([CLS] first, [SEP] between and after), since that is what the model will read.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, QSize, QSizeF, Qt
from PySide6.QtGui import QColor, QFontMetricsF, QMouseEvent, QPainter, QPainterPath, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import QButtonGroup, QFrame, QGridLayout, QRadioButton, QSizePolicy, QVBoxLayout, QWidget

from gpt_studio.engine.finetune_data import TASK_DESCRIPTIONS, TASK_TITLES, TASKS
from gpt_studio.ui import theme
from gpt_studio.ui.widgets.finetune_common import FinetuneChoices, WizardPage, blend, heading, note
from gpt_studio.ui.widgets.token_chips import DARK_FILLS, LIGHT_FILLS

EXAMPLES = {
    "classification": "For example sentiment: a CSV with text, label.",
    "entailment": "For example SNLI: premise, hypothesis, label.",
    "similarity": "For example STS-B: sentence1, sentence2, score.",
    "multiple-choice": "For example COPA: context, choices (a list), label (the right answer's index).",
}
# text slots of each task's sequences: (slot text, colour index into the chip fills)
SLOTS = {
    "classification": [[("Text", 2)]],
    "entailment": [[("Premise", 2), ("Hypothesis", 3)]],
    "similarity": [[("Text 1", 2), ("Text 2", 3)], [("Text 2", 3), ("Text 1", 2)]],
    "multiple-choice": [[("Context", 2), ("Answer 1", 3)], [("Context", 2), ("Answer 2", 3)],
                        [("Context", 2), ("Answer N", 3)]],
}
ARROW = 18.0  # length of an arrow, in pixels at the natural size
GAP = 3.0


@dataclass
class Box:
    """One drawn box: where, what it says, and its role (special, text, model, head or op)."""

    rect: QRectF
    text: str
    role: str
    fill_index: int = 0


def specials(family: str) -> tuple[str, str, str]:
    """(start, delimiter, end) as the model reads them: the paper's names for GPT, BERT's tokens for BERT."""
    return ("[CLS]", "[SEP]", "[SEP]") if family == "bert" else ("Start", "Delim", "Extract")


def sequence_boxes(task: str, family: str) -> list[list[tuple[str, str, int]]]:
    """Each sequence as (text, role, fill) boxes, specials included."""
    start, delim, end = specials(family)
    rows = []
    for slots in SLOTS[task]:
        row = [(start, "special", 0)]
        for k, (text, fill) in enumerate(slots):
            if k:
                row.append((delim, "special", 0))
            row.append((text, "text", fill))
        row.append((end, "special", 0))
        rows.append(row)
    return rows


class TaskDrawing(QWidget):
    """The input transformation of one task, scaled down to fit (never up)."""

    def __init__(self, task: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.task, self.family = task, "gpt"
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip(TASK_DESCRIPTIONS[task])

    def set_family(self, family: str) -> None:
        """Draw the specials of a GPT or a BERT base."""
        if family != self.family:
            self.family = family
            self.updateGeometry()
            self.update()

    def scene(self) -> tuple[list[Box], list[list[QPointF]], QSizeF]:
        """Boxes, arrows (polylines ending in an arrow head) and the natural size."""
        metrics = QFontMetricsF(self.font())
        height, pad, row_gap = metrics.height() + 8, 6.0, metrics.height() * 0.45
        boxes: list[Box] = []
        arrows: list[list[QPointF]] = []
        rows = sequence_boxes(self.task, self.family)
        widths = []
        for r, row in enumerate(rows):
            x, y = 0.0, r * (height + row_gap)
            for text, role, fill in row:
                w = metrics.horizontalAdvance(text) + 2 * pad
                boxes.append(Box(QRectF(x, y, w, height), text, role, fill))
                x += w + GAP
            widths.append(x - GAP)
        model_x = max(widths) + ARROW + 4
        model_w = metrics.horizontalAdvance("Transformer") + 2 * pad
        head_w = metrics.horizontalAdvance("Linear") + 2 * pad
        centres = []
        for r, width in enumerate(widths):
            y = r * (height + row_gap) + height / 2
            centres.append(y)
            arrows.append([QPointF(width + 2, y), QPointF(model_x - 2, y)])
            boxes.append(Box(QRectF(model_x, y - height / 2, model_w, height), "Transformer", "model"))
        right = model_x + model_w
        mid = (centres[0] + centres[-1]) / 2
        if self.task == "similarity":
            op_x = right + ARROW + 10
            for y in centres:
                arrows.append([QPointF(right + 2, y), QPointF(op_x, y),
                               QPointF(op_x, mid - 10 if y < mid else mid + 10)])
            boxes.append(Box(QRectF(op_x - 10, mid - 10, 20, 20), "+", "op"))
            head_x = op_x + 10 + ARROW + 4
            arrows.append([QPointF(op_x + 12, mid), QPointF(head_x - 2, mid)])
            boxes.append(Box(QRectF(head_x, mid - height / 2, head_w, height), "Linear", "head"))
            right = head_x + head_w
        else:
            head_x = right + ARROW + 4
            for y in centres:
                arrows.append([QPointF(right + 2, y), QPointF(head_x - 2, y)])
                boxes.append(Box(QRectF(head_x, y - height / 2, head_w, height), "Linear", "head"))
            right = head_x + head_w
            if self.task == "multiple-choice":
                soft_x = right + ARROW + 12
                soft_w = metrics.horizontalAdvance("Softmax") + 2 * pad
                for y in centres:
                    arrows.append([QPointF(right + 2, y), QPointF(soft_x - 2, mid)])
                boxes.append(Box(QRectF(soft_x, mid - height / 2, soft_w, height), "Softmax", "head"))
                right = soft_x + soft_w
        bottom = len(rows) * (height + row_gap) - row_gap
        return boxes, arrows, QSizeF(right + 2, bottom + 2)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's API
        """The natural size of the drawing."""
        size = self.scene()[2]
        return QSize(int(size.width()) + 1, int(size.height()) + 1)

    def minimumSizeHint(self) -> QSize:  # noqa: N802
        """Half the natural width (it scales down), the full height."""
        size = self.sizeHint()
        return QSize(size.width() // 2, size.height())

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        """Draw the boxes and arrows, scaled to the widget's width when it is narrower than the drawing."""
        boxes, arrows, size = self.scene()
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        scale = min(1.0, self.width() / max(size.width(), 1.0))
        painter.translate(max((self.width() - size.width() * scale) / 2, 0.0), 0.0)
        painter.scale(scale, scale)
        palette = self.palette()
        dark = palette.color(QPalette.ColorRole.Base).lightness() < 128
        fills = DARK_FILLS if dark else LIGHT_FILLS
        ink = QColor("#f2f2f2" if dark else "#1d1d1d")
        line = palette.color(QPalette.ColorRole.Text)
        painter.setPen(QPen(line, 1.2))
        for points in arrows:
            _arrow(painter, points)
        for box in boxes:
            self._box(painter, box, fills, ink, palette)
        painter.end()

    def _box(self, painter: QPainter, box: Box, fills: tuple[str, ...], ink: QColor, palette: QPalette) -> None:
        base, accent = palette.color(QPalette.ColorRole.Base), palette.color(QPalette.ColorRole.Highlight)
        fill = {"special": blend(base, accent, 0.3), "text": QColor(fills[box.fill_index]),
                "model": palette.color(QPalette.ColorRole.Button), "head": QColor(fills[0]),
                "op": base}[box.role]
        painter.setPen(QPen(fill.darker(140) if box.role != "op" else palette.color(QPalette.ColorRole.Text), 1))
        painter.setBrush(fill)
        if box.role == "op":
            painter.drawEllipse(box.rect)
        else:
            painter.drawRoundedRect(box.rect, 3, 3)
        painter.setPen(palette.color(QPalette.ColorRole.ButtonText) if box.role in ("model", "op") else ink)
        font = painter.font()
        font.setItalic(box.role == "text")
        font.setBold(box.role == "special")
        painter.setFont(font)
        painter.drawText(box.rect, Qt.AlignmentFlag.AlignCenter, box.text)


def _arrow(painter: QPainter, points: list[QPointF]) -> None:
    """A polyline with a small filled head at its last point."""
    painter.drawPolyline(points)
    tip, before = points[-1], points[-2]
    dx, dy = tip.x() - before.x(), tip.y() - before.y()
    length = max((dx * dx + dy * dy) ** 0.5, 1e-6)
    ux, uy = dx / length, dy / length
    head = QPainterPath(tip)
    head.lineTo(tip.x() - 6 * ux - 3 * uy, tip.y() - 6 * uy + 3 * ux)
    head.lineTo(tip.x() - 6 * ux + 3 * uy, tip.y() - 6 * uy - 3 * ux)
    head.closeSubpath()
    painter.save()
    painter.setBrush(painter.pen().color())
    painter.drawPath(head)
    painter.restore()


class TaskCard(QFrame):
    """A selectable card: a radio button with the task's name, its drawing, what it is for, an example file."""

    def __init__(self, task: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.task = task
        self.setObjectName("taskCard")
        self.setProperty("selected", False)
        self.setStyleSheet("QFrame#taskCard { border: 1px solid palette(mid); border-radius: 6px; }"
                           "QFrame#taskCard[selected=\"true\"] { border: 2px solid palette(highlight); }")
        self.radio = QRadioButton(TASK_TITLES[task])
        self.radio.setFont(theme.scaled_font(self.radio, 1.15, bold=True))
        self.drawing = TaskDrawing(task)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 10, 12, 10)
        layout.addWidget(self.radio)
        layout.addWidget(self.drawing)
        layout.addWidget(note(TASK_DESCRIPTIONS[task]))
        layout.addWidget(note(EXAMPLES[task]))
        layout.addStretch(1)
        self.setCursor(Qt.CursorShape.PointingHandCursor)

    def set_selected(self, selected: bool) -> None:
        """Show the card as chosen (a thicker accent border)."""
        self.setProperty("selected", selected)
        self.style().unpolish(self)
        self.style().polish(self)

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt's API
        """A click anywhere on the card chooses it."""
        self.radio.setChecked(True)
        super().mousePressEvent(event)


class TaskPage(WizardPage):
    """Four task cards in a 2 × 2 grid; exactly one is chosen (classification at first)."""

    title = "Task format"

    def __init__(self, choices: FinetuneChoices, parent: QWidget | None = None) -> None:
        super().__init__(choices, parent)
        self.cards = {task: TaskCard(task) for task in TASKS}
        self.group = QButtonGroup(self)
        grid = QGridLayout()
        grid.setSpacing(12)
        for k, task in enumerate(TASKS):
            card = self.cards[task]
            self.group.addButton(card.radio, k)
            grid.addWidget(card, k // 2, k % 2)
        self.family_note = note()
        self.family_note.setTextFormat(Qt.TextFormat.PlainText)  # "<s>" is a token here, not markup
        layout = QVBoxLayout(self)
        layout.addWidget(heading("How the task is put to the model"))
        layout.addWidget(note("GPT-1 turns every task into token sequences the pretrained model can read: "
                              "special tokens mark the start, the boundary between two texts and the place "
                              "where a new linear head reads the answer. Choose the shape of your data."))
        layout.addLayout(grid)
        layout.addWidget(self.family_note)
        layout.addStretch(1)
        self.cards[choices.task].radio.setChecked(True)
        self._sync_cards()
        self.group.idToggled.connect(self._on_toggled)

    def choose(self, task: str) -> None:
        """Pick ``task`` (as a click on its card would)."""
        self.cards[task].radio.setChecked(True)

    def _on_toggled(self, index: int, checked: bool) -> None:
        if checked:
            self.choices.task = TASKS[index]
            self._sync_cards()
            self.changed.emit()

    def _sync_cards(self) -> None:
        for task, card in self.cards.items():
            card.set_selected(task == self.choices.task)

    def enter(self) -> None:
        """Draw the specials of the chosen base's family."""
        family = getattr(self.choices.base, "family", "gpt")
        for card in self.cards.values():
            card.drawing.set_family(family)
        self.family_note.setText(
            "Drawn for a BERT base: it reads [CLS] a [SEP] b [SEP], and the head reads the [CLS] state."
            if family == "bert" else "Drawn for a GPT base: Start is <s>, Delim is [SEP] and Extract is [CLS]; "
                                     "the head reads the model's last state, at Extract.")
