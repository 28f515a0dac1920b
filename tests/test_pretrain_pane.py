"""The Pretrain pane, driven like a person would: the form refuses bad settings, the planner counts like the
engine, and tiny real runs start, pause, take a correction, stop and show up in the runs list."""

from __future__ import annotations

import os
import shutil
import time

import pytest

from gpt_studio.engine.compute import PUBLISHED_RUNS
from gpt_studio.engine.data import load_meta
from gpt_studio.engine.model import count_parameters
from gpt_studio.engine.project import open_project
from gpt_studio.engine.runs import RunDir
from gpt_studio.ui.panes import pretrain_pane
from gpt_studio.ui.panes.pretrain_pane import PretrainPane
from gpt_studio.ui.state import AppState

RUN_MS = 60_000
TINY = {"max_steps": 12, "batch_size": 4, "eval_batches": 2, "eval_interval": 6, "checkpoint_interval": 100,
        "sample_tokens": 8, "warmup_steps": 2}


@pytest.fixture
def project(shakespeare_project, tmp_path):
    """A private copy of the shared project, so runs written here are seen by no other test."""
    root = tmp_path / "proj"
    shutil.copytree(shakespeare_project.root, root, ignore=shutil.ignore_patterns("runs"))
    return open_project(root)


@pytest.fixture
def errors(monkeypatch):
    shown: list[tuple[str, str]] = []
    monkeypatch.setattr(pretrain_pane, "show_error", lambda parent, reason, details="": shown.append((reason, details)))
    return shown


@pytest.fixture
def pane(qtbot, project, errors):
    state = AppState()
    state.set_project(project)
    pane = PretrainPane(state)
    qtbot.addWidget(pane)
    pane.resize(1400, 900)
    pane.ensure_built()
    yield pane
    pane.shutdown()


def fill(pane: PretrainPane, **values) -> None:
    for key, value in values.items():
        pane.form.fields[key].set_value(value)


def start_tiny_run(qtbot, pane: PretrainPane, **overrides):
    fill(pane, **{**TINY, **overrides})
    assert pane.controls.start_button.isEnabled(), pane.form.reason
    with qtbot.waitSignal(pane.controls.start_clicked):
        pane.controls.start_button.click()
    assert pane.job is not None
    return pane.job


def test_the_pane_without_shards_says_to_encode_the_corpus_first(qtbot, tmp_path):
    from gpt_studio.engine.project import init_project

    state = AppState()
    state.set_project(init_project(tmp_path / "empty"))
    pane = PretrainPane(state)
    qtbot.addWidget(pane)
    assert "Encode the corpus first" in pane.stack.currentWidget().text()
    assert not pane.built


def test_a_width_not_divisible_by_the_heads_blocks_start_and_names_valid_head_counts(pane):
    assert pane.controls.start_button.isEnabled()
    fill(pane, d_model=100, n_head=3)
    assert not pane.controls.start_button.isEnabled()
    error = pane.form.fields["n_head"].error
    assert error.isVisibleTo(pane) and "1, 2, 4, 5, 10, 20, 25, 50, 100" in error.text()
    assert pane.controls.status.text().startswith("Cannot start: Heads:")
    fill(pane, n_head=4)
    assert pane.controls.start_button.isEnabled() and not error.isVisibleTo(pane)


def test_a_context_longer_than_the_validation_split_blocks_start(pane, project):
    val_tokens = load_meta(project)["splits"]["val"]["tokens"]
    fill(pane, context_length=val_tokens - 1)
    assert not pane.controls.start_button.isEnabled()
    assert "validation split" in pane.form.fields["context_length"].error.text()
    assert f"at most {val_tokens - 2}" in pane.form.reason
    fill(pane, context_length=64)
    assert pane.controls.start_button.isEnabled()


