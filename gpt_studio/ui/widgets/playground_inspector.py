"""The Playground's Token inspector: a text coloured token by token by how surprised the model was by each.

Surprisal is −log₂ p in bits. The colour runs from calm (the model saw it coming) to hot, and tops out at
log₂ V bits, the surprisal of a blind guess among the V tokens of the vocabulary: a token that hot taught the
model nothing it could use. Hovering a token names its log-probability and the model's top alternatives. A
causal model scores each token given the text before it; a masked model scores each token with it masked and
the rest of the text visible (pseudo-log-likelihood), so the two are not directly comparable.

The text is painted (no widget per token), laid out like TokenChips but tight, so it still reads as text.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFontMetrics,
    QHelpEvent,
    QLinearGradient,
    QPainter,
    QPaintEvent,
    QPalette,
    QPen,
    QResizeEvent,
)
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QToolTip,
    QVBoxLayout,
    QWidget,
)

from gpt_studio.engine.progress import Reporter
from gpt_studio.ui import theme
from gpt_studio.ui.widgets.playground_common import WORD_START, PlaygroundTab, heading, muted_label, readable_piece

DEFAULT_TEXT = "First Citizen:\nBefore we proceed any further, hear me speak."
LN2 = math.log(2.0)
LIGHT_STOPS = ("#cdebd9", "#f5efb3", "#f7c08c", "#ec7b73")  # calm green → pale yellow → orange → hot red
DARK_STOPS = ("#2f5a45", "#5e5729", "#7a4a26", "#8a2f2f")
PAD_X, PAD_Y, GAP = 3, 3, 4


def surprisal_bits(logprob: float) -> float:
    """−log₂ p from a natural-log probability."""
    return -logprob / LN2


def surprisal_color(bits: float, max_bits: float, dark: bool = False) -> QColor:
    """The colour of a surprisal on the calm → hot scale (clamped at ``max_bits``)."""
    stops = [QColor(c) for c in (DARK_STOPS if dark else LIGHT_STOPS)]
    t = min(max(bits / max_bits, 0.0), 1.0) if max_bits > 0 else 1.0
    pos = t * (len(stops) - 1)
    k = min(int(pos), len(stops) - 2)
    f = pos - k
    a, b = stops[k], stops[k + 1]
    return QColor(round(a.red() + (b.red() - a.red()) * f), round(a.green() + (b.green() - a.green()) * f),
                  round(a.blue() + (b.blue() - a.blue()) * f))


def token_tooltip(score: Any) -> str:
    """What hovering a token says: its log-probability, probability, surprisal, and the model's top guesses."""
    lines = [f"{score.piece!r}  ·  log p = {score.logprob:.3f}  ·  p = {100 * math.exp(score.logprob):.2f} %  ·  "
             f"surprisal {surprisal_bits(score.logprob):.2f} bits"]
    if score.top:
        lines.append("The model expected:")
        lines += [f"   {readable_piece(piece):<14} log p {lp:7.3f}  ({100 * math.exp(lp):.1f} %)"
                  for piece, lp in score.top]
    return "\n".join(lines)


def display_text(piece: str) -> tuple[bool, str]:
    """(starts a word, the text to draw) for a piece: ▁ becomes a gap before the chip, a newline shows as ↵."""
    if piece.startswith(WORD_START):
        return True, piece[len(WORD_START):] or "␣"
    if piece == "\n":
        return False, "↵"
    return False, piece.replace("\t", "⇥") or "∅"


@dataclass
class Span:
    """One laid-out token of the inspected text."""

    index: int
    text: str
    rect: QRectF
    color: QColor


