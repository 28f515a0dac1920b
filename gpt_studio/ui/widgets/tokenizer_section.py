"""The Tokenizer section: settings, training, the measured report, a live preview, the vocabulary, encoding.

Training and encoding run as jobs (SentencePiece reports BPE progress in pieces and nothing for unigram, so
the bar is busy then). The preview encodes on the GUI thread — microseconds per line — after a 50 ms
debounce, so typing never waits on it.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from gpt_studio.engine import data, tokenizer
from gpt_studio.engine.errors import StudioError
from gpt_studio.engine.project import Project
from gpt_studio.engine.tokenizer import Tokenizer, TokenizerSettings
from gpt_studio.ui.widgets.flow_layout import FlowLayout
from gpt_studio.ui.widgets.job_bar import JobBar
from gpt_studio.ui.widgets.token_chips import GAP, TokenChips, unknown_surfaces
from gpt_studio.ui.widgets.vocab_range_hint import VocabRangeHint
from gpt_studio.ui.widgets.vocab_table import VocabView
from gpt_studio.ui.widgets.wording import noun, plural
from gpt_studio.ui.widgets.wrap_label import WrapLabel

TIPS = {
    "model_type": "bpe merges the most frequent pairs of pieces (GPT-style); unigram starts big and prunes "
                  "the least useful pieces (often better for morphology); char gives one id per character.",
    "vocab_size": "Number of token ids, the 8 reserved ones included. Larger vocabularies give shorter "
                  "sequences but need more text to learn each piece; 0 with char means every character. "
                  "The line below says which sizes this corpus can fill.",
    "coverage": "Share of the corpus's characters that get their own piece; the rarest rest become <unk> "
                "(or bytes with byte fallback). Use 1.0 for English, 0.9995 for large character sets.",
    "byte_fallback": "Spell characters without a piece as their UTF-8 bytes (256 extra ids), so no text ever "
                     "becomes <unk> and decoding is always exact.",
}
PREVIEW_TEXT = "The quick brown fox jumps over the lazy dog.\nTokenizers cut text into pieces; ▁ marks a space."
PREVIEW_DEBOUNCE_MS = 50
MODEL_NAMES = {"bpe": "A BPE", "unigram": "A unigram", "char": "A character"}


def suggested_vocab(characters: int) -> int:
    """A vocabulary that a corpus of this size can fill (SentencePiece refuses one that is too large)."""
    for limit, vocab in ((2_000_000, 2000), (20_000_000, 8000), (200_000_000, 16000)):
        if characters < limit:
            return vocab
    return 32000


def _value(text: str = "–") -> QLabel:
    label = QLabel(text)
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    font = label.font()
    font.setBold(True)
    label.setFont(font)
    return label


class TokenizerSection(QWidget):
    """Train and inspect the project's tokenizer, then encode the corpus into token shards."""

    trained = Signal(dict)  # tokenizer.json contents
    encoded = Signal(dict)  # data/meta.json contents
    error_raised = Signal(str, str)
    running_changed = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project: Project | None = None
        self.manifest: dict[str, Any] | None = None
        self.tokenizer: Tokenizer | None = None
        self._locked = False
        self._suggested: int | None = None  # the vocab size this section proposed (moved into the range if need be)
        self.train_bar = JobBar()
        self.encode_bar = JobBar()
        for bar in (self.train_bar, self.encode_bar):
            bar.failed.connect(self.error_raised)
            bar.running_changed.connect(self._on_running_changed)
        self._debounce = QTimer(self, singleShot=True, interval=PREVIEW_DEBOUNCE_MS)
        self._debounce.timeout.connect(self.update_preview)
        self._build()
        self._update_enabled()

    # -------------------------------------------------------------------------------------------- building

    def _build(self) -> None:
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._settings_box())
        self.inspect_stack = QStackedWidget()
        self.empty = WrapLabel()
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setStyleSheet("color: palette(placeholder-text);")
        self.inspect_stack.addWidget(self.empty)
        self.inspect_stack.addWidget(self._inspect_page())
        layout.addWidget(self.inspect_stack, 1)
        layout.addWidget(self._encode_box())

    def _settings_box(self) -> QGroupBox:
        self.model_type = QComboBox()
        self.model_type.addItems(list(tokenizer.MODEL_TYPES))
        self.vocab_size = QSpinBox()
        self.vocab_size.setRange(0, 262_144)
        self.vocab_size.setSingleStep(1000)
        self.vocab_size.setGroupSeparatorShown(True)
        self.vocab_size.setValue(8000)
        self.vocab_size.setSpecialValueText("all characters")
        # the hint makes room for "all characters" (only ever shown for 0); numbers need less in a narrow pane
        self.vocab_size.setMinimumWidth(self.vocab_size.fontMetrics().horizontalAdvance("262,144") + 40)
        self.coverage = QDoubleSpinBox()
        self.coverage.setRange(0.9, 1.0)
        self.coverage.setDecimals(4)
        self.coverage.setSingleStep(0.0005)
        self.coverage.setValue(1.0)
        self.byte_fallback = QCheckBox("Byte fallback")
        for widget, key in ((self.model_type, "model_type"), (self.vocab_size, "vocab_size"),
                            (self.coverage, "coverage"), (self.byte_fallback, "byte_fallback")):
            widget.setToolTip(TIPS[key])
        self.train_button = QPushButton("Train tokenizer")
        self.train_button.clicked.connect(self.start_training)
        box = QGroupBox("Tokenizer")
        grid = QGridLayout(box)
        grid.setHorizontalSpacing(8)
        cells = (("Model", self.model_type), ("Vocab size", self.vocab_size), ("Character coverage", self.coverage))
        for i, (name, widget) in enumerate(cells):  # two pairs a row: fits a half-width column
            label = QLabel(name)
            label.setToolTip(widget.toolTip())
            label.setBuddy(widget)
            grid.addWidget(label, i // 2, (i % 2) * 2, Qt.AlignmentFlag.AlignRight)
            grid.addWidget(widget, i // 2, (i % 2) * 2 + 1)
        grid.addWidget(self.byte_fallback, 1, 2, 1, 2)
        grid.setColumnStretch(4, 1)  # spare width goes to the right, not into very wide fields
        self.range_hint = VocabRangeHint()
        self.range_hint.use_size.connect(self.vocab_size.setValue)
        self.range_hint.found.connect(self._on_range_found)
        self.vocab_size.valueChanged.connect(self.range_hint.judge)
        for signal in (self.model_type.currentTextChanged, self.coverage.valueChanged, self.byte_fallback.toggled):
            signal.connect(self._check_range)
        grid.addWidget(self.range_hint, 2, 0, 1, 5)
        row = QHBoxLayout()
        row.setSpacing(10)
        row.addWidget(self.train_button)
        row.addWidget(self.train_bar, 1)
        grid.addLayout(row, 3, 0, 1, 5)
        return box

    def _on_range_found(self, found: Any) -> None:
        """Our own suggestion must fit the corpus: move it into the range (a size the person chose stays)."""
        size = self.vocab_size.value()
        if size == self._suggested and found.problem(size) is not None:
            self._suggested = min(max(size, found.minimum), found.maximum or size)
            self.vocab_size.setValue(self._suggested)

    def _check_range(self) -> None:
        """Ask again which vocab sizes fit (the corpus or a setting that moves the limits changed)."""
        has_corpus = self.project is not None and self.manifest is not None
        self.range_hint.check(self.project if has_corpus else None, self.model_type.currentText(),
                              self.coverage.value(), self.byte_fallback.isChecked())
        self.range_hint.judge(self.vocab_size.value())

    def _inspect_page(self) -> QWidget:
        report = QGroupBox("Report (measured on the validation split)")
        flow = FlowLayout(h_spacing=20)
        QVBoxLayout(report).addLayout(flow)
        self.report = {key: _value() for key in ("vocab", "fertility", "unknown", "cpt", "seconds")}
        names = {"vocab": ("Vocab size", "Number of token ids, reserved ones included."),
                 "fertility": ("Tokens per word", "Fertility: tokens per whitespace-separated word; lower "
                               "means shorter sequences (English subword tokenizers: about 1.2–1.6)."),
                 "unknown": ("Unknown rate", "Share of tokens that are <unk>: text the tokenizer cannot "
                             "represent. Should be 0 or nearly; raise coverage or enable byte fallback."),
                 "cpt": ("Chars per token", "Characters per token on the validation text."),
                 "seconds": ("Training time", "Wall-clock seconds SentencePiece took.")}
        for key, (name, tip) in names.items():  # "name value" pairs that wrap onto a second row when narrow
            item = QWidget()
            item.setToolTip(tip)
            pair = QHBoxLayout(item)
            pair.setContentsMargins(0, 0, 0, 0)
            pair.addWidget(QLabel(name))
            pair.addWidget(self.report[key])
            flow.addWidget(item)
        splitter = _PreviewSplitter()
        splitter.addWidget(self._preview_box())
        vocab_box = QGroupBox("Vocabulary")
        self.vocab = VocabView()
        QVBoxLayout(vocab_box).addWidget(self.vocab)
        splitter.addWidget(vocab_box)
        splitter.setChildrenCollapsible(False)
        page = QWidget()
        layout = QVBoxLayout(page)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(report)
        layout.addWidget(splitter, 1)
        return page

    def _preview_box(self) -> QGroupBox:
        self.preview_input = QPlainTextEdit(PREVIEW_TEXT)
        self.preview_input.setPlaceholderText("Type text to see how the tokenizer cuts it…")
        self.preview_input.setFixedHeight(self.preview_input.fontMetrics().lineSpacing() * 2 + 14)
        self.preview_input.textChanged.connect(self._debounce.start)
        self.chips = TokenChips()
        self.chips.placeholder = "Type above to see the tokens."
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.chips)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumHeight(2 * self.chips.row_height() + GAP + 2 * scroll.frameWidth())
        self.preview_summary = WrapLabel()
        self.preview_summary.setStyleSheet("color: palette(placeholder-text);")
        box = QGroupBox("Live preview")
        layout = QVBoxLayout(box)
        layout.addWidget(self.preview_input)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.preview_summary)
        return box

    def _encode_box(self) -> QGroupBox:
        self.encode_button = QPushButton("Encode corpus")
        self.encode_button.setToolTip("Turn the corpus into token shards (data/*.bin) that training reads.")
        self.encode_button.clicked.connect(self.start_encoding)
        self.encode_summary = WrapLabel()
        self.encode_summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box = QGroupBox("Token shards")
        layout = QVBoxLayout(box)
        row = QHBoxLayout()
        row.setSpacing(10)
        row.addWidget(self.encode_button)
        row.addWidget(self.encode_bar, 1)
        layout.addLayout(row)
        layout.addWidget(self.encode_summary)
        return box

    # ------------------------------------------------------------------------------------------- project

    def set_project(self, project: Project | None, manifest: dict[str, Any] | None) -> None:
        """Show the project's tokenizer and shards; ``manifest`` is its corpus (None: not imported yet)."""
        self.project, self.manifest = project, manifest
        self.tokenizer, self._suggested = None, None
        if project is not None and (project.tokenizer_dir / tokenizer.META_FILE).is_file():
            try:
                self.tokenizer = tokenizer.load_tokenizer(project)
            except (StudioError, OSError, ValueError, RuntimeError) as exc:
                self.train_bar.set_message(f"The tokenizer could not be loaded: {exc}")
        if self.tokenizer is not None:
            self._show_tokenizer(self.tokenizer)
        elif manifest is not None:
            self._suggested = suggested_vocab(int(manifest.get("stats", {}).get("characters", 0)))
            self.vocab_size.setValue(self._suggested)
            self.train_bar.set_message("Not trained yet: choose the settings and train.")
        self._show_shards()
        self._update_enabled()
        self._check_range()

    def chars_per_token(self) -> float | None:
        """The tokenizer's measured characters per token (None without a tokenizer)."""
        if self.tokenizer is None:
            return None
        return self.tokenizer.meta.get("report", {}).get("chars_per_token")

    def _show_tokenizer(self, tok: Tokenizer) -> None:
        meta = tok.meta
        settings = meta.get("settings", {})
        self.model_type.setCurrentText(settings.get("model_type", "bpe"))
        self.vocab_size.setValue(int(settings.get("vocab_size", tok.vocab_size)))
        self.coverage.setValue(float(settings.get("character_coverage", 1.0)))
        self.byte_fallback.setChecked(bool(settings.get("byte_fallback", False)))
        report = meta.get("report", {})
        self.report["vocab"].setText(f"{tok.vocab_size:,}")
        self.report["fertility"].setText(f"{report.get('fertility', 0):.3f}")
        self.report["unknown"].setText(f"{100 * report.get('unknown_rate', 0):.3f} %")
        self.report["cpt"].setText(f"{report.get('chars_per_token', 0):.2f}")
        self.report["seconds"].setText(f"{meta.get('train_seconds', 0):.1f} s")
        specials = {token_id: name for name, token_id in meta.get("special_ids", {}).items()}
        self.vocab.set_vocabulary(tok.vocabulary(), specials)
        self.chips.unknown_id = tok.unk_id
        stale = self.manifest is not None and meta.get("corpus_sha256") != self.manifest["split"]["sha256"]
        self.train_bar.set_message("Trained on an earlier import of the corpus: train again to match it."
                                   if stale else f"{MODEL_NAMES.get(settings.get('model_type'), 'A')} tokenizer "
                                   f"with {plural(tok.vocab_size, 'piece')}.")
        self.update_preview()

    def _show_shards(self) -> None:
        if self.tokenizer is None:
            self.encode_summary.setText("")
        elif self.project is None or not (self.project.data_dir / data.META_FILE).is_file():
            self.encode_summary.setText("Not encoded yet.")
            self.encode_bar.set_message("Encode the corpus so training can read it.")
        else:
            try:
                self.encode_summary.setText(shard_summary(data.load_meta(self.project)))
                self.encode_bar.set_message("The shards match the corpus and the tokenizer.")
            except StudioError as exc:
                self.encode_summary.setText(f"<b>Out of date:</b> {exc}")
                self.encode_bar.set_message("Encode again to bring the shards up to date.")

    def set_locked(self, locked: bool) -> None:
        """Disable starting work while another job of the pane runs."""
        self._locked = locked
        self._update_enabled()
        self._hold_range_check(locked)

    def _busy(self) -> bool:
        return self._locked or self.train_bar.is_running or self.encode_bar.is_running

    def _update_enabled(self) -> None:
        has_corpus = self.project is not None and self.manifest is not None
        has_tokenizer = has_corpus and self.tokenizer is not None
        busy = self._busy()
        self.train_button.setEnabled(has_corpus and not busy)
        self.encode_button.setEnabled(has_tokenizer and not busy)
        for widget in (self.model_type, self.vocab_size, self.coverage, self.byte_fallback):
            widget.setEnabled(has_corpus and not self.train_bar.is_running)
        if not has_corpus:
            self.empty.setText("Import a corpus first.\nThen train a tokenizer here to see its report, a live "
                               "preview of how it cuts text, and its vocabulary.")
            self.train_bar.set_message("Import a corpus first.")
            self.encode_bar.set_message("Import a corpus and train a tokenizer first.")
        elif not has_tokenizer:
            self.empty.setText("Train a tokenizer to see its report, a live preview and its vocabulary.")
            self.encode_bar.set_message("Train a tokenizer first.")
        self.inspect_stack.setCurrentIndex(1 if has_tokenizer else 0)

    def _on_running_changed(self, running: bool) -> None:
        self._update_enabled()
        self._hold_range_check(running)
        self.running_changed.emit(running)

    def _hold_range_check(self, busy: bool) -> None:
        """No range check while a job works (it would slow it, and an import replaces the corpus); then again."""
        if busy:
            self.range_hint.cancel()
        elif self.range_hint.range is None:
            self._check_range()

    # ------------------------------------------------------------------------------------------- preview

    def update_preview(self) -> None:
        """Tokenise the preview text into chips (cheap: runs on the GUI thread after the debounce)."""
        self._debounce.stop()
        if self.tokenizer is None:
            self.chips.set_tokens([])
            self.preview_summary.clear()
            return
        text = self.preview_input.toPlainText()
        ids = self.tokenizer.encode(text)
        pieces = unknown_surfaces(text, [self.tokenizer.id_to_piece(i) for i in ids],
                                  self.tokenizer.id_to_piece(self.tokenizer.unk_id))
        self.chips.set_tokens(list(zip(pieces, ids)))
        words = len(text.split())
        self.preview_summary.setText(f"{plural(len(ids), 'token')} · {plural(len(text), 'character')} · "
                                     f"{plural(words, 'word')}"
                                     + (f" · {len(text) / len(ids):.2f} chars/token" if ids else ""))

    # ------------------------------------------------------------------------------------------ training

    def settings(self) -> TokenizerSettings:
        """The settings chosen in the form (raises StudioError for an impossible combination)."""
        return TokenizerSettings(model_type=self.model_type.currentText(), vocab_size=self.vocab_size.value(),
                                 character_coverage=self.coverage.value(),
                                 byte_fallback=self.byte_fallback.isChecked())

    def start_training(self) -> None:
        """Train a tokenizer on the corpus in a job."""
        project = self.project
        if project is None or self._busy():
            return
        try:
            settings = self.settings()
        except StudioError as exc:
            self.error_raised.emit(str(exc), "")
            return
        self.train_bar.run(lambda reporter: tokenizer.train_tokenizer(project, settings, reporter),
                           "tokenizer training", self._on_trained)

    def _on_trained(self, meta: dict[str, Any]) -> None:
        assert self.project is not None
        self.tokenizer = tokenizer.load_tokenizer(self.project)
        self._show_tokenizer(self.tokenizer)
        self._show_shards()
        self.trained.emit(meta)

    # ------------------------------------------------------------------------------------------ encoding

    def start_encoding(self) -> None:
        """Encode the corpus with the tokenizer into token shards, in a job."""
        project = self.project
        if project is None or self._busy():
            return
        self.encode_bar.run(lambda reporter: data.encode_corpus(project, reporter), "encoding", self._on_encoded)

    def _on_encoded(self, meta: dict[str, Any]) -> None:
        self.encode_summary.setText(shard_summary(meta))
        self.encode_bar.set_message(f"Encoded in {self.encode_bar.elapsed():.1f} s.")
        self.encoded.emit(meta)