def test_the_planner_shows_published_runs_and_counts_parameters_like_the_engine(qtbot, pane):
    names = pane.planner.published_names()
    assert [run.name for run in PUBLISHED_RUNS] == names[:len(PUBLISHED_RUNS)] and names[-1] == "This run"
    fill(pane, n_layer=5)
    expected = count_parameters(pane.form.model_config())
    qtbot.waitUntil(lambda: pane.planner.plan is not None and pane.planner.plan.parameters == expected)
    assert pane.planner.values["parameters"].text().startswith(f"{expected:,}")
    assert pane.planner.chart.pf_days == pytest.approx(pane.planner.plan.pf_days)


def test_a_tiny_run_started_from_the_pane_completes_and_its_curves_reopen(qtbot, pane, project, errors):
    with qtbot.waitSignal(pane.run_finished, timeout=RUN_MS) as finished:
        start_tiny_run(qtbot, pane)
        assert not pane.controls.start_button.isEnabled() and not pane.form.fields["n_layer"].editor.isEnabled()
    assert finished.args[0]["reason"] == "completed" and errors == []
    assert pane.controls.start_button.isEnabled() and "Completed at step 12" in pane.controls.status.text()
    run_id = pane.run_id
    row = pane.runs.row(run_id)
    assert row is not None and row.status == "completed" and row.steps == 12 and row.preset == "tiny-gpt"
    pane.monitor.begin_run("other", 10)  # forget the live curve, then reopen the run from disk
    pane.runs.select(run_id)
    pane.runs.open_button.click()
    assert pane.monitor.step_count == 12

    assert pane.controls.branch_button.isEnabled()
    pane.controls.branch_button.click()
    dialog = _dialog(pane, "BranchDialog")
    assert dialog.chosen_step() == 12
    dialog.total.setValue(16)
    with qtbot.waitSignal(pane.run_finished, timeout=RUN_MS) as finished:
        dialog.accept()
    assert finished.args[0]["reason"] == "completed" and finished.args[0]["steps"] == 16 and errors == []
    child = pane.runs.row(pane.run_id)
    assert child.parent == f"{run_id} @ 12" and child.status == "completed"
    assert pane.monitor.step_count == 16  # the parent's first 12 steps, then the branch's own


def test_pause_then_a_correction_then_resume_is_recorded_and_closing_stops_with_a_checkpoint(qtbot, pane):
    job = start_tiny_run(qtbot, pane, max_steps=100_000, eval_interval=1000, checkpoint_interval=100_000)
    qtbot.waitUntil(lambda: pane.monitor.step_count >= 3, timeout=RUN_MS)
    with qtbot.waitSignal(job.paused_changed, timeout=RUN_MS, check_params_cb=lambda paused: paused):
        pane.controls.pause_button.click()
    assert pane.controls.corrections_button.isEnabled() and not pane.controls.pause_button.isEnabled()
    pane.controls.corrections_button.click()
    dialog = _dialog(pane, "CorrectionsDialog")
    dialog.scale_choice.setChecked(True)
    dialog.scale.setValue(0.5)
    with qtbot.waitSignal(job.correction_applied, timeout=RUN_MS) as applied:
        dialog.accept()
    assert applied.args[0].changes == {"lr_scale": 0.5}
    qtbot.waitUntil(lambda: pane.controls.mode == "running", timeout=RUN_MS)
    run = RunDir(pane.project.runs_dir / pane.run_id)
    assert run.read()["corrections"][-1]["lr_scale"] == 0.5
    pane.shutdown()  # what the main window does when it closes mid-run
    assert pane.job is None
    info = run.read()
    assert info["status"] == "stopped" and any(run.checkpoints_dir.iterdir())


def test_a_running_run_whose_metrics_stopped_growing_is_shown_as_crashed_unless_it_is_ours(pane, project):
    run = RunDir(project.runs_dir / "20200101-000000-gpt-dead")
    run.checkpoints_dir.mkdir(parents=True)
    run.write({"run_id": run.run_id, "status": "running", "preset": "tiny-gpt", "train": {"max_steps": 50}})
    run.metrics_file.write_text('{"kind": "step", "step": 7}\n', encoding="utf-8")
    old = time.time() - 120
    os.utime(run.metrics_file, (old, old))
    pane.runs.refresh()
    row = pane.runs.row(run.run_id)
    assert row.status == "crashed?" and row.steps == 7 and row.max_steps == 50
    pane.runs.set_ours({run.run_id})
    pane.runs.refresh()
    assert pane.runs.row(run.run_id).status == "running"


