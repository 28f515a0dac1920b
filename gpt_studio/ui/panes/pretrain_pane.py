"""The Pretrain pane: configure a model and its training on the left, run and watch it on the right.

Left: the run form (in a scroll area) over the compute planner. Right: the run controls, the live monitor and
the project's runs. The pane owns at most one :class:`~gpt_studio.workers.training.TrainingJob` and one
:class:`~gpt_studio.ui.panes.pretrain_runs.RunViewer` (recorded runs: opened, overlaid or followed); the
widgets only emit requests, and the questions it asks live in :mod:`pretrain_dialogs`. Its body imports torch
(through the engine's model), so it is built the first time the pane is shown, not when the main window
starts: start-up stays as quick as before.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QStackedWidget, QVBoxLayout, QWidget

from gpt_studio.engine.data import load_meta
from gpt_studio.engine.errors import StudioError
from gpt_studio.engine.project import Project
from gpt_studio.engine.runs import RunDir
from gpt_studio.ui import error_dialog
from gpt_studio.ui.panes import pretrain_dialogs as dialogs
from gpt_studio.ui.panes import pretrain_layout
from gpt_studio.ui.panes.pretrain_runs import RunViewer, connect_events
from gpt_studio.ui.state import AppState
from gpt_studio.ui.widgets.empty_state import EmptyState
from gpt_studio.ui.widgets.runs_list import begin_monitor

SHUTDOWN_WAIT_MS = 60_000
PHASE_TEXT = {"evaluating": "Training {run}: evaluating on the validation split at step {step:,}…",
              "checkpointing": "Training {run}: writing the checkpoint of step {step:,}…"}
PAGE_NO_PROJECT, PAGE_NO_DATA, PAGE_LOADING, PAGE_BODY = range(4)


def show_error(parent: QWidget | None, reason: str, details: str = "") -> None:
    """The app's error dialog, looked up at call time (tests replace this function to capture messages)."""
    error_dialog.show_error(parent, reason, details)