class SurprisalText(QWidget):
    """The scored tokens, painted as tight coloured chips that wrap like text; tooltips per token."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.scores: list[Any] = []
        self.spans: list[Span] = []
        self.max_bits = 10.0
        self.placeholder = "Type a text and click Inspect: each token is coloured by how surprised the model was."
        self.setFont(theme.scaled_font(self, 1.2))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Minimum)
        self.setMouseTracking(True)

    def set_scores(self, scores: list[Any], max_bits: float) -> None:
        """Show ``scores`` (TokenScore list) on a scale that tops out at ``max_bits``."""
        self.scores, self.max_bits = list(scores), max_bits
        self._relayout()

    def _dark(self) -> bool:
        return self.palette().color(QPalette.ColorRole.Base).lightness() < 128

    def _relayout(self) -> None:
        self.spans = self._layout(max(self.width(), 200))
        bottom = max((s.rect.bottom() for s in self.spans), default=0.0)
        self.setMinimumHeight(int(bottom) + GAP + 1 if self.spans else 3 * self.fontMetrics().height())
        self.update()

    def _layout(self, width: int) -> list[Span]:
        metrics = QFontMetrics(self.font())
        height, space = metrics.height() + 2 * PAD_Y, metrics.horizontalAdvance(" ")
        x = y = float(GAP)
        spans, dark = [], self._dark()
        for i, score in enumerate(self.scores):
            word_start, text = display_text(score.piece)
            w = metrics.horizontalAdvance(text) + 2 * PAD_X
            if word_start and x > GAP:
                x += space
            if x + w > width - GAP and x > GAP:
                x, y = float(GAP), y + height + GAP
            color = surprisal_color(surprisal_bits(score.logprob), self.max_bits, dark)
            spans.append(Span(i, text, QRectF(x, y, w, height), color))
            x += w + 1
            if score.piece == "\n":
                x, y = float(GAP), y + height + GAP
        return spans

    def span_at(self, pos: QPointF) -> Span | None:
        """The token under a point, if any."""
        return next((s for s in self.spans if s.rect.contains(pos)), None)

    def tooltip_for(self, index: int) -> str:
        """The tooltip of token ``index``."""
        return token_tooltip(self.scores[index])

    def event(self, event: QEvent) -> bool:
        """Hovering a token shows its log-probability and the model's top alternatives."""
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            span = self.span_at(QPointF(event.pos()))
            if span is None:
                QToolTip.hideText()
            else:
                QToolTip.showText(event.globalPos(), self.tooltip_for(span.index), self)
            return True
        return super().event(event)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's API
        """Re-flow for the new width."""
        super().resizeEvent(event)
        if event.size().width() != event.oldSize().width():
            self._relayout()

    def sizeHint(self) -> QSize:  # noqa: N802
        """As tall as the laid-out text."""
        return QSize(400, self.minimumHeight())

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        """Draw the coloured tokens (or the placeholder)."""
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if not self.spans:
            painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(self.rect().adjusted(GAP, GAP, -GAP, -GAP),
                             Qt.AlignmentFlag.AlignLeft | Qt.TextFlag.TextWordWrap, self.placeholder)
            return
        ink = QColor("#f2f2f2" if self._dark() else "#1d1d1d")
        visible = QRectF(event.rect())
        for span in self.spans:
            if not span.rect.intersects(visible):
                continue
            painter.setPen(QPen(span.color.darker(118), 1))
            painter.setBrush(span.color)
            painter.drawRoundedRect(span.rect.adjusted(0.5, 0.5, -0.5, -0.5), 3, 3)
            painter.setPen(ink)
            painter.drawText(span.rect, Qt.AlignmentFlag.AlignCenter, span.text)
        painter.end()


