"""The Results page's analyses, driven like a person would: a tiny GPT pretrained on Tiny Shakespeare, fine-tuned
in the wizard on 120 real labelled sentences, then "Sweep layers transferred" and "Compare with a model trained
from scratch" clicked, run on their worker thread and drawn (2 layers → 3 sweep points; 2 models to compare)."""

from __future__ import annotations

import struct
import time

import numpy as np
import pytest
from projects import capture_errors, pretrained_copy
from PySide6.QtCore import QTimer

from gpt_studio.ui import error_dialog
from gpt_studio.ui.panes.finetune_pane import FinetunePane
from gpt_studio.ui.state import AppState
from gpt_studio.ui.widgets.finetune_analysis import compare_sentence
from gpt_studio.ui.widgets.finetune_wizard import OPTIONS, RESULTS
from gpt_studio.workers import running_jobs
from gpt_studio.workers.finetune_analysis import COMPARE, SWEEP, PlannedModel, partial_result, plan_models

RUN_MS = 120_000
READ_MS = 30_000
ROWS = 120  # 108 to train, 12 to validate: 7 steps a model at batch 16


@pytest.fixture(scope="module")
def project(shakespeare_project, tmp_path_factory):
    """A copy of the shared project (no runs) with one tiny 2-layer GPT pretrained for 30 steps."""
    return pretrained_copy(shakespeare_project, tmp_path_factory.mktemp("finetune-analysis") / "proj")


@pytest.fixture
def errors(monkeypatch):
    return capture_errors(monkeypatch, error_dialog)


@pytest.fixture
def wizard(request, qtbot, project, errors, sentiment_csv):
    """The wizard on its Results page after a one-epoch run on ``ROWS`` rows of the sentiment file (or param)."""
    rows = getattr(request, "param", ROWS)
    state = AppState()
    state.set_project(project)
    pane = FinetunePane(state)
    qtbot.addWidget(pane)
    pane.resize(1400, 900)
    pane.ensure_built()
    wizard = pane.wizard
    runs = project.runs_dir
    wizard.base_page.select(next(i for i, b in enumerate(wizard.base_page.bases) if runs in b.path.parents))
    for _ in range(2):  # base → task (classification is the default) → data
        wizard.next_button.click()
    wizard.data_page.set_train_file(sentiment_csv)
    qtbot.waitUntil(lambda: not wizard.data_page.busy(), timeout=READ_MS)
    for _ in range(2):  # data → labels → options
        wizard.next_button.click()
    assert wizard.current == OPTIONS
    wizard.options_page.set_values(epochs=1, lr="1e-3", batch=16, max_examples=rows, name=f"analysis-{time.time_ns()}")
    with qtbot.waitSignal(wizard.train_page.run_finished, timeout=RUN_MS):
        wizard.next_button.click()
    wizard.next_button.click()
    assert wizard.current == RESULTS and errors == []
    wizard.results_page.tabs.setCurrentWidget(wizard.results_page.analyses)  # as a person opens the tab
    yield wizard
    wizard.results_page.shutdown()
    pane.shutdown()


def run_analysis(qtbot, wizard, button) -> dict:
    """Click ``button`` and wait for the analysis to end, checking the GUI's event loop kept running meanwhile."""
    group = wizard.results_page.analyses
    ticks: list[float] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(20)
    with qtbot.waitSignal(group.analysis_finished, timeout=RUN_MS) as finished:
        button.click()
        assert group.busy() and group.stop_button.isEnabled() and not button.isEnabled()
        assert not wizard.back_button.isEnabled() and "analysis is running" in wizard.reason_label.text()
    timer.stop()
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    assert len(ticks) > 10 and max(gaps) < 2.0, f"the GUI stalled for {max(gaps):.1f} s"
    return finished.args[0]


# --------------------------------------------------------------------------------------- without Qt

def test_the_plan_lists_models_in_the_engines_order():
    assert [m.describe() for m in plan_models(COMPARE, (1, 2), 2)] == [
        "from the pretrained weights, seed 1", "from scratch, seed 1",
        "from the pretrained weights, seed 2", "from scratch, seed 2"]
    sweep = plan_models(SWEEP, (7, 8), 2)
    assert [(m.layers, m.seed) for m in sweep] == [(0, 7), (0, 8), (1, 7), (1, 8), (2, 7), (2, 8)]
    with pytest.raises(ValueError, match="unknown analysis"):
        plan_models("nonsense", (1,), 2)


def test_a_partial_sweep_counts_only_points_whose_seeds_all_finished():
    plan = plan_models(SWEEP, (1, 2), 2)
    done = [{"reason": "completed", "best_val_metric": v, "val_accuracy": v, "val_macro_f1": v} for v in
            (0.5, 0.7, 0.6)]
    stopped = {"reason": "stopped", "best_val_metric": 0.9, "val_accuracy": 0.9, "val_macro_f1": 0.9}
    result = partial_result(SWEEP, plan, [*done, stopped], regression=False)
    assert [p["layers"] for p in result["points"]] == [0] and result["points"][0]["metric"] == pytest.approx(0.6)
    assert result["n_layer"] == 2 and result["seeds"] == [1, 2]


