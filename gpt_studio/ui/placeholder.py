"""Empty states: the welcome page shown with no project open, and "coming next" pages for panes not built yet.

:data:`PANES` lists the main window's panes with the texts their "coming next" pages show.

Every empty state says what the place is for and what to do now (house style). Sizes come from the font, so
the pages scale with the user's font and the screen's DPI.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCommandLinkButton,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from gpt_studio.ui import theme


@dataclass(frozen=True)
class PaneSpec:
    """One sidebar entry: its title, icon, and the "coming next" text shown until the pane exists."""

    title: str
    icon: str  # a name in theme.ICON_DRAWINGS
    what: str
    now: str


MUTED_STYLE = "color: palette(placeholder-text);"  # theme.secondary_text_color, as a style sheet

PANES = (
    PaneSpec("Corpus && Tokenizer", "corpus",
             "Import your text (txt, md, jsonl, csv; folders too), see its statistics, train a SentencePiece "
             "tokenizer and encode the corpus into token shards.",
             "Use the command line meanwhile: <code>gpt-studio import PROJECT FILES…</code>, then "
             "<code>gpt-studio tokenizer PROJECT</code> and <code>gpt-studio encode PROJECT</code>."),
    PaneSpec("Pretrain", "pretrain",
             "Train a GPT or BERT model from scratch on your token shards: pick a preset sized for your "
             "machine, watch the loss and sample text as it learns, stop and resume at any checkpoint.",
             "Prepare the corpus, tokenizer and token shards in <b>Corpus &amp; Tokenizer</b> (Ctrl+1). "
             "You can already train from the command line: <code>gpt-studio pretrain PROJECT --preset "
             "tiny-gpt</code>; the runs will show up here."),
    PaneSpec("Fine-tune", "finetune",
             "Adapt a pretrained model to a task with GPT-1's input formats (classification, entailment, "
             "similarity, multiple choice) from a CSV, TSV or JSONL file, and compare it with a model trained "
             "from scratch.",
             "Pretrain a model first: its checkpoints are what fine-tuning starts from."),
    PaneSpec("Playground", "playground",
             "Try a model: generate text, fill in [MASK]s, score zero-shot heuristics on a text or a dataset, "
             "classify with a fine-tuned model, and see how surprised it is by each token.",
             "Pretrain a model first; even a few minutes of training on Tiny Shakespeare gives text to play with."),
)

def _label(text: str, parent: QWidget, scale: float = 1.0, bold: bool = False, muted: bool = False) -> QLabel:
    label = QLabel(text, parent)
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.RichText)
    label.setOpenExternalLinks(True)
    label.setFont(theme.scaled_font(parent, scale, bold))
    if muted:  # a style sheet, not a fixed colour: theme.refresh_palette_dependents re-resolves it on a switch
        label.setStyleSheet(MUTED_STYLE)
    return label


def _column(page: QWidget, chars: int = 80) -> QVBoxLayout:
    """A centred column at most about ``chars`` characters wide, so lines stay readable on wide windows."""
    outer = QVBoxLayout(page)
    outer.addStretch(1)
    row = QHBoxLayout()
    inner = QWidget(page)
    inner.setMaximumWidth(page.fontMetrics().averageCharWidth() * chars)
    row.addStretch(1)
    row.addWidget(inner, 100)  # takes the width up to its maximum; the stretches share what is left
    row.addStretch(1)
    outer.addLayout(row)
    outer.addStretch(2)
    column = QVBoxLayout(inner)
    column.setSpacing(page.fontMetrics().height() // 2)
    return column


class ComingNextPage(QWidget):
    """A friendly page for a pane that is not built yet: what it will do and what to do meanwhile."""

    def __init__(self, title: str, what: str, now: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = title
        column = _column(self)
        column.addWidget(_label(title, self, 1.8, bold=True))
        column.addWidget(_label("Coming next", self, 1.0, bold=True, muted=True))
        column.addWidget(_label(what, self, 1.1))
        column.addSpacing(self.fontMetrics().height())
        column.addWidget(_label("What you can do now", self, 1.0, bold=True))
        column.addWidget(_label(now, self))


class WelcomePage(QWidget):
    """The no-project state: create or open a project, reopen a recent one, start from a sample corpus or a model."""

    new_clicked = Signal()
    open_clicked = Signal()
    sample_clicked = Signal()
    import_clicked = Signal()
    settings_clicked = Signal()  # the "change" link after the data folder
    recent_chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        content = QWidget(self)
        column = _column(content)
        self._scroll(content)
        column.addWidget(_label("GPT Studio", self, 2.2, bold=True))
        column.addWidget(_label("Pretrain, fine-tune and probe small GPT and BERT models on your own text. "
                                "Everything of one piece of work lives in a project folder.", self, 1.1, muted=True))
        column.addSpacing(self.fontMetrics().height())
        self.new_button = self._button(column, "new-folder", "New project…", "Create a folder for a corpus, a "
                                       "tokenizer, training runs and models.", self.new_clicked)
        self.open_button = self._button(column, "folder", "Open project…", "Continue work in an existing "
                                        "project folder.", self.open_clicked)
        self.sample_button = self._button(column, "corpus", "Use sample corpus", "Start from a small sample corpus "
                                          "to try the whole loop in minutes.", self.sample_clicked)
        self.import_button = self._button(column, "import", "Import a pretrained model…", "Bring a published GPT-2 "
                                          "or BERT (a Hugging Face folder) into a new project to fine-tune or try "
                                          "it.", self.import_clicked)
        self.data_folder_label = _label("", self, muted=True)
        self.data_folder_label.setOpenExternalLinks(False)  # the link opens File › Settings…, not a browser
        self.data_folder_label.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse
                                                       | Qt.TextInteractionFlag.TextSelectableByMouse)
        self.data_folder_label.linkActivated.connect(lambda _link: self.settings_clicked.emit())
        column.addWidget(self.data_folder_label)
        column.addSpacing(self.fontMetrics().height())
        column.addWidget(_label("Recent projects", self, 1.0, bold=True))
        self.recent_list = QListWidget(self)
        self.recent_list.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # long paths lose their middle
        self.recent_list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.recent_list.setHorizontalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.recent_list.itemActivated.connect(self._on_recent_activated)
        self.recent_empty = _label("No recent projects yet.", self, muted=True)
        column.addWidget(self.recent_list)
        column.addWidget(self.recent_empty)

    def _scroll(self, content: QWidget) -> None:
        """Scroll the page rather than make the window taller than a small screen (or a 150 % scaled one)."""
        area = QScrollArea(self)
        area.setFrameShape(QFrame.Shape.NoFrame)
        area.setWidgetResizable(True)
        area.setWidget(content)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(area)

    def _button(self, column: QVBoxLayout, icon: str, text: str, description: str,
                signal: Signal) -> QCommandLinkButton:
        button = QCommandLinkButton(text, description, self)
        button.setIcon(theme.line_icon(icon))
        side = round(self.fontMetrics().height() * 1.6)
        button.setIconSize(QSize(side, side))
        button.clicked.connect(signal)
        column.addWidget(button)
        return button

    def set_data_folder(self, folder: Path) -> None:
        """Say where new projects go, with a link to change it (the data folder of File › Settings…)."""
        self.data_folder_label.setText(f"New projects are proposed in {html.escape(str(folder))} "
                                       "(<a href=\"settings\">change</a>).")

    def _on_recent_activated(self, item: QListWidgetItem) -> None:
        self.recent_chosen.emit(item.data(Qt.ItemDataRole.UserRole))

    def set_recent(self, paths: list[str]) -> None:
        """Show ``paths`` (newest first) as "name — folder" lines; activating one emits ``recent_chosen``."""
        self.recent_list.clear()
        for path in paths:
            item = QListWidgetItem(f"{Path(path).name}    —    {Path(path).parent}")
            item.setData(Qt.ItemDataRole.UserRole, path)
            item.setToolTip(path)
            self.recent_list.addItem(item)
        rows = max(1, min(len(paths), 8))  # as tall as its entries (the list holds at most 8)
        self.recent_list.setFixedHeight(rows * max(self.recent_list.sizeHintForRow(0), self.fontMetrics().height())
                                        + 2 * self.recent_list.frameWidth() + self.fontMetrics().height() // 2)
        self.recent_list.setVisible(bool(paths))
        self.recent_empty.setVisible(not paths)
