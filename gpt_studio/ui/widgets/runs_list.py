"""The project's pretraining runs: a list with status, preset, steps, best val loss and parent; showing them.

The list refreshes every 2 s. Rows come from each run's run.json (re-read only when it changes) plus the
tail of metrics.jsonl, so the list stays cheap with many runs. A run whose run.json says "running" but whose
metrics have not grown for a minute, and which no job of this window trains, is shown as "crashed?": its
process died without a word. The helpers at the end read a run's recorded history (on a worker, for the views
that can wait) and put it into a ``RunMonitor`` (as its main run or as an overlay).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gpt_studio.engine.project import Project
from gpt_studio.engine.runs import RunDir, list_runs
from gpt_studio.engine.trainer_config import Event

REFRESH_MS = 2000
STALE_S = 60.0  # a "running" run whose metrics have not grown for this long is probably dead
TAIL_BYTES = 4096
COLUMNS = ("Run", "Status", "Preset", "Steps", "Best val loss", "Parent")


@dataclass(frozen=True)
class RunRow:
    """What the list shows for one run."""

    run_id: str
    status: str  # created | running | completed | stopped | error | crashed?
    preset: str
    steps: int | None
    max_steps: int | None
    best_val_loss: float | None
    parent: str  # "run-id @ step" or ""
    has_checkpoint: bool

    def cells(self) -> tuple[str, ...]:
        """The texts of the row's columns."""
        steps = "—" if self.steps is None else f"{self.steps:,}"
        if self.max_steps:
            steps += f" / {self.max_steps:,}"
        loss = "—" if self.best_val_loss is None else f"{self.best_val_loss:.4f}"
        return self.run_id, self.status, self.preset, steps, loss, self.parent


def last_step(metrics: Path) -> int | None:
    """The step of the last complete record in metrics.jsonl, reading only its tail."""
    try:
        with open(metrics, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - TAIL_BYTES))
            lines = handle.read().split(b"\n")
    except OSError:
        return None
    for line in reversed(lines[:-1]):  # the part after the last newline may be half-written
        try:
            return int(json.loads(line)["step"])
        except (ValueError, KeyError, TypeError):
            continue
    return None


def read_row(run: RunDir, ours: set[str], now: float | None = None, info: dict[str, Any] | None = None) -> RunRow:
    """The row of ``run`` (``info``: its run.json if already read); ``ours`` are never "crashed?" (we train them)."""
    from gpt_studio.engine.checkpoint import list_checkpoints  # imports torch: not at module import

    info = run.read() if info is None else info
    summary = info.get("summary") or {}
    status = str(info.get("status", "created"))
    if status == "running" and run.run_id not in ours:
        grown = run.metrics_file.stat().st_mtime if run.metrics_file.is_file() else run.run_file.stat().st_mtime
        if (now or time.time()) - grown > STALE_S:
            status = "crashed?"
    parent = info.get("parent") or {}
    steps = last_step(run.metrics_file)
    if steps is None:
        steps = summary.get("steps")
    return RunRow(
        run_id=run.run_id,
        status=status,
        preset=str(info.get("preset", "")),
        steps=steps,
        max_steps=info.get("max_steps") or (info.get("train") or {}).get("max_steps"),
        best_val_loss=summary.get("best_val_loss"),
        parent=f"{parent['run_id']} @ {parent['step']}" if parent else "",
        has_checkpoint=bool(list_checkpoints(run.checkpoints_dir)),
    )