class PretrainPane(QWidget):
    """Configure, plan, start, pause, correct, stop, resume and branch pretraining runs; browse past runs."""

    run_finished = Signal(object)  # the run summary (None when the run failed before it ended)
    run_opened = Signal(str)  # run id: an opened or attached run's recorded history is all in the monitor

    def __init__(self, state: AppState, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state
        self.meta: dict[str, Any] | None = None
        self.job: Any = None  # TrainingJob while one runs
        self.viewer: RunViewer | None = None  # shows recorded runs in the monitor (once built)
        self.run_id: str | None = None  # the run the monitor shows as its main curve
        self._pending_overlay: str | None = None  # a branch's parent, overlaid once the child exists
        self._status_before_overlays = ""  # the status line while runs to compare were read, put back after
        self._new_max_steps: int | None = None  # a resume's or branch's new step total
        self._last_lr: float | None = None
        self._phase_shown = False  # the status line says the loop is evaluating or writing a checkpoint
        self._notifying = False
        self.built = False
        self.stack = QStackedWidget()
        self.no_data = EmptyState()
        self.no_data.add_button("Go to Corpus && Tokenizer", lambda: state.request_pane("corpus"),
                                "Import text, train a tokenizer and encode the corpus there.")
        self.no_data.add_button("Use the sample corpus", self._use_sample,
                                "Build the offline sample (the Python documentation): imported, a tokenizer trained "
                                "and encoded, in about a minute.")
        for page in (pretrain_layout.message_page("Open or create a project to pretrain a model."),
                     self.no_data, pretrain_layout.message_page("Loading the model catalogue…")):
            self.stack.addWidget(page)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.addWidget(self.stack)
        state.project_changed.connect(self.set_project)
        state.part_changed.connect(self._on_part_changed)
        state.preferences_changed.connect(self._on_preferences_changed)
        self.set_project(state.project)

    def _use_sample(self) -> None:
        """The sample corpus is built by the Corpus & Tokenizer pane; show it there, with its progress."""
        self.state.request_sample()
        self.state.request_pane("corpus")

    def _on_preferences_changed(self, preferences: Any) -> None:
        if self.built:  # a new default device or precision, unless the person chose one in the form
            self.form.set_hardware_defaults(preferences.device, preferences.precision)

    # -------------------------------------------------------------------------------------- building

    def ensure_built(self) -> None:
        """Build the form, planner, controls, monitor and runs list (imports torch; once)."""
        if self.built:
            return
        from gpt_studio.ui.widgets.planner_panel import PlannerPanel
        from gpt_studio.ui.widgets.run_controls import RunControls
        from gpt_studio.ui.widgets.run_form import RunForm
        from gpt_studio.ui.widgets.runs_list import RunsList

        self.form, self.planner = RunForm(), PlannerPanel()
        self.form.set_hardware_defaults(self.state.preferences.device, self.state.preferences.precision)
        self.controls, self.runs = RunControls(), RunsList()
        self.monitor = pretrain_layout.make_monitor()
        self.viewer = RunViewer(self.monitor, self._run_dir, self)
        self.splitter = pretrain_layout.body(self.form, self.planner, self.controls, self.monitor, self.runs)
        self.stack.addWidget(self.splitter)
        self.built = True
        self._connect()
        self._show_project()

    def _connect(self) -> None:
        self.form.validity_changed.connect(self._on_validity_changed)
        self.form.config_changed.connect(lambda _settings: self._update_planner())
        self.planner.failed.connect(lambda reason, details: show_error(self, reason, details))
        c = self.controls
        c.start_clicked.connect(self.start_run)
        c.cluster_clicked.connect(self.open_cluster_dialog)
        c.pause_clicked.connect(self.pause)
        c.resume_clicked.connect(self.resume)
        c.stop_clicked.connect(self.stop)
        c.corrections_clicked.connect(self.open_corrections)
        c.resume_run_clicked.connect(self._on_resume_run_clicked)
        c.branch_clicked.connect(self.open_branch_dialog)
        self.runs.open_requested.connect(self.open_run)
        self.runs.compare_requested.connect(self.compare_runs)
        self.runs.attach_requested.connect(self.attach_run)
        self.runs.selection_changed.connect(self._on_runs_selected)
        self.viewer.opened.connect(self.run_opened)
        self.viewer.follow_ended.connect(self._on_follow_ended)
        self.viewer.failed.connect(lambda reason, details: show_error(self, reason, details))
        self.viewer.overlays_busy.connect(self._on_overlays_busy)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt's name
        """Build the body the first time the pane is shown with shards to train on (after it has painted)."""
        super().showEvent(event)
        if not self.built and self.meta is not None:
            QTimer.singleShot(0, self, self.ensure_built)

    # --------------------------------------------------------------------------------------- project

    @property
    def project(self) -> Project | None:
        """The open project."""
        return self.state.project

    def set_project(self, project: Project | None) -> None:
        """Show ``project``: its shards decide between the empty state and the form."""
        if self.job is not None:
            self.job.stop()  # the run ends with a checkpoint; its finished signal tidies up
        self._stop_following()
        self.meta, why = None, ""
        if project is not None:
            try:
                self.meta = load_meta(project)
            except StudioError as exc:
                why = str(exc)
        if project is not None and self.meta is None:
            self.no_data.set_text(pretrain_layout.no_data_text(project, why))
            self.no_data.buttons["Use the sample corpus"].setVisible(pretrain_layout.missing_step(project) == "corpus")
        self._show_project()
        if self.meta is not None and self.isVisible() and not self.built:
            QTimer.singleShot(0, self, self.ensure_built)

    def _show_project(self) -> None:
        if self.project is None:
            self.stack.setCurrentIndex(PAGE_NO_PROJECT)
        elif self.meta is None:
            self.stack.setCurrentIndex(PAGE_NO_DATA)
        elif not self.built:
            self.stack.setCurrentIndex(PAGE_LOADING)
        else:
            self.stack.setCurrentIndex(PAGE_BODY)
            self.form.set_data(self.meta)
            self.runs.set_project(self.project)
            self._on_validity_changed(self.form.is_valid, self.form.reason)

    def _on_part_changed(self, part: str) -> None:
        if part == "runs" and self.built and not self._notifying:
            self.runs.refresh()
        elif part in ("corpus", "tokenizer", "data") and self.job is None:
            self.set_project(self.project)

    def _notify_runs(self) -> None:
        self._notifying = True
        try:
            self.state.notify_changed("runs")
        finally:
            self._notifying = False

    # ----------------------------------------------------------------------------------- form, planner

    def _on_validity_changed(self, valid: bool, reason: str) -> None:
        self.controls.set_can_start(valid, reason)
        self._update_planner()

    def _update_planner(self) -> None:
        self.planner.set_inputs(self.form.model_config(), self.form.train_config())

    # ---------------------------------------------------------------------------------------- running

    def start_run(self) -> Any:
        """Start a new run from the form; returns the job (None when the form is invalid)."""
        if not self.form.is_valid:
            show_error(self, f"Cannot start: {self.form.reason}")
            return None
        return self._launch("Starting a new run…", preset_name=self.form.preset_name(),
                            settings=self.form.settings())

    def resume_run(self, run_id: str, max_steps: int | None = None) -> Any:
        """Continue ``run_id`` from its last checkpoint (towards ``max_steps`` when given)."""
        return self._launch(f"Resuming {run_id}…", resume=run_id, max_steps=max_steps)

    def branch_run(self, run_id: str, step: int, max_steps: int | None = None) -> Any:
        """A new run from ``run_id``'s checkpoint at ``step``; the monitor overlays the parent's curve."""
        self._pending_overlay = run_id
        return self._launch(f"Branching from {run_id} at step {step:,}…", branch=(run_id, step),
                            max_steps=max_steps)

    def _launch(self, status: str, **kwargs: Any) -> Any:
        try:
            from gpt_studio.workers.training import TrainingJob
        except ImportError:
            show_error(self, "The training worker is not available in this build; train from the command line "
                             "(`gpt-studio pretrain`) meanwhile.")
            return None
        if self.job is not None or self.project is None:
            return None
        self._stop_following()
        self.monitor.clear_overlays()
        self.job = job = TrainingJob(self.project, **kwargs)
        job.run_started.connect(self._on_run_started)
        connect_events(job, self.monitor)
        job.steps_logged.connect(self._on_steps)
        job.phase_logged.connect(self._on_phase)
        # bound methods, never lambdas: the job emits on its thread, and a method of this QObject is queued to ours
        job.error_raised.connect(self._on_error_raised)
        job.paused_changed.connect(self._on_paused_changed)
        job.failed.connect(self._on_failed)
        job.finished.connect(self._on_finished)
        self._new_max_steps = kwargs.get("max_steps") if "preset_name" not in kwargs else None
        self.form.set_locked(True)
        self.controls.set_mode("starting", status)
        return job.start()

    def _on_run_started(self, run_id: str) -> None:
        self.run_id = run_id
        self.runs.set_ours({run_id})
        self.runs.refresh()
        self.runs.select(run_id)
        run = self._run_dir(run_id)
        begin_monitor(self.monitor, run)
        history = self.job.take_history() if self.job is not None else []
        if history:  # read on the training thread, which waits for this slot: live steps come after it
            self.monitor.add_events(history)
            self.monitor.redraw()  # now, while training waits: drawing a long curve takes 10x longer beside it
        if self._new_max_steps:  # run.json still holds the old total until the trainer starts
            self.monitor.set_max_steps(self._new_max_steps)
        if self._pending_overlay:
            self.viewer.overlay(self._pending_overlay)
        self._pending_overlay = None
        self.controls.set_mode("running", f"Training {run_id}.")

    def _on_steps(self, events: list[Any]) -> None:
        if events:
            self._last_lr = events[-1].lr
            if self._phase_shown and self.controls.mode == "running":  # the loop is stepping again
                self.controls.status.setText(f"Training {self.run_id}.")
            self._phase_shown = False

    def _on_phase(self, event: Any) -> None:
        """Say why steps stopped arriving: a long evaluation or checkpoint looks like a hang otherwise."""
        if self.controls.mode != "running":
            return
        text = PHASE_TEXT.get(event.phase)
        if text is not None:
            self.controls.status.setText(text.format(step=event.step, run=self.run_id))
            self._phase_shown = True

    def _on_error_raised(self, event: Any) -> None:
        self.controls.status.setText(event.message)

    def _on_failed(self, reason: str, details: str) -> None:
        show_error(self, reason, details)

    def _on_paused_changed(self, paused: bool) -> None:
        if self.job is None or self.controls.mode == "stopping":
            return
        if paused:
            self.controls.set_mode("paused", "Paused. Corrections… changes the learning rate, clipping or the "
                                             "eval interval before you resume.")
        else:
            self.controls.set_mode("running", f"Training {self.run_id}.")

    def pause(self) -> None:
        """Hold the run after the current step."""
        if self.job is not None:
            self.job.pause()
            self.controls.status.setText("Pausing after the current step…")

    def resume(self) -> None:
        """Continue a paused run."""
        if self.job is not None:
            self.job.resume()

    def stop(self) -> None:
        """End the run after the current step, with a checkpoint."""
        if self.job is not None:
            self.job.stop()
            self.controls.set_mode("stopping", "Stopping after the current step and writing a checkpoint…")

    def _on_finished(self, summary: dict[str, Any] | None) -> None:
        self.job = None
        self.runs.set_ours(set())
        self.form.set_locked(False)
        self.controls.set_mode("idle", dialogs.summary_text(summary))
        self.runs.refresh()
        self._notify_runs()
        self.run_finished.emit(summary)

    def shutdown(self) -> None:
        """Stop the run with a checkpoint and wait for it (the main window calls this when it closes)."""
        self._stop_following()
        if not self.built:
            return
        self.planner.cancel()
        job = self.job
        if job is not None:
            from gpt_studio.ui.app import wait_for_jobs

            job.stop()
            wait_for_jobs([job], SHUTDOWN_WAIT_MS)

    # ---------------------------------------------------------------------------------- dialogs

    def open_corrections(self) -> Any:
        """While paused: the corrections dialog; accepting applies the changes and resumes. Returns the dialog."""
        if self.job is None or self.run_id is None:
            return None
        train = self._run_info(self.run_id).get("train", {})
        return dialogs.open_corrections(self, train, self._last_lr, self.apply_corrections)

    def apply_corrections(self, changes: dict[str, Any]) -> None:
        """Queue ``changes`` for the paused run and resume it (nothing to change: just resume)."""
        if self.job is None:
            return
        try:
            if changes:
                self.job.correct(**changes)
        except ValueError as exc:
            show_error(self, str(exc))
            return
        self.job.resume()

    def _on_resume_run_clicked(self) -> None:
        selected = self.runs.selected()
        row = self.runs.row(selected[0]) if len(selected) == 1 else None
        if row is None:
            return
        go_on, max_steps = dialogs.ask_resume_total(self, row)
        if go_on:
            self.resume_run(row.run_id, max_steps)

    def open_branch_dialog(self) -> Any:
        """Choose a checkpoint of the selected run and branch from it. Returns the dialog."""
        selected = self.runs.selected()
        if len(selected) != 1:
            return None
        run = self._run_dir(selected[0])
        return dialogs.open_branch(self, run, self._run_info(run.run_id), self.branch_run)

    # ------------------------------------------------------------------------------ past runs, follow

    def _on_runs_selected(self, run_ids: list[str]) -> None:
        row = self.runs.row(run_ids[0]) if len(run_ids) == 1 else None
        ok = row is not None and row.has_checkpoint and row.status != "running"
        self.controls.set_selected_run(ok)

    def open_run(self, run_id: str) -> None:
        """Show a past run's curves (overlaid instead while a run trains, so the live curve stays).

        A long run loads in the background, chunk by chunk; ``run_opened`` says when all of it is shown.
        """
        if self.job is not None:
            self.viewer.overlay(run_id)
            return
        self.run_id = run_id
        self.viewer.open(run_id)
        self.controls.status.setText(f"Showing {run_id} ({self._run_info(run_id).get('status', '?')}).")

    def compare_runs(self, run_ids: list[str]) -> None:
        """Overlay several runs on one plot: the first as the main curve (unless a run trains), the rest faint."""
        if not run_ids:
            return
        rest = run_ids
        if self.job is None:
            self.open_run(run_ids[0])
            rest = run_ids[1:]
        for run_id in rest:
            self.viewer.overlay(run_id)

    def _on_overlays_busy(self, busy: bool) -> None:
        """Say that runs to compare are being read (a long one takes a moment), then put the status back.

        Not over a training run's status: its own messages keep coming meanwhile.
        """
        if self.job is not None:
            return
        if busy:
            self._status_before_overlays = self.controls.status.text()
            self.controls.status.setText("Reading the runs to compare…")
        elif self.controls.status.text() == "Reading the runs to compare…":
            self.controls.status.setText(self._status_before_overlays)

    def attach_run(self, run_id: str) -> None:
        """Follow a run another process trains: load what is there (in the background), then poll for more."""
        self.run_id = run_id
        if not self.viewer.open(run_id, follow=True):
            show_error(self, "Following runs is not available in this build.")
            return
        self.controls.status.setText(f"Following {run_id} live (it trains outside this window).")

    def open_cluster_dialog(self) -> Any:
        """Run on a cluster…: the torchrun commands for the form's run; creating it follows it. Returns the dialog."""
        if self.project is None or not self.form.is_valid:
            show_error(self, f"Cannot prepare a run: {self.form.reason}")
            return None
        from gpt_studio.ui.widgets.cluster_dialog import ClusterDialog

        dialog = ClusterDialog(self.project, self.form.preset_name(), self.form.settings(), self)
        dialog.run_created.connect(self.follow_cluster_run)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()  # window-modal, no nested loop: a followed run keeps updating behind it
        return dialog

    def follow_cluster_run(self, run_id: str) -> None:
        """List a run prepared for torchrun and follow its folder, as Attach does, before any process starts."""
        self.runs.refresh()
        self._notify_runs()
        self.runs.select(run_id)
        self.attach_run(run_id)
        self.controls.status.setText(f"Following {run_id}: its curves appear once the torchrun processes write "
                                     "metrics.")

    def _on_follow_ended(self, summary: dict[str, Any]) -> None:
        self.controls.status.setText(f"The followed run ended: {dialogs.summary_text(summary)}")
        self.runs.refresh()

    def _stop_following(self) -> None:
        if self.viewer is not None:
            self.viewer.stop()

    # ----------------------------------------------------------------------------------------- helpers

    def _run_dir(self, run_id: str) -> RunDir:
        return RunDir(self.project.runs_dir / run_id)

    def _run_info(self, run_id: str) -> dict[str, Any]:
        try:
            return self._run_dir(run_id).read()
        except (StudioError, OSError, ValueError):
            return {}
