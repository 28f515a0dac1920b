"""The corpus statistics panel: headline figures, the document-length histogram and the top characters.

Everything comes from ``manifest["stats"]`` and ``manifest["split"]`` (no file is read). Tokens are an estimate
until a tokenizer exists: ≈ characters / 4 (typical for English subword vocabularies), then characters divided
by the tokenizer's measured characters per token.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QStackedWidget,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gpt_studio.ui.widgets.flow_layout import FlowLayout
from gpt_studio.ui.widgets.histogram import LengthHistogram
from gpt_studio.ui.widgets.wording import noun, plural
from gpt_studio.ui.widgets.wrap_label import WrapLabel

DEFAULT_CHARS_PER_TOKEN = 4.0
_SHOWN_CHARS = {" ": "space", "\n": "↵", "\t": "⇥", "\u00a0": "nbsp"}
_CONTROL_NAMES = {"\n": "Line Feed (newline)", "\t": "Character Tabulation (tab)", "\r": "Carriage Return"}


def shown_char(char: str) -> str:
    """A character as it should appear in a table cell (spaces and controls made visible)."""
    if char in _SHOWN_CHARS:
        return _SHOWN_CHARS[char]
    if unicodedata.category(char) in ("Cc", "Cf", "Zs", "Zl", "Zp"):
        return f"U+{ord(char):04X}"
    return char


class _Figure(QWidget):
    """A big number over a small caption."""

    def __init__(self, caption: str) -> None:
        super().__init__()
        self.value = QLabel("–")
        font = self.value.font()
        font.setPointSizeF(font.pointSizeF() * 1.45)
        font.setBold(True)
        self.value.setFont(font)
        self.caption = QLabel(caption)
        self.caption.setObjectName("caption")
        self.caption.setStyleSheet("color: palette(placeholder-text);")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.value)
        layout.addWidget(self.caption)

    def set(self, value: str, tooltip: str = "") -> None:
        self.value.setText(value)
        self.setToolTip(tooltip)


class CorpusStatsView(QStackedWidget):
    """Shows a manifest's statistics, or what to do while there is no corpus."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.empty = WrapLabel("No corpus yet.\nImport text to see documents, characters, words, an estimate of "
                            "tokens, the document-length histogram and the most frequent characters.")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setStyleSheet("color: palette(placeholder-text);")
        self.addWidget(self.empty)
        self.addWidget(self._build_page())
        self._stats: dict[str, Any] = {}
        self._chars_per_token: float | None = None

    def _build_page(self) -> QWidget:
        page = QWidget()
        self.figures = {key: _Figure(caption) for key, caption in (
            ("documents", "documents"), ("characters", "characters"), ("words", "words"), ("tokens", "tokens"))}
        row = FlowLayout(h_spacing=24)  # wraps to two rows in a narrow column
        for figure in self.figures.values():
            row.addWidget(figure)
        self.details = WrapLabel()
        self.histogram = LengthHistogram()
        self.histogram.setMinimumHeight(150)
        self.chars = QTableWidget(0, 3)
        self.chars.setHorizontalHeaderLabels(["Char", "Name", "Count"])
        self.chars.verticalHeader().hide()
        self.chars.verticalHeader().setDefaultSectionSize(self.chars.fontMetrics().height() + 6)
        self.chars.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.chars.setAlternatingRowColors(True)
        self.chars.setWordWrap(False)
        header = self.chars.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Fixed)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.chars.setColumnWidth(0, self.chars.fontMetrics().horizontalAdvance("space") + 12)
        self.chars.setMinimumWidth(180)
        self.chars.setToolTip("The most frequent characters (up to 200 are kept in the manifest).")
        split = QHBoxLayout()  # fixed shares at any width (a splitter would size them by their hints)
        split.addWidget(self.histogram, 4)
        split.addWidget(self.chars, 5)  # a little more, so "Latin Small Letter E" fits at 1280 px
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.details)
        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        layout.addWidget(line)
        layout.addLayout(split, 1)
        return page

    def set_manifest(self, manifest: dict[str, Any] | None) -> None:
        """Show a manifest's statistics (None: the empty state)."""
        if not manifest:
            self._stats = {}
            self.setCurrentIndex(0)
            self.histogram.set_histogram(None)
            return
        self._stats = manifest.get("stats", {})
        stats = self._stats
        for key, one, tip in (("documents", "document", ""),
                              ("characters", "character", f"{plural(stats.get('bytes', 0), 'byte')} UTF-8"),
                              ("words", "word", "whitespace-separated words")):
            count = int(stats.get(key, 0))
            self.figures[key].set(f"{count:,}", tip)
            self.figures[key].caption.setText(noun(count, one))
        self.details.setText(_details(manifest))
        self.histogram.set_histogram(stats.get("doc_length_histogram"))
        self._fill_chars(stats.get("top_characters") or [])
        self._update_tokens()
        self.setCurrentIndex(1)

    def set_chars_per_token(self, chars_per_token: float | None) -> None:
        """Use the tokenizer's measured characters per token for the token figure (None: estimate at 4)."""
        self._chars_per_token = chars_per_token
        self._update_tokens()

    def _update_tokens(self) -> None:
        chars = self._stats.get("characters", 0)
        rate = self._chars_per_token or DEFAULT_CHARS_PER_TOKEN
        measured = self._chars_per_token is not None
        self.figures["tokens"].caption.setText("tokens" if measured else "tokens (estimate)")
        self.figures["tokens"].set(f"≈ {chars / rate:,.0f}",
                                   f"characters ÷ {rate:.2f} characters per token "
                                   + ("(measured by the tokenizer)" if measured else
                                      "(a typical value for English before a tokenizer exists)"))

    def _fill_chars(self, top: list[dict[str, Any]]) -> None:
        total = max(self._stats.get("characters", 0), 1)
        self.chars.setRowCount(len(top))
        for r, entry in enumerate(top):
            char = QTableWidgetItem(shown_char(entry["char"]))
            char.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
            count = QTableWidgetItem(f"{entry['count']:,}")
            count.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            count.setToolTip(f"{100 * entry['count'] / total:.2f}% of all characters")
            self.chars.setItem(r, 0, char)
            name = _CONTROL_NAMES.get(entry["char"]) or entry.get("name", "").title()
            name_item = QTableWidgetItem(name)
            name_item.setToolTip(name)  # a narrow column elides it
            self.chars.setItem(r, 1, name_item)
            self.chars.setItem(r, 2, count)


def _details(manifest: dict[str, Any]) -> str:
    """One line on the split and the cleaning."""
    stats, split = manifest.get("stats", {}), manifest.get("split", {})
    train, val = split.get("train", {}), split.get("val", {})
    parts = [f"train {plural(train.get('documents', 0), 'doc')} / {plural(train.get('characters', 0), 'char')}",
             f"validation {plural(val.get('documents', 0), 'doc')} / {plural(val.get('characters', 0), 'char')} "
             f"({split.get('mode', '?')} split, {100 * split.get('val_fraction', 0):g}%)",
             plural(stats.get('distinct_characters', 0), 'distinct character')]
    for key, one, many in (("duplicates_removed", "duplicate removed", "duplicates removed"),
                           ("empty_skipped", "empty document skipped", "empty documents skipped"),
                           ("bad_rows", "bad row", "bad rows"), ("sources_skipped", "file skipped", "files skipped")):
        if stats.get(key):
            parts.append(plural(stats[key], one, many))
    return " · ".join(parts)
