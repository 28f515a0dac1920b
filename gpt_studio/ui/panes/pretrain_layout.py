"""How the Pretrain pane is laid out: the form over the planner on the left, controls, monitor and runs right.

Kept apart from the pane's behaviour so either can change alone. The pieces are built by the pane (they import
torch, so only once it is first shown); this module only arranges them, stands in for a missing monitor, and
words the empty state shown until the project has token shards (naming the one step still missing).
"""

from __future__ import annotations

import html
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QScrollArea, QSplitter, QVBoxLayout, QWidget

from gpt_studio.engine.corpus import MANIFEST
from gpt_studio.engine.project import Project
from gpt_studio.engine.tokenizer import META_FILE as TOKENIZER_META

FORM_SHARE = (400, 600)  # initial widths, scaled to the pane's: the form needs about 40%


class MonitorPlaceholder(QLabel):
    """Stands in for the run monitor while its module is missing: every monitor call does nothing."""

    step_count = 0

    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


def make_monitor() -> QWidget:
    """The live run monitor, or a placeholder that says it is not in this build."""
    try:
        from gpt_studio.ui.widgets.run_monitor import RunMonitor
    except ImportError:
        return MonitorPlaceholder("The live monitor is not available in this build.")
    return RunMonitor()


def message_page(text: str) -> QLabel:
    """A centred, wrapped message: the pane's empty states."""
    label = QLabel(text)
    label.setWordWrap(True)
    label.setAlignment(Qt.AlignmentFlag.AlignCenter)
    return label


NEXT_STEPS = {  # what is missing → what to do, in Corpus & Tokenizer
    "corpus": "<b>Next: import text.</b> Add your files or folders there (or use the sample corpus), then Import.",
    "tokenizer": "The corpus is imported. <b>Next: train a tokenizer</b> on it.",
    "data": "The corpus is imported and the tokenizer trained. <b>Next: encode the corpus</b> into token shards.",
}


def missing_step(project: Project) -> str:
    """The first of "corpus", "tokenizer", "data" the project lacks (read from the files the engine writes)."""
    if not (project.corpus_dir / MANIFEST).is_file():
        return "corpus"
    if not (project.tokenizer_dir / TOKENIZER_META).is_file():
        return "tokenizer"
    return "data"


def no_data_text(project: Project, why: str) -> str:
    """The empty state before shards exist: why pretraining waits and the one step to take next."""
    step = missing_step(project)
    text = ("<h3>Pretrain</h3><p>Encode the corpus first: pretraining reads token shards, which "
            "<b>Corpus &amp; Tokenizer</b> (Ctrl+1) makes from your text in three steps (import, tokenizer, "
            f"encode).</p><p>{NEXT_STEPS[step]}</p>")
    if step == "data" and why:  # the engine's reason matters here (e.g. shards older than the tokenizer)
        text += f"<p><i>{html.escape(why)}</i></p>"
    return text + "<p>Then configure a GPT or BERT model here and train it.</p>"


def body(form: QWidget, planner: QWidget, controls: QWidget, monitor: QWidget, runs: QWidget) -> QSplitter:
    """The pane's body: a splitter with the form over the planner (each scrolls) and the run column."""
    left = QSplitter(Qt.Orientation.Vertical)
    left.addWidget(_scrolled(form))
    left.addWidget(_scrolled(planner))
    left.setStretchFactor(0, 1)
    left.setStretchFactor(1, 1)
    right_top = QSplitter(Qt.Orientation.Vertical)
    right_top.addWidget(monitor)
    right_top.addWidget(runs)
    right_top.setStretchFactor(0, 3)
    right_top.setStretchFactor(1, 1)
    right = QWidget()
    column = QVBoxLayout(right)
    column.setContentsMargins(0, 0, 0, 0)
    column.addWidget(controls)
    column.addWidget(right_top, 1)
    splitter = QSplitter(Qt.Orientation.Horizontal)
    splitter.addWidget(left)
    splitter.addWidget(right)
    splitter.setStretchFactor(0, 2)
    splitter.setStretchFactor(1, 3)
    splitter.setSizes(list(FORM_SHARE))
    splitter.setChildrenCollapsible(False)
    return splitter


def _scrolled(widget: QWidget) -> QScrollArea:
    scroll = QScrollArea()
    scroll.setWidgetResizable(True)
    scroll.setWidget(widget)
    return scroll
