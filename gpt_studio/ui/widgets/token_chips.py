r"""Token chips: text shown as the tokenizer cuts it, one rounded chip per piece with its id underneath.

Painted directly (no widget per chip), so thousands of tokens lay out and draw in a few milliseconds.
Chips flow left to right and wrap at the width; a newline piece shows as ↵ and also ends the row, so the
preview keeps the text's line structure. Pastel fills with dark text in a light palette, muted fills with
light text in a dark one: readable either way. Unknown pieces get a red outline, byte pieces are italic.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QHelpEvent, QPainter, QPaintEvent, QPalette, QPen, QResizeEvent
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

LIGHT_FILLS = ("#fde2e4", "#dff0cb", "#d4e9f7", "#fff1c1", "#e6dcf8", "#d5f2e3")
DARK_FILLS = ("#5b3a40", "#43523a", "#2f4a5e", "#5a4f2a", "#47395e", "#2e5543")
MAX_CHIPS = 3000  # a preview, not a viewer: beyond this the rest is counted, not drawn
PAD_X, PAD_Y, GAP = 5, 3, 4


def display_piece(piece: str) -> str:
    """How a piece reads on a chip: the newline as ↵, a tab as ⇥; ▁ (a leading space) stays visible."""
    return piece.replace("\n", "↵").replace("\t", "⇥") or "∅"


def _surface(piece: str) -> str:
    return piece.replace("▁", " ")


def unknown_surfaces(text: str, pieces: list[str], unk_piece: str = "<unk>") -> list[str]:
    """The pieces with each ``<unk>`` replaced by the text it stands for, found by aligning pieces with text.

    SentencePiece reports no offsets without protobuf; with the identity normalisation every known piece is its
    text (▁ for a space), so the characters between two known pieces are what an unknown piece covered. Byte
    pieces (or any mismatch) make alignment unsafe: then the pieces are returned unchanged.
    """
    if unk_piece not in pieces or any(p.startswith("<0x") and p.endswith(">") for p in pieces):
        return list(pieces)
    out, pos = [], 0
    for k, piece in enumerate(pieces):
        if piece != unk_piece:
            surface = _surface(piece)
            if not text.startswith(surface, pos):
                return list(pieces)
            out.append(piece)
            pos += len(surface)
            continue
        following = pieces[k + 1] if k + 1 < len(pieces) else None
        if following == unk_piece:
            end = pos + 1  # consecutive unknowns: one character each
        elif following is None:
            end = len(text)
        else:
            end = text.find(_surface(following), pos + 1)
        if end <= pos:
            return list(pieces)
        out.append(text[pos:end])
        pos = end
    return out


@dataclass
class Chip:
    """One laid-out token."""

    piece: str
    token_id: int
    rect: QRectF


class TokenChips(QWidget):
    """Shows ``(piece, id)`` pairs as wrapped chips; its minimum height follows its width (for a scroll area)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._tokens: list[tuple[str, int]] = []
        self._chips: list[Chip] = []
        self.unknown_id = 1
        self.placeholder = ""
        self._id_font = QFont(self.font())
        self._id_font.setPointSizeF(max(self.font().pointSizeF() * 0.78, 6.5))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)

    # --------------------------------------------------------------------------------------------- content

    def set_tokens(self, tokens: list[tuple[str, int]]) -> None:
        """Replace the chips with ``(piece, id)`` pairs."""
        self._tokens = list(tokens)
        self._relayout()

    def tokens(self) -> list[tuple[str, int]]:
        """The ``(piece, id)`` pairs shown (all of them, including any beyond the drawing limit)."""
        return list(self._tokens)

    def chips(self) -> list[Chip]:
        """The laid-out chips (at most MAX_CHIPS)."""
        return list(self._chips)

    # ---------------------------------------------------------------------------------------------- layout

    def _relayout(self) -> None:
        self._chips = self._layout(max(self.width(), 120))
        bottom = max((c.rect.bottom() for c in self._chips), default=0.0)
        self.setMinimumHeight(int(bottom) + GAP + 1)
        self.update()

    def _layout(self, width: int) -> list[Chip]:
        text_metrics, id_metrics = QFontMetrics(self.font()), QFontMetrics(self._id_font)
        height = text_metrics.height() + id_metrics.height() + 2 * PAD_Y
        x = y = float(GAP)
        chips = []
        for piece, token_id in self._tokens[:MAX_CHIPS]:
            w = max(text_metrics.horizontalAdvance(display_piece(piece)),
                    id_metrics.horizontalAdvance(str(token_id))) + 2 * PAD_X
            if x + w > width - GAP and x > GAP:
                x, y = float(GAP), y + height + GAP
            chips.append(Chip(piece, token_id, QRectF(x, y, w, height)))
            x += w + GAP
            if piece.endswith("\n"):
                x, y = float(GAP), y + height + GAP
        return chips

    def chip_at(self, pos: QPointF) -> Chip | None:
        """The chip under a point, if any."""
        return next((c for c in self._chips if c.rect.contains(pos)), None)

    def event(self, event: QEvent) -> bool:
        """Tooltips name the piece exactly (quotes show spaces) and flag unknown pieces."""
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            chip = self.chip_at(QPointF(event.pos()))
            if chip is None:
                QToolTip.hideText()
            else:
                note = " — unknown: not in the vocabulary" if chip.token_id == self.unknown_id else ""
                QToolTip.showText(event.globalPos(), f"{chip.piece!r} · id {chip.token_id}{note}", self)
            return True
        return super().event(event)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's API
        """Re-flow the chips for the new width."""
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():
            self._relayout()

    def row_height(self) -> int:
        """Height of one row of chips, the gap below included."""
        return QFontMetrics(self.font()).height() + QFontMetrics(self._id_font).height() + 2 * PAD_Y + GAP

    def sizeHint(self) -> QSize:  # noqa: N802
        """Wide enough for a line of chips; as tall as the current layout, and at least three rows."""
        return QSize(400, max(self.minimumHeight(), 3 * self.row_height() + GAP + 1))

    # --------------------------------------------------------------------------------------------- drawing

    def _dark(self) -> bool:
        return self.palette().color(QPalette.ColorRole.Base).lightness() < 128

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        """Draw the visible chips (or the placeholder)."""
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if not self._chips:
            painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(self.rect().adjusted(GAP, GAP, -GAP, -GAP),
                             Qt.AlignmentFlag.AlignLeft | Qt.TextFlag.TextWordWrap, self.placeholder)
            return
        dark = self._dark()
        fills = DARK_FILLS if dark else LIGHT_FILLS
        ink = QColor("#f2f2f2" if dark else "#1d1d1d")
        muted = QColor("#b8b8b8" if dark else "#5f5f5f")
        text_height = QFontMetrics(self.font()).height()
        visible = QRectF(event.rect())
        for i, chip in enumerate(self._chips):
            if not chip.rect.intersects(visible):
                continue
            self._draw_chip(painter, chip, QColor(fills[i % len(fills)]), ink, muted, text_height)
        painter.end()

    def _draw_chip(self, painter: QPainter, chip: Chip, fill: QColor, ink: QColor, muted: QColor,
                   text_height: int) -> None:
        unknown = chip.token_id == self.unknown_id
        painter.setPen(QPen(QColor("#d32f2f"), 1.6) if unknown else QPen(fill.darker(115), 1))
        painter.setBrush(fill)
        painter.drawRoundedRect(chip.rect.adjusted(0.5, 0.5, -0.5, -0.5), 4, 4)
        font = QFont(self.font())
        font.setItalic(chip.piece.startswith("<0x") and chip.piece.endswith(">"))
        painter.setFont(font)
        painter.setPen(ink)
        top = QRectF(chip.rect.left(), chip.rect.top() + PAD_Y, chip.rect.width(), text_height)
        painter.drawText(top, Qt.AlignmentFlag.AlignCenter, display_piece(chip.piece))
        painter.setFont(self._id_font)
        painter.setPen(muted)
        bottom = QRectF(chip.rect.left(), top.bottom(), chip.rect.width(), chip.rect.bottom() - top.bottom() - PAD_Y)
        painter.drawText(bottom, Qt.AlignmentFlag.AlignCenter, str(chip.token_id))
