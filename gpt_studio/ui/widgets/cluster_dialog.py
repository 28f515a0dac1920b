"""Run on a cluster…: write the form's run into the project and show the torchrun commands that train it.

The app never launches the processes itself (they run on other machines, under a scheduler or in a
terminal); it prepares the run with :func:`~gpt_studio.engine.pretrain.new_run` so every process trains
exactly the configuration on the form, gives the commands from :mod:`gpt_studio.engine.cluster` to copy,
and says ``run_created(run_id)`` so the pane can follow the run folder the way Attach does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from gpt_studio.engine.cluster import default_nproc_per_node, parse_endpoint, torchrun_commands
from gpt_studio.engine.errors import StudioError
from gpt_studio.engine.pretrain import new_run
from gpt_studio.engine.project import Project

PLACEHOLDER_ID = "RUN_ID"  # stands in for the run id until the run exists
ERROR_STYLE = "color: #d0342c;"


class CommandBox(QGroupBox):
    """One command: a read-only, selectable text box, a Copy button and the command's one-line note."""

    def __init__(self, title: str, parent: QWidget | None = None) -> None:
        super().__init__(title, parent)
        self.text = QPlainTextEdit()
        self.text.setReadOnly(True)
        self.text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.text.setFixedHeight(self.text.fontMetrics().lineSpacing() * 4 + 12)  # a multi-node command: ≤ 4 lines
        self.copy_button = QPushButton("Copy")
        self.copy_button.clicked.connect(lambda: QGuiApplication.clipboard().setText(self.text.toPlainText()))
        self.note = QLabel()
        self.note.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.text, 1)
        row.addWidget(self.copy_button)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.note)

    def show_command(self, command: dict[str, Any] | None, ready: bool, error: str = "") -> None:
        """Show ``command`` (or ``error`` instead); Copy only once ``ready``: a placeholder id would not run."""
        self.text.setPlainText(command["command"] if command else "")
        self.note.setText(error or (command["note"] if command else ""))
        self.note.setStyleSheet(ERROR_STYLE if error else "")
        self.copy_button.setEnabled(ready and command is not None)
        self.copy_button.setToolTip("Copy the command to the clipboard." if ready else
                                    "Create the run first: the command names it.")


class ClusterDialog(QDialog):
    """Processes, nodes and rendezvous in; the commands out; one button creates the run and follows it."""

    run_created = Signal(str)  # run id: the run folder exists (status "created"); follow it

    def __init__(self, project: Project, preset_name: str, settings: dict[str, Any],
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Run on a cluster")
        self.project, self.preset_name, self.settings = project, preset_name, dict(settings)
        self.run_id: str | None = None
        self.commands: dict[str, Any] = {}
        self.nproc = _spin(1, 1024, default_nproc_per_node(), "Processes on each machine: one per GPU (the default "
                           "is the GPUs this machine sees), or CPU processes where there is no GPU.")
        self.nodes = _spin(1, 4096, 1, "Machines that train together; more than one needs a rendezvous endpoint.")
        self.endpoint = QLineEdit()
        self.endpoint.setPlaceholderText("node-a:29400")
        self.endpoint.setToolTip("HOST:PORT of one of the nodes, reachable from all of them; torchrun's c10d "
                                 "rendezvous meets there.")
        self.single = CommandBox("On one machine")
        self.multi = CommandBox("On several machines")
        self.create_button = QPushButton("Create run and follow it")
        self.create_button.setToolTip("Write the run's configuration into the project now; the monitor then "
                                      "shows its curves as soon as the torchrun processes write metrics.")
        self.status = QLabel()
        self.status.setWordWrap(True)
        self._layout()
        for spin in (self.nproc, self.nodes):
            spin.valueChanged.connect(self._refresh)
        self.endpoint.textChanged.connect(self._refresh)
        self.create_button.clicked.connect(self.create_run)
        self._refresh()

    def _layout(self) -> None:
        form = QFormLayout()
        form.addRow("Processes per node", self.nproc)
        form.addRow("Nodes", self.nodes)
        form.addRow("Rendezvous host:port", self.endpoint)
        self.form = form
        intro = QLabel(f"Trains a new <b>{self.preset_name}</b> run with the settings on the form, under "
                       "<code>torchrun</code>. Create the run, copy its command and run it (where "
                       "<code>torchrun</code> is not on the PATH, <code>python -m torch.distributed.run</code> "
                       "takes the same options).")
        intro.setWordWrap(True)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.addButton(self.create_button, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(form)
        layout.addWidget(self.single)
        layout.addWidget(self.multi)
        layout.addWidget(self.status)
        layout.addWidget(buttons)
        self.setMinimumWidth(760)  # commands are long: narrower, they wrap into more lines than the boxes show

    def endpoint_error(self) -> str:
        """Why the rendezvous endpoint cannot be used ("" when it can, or when one node needs none)."""
        if self.nodes.value() == 1:
            return ""
        try:
            parse_endpoint(self.endpoint.text())
        except ValueError as exc:
            return str(exc)
        return ""

    def _refresh(self) -> None:
        several = self.nodes.value() > 1
        self.form.setRowVisible(self.endpoint, several)
        self.multi.setVisible(several)
        self.multi.setTitle(f"On {self.nodes.value()} machines: the same command on each")
        error, ready = self.endpoint_error(), self.run_id is not None
        self.commands = torchrun_commands(
            Path(self.project.root).absolute(), self.run_id or PLACEHOLDER_ID, nproc_per_node=self.nproc.value(),
            nnodes=self.nodes.value() if several and not error else 1, rdzv_endpoint=self.endpoint.text())
        self.single.show_command(self.commands["single_node"], ready)
        self.multi.show_command(self.commands.get("multi_node"), ready, error)
        self.create_button.setEnabled(not ready and not error)

    def create_run(self) -> str | None:
        """Write the run folder (status "created") and show its id in the commands; returns the id."""
        if self.run_id is not None or self.endpoint_error():
            return self.run_id
        try:  # the settings hold max_steps too: new_run takes it from there, as a run started here does
            run = new_run(self.project, self.preset_name, self.settings)
        except StudioError as exc:
            self.status.setStyleSheet(ERROR_STYLE)
            self.status.setText(f"Could not create the run: {exc}")
            return None
        self.run_id = run.run_id
        self.status.setStyleSheet("")
        self.status.setText(f"Created run <b>{run.run_id}</b> in the project. Copy its command and run it; the "
                            "monitor follows the run. Keep the same process count when you resume it.")
        self._refresh()
        self.run_created.emit(run.run_id)
        return run.run_id


def _spin(lo: int, hi: int, value: int, tip: str) -> QSpinBox:
    box = QSpinBox()
    box.setRange(lo, hi)
    box.setValue(max(lo, value))
    box.setToolTip(tip)
    return box
