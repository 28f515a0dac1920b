"""Run controls: Start, Run on a cluster…, Pause, Resume, Stop, corrections, resuming and branching a past run.

The buttons only emit requests; the pane owns the training job and tells the controls what mode it is in
(idle, running, paused, stopping), so every button is enabled exactly when its action makes sense. The two
dialogs here collect a correction (learning rate, clipping, eval interval) and a checkpoint step to branch
from; they open with ``open()`` (no nested event loop), so a running job keeps reporting behind them.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from gpt_studio.engine.trainer_config import SCHEDULES

MODES = ("idle", "starting", "running", "paused", "stopping")


class RunControls(QWidget):
    """The buttons of a run and a one-line status; ``set_mode`` decides which are enabled."""

    start_clicked = Signal()
    cluster_clicked = Signal()  # write the form's run into the project and show its torchrun commands
    pause_clicked = Signal()
    resume_clicked = Signal()
    stop_clicked = Signal()
    corrections_clicked = Signal()
    resume_run_clicked = Signal()
    branch_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.mode = "idle"
        self._can_start, self._why_not = False, "Open a project with token shards first."
        self._selected_resumable = False
        self.start_button = self._button("Start", "Start a new run with the configuration on the left.",
                                         self.start_clicked)
        self.cluster_button = self._button("Run on a cluster…", "Create this run in the project and get the "
                                           "torchrun command that trains it on one or several machines; the "
                                           "monitor follows it.", self.cluster_clicked)
        self.pause_button = self._button("Pause", "Hold training after the current step (nothing is lost).",
                                         self.pause_clicked)
        self.resume_button = self._button("Resume", "Continue the paused run.", self.resume_clicked)
        self.stop_button = self._button("Stop", "End the run after the current step, with a checkpoint you can "
                                        "resume or branch from.", self.stop_clicked)
        self.corrections_button = self._button("Corrections…", "While paused: scale the learning rate or set a "
                                               "new schedule from here on, change clipping or the eval interval.",
                                               self.corrections_clicked)
        self.resume_run_button = self._button("Resume run…", "Continue the selected run from its last "
                                              "checkpoint, towards its step budget.", self.resume_run_clicked)
        self.branch_button = self._button("Branch from checkpoint…", "Start a new run from one of the selected "
                                          "run's checkpoints; the monitor overlays the parent's curve.",
                                          self.branch_clicked)
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        row = QHBoxLayout()
        for button in (self.start_button, self.cluster_button, self.pause_button, self.resume_button,
                       self.stop_button, self.corrections_button):
            row.addWidget(button)
        row.addStretch(1)
        past = QHBoxLayout()  # what acts on the run selected in the runs list
        past.addWidget(self.status, 1)
        past.addWidget(self.resume_run_button)
        past.addWidget(self.branch_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addLayout(past)
        self._update()

    def _button(self, text: str, tip: str, signal: Signal) -> QPushButton:
        button = QPushButton(text)
        button.setToolTip(tip)
        button.clicked.connect(signal)
        return button

    def set_mode(self, mode: str, status: str | None = None) -> None:
        """Switch to ``mode`` (one of MODES) and optionally say what is going on."""
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}")
        self.mode = mode
        if status is not None:
            self.status.setText(status)
        self._update()

    def set_can_start(self, can_start: bool, why_not: str = "") -> None:
        """Whether the form is valid (and why not): Start shows the reason instead of starting."""
        self._can_start, self._why_not = can_start, why_not
        self._update()

    def set_selected_run(self, resumable: bool) -> None:
        """Whether one past run with a checkpoint is selected (for Resume run… and Branch…)."""
        self._selected_resumable = resumable
        self._update()

    def _update(self) -> None:
        idle, mode = self.mode == "idle", self.mode
        self.start_button.setEnabled(idle and self._can_start)
        self.start_button.setToolTip("Start a new run with the configuration on the left." if self._can_start
                                     else f"Cannot start: {self._why_not}")
        self.cluster_button.setEnabled(idle and self._can_start)  # idle: following it replaces the monitor's run
        self.pause_button.setEnabled(mode == "running")
        self.resume_button.setEnabled(mode == "paused")
        self.stop_button.setEnabled(mode in ("running", "paused"))
        self.corrections_button.setEnabled(mode == "paused")
        self.resume_run_button.setEnabled(idle and self._selected_resumable)
        self.branch_button.setEnabled(idle and self._selected_resumable)
        if idle and not self._can_start and self._why_not:
            self.status.setText(f"Cannot start: {self._why_not}")
        elif idle and self.status.text().startswith("Cannot start"):
            self.status.setText("Ready: Start trains the configuration on the left.")


class CorrectionsDialog(QDialog):
    """Mid-flight changes for a paused run; :meth:`changes` gives ``TrainingJob.correct``'s keyword arguments."""

    def __init__(self, lr: float, grad_clip: float, eval_interval: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Corrections")
        self.keep = QRadioButton("Keep the learning rate")
        self.scale_choice = QRadioButton("Scale the learning rate by")
        self.restart_choice = QRadioButton("New schedule from this step")
        self.group = QButtonGroup(self)
        for button in (self.keep, self.scale_choice, self.restart_choice):
            self.group.addButton(button)
        self.scale_choice.setChecked(True)
        self.scale = _double(0.5, 0.01, 100.0, 0.1, "Multiply the current curve by this factor; its shape stays.")
        self.lr = QLineEdit(f"{lr:g}")
        self.lr.setToolTip("The new peak rate (the current rate is filled in).")
        self.schedule = QComboBox()
        self.schedule.addItems(SCHEDULES)
        self.min_lr = QLineEdit()
        self.min_lr.setPlaceholderText("peak / 10")
        self.warmup = QSpinBox()
        self.warmup.setRange(0, 10**9)
        self.clip_check = QCheckBox("Change gradient clipping to")
        self.clip = _double(grad_clip, 0.0, 1000.0, 0.1, "Largest global gradient norm; 0 = off.")
        self.eval_check = QCheckBox("Evaluate every")
        self.eval_interval = QSpinBox()
        self.eval_interval.setRange(1, 10**9)
        self.eval_interval.setValue(eval_interval)
        self.eval_interval.setSuffix(" steps")
        self.error = QLabel()
        self.error.setStyleSheet("color: #d0342c;")
        self._layout(lr)
        self.group.buttonToggled.connect(self._sync)
        self._sync()

    def _layout(self, lr: float) -> None:
        restart = QFormLayout()
        restart.addRow("Peak rate", self.lr)
        restart.addRow("Schedule", self.schedule)
        restart.addRow("Minimum rate", self.min_lr)
        restart.addRow("Warmup steps", self.warmup)
        self.restart_box = QWidget()
        self.restart_box.setLayout(restart)
        scale_row = QHBoxLayout()
        scale_row.addWidget(self.scale_choice)
        scale_row.addWidget(self.scale)
        clip_row = QHBoxLayout()
        clip_row.addWidget(self.clip_check)
        clip_row.addWidget(self.clip)
        eval_row = QHBoxLayout()
        eval_row.addWidget(self.eval_check)
        eval_row.addWidget(self.eval_interval)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Apply and resume")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(f"The run is paused; the learning rate is now {lr:.3g}. Changes apply from the "
                                "next step and are recorded in run.json."))
        layout.addWidget(self.keep)
        layout.addLayout(scale_row)
        layout.addWidget(self.restart_choice)
        layout.addWidget(self.restart_box)
        layout.addLayout(clip_row)
        layout.addLayout(eval_row)
        layout.addWidget(self.error)
        layout.addWidget(buttons)

    def _sync(self, *_args: Any) -> None:
        self.scale.setEnabled(self.scale_choice.isChecked())
        self.restart_box.setEnabled(self.restart_choice.isChecked())

    def changes(self) -> dict[str, Any]:
        """The chosen corrections; raises ValueError on a rate that is not a number."""
        changes: dict[str, Any] = {}
        if self.scale_choice.isChecked():
            changes["lr_scale"] = self.scale.value()
        elif self.restart_choice.isChecked():
            changes["lr"] = _positive(self.lr.text(), "peak rate")
            changes["schedule"] = self.schedule.currentText()
            if self.min_lr.text().strip():
                changes["min_lr"] = _positive(self.min_lr.text(), "minimum rate", allow_zero=True)
            changes["warmup_steps"] = self.warmup.value()
        if self.clip_check.isChecked():
            changes["grad_clip"] = self.clip.value()
        if self.eval_check.isChecked():
            changes["eval_interval"] = self.eval_interval.value()
        return changes

    def accept(self) -> None:
        """Close only with valid changes; otherwise say what is wrong."""
        try:
            self.changes()
        except ValueError as exc:
            self.error.setText(str(exc))
            return
        super().accept()