class _PreviewSplitter(QSplitter):
    """Preview above, vocabulary below: the preview gets its size hint (three rows of chips), the table the rest.

    QSplitter would shrink both from their hints in a short window, and spread a tall window's height evenly;
    this keeps the preview compact until the person drags the handle, after which their sizes stand.
    """

    def __init__(self) -> None:
        super().__init__(Qt.Orientation.Vertical)
        self._dragged = False
        self.splitterMoved.connect(self._on_moved)

    def _on_moved(self) -> None:
        self._dragged = True

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt's API
        """Re-fit the preview to its hint while the person has not chosen the sizes."""
        super().resizeEvent(event)
        if not self._dragged and self.count() == 2:
            preview, vocab = self.widget(0), self.widget(1)
            total, rest = self.height() - self.handleWidth(), vocab.minimumSizeHint().height()
            first = max(min(preview.sizeHint().height(), total - rest), preview.minimumSizeHint().height())
            self.setSizes([first, max(total - first, rest)])


def shard_summary(meta: dict[str, Any]) -> str:
    """One line about the shards: tokens per split, dtype and speed."""
    splits = meta.get("splits", {})
    train, val = splits.get("train", {}), splits.get("val", {})
    text = (f"<b>{train.get('tokens', 0):,}</b> train {noun(train.get('tokens', 0), 'token')} · "
            f"<b>{val.get('tokens', 0):,}</b> validation {noun(val.get('tokens', 0), 'token')} · "
            f"{meta.get('dtype', '?')} · {meta.get('tokens_per_second', 0):,} tokens/s "
            f"({meta.get('encode_seconds', 0):.1f} s)")
    notes = meta.get("notes") or []
    return text + "".join(f"<br><i>Note: {note}.</i>" for note in notes)
