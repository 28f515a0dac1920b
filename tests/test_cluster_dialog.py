"""Run on a cluster… in the Pretrain pane, driven like a person would: set processes and nodes, read and copy
the torchrun commands, create the run, and see the monitor follow what the (here simulated) processes write."""

from __future__ import annotations

import json

import pytest
from projects import capture_errors, private_copy
from PySide6.QtCore import Qt
from PySide6.QtGui import QGuiApplication

from gpt_studio.engine.runs import RunDir
from gpt_studio.engine.trainer_config import StepEvent, event_record
from gpt_studio.ui.panes import pretrain_pane
from gpt_studio.ui.panes.pretrain_pane import PretrainPane
from gpt_studio.ui.state import AppState
from gpt_studio.ui.widgets.cluster_dialog import ClusterDialog

FOLLOW_MS = 10_000


@pytest.fixture
def project(shakespeare_project, tmp_path):
    """A private copy of the shared project, so the run created here is seen by no other test."""
    root = tmp_path / "proj"
    return private_copy(shakespeare_project, root)


@pytest.fixture
def errors(monkeypatch):
    return capture_errors(monkeypatch, pretrain_pane)


@pytest.fixture
def pane(qtbot, project, errors):
    state = AppState()
    state.set_project(project)
    pane = PretrainPane(state)
    qtbot.addWidget(pane)
    pane.resize(1400, 900)
    pane.show()
    pane.ensure_built()
    yield pane
    pane.shutdown()


def open_dialog(qtbot, pane: PretrainPane) -> ClusterDialog:
    assert pane.controls.cluster_button.isEnabled(), pane.form.reason
    pane.controls.cluster_button.click()
    dialog = pane.findChild(ClusterDialog)
    assert dialog is not None
    qtbot.waitUntil(dialog.isVisible)
    return dialog


def test_the_cluster_button_follows_the_forms_validity(pane):
    assert pane.controls.cluster_button.isEnabled()
    pane.form.fields["d_model"].set_value(100)
    pane.form.fields["n_head"].set_value(3)
    assert not pane.controls.cluster_button.isEnabled()
    pane.form.fields["n_head"].set_value(4)
    assert pane.controls.cluster_button.isEnabled()


def test_run_on_a_cluster_writes_the_run_shows_its_commands_and_the_monitor_follows_it(qtbot, pane, project, errors):
    pane.form.fields["max_steps"].set_value(37)
    dialog = open_dialog(qtbot, pane)
    single, multi = dialog.single, dialog.multi

    dialog.nproc.setValue(3)
    assert "--standalone --nproc-per-node=3 -m gpt_studio pretrain" in single.text.toPlainText()
    assert "--resume RUN_ID" in single.text.toPlainText()
    assert not single.copy_button.isEnabled()  # a placeholder id would not run
    assert not multi.isVisible() and not dialog.endpoint.isVisible()

    dialog.nodes.setValue(2)
    assert multi.isVisible() and dialog.endpoint.isVisible()
    assert "HOST:PORT" in multi.note.text() and not dialog.create_button.isEnabled()  # no endpoint yet
    qtbot.keyClicks(dialog.endpoint, "node-a:99999")
    assert "between 1 and 65535" in multi.note.text() and not dialog.create_button.isEnabled()
    dialog.endpoint.clear()
    qtbot.keyClicks(dialog.endpoint, "node-a:29400")
    assert "--nnodes=2 --nproc-per-node=3 --rdzv-backend=c10d --rdzv-endpoint=node-a:29400" in multi.text.toPlainText()
    assert "each of the 2 nodes" in multi.note.text()

    with qtbot.waitSignal(pane.run_opened, timeout=FOLLOW_MS) as opened:
        qtbot.mouseClick(dialog.create_button, Qt.MouseButton.LeftButton)
    run_id = dialog.run_id
    assert run_id is not None and opened.args == [run_id]
    assert f"--resume {run_id} --json" in single.text.toPlainText()
    assert f"--rdzv-id={run_id} -m gpt_studio pretrain {project.root}" in multi.text.toPlainText()
    assert not dialog.create_button.isEnabled()  # one dialog, one run
    single.copy_button.click()
    assert QGuiApplication.clipboard().text() == single.text.toPlainText()

    info = RunDir(project.runs_dir / run_id).read()
    assert info["status"] == "created" and info["preset"] == pane.form.preset_name()
    assert info["train"]["max_steps"] == 37
    assert pane.runs.selected() == [run_id] and pane.runs.row(run_id).status == "created"
    assert pane.viewer.follower is not None and pane.viewer.follower.run_dir == project.runs_dir / run_id
    qtbot.waitUntil(lambda: pane.viewer.follower.is_following, timeout=FOLLOW_MS)
    assert pane.monitor.step_count == 0

    # What rank 0 of the torchrun job would append: the monitor shows it without another click.
    steps = [StepEvent(i, 6.9 - 0.1 * i, 1e-3, 0.5, 4096 * i, 9e3, 0.5 * i) for i in (1, 2)]
    with open(project.runs_dir / run_id / "metrics.jsonl", "a", encoding="utf-8") as out:
        out.writelines(json.dumps(event_record(step)) + "\n" for step in steps)
    qtbot.waitUntil(lambda: pane.monitor.step_count == 2, timeout=FOLLOW_MS)
    assert run_id in pane.controls.status.text() and not errors
    dialog.close()