class BranchDialog(QDialog):
    """Pick one checkpoint step of a run to start a new run from."""

    def __init__(self, run_id: str, steps: list[int], val_losses: dict[int, float], max_steps: int,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Branch from checkpoint")
        self.steps = QComboBox()
        for step in reversed(steps):
            loss = val_losses.get(step)
            self.steps.addItem(f"step {step:,}" + (f" — val loss {loss:.4f}" if loss is not None else ""), step)
        self.total = QSpinBox()
        self.total.setRange(1, 2**31 - 1)
        self.total.setValue(max_steps)
        self.total.setToolTip("The branch trains from the chosen step until this step (the parent's total by "
                              "default; raise it to train on past a finished parent).")
        form = QFormLayout()
        form.addRow("Checkpoint", self.steps)
        form.addRow("Train until step", self.total)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Branch")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        text = QLabel(f"Start a new run from a checkpoint of <b>{run_id}</b>. It keeps the parent's configuration "
                      "and data position; the parent is left as it is.")
        text.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(text)
        layout.addLayout(form)
        layout.addWidget(buttons)

    def chosen_step(self) -> int:
        """The step chosen."""
        return int(self.steps.currentData())

    def total_steps(self) -> int:
        """The step the branch trains until."""
        return self.total.value()

    def accept(self) -> None:
        """Refuse a total that leaves nothing to train."""
        if self.total_steps() <= self.chosen_step():
            self.total.setValue(self.chosen_step() + 1)
            self.total.setFocus()
            return
        super().accept()


def _double(value: float, lo: float, hi: float, step: float, tip: str) -> QDoubleSpinBox:
    box = QDoubleSpinBox()
    box.setDecimals(3)
    box.setRange(lo, hi)
    box.setSingleStep(step)
    box.setValue(value)
    box.setToolTip(tip)
    return box


def _positive(text: str, what: str, allow_zero: bool = False) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"The {what} must be a number like 3e-4.") from None
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"The {what} must be positive.")
    return value
