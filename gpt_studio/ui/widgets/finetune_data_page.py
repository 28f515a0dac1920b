"""Wizard step 3: the data file, its columns, and the token sequences the model will see for one example.

A file comes in by "Choose…" or drag & drop (an optional evaluation file beside it). The first rows show in a
table; a combo box per role (text, label, …) starts at ``guess_columns``'s guess. Whenever the mapping
changes, the whole file is read and validated in a background job (``detect_labels`` + ``load_task_data``),
so a bad row is named before training, and the GUI never waits on a large file. The preview runs
``sequence_preview`` for the chosen example and shows the sequences as token chips, specials included.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Slot
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gpt_studio.engine.errors import StudioError
from gpt_studio.engine.finetune_data import TABLE_SUFFIXES, ColumnMap
from gpt_studio.ui.widgets.finetune_common import (
    ENGINE_MISSING,
    ERROR_STYLE,
    FinetuneChoices,
    WizardPage,
    heading,
    note,
)
from gpt_studio.ui.widgets.finetune_mapping import NONE_TEXT, ROLES, cell_text, mapped_columns, read_task_file
from gpt_studio.ui.widgets.finetune_preview import SequencePreview
from gpt_studio.ui.widgets.sources_table import local_paths
from gpt_studio.ui.widgets.wording import plural
from gpt_studio.workers import Job

LOAD_DELAY_MS = 150  # wait for the person to stop changing combo boxes before reading the whole file
FILE_FILTER = "Labelled data (*.csv *.tsv *.jsonl);;All files (*)"
class DataPage(WizardPage):
    """Choose the data file(s), map their columns and preview what the model will read."""

    title = "Data and columns"

    def __init__(self, choices: FinetuneChoices, parent: QWidget | None = None) -> None:
        super().__init__(choices, parent)
        self.combos: dict[str, QComboBox] = {}
        self.job: Job | None = None
        self._mapped_task: str | None = None
        self._table_error = self._eval_error = self._load_error = ""
        self._eval_columns: list[str] = []
        self._generation = self._job_generation = 0
        self._reload_pending = False
        self._load_timer = QTimer(self)
        self._load_timer.setSingleShot(True)
        self._load_timer.setInterval(LOAD_DELAY_MS)
        self._load_timer.timeout.connect(self._start_load)
        self.setAcceptDrops(True)
        self._build()

    # ----------------------------------------------------------------------------------------- building

    def _build(self) -> None:
        self.train_label, self.eval_label = QLabel(), QLabel()
        for label in (self.train_label, self.eval_label):
            label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.train_button = QPushButton("Choose file…")
        self.train_button.setToolTip("A CSV or TSV with a header row, or a JSONL file with one object per line.")
        self.train_button.clicked.connect(self._choose_train)
        self.eval_button = QPushButton("Choose…")
        self.eval_button.setToolTip("Optional: a separate labelled file to evaluate on, with the same columns. "
                                    "Without one, a stratified share of the training file is held out.")
        self.eval_button.clicked.connect(self._choose_eval)
        self.eval_clear = QPushButton("Clear")
        self.eval_clear.setToolTip("Hold out part of the training file instead.")
        self.eval_clear.clicked.connect(lambda: self.set_eval_file(None))
        self.eval_box = QFrame()
        files = QFormLayout()
        files.addRow("Training file", _row(self.train_label, self.train_button))
        eval_row = _row(self.eval_label, self.eval_button, self.eval_clear)
        self.eval_box.setLayout(eval_row)
        files.addRow("Evaluation file", self.eval_box)
        self.table = QTableWidget()
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setWordWrap(False)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        self.table.setToolTip("The file's first rows; the numbers on the left are row numbers in the file.")
        self.table.itemSelectionChanged.connect(self._on_table_row)
        self.table_note = note()
        self.mapping = QFormLayout()
        mapping_box = QWidget()
        mapping_column = QVBoxLayout(mapping_box)
        mapping_column.setContentsMargins(0, 0, 0, 0)
        mapping_column.addWidget(heading("Columns", scale=1.1))
        mapping_column.addLayout(self.mapping)
        self.status = note()
        self.error = note(style=ERROR_STYLE)
        mapping_column.addWidget(self.status)
        mapping_column.addWidget(self.error)
        mapping_column.addStretch(1)
        self.preview = SequencePreview()
        bottom = QSplitter(Qt.Orientation.Horizontal)
        bottom.addWidget(mapping_box)
        bottom.addWidget(self.preview)
        bottom.setStretchFactor(0, 2)
        bottom.setStretchFactor(1, 5)
        bottom.setSizes([300, 750])
        bottom.setChildrenCollapsible(False)
        splitter = QSplitter(Qt.Orientation.Vertical)
        table_box = QWidget()
        table_column = QVBoxLayout(table_box)
        table_column.setContentsMargins(0, 0, 0, 0)
        table_column.addWidget(self.table, 1)
        table_column.addWidget(self.table_note)
        splitter.addWidget(table_box)
        splitter.addWidget(bottom)
        splitter.setStretchFactor(0, 1)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([330, 370])  # about ten rows of the file; the rest for the mapping and the preview
        splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.addWidget(heading("Your labelled data"))
        layout.addWidget(note("Choose or drop a CSV, TSV or JSONL file with one example per row. Check that each "
                              "role below points at the right column, then look at what the model will read."))
        layout.addLayout(files)
        layout.addWidget(splitter, 1)
        self._show_files()

    # -------------------------------------------------------------------------------------------- files

    def set_train_file(self, path: str | Path) -> None:
        """Preview ``path`` and map its columns from their names; then read it whole in the background."""
        from gpt_studio.engine.finetune_data import preview_table

        path = Path(path)
        self.choices.train_path, self.choices.table, self._table_error = path, None, ""
        try:
            self.choices.table = preview_table(path)
        except NotImplementedError:
            self._table_error = ENGINE_MISSING
        except StudioError as exc:
            self._table_error = str(exc)
        except OSError as exc:
            self._table_error = f"Could not read {path}: {exc.strerror or exc}."
        self._fill_table()
        self._mapped_task = None  # a new file: guess the columns again
        self._remap()
        self._check_eval()
        self._show_files()

    def set_eval_file(self, path: str | Path | None) -> None:
        """Use ``path`` to evaluate on (None: hold out part of the training file)."""
        self.choices.eval_path = Path(path) if path else None
        self._eval_columns, self._eval_error = [], ""
        if path:
            from gpt_studio.engine.finetune_data import preview_table

            try:
                self._eval_columns = preview_table(Path(path), limit=1).columns
            except NotImplementedError:
                self._eval_error = ENGINE_MISSING
            except StudioError as exc:
                self._eval_error = str(exc)
            except OSError as exc:
                self._eval_error = f"Could not read {path}: {exc.strerror or exc}."
        self._check_eval()
        self._show_files()
        self.changed.emit()

    def _check_eval(self) -> None:
        """The evaluation file must have every mapped column (it is read with the same mapping)."""
        if self.choices.eval_path is None or not self._eval_columns:
            return
        self._eval_error = ""
        missing = [c for c in mapped_columns(self.choices.columns) if c not in self._eval_columns]
        if missing:
            self._eval_error = (f"The evaluation file {self.choices.eval_path.name} has no column "
                                f"{', '.join(repr(c) for c in missing)}; it needs the training file's column names.")

    def _show_files(self) -> None:
        train, evaluation = self.choices.train_path, self.choices.eval_path
        self.train_label.setText(str(train) if train else "none yet — choose one or drop it here")
        self.eval_label.setText(str(evaluation) if evaluation else "none: a stratified share of the training file "
                                "is held out")
        self.eval_clear.setEnabled(evaluation is not None)
        self.error.setText(self._table_error or self._eval_error or self._load_error)
        self.error.setVisible(bool(self.error.text()))

    def _choose_train(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Choose the training data", "", FILE_FILTER)
        if name:
            self.set_train_file(name)

    def _choose_eval(self) -> None:
        name, _ = QFileDialog.getOpenFileName(self, "Choose an evaluation file", "", FILE_FILTER)
        if name:
            self.set_eval_file(name)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt's API
        """Accept dragged data files."""
        if _data_files(local_paths(event.mimeData())):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:  # noqa: N802
        """Keep accepting over every child."""
        self.dragEnterEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802
        """On the evaluation row: the evaluation file. Elsewhere: the training file (a second one evaluates)."""
        files = _data_files(local_paths(event.mimeData()))
        if not files:
            event.ignore()
            return
        event.acceptProposedAction()
        on_eval = self.eval_box.rect().contains(self.eval_box.mapFrom(self, event.position().toPoint()))
        if on_eval:
            self.set_eval_file(files[0])
            return
        self.set_train_file(files[0])
        if len(files) > 1:
            self.set_eval_file(files[1])

    # ------------------------------------------------------------------------------------------ mapping

    def enter(self) -> None:
        """A new task since the mapping was made: guess the columns for it; otherwise keep the person's choice."""
        if self._mapped_task != self.choices.task and self.choices.table is not None:
            self._remap()
        else:
            self.preview.set_data(self.choices.base, self.choices.data)  # the base (tokenizer) may have changed
        self.changed.emit()

    def _remap(self) -> None:
        """Rebuild the role combos for the current task, pre-filled by ``guess_columns``."""
        from gpt_studio.engine.finetune_data import guess_columns

        while self.mapping.rowCount():
            self.mapping.removeRow(0)
        self.combos = {}
        table, task = self.choices.table, self.choices.task
        if table is None:
            self.choices.columns = ColumnMap()
            self._mapped_task = None
            self._data_changed()
            return
        try:
            guess = guess_columns(list(table.columns), task)
        except NotImplementedError:
            guess = ColumnMap()
        for role, label, required, tip in ROLES[task]:
            combo = QComboBox()
            combo.setToolTip(tip)
            combo.setEditable(role == "choices")
            if not required:
                combo.addItem(NONE_TEXT)
            if required and getattr(guess, role) is None:
                combo.addItem("")  # nothing guessed: leave the choice visibly open
            combo.addItems(table.columns)
            value = getattr(guess, role)
            combo.setCurrentText(value if value else (combo.itemText(0)))
            combo.currentTextChanged.connect(self._on_mapping_changed)
            self.combos[role] = combo
            self.mapping.addRow(label + ("" if required else " (optional)"), combo)
        self._mapped_task = task
        self._on_mapping_changed()

    def set_column(self, role: str, column: str) -> None:
        """Map ``role`` to ``column`` (as choosing it in the combo box would)."""
        self.combos[role].setCurrentText(column)

    def _on_mapping_changed(self, *_args: Any) -> None:
        values = {role: combo.currentText().strip() for role, combo in self.combos.items()}
        self.choices.columns = ColumnMap(**{r: (v if v and v != NONE_TEXT else None) for r, v in values.items()})
        self._check_eval()
        self._data_changed()

    def _data_changed(self) -> None:
        """Forget the read data; read again shortly (debounced) if the mapping is complete."""
        self._generation += 1
        self.choices.data, self.choices.label_counts = None, {}
        self._load_error = ""
        self.status.setText("")
        self.preview.set_data(None, None)
        self._load_timer.stop()
        if not self._mapping_problem() and not self._table_error:
            self.status.setText("Reading the file…")
            self._load_timer.start()
        self._show_files()
        self.changed.emit()

    def _mapping_problem(self) -> str:
        if self.choices.table is None:
            return "Choose a training file (CSV, TSV or JSONL), or drop one here."
        columns = self.choices.columns
        for role, label, required, _tip in ROLES[self.choices.task]:
            if required and not getattr(columns, role):
                return f"Choose the column that holds the {label.lower()}."
        used = [c for c in (columns.text, columns.text_pair, columns.label, columns.context) if c]
        if len(used) != len(set(used)):
            return "Each role needs its own column: two roles point at the same one."
        return ""

    # ------------------------------------------------------------------------------- reading in the background

    def _start_load(self) -> None:
        if self.job is not None:
            self._reload_pending = True  # the running read is stale; read again when it ends
            return
        path, task, columns = self.choices.train_path, self.choices.task, self.choices.columns
        if path is None:
            return
        self._job_generation = self._generation
        job = Job(lambda reporter: read_task_file(path, task, columns), "reading the data file")
        # bound methods, never lambdas: the job lives on its thread, and only a method of this page is queued to ours
        job.succeeded.connect(self._on_loaded)
        job.failed.connect(self._on_load_failed)
        job.finished.connect(self._on_load_finished)
        job.finished.connect(job.deleteLater)  # a Job lives on the GUI thread: freed there once it has finished
        self.job = job
        job.start()

    @Slot(object)
    def _on_loaded(self, result: dict[str, Any]) -> None:
        if self._job_generation != self._generation:
            return
        choices = self.choices
        choices.data, choices.label_counts = result["data"], result["counts"]
        choices.numeric_labels = result["numeric"]
        choices.regression = result["regression"]
        choices.plan.rename.clear()
        choices.plan.exclude.clear()
        if "" in choices.label_counts and choices.task != "multiple-choice":
            choices.plan.exclude.add("")  # rows without a label cannot train
        data = choices.data
        what = ("scores" if choices.regression else "answer positions" if choices.task == "multiple-choice"
                else "labels")
        self.status.setText(f"Read {plural(len(data.examples), 'example')} from {data.path.name}; "
                            f"{len(choices.label_counts):,} distinct {what}.")
        self.preview.set_data(choices.base, data)
        self._show_files()
        self.changed.emit()

    @Slot(str, str)
    def _on_load_failed(self, reason: str, _details: str) -> None:
        if self._job_generation == self._generation:
            self._load_error = reason
            self.status.setText("")
            self._show_files()
            self.changed.emit()

    @Slot()
    def _on_load_finished(self) -> None:
        self.job = None
        if self._reload_pending:
            self._reload_pending = False
            if not self._mapping_problem():
                self._start_load()
        self.changed.emit()  # no longer busy: Back is possible again

    def busy(self) -> bool:
        """Whether the file is still being read."""
        return self.job is not None or self._load_timer.isActive()

    def shutdown(self, wait_ms: int = 30_000) -> None:
        """Wait for a read in progress (it cannot be cut short; files are only read)."""
        self._load_timer.stop()
        if self.job is not None:
            from gpt_studio.ui.app import wait_for_jobs

            wait_for_jobs([self.job], wait_ms)

    # ------------------------------------------------------------------------------------------- preview

    def _fill_table(self) -> None:
        table = self.choices.table
        self.table.clear()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        if table is None:
            self.table.setRowCount(0)
            self.table.setColumnCount(0)
            self.table_note.setText("")
            return
        self.table.setColumnCount(len(table.columns))
        self.table.setHorizontalHeaderLabels(table.columns)
        self.table.setRowCount(len(table.rows))
        first = 1 if table.path.suffix.lower() == ".jsonl" else 2  # CSV/TSV: the header is row 1
        self.table.setVerticalHeaderLabels([str(first + r) for r in range(len(table.rows))])
        for r, row in enumerate(table.rows):
            for c, column in enumerate(table.columns):
                text = cell_text(row.get(column))
                item = QTableWidgetItem(text)
                item.setToolTip(text)
                self.table.setItem(r, c, item)
        header = self.table.horizontalHeader()
        width = self.fontMetrics().averageCharWidth() * 48
        widths = []
        for c in range(len(table.columns)):
            header.setSectionResizeMode(c, QHeaderView.ResizeMode.Interactive)
            self.table.resizeColumnToContents(c)
            widths.append(self.table.columnWidth(c))
            self.table.setColumnWidth(c, min(widths[-1], width))
        if widths:  # the widest column (the text, usually) takes the spare width
            header.setSectionResizeMode(widths.index(max(widths)), QHeaderView.ResizeMode.Stretch)
        total = f"{table.total_rows:,} rows in all" if table.total_rows is not None else "more rows follow"
        self.table_note.setText(f"The first {plural(len(table.rows), 'row')} of {table.path.name} ({total}). "
                                "Select a row to preview it.")

    def _on_table_row(self) -> None:
        rows = self.table.selectionModel().selectedRows() if self.table.selectionModel() else []
        table = self.choices.table
        if rows and table is not None:
            self.preview.show_row(rows[0].row() + (1 if table.path.suffix.lower() == ".jsonl" else 2))  # CSV: header

    def preview_tokens(self) -> list[list[tuple[str, int]]]:
        """The (piece, id) sequences the preview shows (one per sequence the model reads)."""
        return self.preview.tokens()

    # --------------------------------------------------------------------------------------------- state

    def reason(self) -> str:
        """Why Next waits: no file, an unreadable file, an incomplete mapping, a bad row, or still reading."""
        if self.choices.train_path is None:
            return "Choose a training file (CSV, TSV or JSONL), or drop one here."
        if self._table_error:
            return self._table_error
        problem = self._mapping_problem()
        if problem:
            return problem
        if self._eval_error:
            return self._eval_error
        if self._load_error:
            return self._load_error
        if self.choices.data is None:
            return "Reading the file…"
        if not self.choices.data.examples:
            return f"{self.choices.train_path.name} has no usable rows."
        return ""


def _data_files(paths: list[Path]) -> list[Path]:
    return [p for p in paths if p.is_file() and p.suffix.lower() in TABLE_SUFFIXES]


def _row(*widgets: QWidget) -> QHBoxLayout:
    row = QHBoxLayout()
    row.setContentsMargins(0, 0, 0, 0)
    row.addWidget(widgets[0], 1)
    for widget in widgets[1:]:
        row.addWidget(widget)
    return row