def test_the_main_window_shows_the_pretrain_pane_in_its_second_slot(qtbot, tmp_path, project):
    from PySide6.QtCore import QSettings

    from gpt_studio.ui.main_window import MainWindow

    window = MainWindow(AppState(), QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), warm_up=False)
    qtbot.addWidget(window)
    window.show()
    window.open_project_path(project.root)
    assert not window.pane_widget(1).built  # nothing imports torch until the pane is first shown
    window.show_pane(1)
    pane = window.pane_widget(1)
    assert isinstance(pane, PretrainPane)
    qtbot.waitUntil(lambda: pane.built)
    assert pane.stack.currentWidget() is pane.splitter


def test_closing_the_window_mid_run_asks_then_stops_the_run_with_a_checkpoint(qtbot, tmp_path, project, monkeypatch):
    from PySide6.QtCore import QSettings

    from gpt_studio.ui import error_dialog
    from gpt_studio.ui.main_window import MainWindow

    questions: list[str] = []
    monkeypatch.setattr(error_dialog, "confirm", lambda parent, question, accept: questions.append(question) or True)
    window = MainWindow(AppState(), QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), warm_up=False)
    qtbot.addWidget(window)
    window.show()
    window.open_project_path(project.root)
    window.show_pane(1)
    pane = window.pane_widget(1)
    qtbot.waitUntil(lambda: pane.built)
    start_tiny_run(qtbot, pane, max_steps=100_000, eval_interval=1000, checkpoint_interval=100_000)
    qtbot.waitUntil(lambda: pane.monitor.step_count >= 2, timeout=RUN_MS)
    run = RunDir(project.runs_dir / pane.run_id)
    assert window.close()
    assert "training" in questions[0] and pane.job is None
    assert run.read()["status"] == "stopped" and any(run.checkpoints_dir.iterdir())


def _dialog(pane: PretrainPane, name: str):
    dialogs = [d for d in pane.findChildren(pretrain_pane.QWidget) if type(d).__name__ == name and d.isVisible()]
    assert len(dialogs) == 1
    return dialogs[0]


def test_the_preset_list_counts_parameters_at_the_projects_vocabulary(pane):
    from gpt_studio.engine.model import preset
    from gpt_studio.ui.widgets.run_form import format_count

    vocab = pane.form.vocab_size
    labels = [pane.form.preset.itemText(i) for i in range(pane.form.preset.count())]
    expected = format_count(count_parameters(preset("tiny-gpt", vocab_size=vocab)))
    assert f"tiny-gpt ({expected} parameters)" in labels


def test_choosing_the_speedrun_recipe_fills_its_training_settings_and_starts_from_it(pane):
    form = pane.form
    index = form.preset.findData("shakespeare-char-speedrun")
    assert index >= 0
    form.preset.setCurrentIndex(index)
    assert form.fields["lr"].value() == pytest.approx(3e-3)
    assert form.fields["max_steps"].value() == 1400
    assert form.model_config().bias is False and form.model_config().d_model == 128
    assert form.is_valid, form.reason
    settings = form.settings()
    assert settings["lr"] == pytest.approx(3e-3) and "bias" not in settings  # the recipe's own, not an override


def test_a_bert_run_shows_fill_mask_probes_in_the_samples_tab(qtbot, pane, errors):
    pane.show()  # the monitor redraws only while visible
    pane.form.family.setCurrentIndex(1)  # BERT encoder
    assert pane.form.preset_name() == "tiny-bert"
    with qtbot.waitSignal(pane.run_finished, timeout=RUN_MS) as finished:
        start_tiny_run(qtbot, pane, max_steps=6, eval_interval=3)
    assert finished.args[0]["reason"] == "completed" and errors == []
    qtbot.waitUntil(lambda: "[MASK] 1 (was" in pane.monitor.samples_view.toPlainText(), timeout=5000)
    assert "— step 6 —" in pane.monitor.samples_view.toPlainText()