def test_the_sentence_names_the_better_start_and_the_gap():
    plan = [PlannedModel(5, start="pretrained"), PlannedModel(5, start="scratch")]
    rows = [{"reason": "completed", "best_val_metric": a, "val_accuracy": a, "val_macro_f1": a} for a in (0.8, 0.55)]
    assert compare_sentence(partial_result(COMPARE, plan, rows, False)) == (
        "The pretrained model is better by 25.0 percentage points (80.0% vs 55.0% validation accuracy, mean of "
        "1 seed).")
    assert compare_sentence(partial_result(COMPARE, plan, rows[::-1], False)).startswith(
        "The model trained from scratch is better by 25.0")
    assert "nothing to compare" in compare_sentence(partial_result(COMPARE, plan, rows[:1], False))


# ------------------------------------------------------------------------------------------ in the GUI

def test_the_layer_sweep_plots_one_point_per_layer_count_with_a_chance_line(qtbot, wizard, errors, tmp_path):
    group = wizard.results_page.analyses
    assert "Trains 3 models (3 layer counts)" in group.sweep_button.toolTip()
    group.seeds.setValue(2)
    assert "Trains 6 models (3 layer counts × 2 seeds)" in group.sweep_button.toolTip()
    assert "Trains 4 models (2 × 2 seeds)" in group.compare_button.toolTip()
    group.seeds.setValue(1)
    result = run_analysis(qtbot, wizard, group.sweep_button)
    assert errors == [] and result["analysis"] == "sweep-layers" and not result["stopped"]
    assert [p["layers"] for p in result["points"]] == [0, 1, 2] and result["n_layer"] == 2
    assert all(r["macro_f1"] is not None for p in result["points"] for r in p["runs"])  # per-layer figures
    view = group.sweep_view
    assert group.views.currentWidget() is view and view.isVisibleTo(wizard)
    x, y = view.points()
    assert x.tolist() == [0.0, 1.0, 2.0] and np.all((0 <= y) & (y <= 1))
    assert y.tolist() == pytest.approx([p["metric"] for p in result["points"]])
    assert view.chance_level() == pytest.approx(0.5)  # two classes
    ticks = view.plot.getPlotItem().getAxis("bottom")._tickLevels[0]
    assert [label for _, label in ticks] == ["0", "1", "2"]
    assert "Done: 3 models" in group.status.text() and group.progress.value() == group.progress.maximum()
    assert group.sweep_button.isEnabled() and not group.stop_button.isEnabled() and wizard.next_button.isEnabled()
    assert group.job is None
    qtbot.waitUntil(lambda: not [j for j in running_jobs() if j.what.endswith("analysis")], timeout=READ_MS)
    png = view.export_png(tmp_path / "sweep.png")
    header = png.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n" and struct.unpack(">I", header[16:20])[0] == 1200


def test_compare_with_scratch_fills_both_rows_and_names_the_better_one(qtbot, wizard, errors):
    group = wizard.results_page.analyses
    result = run_analysis(qtbot, wizard, group.compare_button)
    assert errors == [] and result["analysis"] == "compare-scratch" and len(result["runs"]) == 1
    view = group.compare_view
    assert group.views.currentWidget() is view
    cells = view.cells()
    assert [row[0] for row in cells] == ["Pretrained", "From scratch"] and len(cells[0]) == 3  # model, seed, mean
    run = result["runs"][0]
    assert cells[0][1] == f"{run['pretrained']['accuracy']:.3f} · {run['pretrained']['macro_f1']:.3f}"
    assert cells[1][2] == f"{run['scratch']['accuracy']:.3f} · {run['scratch']['macro_f1']:.3f}"
    sentence = view.sentence.text()
    if result["difference"] > 5e-4:
        assert "The pretrained model is better by" in sentence
    elif result["difference"] < -5e-4:
        assert "The model trained from scratch is better by" in sentence
    else:
        assert "score the same" in sentence
    assert f"{abs(result['difference']) * 100:.1f} percentage points" in sentence or "same" in sentence


@pytest.mark.parametrize("wizard", [400], indirect=True)  # 23 steps a model: a stop lands inside one
def test_stop_mid_sweep_keeps_the_complete_points_and_ends_cleanly(qtbot, wizard, errors):
    group = wizard.results_page.analyses

    def stop_once_the_second_model_trains(info: dict) -> None:
        if info["model"] == 2 and info["step"] >= 1 and group.stop_button.isEnabled():
            group.stop_button.click()

    with qtbot.waitSignal(group.analysis_finished, timeout=RUN_MS) as finished:
        group.sweep_button.click()
        group.job.progressed.connect(stop_once_the_second_model_trains)
        qtbot.waitUntil(lambda: "Stopping" in group.status.text(), timeout=RUN_MS)
        assert not group.stop_button.isEnabled() and group.busy()
    result = finished.args[0]
    assert errors == [] and result["stopped"] and 1 <= len(result["points"]) < 3
    x, y = group.sweep_view.points()
    assert x.tolist() == [float(p["layers"]) for p in result["points"]] and np.all((0 <= y) & (y <= 1))
    assert "Stopped" in group.status.text() and not group.busy() and group.sweep_button.isEnabled()
    assert wizard.back_button.isEnabled() and wizard.reason_label.text() == ""
    qtbot.waitUntil(lambda: not [j for j in running_jobs() if j.what.endswith("analysis")], timeout=READ_MS)