class SurprisalLegend(QWidget):
    """The colour scale: calm on the left, hot on the right, in bits, with what the ends mean."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.max_bits = 10.0
        self.setFixedHeight(self.fontMetrics().height() * 2 + 14)
        self.setMinimumWidth(self.fontMetrics().averageCharWidth() * 40)

    def set_max_bits(self, max_bits: float) -> None:
        """The surprisal of a blind guess among the vocabulary (the hot end)."""
        self.max_bits = max_bits
        self.update()

    def labels(self) -> tuple[str, str]:
        """The words under the two ends of the scale."""
        return ("0 bits: the model was sure", f"≥ {self.max_bits:.1f} bits: no better than a blind guess")

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        """A gradient bar with tick labels at 0, the middle and the top."""
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        line = self.fontMetrics().height()
        bar = QRectF(1, 1, self.width() - 2, line)
        dark = self.palette().color(QPalette.ColorRole.Base).lightness() < 128
        gradient = QLinearGradient(bar.topLeft(), bar.topRight())
        for k in range(11):
            gradient.setColorAt(k / 10, surprisal_color(k / 10 * self.max_bits, self.max_bits, dark))
        painter.setPen(QPen(self.palette().color(QPalette.ColorRole.Mid), 1))
        painter.setBrush(gradient)
        painter.drawRoundedRect(bar, 3, 3)
        painter.setPen(self.palette().color(QPalette.ColorRole.WindowText))
        text_box = QRectF(1, bar.bottom() + 4, self.width() - 2, line + 4)
        left, right = self.labels()
        painter.drawText(text_box, Qt.AlignmentFlag.AlignLeft, left)
        painter.drawText(text_box, Qt.AlignmentFlag.AlignRight, right)
        painter.end()


class InspectorTab(PlaygroundTab):
    """Every token of a text, coloured by surprisal; hover for its log-probability and the alternatives."""

    title = "Token inspector"
    intro = ("Token inspector: every token of a text coloured by how surprised the model was by it; hover a "
             "token for its log-probability and what the model expected instead.")
    inspected = Signal(object)  # the list of TokenScore

    def _build(self) -> QWidget:
        body = QWidget()
        self.text = QPlainTextEdit(DEFAULT_TEXT)
        self.text.setPlaceholderText("Type or paste a text to see how surprised the model is by each token.")
        self.text.setFixedHeight(self.text.fontMetrics().lineSpacing() * 6 + 12)
        self.top_k = QSpinBox()
        self.top_k.setRange(1, 20)
        self.top_k.setValue(5)
        self.top_k.setPrefix("show top ")
        self.top_k.setSuffix(" alternatives")
        self.top_k.setToolTip("How many of the model's own guesses to list when you hover a token.")
        self.inspect_button = QPushButton("Inspect")
        self.inspect_button.setDefault(True)
        self.inspect_button.clicked.connect(self.inspect)
        self.summary = muted_label("")
        self.view = SurprisalText()
        self.legend = SurprisalLegend()
        self.how = muted_label("")
        row = QHBoxLayout()
        row.addWidget(self.top_k)
        row.addWidget(self.inspect_button)
        row.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.StyledPanel)
        scroll.setWidget(self.view)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(heading("Text"))
        layout.addWidget(self.text)
        layout.addLayout(row)
        layout.addWidget(self.job_bar)
        layout.addWidget(heading("Surprisal, token by token"))
        layout.addWidget(self.how)
        layout.addWidget(self.legend)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.summary)
        return body

    def inspect(self) -> bool:
        """Score every token of the text on a worker; False when nothing can run."""
        from gpt_studio.engine.scoring import token_surprisal

        text, top_k, loaded = self.text.toPlainText(), self.top_k.value(), self.loaded
        if not text.strip() or loaded is None:
            return False
        bert = loaded.family == "bert"

        def work(reporter: Reporter) -> list[Any]:
            reporter.progress(0, 0, "Masking each token in turn…" if bert else "Scoring every token…")
            return token_surprisal(loaded.model, loaded.tokenizer, text, top_k=top_k)

        return self.run_job(work, "scoring the tokens", self.show_scores)

    def show_scores(self, scores: list[Any]) -> None:
        """Colour the tokens; summarise the mean surprisal and the perplexity."""
        self.view.set_scores(scores, self._max_bits())
        self.job_bar.set_message("")
        if scores:
            mean_nats = -sum(s.logprob for s in scores) / len(scores)
            worst = max(scores, key=lambda s: -s.logprob)
            self.summary.setText(f"{len(scores):,} tokens · mean surprisal {mean_nats / LN2:.2f} bits per token · "
                                 f"perplexity {math.exp(min(mean_nats, 700)):,.1f} · most surprising: "
                                 f"{readable_piece(worst.piece)!r} ({surprisal_bits(worst.logprob):.1f} bits)")
        else:
            self.summary.setText("The text has no tokens to score.")
        self.inspected.emit(scores)

    def _max_bits(self) -> float:
        vocab = self.loaded.tokenizer.vocab_size if self.loaded is not None else 1024
        return math.log2(max(vocab, 2))

    def _set_running(self, running: bool) -> None:
        self.inspect_button.setEnabled(not running)

    def _on_model(self, loaded: Any) -> None:
        self.view.set_scores([], self._max_bits())
        self.legend.set_max_bits(self._max_bits())
        self.summary.setText("")
        if loaded is None:
            self.how.setText("")
        elif loaded.family == "bert":
            self.how.setText("A masked model: each token is scored with it hidden and the rest of the text visible "
                             "(pseudo-log-likelihood), one forward pass per token.")
        else:
            self.how.setText("A causal model: each token is scored from the text before it only.")