class RunsList(QWidget):
    """The runs table with Open, Compare and Attach; emits requests, the pane does the work."""

    open_requested = Signal(str)  # run id
    compare_requested = Signal(list)  # run ids to overlay
    attach_requested = Signal(str)  # follow a run another process is training
    selection_changed = Signal(list)  # selected run ids

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project: Project | None = None
        self.ours: set[str] = set()
        self.rows: list[RunRow] = []
        self._infos: dict[str, tuple[int, dict[str, Any]]] = {}  # run id → (run.json mtime_ns, contents)
        self._build()
        self.timer = QTimer(self)
        self.timer.setInterval(REFRESH_MS)
        self.timer.timeout.connect(self.refresh)

    def _build(self) -> None:
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._on_selection_changed)
        self.table.itemDoubleClicked.connect(lambda _item: self._open())
        self.open_button = QPushButton("Open")
        self.open_button.setToolTip("Show the selected run's curves in the monitor.")
        self.open_button.clicked.connect(self._open)
        self.compare_button = QPushButton("Compare")
        self.compare_button.setToolTip("Overlay the selected runs' curves on one plot (select several with "
                                       "Ctrl or Shift).")
        self.compare_button.clicked.connect(lambda: self.compare_requested.emit(self.selected()))
        self.attach_button = QPushButton("Attach")
        self.attach_button.setToolTip("Follow a run that is training outside this window (e.g. started with "
                                      "`gpt-studio pretrain`): its curves update live.")
        self.attach_button.clicked.connect(self._attach)
        self.export_button = QPushButton("Export…")
        self.export_button.setToolTip("Write the selected run's latest checkpoint as a Hugging Face folder "
                                      "(GPT2LMHeadModel or BertForMaskedLM) that transformers loads.")
        self.export_button.clicked.connect(self._export)
        self.empty = QLabel("No runs yet: configure a model on the left and press Start.")
        self.empty.setStyleSheet("color: palette(placeholder-text);")
        buttons = QHBoxLayout()
        buttons.addWidget(QLabel("<b>Runs</b>"))
        buttons.addStretch(1)
        for button in (self.open_button, self.compare_button, self.attach_button, self.export_button):
            buttons.addWidget(button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(buttons)
        layout.addWidget(self.empty)
        layout.addWidget(self.table, 1)
        self._on_selection_changed()

    # ------------------------------------------------------------------------------------------ reading

    def set_project(self, project: Project | None) -> None:
        """List ``project``'s runs (none without a project) and keep them fresh every 2 s."""
        self.project = project
        self.rows = []
        self.table.setRowCount(0)
        self.refresh()
        if project is not None and self.isVisible():
            self.timer.start()

    def set_ours(self, run_ids: set[str]) -> None:
        """Runs this window trains: a pause of theirs is not a crash."""
        self.ours = set(run_ids)

    def refresh(self) -> None:
        """Re-read the runs (newest first); rows update in place so the selection stays."""
        rows: list[RunRow] = []
        if self.project is not None:
            now = time.time()
            for run in reversed(list_runs(self.project)):
                try:
                    rows.append(read_row(run, self.ours, now, self._info(run)))
                except (OSError, ValueError, KeyError):
                    continue  # being written or damaged: it will show at the next refresh
        if [r.run_id for r in rows] != [r.run_id for r in self.rows]:
            self._rebuild(rows)
        else:
            for index, row in enumerate(rows):
                if row != self.rows[index]:
                    self._fill(index, row)
        self.rows = rows
        self.empty.setVisible(not rows)
        self._on_selection_changed()

    def _info(self, run: RunDir) -> dict[str, Any]:
        """run.json's contents, read again only when the file changed."""
        stamp = run.run_file.stat().st_mtime_ns
        cached = self._infos.get(run.run_id)
        if cached is None or cached[0] != stamp:
            cached = self._infos[run.run_id] = (stamp, run.read())
        return cached[1]

    def _rebuild(self, rows: list[RunRow]) -> None:
        selected = set(self.selected())
        self.table.blockSignals(True)
        self.table.setRowCount(len(rows))
        for index, row in enumerate(rows):
            self._fill(index, row)
        self.table.clearSelection()
        for index, row in enumerate(rows):
            if row.run_id in selected:
                self.table.selectRow(index)
        self.table.blockSignals(False)

    def _fill(self, index: int, row: RunRow) -> None:
        for column, text in enumerate(row.cells()):
            item = QTableWidgetItem(text)
            item.setData(Qt.ItemDataRole.UserRole, row.run_id)
            if column == 1 and row.status == "crashed?":
                item.setToolTip("run.json says running, but its metrics have not grown for over a minute and no "
                                "job here trains it: the process probably died. Resume it from its last "
                                "checkpoint.")
            self.table.setItem(index, column, item)

    def row(self, run_id: str) -> RunRow | None:
        """The row shown for ``run_id``."""
        return next((r for r in self.rows if r.run_id == run_id), None)

    # ---------------------------------------------------------------------------------------- selection

    def selected(self) -> list[str]:
        """Selected run ids, in list order."""
        indexes = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        return [self.rows[i].run_id for i in indexes if i < len(self.rows)]

    def select(self, run_id: str) -> None:
        """Select one run's row."""
        for index, row in enumerate(self.rows):
            if row.run_id == run_id:
                self.table.selectRow(index)

    def _on_selection_changed(self) -> None:
        selected = self.selected()
        self.open_button.setEnabled(len(selected) == 1)
        self.compare_button.setEnabled(len(selected) >= 2)
        row = self.row(selected[0]) if len(selected) == 1 else None
        self.attach_button.setEnabled(row is not None and row.status in ("running", "crashed?")
                                      and row.run_id not in self.ours)
        self.export_button.setEnabled(row is not None and bool(row.steps))
        self.selection_changed.emit(selected)

    def _export(self) -> None:
        """Export the selected run's latest checkpoint (the dialog runs the export on a worker)."""
        from gpt_studio.ui.export_dialog import ExportDialog

        selected = self.selected()
        if len(selected) == 1 and self.project is not None:
            ExportDialog(selected[0], self.project, self).open()

    def _open(self) -> None:
        selected = self.selected()
        if len(selected) == 1:
            self.open_requested.emit(selected[0])

    def _attach(self) -> None:
        selected = self.selected()
        if len(selected) == 1:
            self.attach_requested.emit(selected[0])

    # ------------------------------------------------------------------------------------------- timer

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        """Refresh now and every 2 s while visible."""
        super().showEvent(event)
        if self.project is not None:
            self.refresh()
            self.timer.start()

    def hideEvent(self, event: Any) -> None:  # noqa: N802 - Qt's name
        """No polling while nobody looks."""
        super().hideEvent(event)
        self.timer.stop()


# ------------------------------------------------------------------------------ a run's history in a monitor

def history_reader(run: RunDir, *, steps: bool = True) -> Any:
    """A reader of ``run``'s history on a worker, not yet started; None where this build lacks the readers.

    A :class:`~gpt_studio.workers.run_history.RunHistoryReader`: connect to its ``loaded(run_id, steps, events)``
    and ``failed``, then ``start()``. ``steps=False`` leaves the steps out (the branch dialog needs only the
    evaluations).
    """
    try:
        from gpt_studio.workers.run_history import RunHistoryReader
    except ImportError:  # built in parallel; without it past runs show no curves
        return None
    return RunHistoryReader(run.root, steps=steps)


def begin_monitor(monitor: Any, run: RunDir) -> None:
    """Start ``monitor`` on ``run``: its vocabulary (reference line), tokens per step, steps and parameters."""
    from gpt_studio.engine.model import ModelConfig, count_parameters

    try:
        info = run.read()
    except (OSError, ValueError):
        info = {}
    model, train = info.get("model") or {}, info.get("train") or {}
    try:
        params: int | None = count_parameters(ModelConfig.from_dict(model))
    except (TypeError, ValueError):
        params = None
    per_step = train.get("batch_size", 0) * train.get("grad_accum", 1) * model.get("context_length", 0)
    monitor.begin_run(run.run_id, int(model.get("vocab_size", 0)), per_step or None,
                      info.get("max_steps") or train.get("max_steps"), params)


def overlay_events(monitor: Any, run_id: str, steps: list[Any], events: list[Event]) -> None:
    """Draw a run's train curve and validation points faintly over the monitor's own run.

    ``steps`` and ``events`` as a history reader hands them over; the evaluations among ``events`` are drawn.
    """
    monitor.overlay_run(run_id, steps, [e for e in events if e.kind == "eval"])
