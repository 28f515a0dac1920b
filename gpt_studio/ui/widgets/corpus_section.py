"""The Corpus section of the Corpus & Tokenizer pane: sources, import options, the import job and statistics.

Files and folders come in by dialogs or drag & drop (anywhere on the section); the table shows each file as
the engine will read it, and after an import the manifest's per-source outcome. Every file access that can
be slow (scanning folders, importing, downloading) runs in a job on the section's :class:`JobBar`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from gpt_studio.engine import corpus
from gpt_studio.engine.corpus import ImportOptions
from gpt_studio.engine.errors import StudioError
from gpt_studio.engine.project import Project
from gpt_studio.engine.samples import SampleSource, download
from gpt_studio.ui.widgets.corpus_stats_view import CorpusStatsView
from gpt_studio.ui.widgets.flow_layout import FlowLayout
from gpt_studio.ui.widgets.job_bar import JobBar
from gpt_studio.ui.widgets.source_scan import scan_paths
from gpt_studio.ui.widgets.sources_table import SourcesModel, SourcesView, local_paths
from gpt_studio.ui.widgets.wording import plural
from gpt_studio.ui.widgets.wrap_label import WrapLabel

TIPS = {
    "normalization": "Unicode normal form applied to all text. NFC joins accents to their letters so 'é' is "
                     "always one character; NFKC also folds look-alikes (ﬁ → fi, full-width letters → ASCII); "
                     "none keeps the characters exactly as decoded.",
    "whitespace": "strip: remove spaces at line ends and squeeze runs of blank lines to one. keep: leave all "
                  "whitespace as is. collapse: turn every run of whitespace, newlines included, into one space "
                  "(for text whose line breaks carry no meaning).",
    "dedup": "Drop documents whose cleaned text exactly repeats an earlier one, so repeated boilerplate does "
             "not dominate training or leak from training into validation.",
    "val_fraction": "Share of the text held out to measure the model on text it never trained on (the "
                    "validation loss). 5–10% is typical; small corpora need at least a few thousand characters.",
    "split": "document: whole documents go to validation, chosen by a stable hash. tail: the last part of the "
             "text (best for one long book). auto: document split unless that gives a badly sized validation "
             "set, then tail.",
}


def _combo(items: tuple[str, ...], tip: str) -> QComboBox:
    combo = QComboBox()
    combo.addItems(list(items))
    combo.setToolTip(tip)
    return combo


class CorpusSection(QWidget):
    """Sources, options, Import and statistics for the open project."""

    imported = Signal(dict)  # the new manifest
    error_raised = Signal(str, str)  # reason, details: shown by the pane's error dialog
    running_changed = Signal(bool)
    sample_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project: Project | None = None
        self.manifest: dict[str, Any] | None = None
        self._locked = False
        self.model = SourcesModel(self)
        self.table = SourcesView(self.model)
        self.bar = JobBar("Add text files or folders, then Import.")
        self.bar.failed.connect(self.error_raised)
        self.bar.running_changed.connect(self._on_running_changed)
        self.stats = CorpusStatsView()
        self.setAcceptDrops(True)
        self._build()
        self.model.modelReset.connect(self._update_enabled)
        self.table.selectionModel().selectionChanged.connect(self._update_enabled)
        self._update_enabled()

    # -------------------------------------------------------------------------------------------- building

    def _build(self) -> None:
        self.add_files_button = QPushButton("Add files…")
        self.add_folder_button = QPushButton("Add folder…")
        self.remove_button = QPushButton("Remove")
        self.download_button = QPushButton("Download sample…")
        self.sample_button = QPushButton("Use sample corpus")
        self.add_files_button.clicked.connect(self._choose_files)
        self.add_folder_button.clicked.connect(self._choose_folder)
        self.remove_button.clicked.connect(self._remove_selected)
        self.download_button.clicked.connect(self.choose_download)
        self.sample_button.clicked.connect(self.sample_clicked)
        self.download_button.setToolTip("Fetch a public-domain text from the internet into this project.")
        self.sample_button.setToolTip("Build a ready project from the Python documentation that ships with "
                                      "Python: import, train a 2000-piece tokenizer and encode, offline.")
        tools = FlowLayout(h_spacing=6)  # "Download sample…" moves to a second row in a narrow pane
        for button in (self.add_files_button, self.add_folder_button, self.remove_button):
            tools.addWidget(button)
        tools.add_stretch()
        tools.addWidget(self.download_button)
        self.sources_stack = QStackedWidget()
        self.sources_stack.addWidget(self._empty_card())
        self.sources_stack.addWidget(self.table)
        sources = QGroupBox("Sources")
        box = QVBoxLayout(sources)
        box.addLayout(tools)
        box.addWidget(self.sources_stack, 1)
        box.addWidget(self._options_box())
        box.addLayout(self._import_row())
        stats_box = QGroupBox("Statistics")
        QVBoxLayout(stats_box).addWidget(self.stats)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.splitter.addWidget(sources)
        self.splitter.addWidget(stats_box)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter)

    def _empty_card(self) -> QWidget:
        card = QWidget()
        title = QLabel("<b>Add the text to learn from</b>")
        hint = WrapLabel("Drop text files or folders here (.txt .md .rst .jsonl .csv .tsv, optionally .gz), use "
                      "<i>Add files…</i> / <i>Add folder…</i>, or start with a sample that needs no download.")
        hint.setStyleSheet("color: palette(placeholder-text);")
        for label in (title, hint):
            label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty_sample_button = QPushButton("Use sample corpus")
        self.empty_sample_button.setToolTip(self.sample_button.toolTip())
        self.empty_sample_button.clicked.connect(self.sample_clicked)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.empty_sample_button)
        row.addStretch(1)
        layout = QVBoxLayout(card)
        layout.addStretch(1)
        layout.addWidget(title)
        layout.addWidget(hint)
        layout.addLayout(row)
        layout.addStretch(1)
        return card

    def _options_box(self) -> QWidget:
        self.normalization = _combo(("NFC", "NFKC", "none"), TIPS["normalization"])
        self.whitespace = _combo(("strip", "keep", "collapse"), TIPS["whitespace"])
        self.split = _combo(("auto", "document", "tail"), TIPS["split"])
        self.val_percent = QDoubleSpinBox()
        self.val_percent.setRange(0.5, 49.0)
        self.val_percent.setDecimals(1)
        self.val_percent.setSingleStep(1.0)
        self.val_percent.setSuffix(" %")
        self.val_percent.setValue(10.0)
        self.val_percent.setToolTip(TIPS["val_fraction"])
        self.dedup = QCheckBox("Drop duplicate documents")
        self.dedup.setChecked(True)
        self.dedup.setToolTip(TIPS["dedup"])
        box = QWidget()
        grid = QGridLayout(box)
        grid.setContentsMargins(0, 4, 0, 0)
        grid.setHorizontalSpacing(8)
        cells = (("Normalization", self.normalization), ("Whitespace", self.whitespace),
                 ("Validation", self.val_percent), ("Split", self.split))
        for i, (name, widget) in enumerate(cells):
            label = QLabel(name)
            label.setToolTip(widget.toolTip())
            label.setBuddy(widget)
            grid.addWidget(label, i // 2, (i % 2) * 2, Qt.AlignmentFlag.AlignRight)
            grid.addWidget(widget, i // 2, (i % 2) * 2 + 1)
        grid.addWidget(self.dedup, 2, 0, 1, 4)
        grid.setColumnStretch(4, 1)  # spare width goes to the right, not into very wide combos
        return box

    def _import_row(self) -> QHBoxLayout:
        self.import_button = QPushButton("Import")
        self.import_button.setDefault(True)
        self.import_button.setToolTip("Read, clean and split the sources into the project's corpus; the old "
                                      "corpus stays until the new one is complete.")
        self.import_button.clicked.connect(self.start_import)
        row = QHBoxLayout()
        row.setSpacing(10)
        row.addWidget(self.import_button)
        row.addWidget(self.bar, 1)
        return row

    # ------------------------------------------------------------------------------------------- project

    def set_project(self, project: Project | None) -> None:
        """Show ``project``'s corpus (its sources, options and statistics), or an empty list."""
        self.project = project
        self.manifest = None
        if project is not None and (project.corpus_dir / corpus.MANIFEST).is_file():
            try:
                self.manifest = corpus.load_manifest(project)
            except (StudioError, ValueError, OSError) as exc:
                self.bar.set_message(f"The corpus could not be read: {exc}")
        if self.manifest is not None:
            self.model.load_reports(self.manifest.get("sources", []), self.manifest.get("options", {}))
            self._set_options(self.manifest.get("options", {}))
            stats = self.manifest.get("stats", {})
            self.bar.set_message(f"Corpus: {plural(stats.get('documents', 0), 'document')} from "
                                 f"{plural(stats.get('sources_imported', 0), 'file')}. Add or remove sources "
                                 "and Import again to replace it.")
        else:
            self.model.clear()
            self.bar.set_message("Add text files or folders, then Import.")
        self.stats.set_manifest(self.manifest)
        self._update_enabled()

    def _set_options(self, options: dict[str, Any]) -> None:
        self.normalization.setCurrentText(str(options.get("normalization", "NFC")))
        self.whitespace.setCurrentText(str(options.get("whitespace", "strip")))
        self.split.setCurrentText(str(options.get("split", "auto")))
        self.val_percent.setValue(100.0 * float(options.get("val_fraction", 0.1)))
        self.dedup.setChecked(bool(options.get("dedup", True)))

    def options(self) -> ImportOptions:
        """The import options chosen in the form."""
        return ImportOptions(normalization=self.normalization.currentText(), whitespace=self.whitespace.currentText(),
                             dedup=self.dedup.isChecked(), val_fraction=self.val_percent.value() / 100.0,
                             split=self.split.currentText())

    def set_locked(self, locked: bool) -> None:
        """Disable starting work while another job of the pane runs (they share the project's files)."""
        self._locked = locked
        self._update_enabled()

    def _update_enabled(self) -> None:
        idle = not self._locked and not self.bar.is_running and self.project is not None
        has_rows = self.model.rowCount() > 0
        for button in (self.add_files_button, self.add_folder_button, self.download_button, self.sample_button,
                       self.empty_sample_button):
            button.setEnabled(idle)
        self.remove_button.setEnabled(idle and bool(self.table.selected_rows()))
        self.import_button.setEnabled(idle and has_rows)
        self.import_button.setToolTip(self.import_button.toolTip() if has_rows else "Add files or folders first.")
        self.sources_stack.setCurrentIndex(1 if has_rows else 0)

    def _on_running_changed(self, running: bool) -> None:
        self._update_enabled()
        self.running_changed.emit(running)

    # ------------------------------------------------------------------------------------------- sources

    def _choose_files(self) -> None:
        names, _ = QFileDialog.getOpenFileNames(self, "Add text files", "", "Text (*.txt *.text *.md *.markdown "
                                                "*.rst *.jsonl *.ndjson *.csv *.tsv *.gz);;All files (*)")
        if names:
            self.add_paths([Path(n) for n in names])

    def _choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of text files")
        if folder:
            self.add_paths([Path(folder)])

    def add_paths(self, paths: list[Path]) -> None:
        """List files and folders (expanded and sniffed in a job, since a folder can hold thousands of files)."""
        if self.bar.is_running:
            return
        self.bar.run(lambda reporter: scan_paths(paths), "reading the sources", self._on_scanned)

    def _on_scanned(self, rows: list) -> None:
        added = self.model.add_rows(rows)
        known = sum(1 for r in rows if r.fmt is not None)
        self.bar.set_message(f"Added {plural(added, 'file')} ({known:,} readable as text). "
                             "Choose the options, then Import." if added else "Those files are already listed.")

    def _remove_selected(self) -> None:
        self.model.remove(self.table.selected_rows())

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt's API
        """Accept dragged local files and folders while idle."""
        if local_paths(event.mimeData()) and self.add_files_button.isEnabled():
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:  # noqa: N802
        """Keep accepting over every child."""
        self.dragEnterEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        """Add dropped files and folders."""
        paths = local_paths(event.mimeData())
        if not paths or not self.add_files_button.isEnabled():
            event.ignore()
            return
        event.acceptProposedAction()
        self.add_paths(paths)

    # -------------------------------------------------------------------------------------------- import

    def start_import(self) -> None:
        """Import the listed sources with the chosen options (replaces the corpus only when complete)."""
        project = self.project
        if project is None or self.bar.is_running:
            return
        missing = self.model.missing()
        if missing:
            names = ", ".join(p.name for p in missing[:5]) + (" …" if len(missing) > 5 else "")
            verb = "no longer exists" if len(missing) == 1 else "no longer exist"
            self.error_raised.emit(f"{plural(len(missing), 'source file')} {verb} ({names}). Remove "
                                   f"{'it' if len(missing) == 1 else 'them'} from the list or put "
                                   f"{'it' if len(missing) == 1 else 'them'} back, then Import again.", "")
            return
        specs = self.model.specs()
        if not specs:
            self.error_raised.emit("None of the listed files is a text type GPT Studio reads (.txt, .md, .rst, "
                                   ".jsonl, .csv, .tsv, optionally .gz). Add text files.", "")
            return
        try:
            options = self.options()
        except StudioError as exc:
            self.error_raised.emit(str(exc), "")
            return
        self.bar.run(lambda reporter: corpus.import_corpus(project, specs, options, reporter), "the import",
                     self._on_imported)

    def _on_imported(self, manifest: dict[str, Any]) -> None:
        self.manifest = manifest
        self.model.apply_reports(manifest.get("sources", []))
        self.stats.set_manifest(manifest)
        stats = manifest["stats"]
        skipped = stats.get("sources_skipped", 0) + sum(1 for r in self.model.rows() if r.fmt is None)
        self.bar.set_message(f"Imported {plural(stats['documents'], 'document')} "
                             f"({plural(stats['characters'], 'character')}) in {self.bar.elapsed():.1f} s"
                             + (f"; {plural(skipped, 'file')} skipped, see Status." if skipped else "."))
        self.imported.emit(manifest)

    # ------------------------------------------------------------------------------------------ download

    def choose_download(self) -> None:
        """Offer the catalogue of public-domain corpora and download the chosen one into PROJECT/sources/."""
        from gpt_studio.ui.widgets.sample_dialog import SampleDialog

        dialog = SampleDialog(self)
        if dialog.exec() == SampleDialog.DialogCode.Accepted and dialog.chosen() is not None:
            self.start_download(dialog.chosen())  # type: ignore[arg-type]

    def start_download(self, source: SampleSource) -> None:
        """Download ``source`` in a job, then list it as a source."""
        if self.project is None or self.bar.is_running:
            return
        dest = self.project.sources_dir / source.filename
        self.bar.run(lambda reporter: download(source.url, dest, source.sha256, reporter),
                     f"the download of {source.name}", self._on_downloaded)

    def _on_downloaded(self, path: Path) -> None:
        # the bar is still finishing this job: list the file once it is idle
        QTimer.singleShot(0, lambda: self.add_paths([path]))
