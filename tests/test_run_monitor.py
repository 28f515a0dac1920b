import csv
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPointF

from gpt_studio.engine.runs import list_runs, read_jsonl
from gpt_studio.engine.trainer_config import (
    CheckpointEvent,
    CorrectionEvent,
    EndEvent,
    ErrorEvent,
    EvalEvent,
    SampleEvent,
    StepEvent,
    event_from_record,
    event_record,
)
from gpt_studio.ui.widgets.monitor_data import Smoother
from gpt_studio.ui.widgets.run_monitor import RunMonitor
from gpt_studio.workers.follow import MetricsFollower
from gpt_studio.workers.history import STEP_FIELDS, HistoryLoader, StepBlock, event_count, expand

ROOT = Path(__file__).resolve().parents[1]


def steps(first, last, loss=lambda i: 7.0 * math.exp(-i / 50) + 2.0, elapsed0=0.0):
    return [StepEvent(i, loss(i), 1e-3, 0.5, 512 * i, 10_000.0, elapsed0 + 0.05 * (i - first + 1))
            for i in range(first, last + 1)]


def evaluation(step, loss=3.0):
    return EvalEvent(step, loss, math.exp(loss), loss * 0.35, 512 * step)


@pytest.fixture
def monitor(qtbot):
    widget = RunMonitor()
    qtbot.addWidget(widget)
    widget.resize(1000, 700)
    return widget


def test_the_smoothed_loss_is_debiased_so_it_starts_at_the_first_loss(monitor):
    monitor.begin_run("r", vocab_size=1000, max_steps=100)
    monitor.add_steps(steps(1, 100))
    monitor.redraw()
    xs, ys = monitor._ema.getData()
    assert ys[0] == pytest.approx(monitor.buffer("loss")[0])
    assert len(xs) == 100 and ys[-1] > monitor.buffer("loss")[-1]  # lags behind a falling curve
    assert monitor._uniform.value() == pytest.approx(math.log(1000)) and monitor._uniform.isVisible()
    monitor.smoothing.setValue(0)
    monitor.redraw()
    assert np.allclose(monitor._ema.getData()[1], monitor.buffer("loss"))


def test_the_incremental_smoother_matches_a_plain_loop():
    rng = np.random.default_rng(0)
    x = rng.normal(3, 0.2, 5000)
    smoother = Smoother(0.99)
    smoother.update(x[:1234])
    got = smoother.update(x)
    m, want = 0.0, []
    for t, value in enumerate(x, 1):
        m = 0.99 * m + 0.01 * value
        want.append(m / (1 - 0.99**t))
    assert np.allclose(got, want)


def test_the_log_scale_perplexity_plot_is_ranged_to_its_curves(monitor):
    monitor.begin_run("r", vocab_size=2000)
    monitor.add_eval(evaluation(0, 7.6))
    monitor.add_steps(steps(1, 100, loss=lambda i: 7.6 - 0.02 * i))
    monitor.redraw(force=True)
    low, high = monitor.tab_plots[0].getPlotItem().vb.viewRange()[1]  # log10 units on a log axis
    assert low <= math.log10(math.exp(6.0)) and high >= math.log10(math.exp(7.6))  # not log10 of those (~0.4)


def test_the_pointer_readout_is_elided_not_cut_and_keeps_its_whole_text(monitor, qtbot):
    monitor.resize(400, 500)
    monitor.show()
    qtbot.waitExposed(monitor)
    monitor.readout.setText("step 42 · " + "loss 2.5000 · " * 20)
    assert monitor.smoothing.width() > 3 * monitor.smoothing.height()  # never a squeezed square
    assert monitor.readout.text().endswith("loss 2.5000 · ") and monitor.readout.toolTip() == monitor.readout.text()


def test_a_loss_spike_gets_a_red_dot(monitor):
    rng = np.random.default_rng(1)
    noise = rng.normal(0, 0.01, 200)
    monitor.add_steps(steps(1, 200, loss=lambda i: 3.0 + noise[i - 1] + (1.0 if i == 150 else 0.0)))
    monitor.redraw()
    x, y = monitor._spike_dots.getData()
    assert 150 in x.tolist() and y[x.tolist().index(150)] == pytest.approx(4.0, abs=0.05)


def test_evaluations_markers_samples_and_the_status_strip(monitor):
    monitor.begin_run("r", vocab_size=1000, tokens_per_step=512, max_steps=100, params=1_000_000, peak_flops=1e12)
    monitor.add_eval(evaluation(0, 6.9))
    monitor.add_steps(steps(1, 50))
    monitor.add_eval(evaluation(50))
    monitor.add_sample(SampleEvent(50, "To be, or not"))
    monitor.add_checkpoint(CheckpointEvent(50, "/tmp/ckpt"))
    monitor.add_correction(CorrectionEvent(50, {"lr_scale": 0.5}))
    monitor.add_error(ErrorEvent(50, "nan", "The loss became nan at step 51"))
    monitor.redraw()
    assert monitor._val.getData()[0].tolist() == [0, 50]
    labels = [m.line.label.format for m in monitor._markers]
    assert labels == ["lr ×0.5", "loss not finite"] and monitor._markers[0].line.value() == 50
    assert "To be, or not" in monitor.samples_view.toPlainText()
    log = monitor.log_view.toPlainText()
    assert "checkpoint /tmp/ckpt" in log and "ERROR The loss became nan" in log and "val loss 3.0000" in log
    text = {k: v.text() for k, v in monitor.status.labels.items()}
    assert text["step"] == "step 50 / 100" and text["tokens"] == "25.6k tokens" and text["eta"] == "ETA 0:02"
    assert text["mfu"] == "MFU 6.0%" and text["checkpoint"] == "checkpoint @ 50"
    monitor.tabs.setCurrentIndex(1)  # bits per byte: the train curve scaled by the eval's bits/loss ratio
    train_bpb = monitor._tab_curves[1][0].getData()[1]
    assert train_bpb[-1] == pytest.approx(monitor._ema.getData()[1][-1] * 0.35)


def test_the_x_axis_can_count_tokens_or_wall_time_continuing_across_a_resume(monitor):
    monitor.add_steps(steps(1, 20))
    monitor.add_steps(steps(21, 40, elapsed0=0.0))  # a resumed invocation restarts its clock
    monitor.x_mode.setCurrentText("tokens")
    assert monitor._raw.getData()[0].tolist() == [512 * i for i in range(1, 41)]
    monitor.x_mode.setCurrentText("wall time")
    wall = monitor._raw.getData()[0]
    assert np.all(np.diff(wall) > 0) and wall[-1] == pytest.approx(2.0)


def test_steps_from_an_earlier_checkpoint_replace_the_later_rows(monitor):
    monitor.add_steps(steps(1, 30))
    monitor.add_eval(evaluation(30))
    monitor.add_steps(steps(21, 25, loss=lambda i: 1.0))
    assert monitor.buffer("step").tolist() == list(range(1, 26)) and monitor.buffer("loss")[-1] == 1.0
    assert monitor._evals.n == 0
    monitor.redraw()
    assert len(monitor._ema.getData()[1]) == 25


def test_an_overlay_takes_a_readers_step_blocks_as_they_are_and_draws_the_same_curve(monitor):
    events = steps(1, 60)
    rows = [[getattr(e, name) for name in STEP_FIELDS] for e in events[:50]]
    block = StepBlock(np.array(rows, dtype=np.float64), STEP_FIELDS)
    monitor.overlay_run("events", events, [evaluation(20)])
    monitor.overlay_run("blocks", [block, *events[50:]], [evaluation(20)])  # a block, then lone steps, in order
    a, b = monitor._overlays["events"], monitor._overlays["blocks"]
    assert np.array_equal(a.steps.rows, b.steps.rows) and a.steps.n == 60
    assert np.array_equal(a.evals.rows, b.evals.rows)


def test_overlays_are_drawn_in_their_own_colours_with_a_legend(monitor):
    monitor.add_steps(steps(1, 30))
    monitor.overlay_run("parent-run", steps(1, 20), [evaluation(0, 6.9), evaluation(20)])
    monitor.overlay_run("other-run", steps(1, 40), [])
    monitor.redraw()
    names = [label.text for _, label in monitor.loss_plot.getPlotItem().legend.items]
    assert "parent-run" in names and "other-run" in names
    assert len(monitor._overlays["parent-run"].train_curve.getData()[0]) == 20
    monitor.clear_overlays()
    names = [label.text for _, label in monitor.loss_plot.getPlotItem().legend.items]
    assert "parent-run" not in names and not monitor._overlays


def test_the_crosshair_reads_out_the_values_under_the_mouse(monitor, qtbot):
    monitor.show()
    monitor.add_steps(steps(1, 100))
    monitor.add_eval(evaluation(100, 2.5))
    monitor.redraw()
    qtbot.wait(10)
    box = monitor.loss_plot.getPlotItem().vb
    monitor._on_mouse_moved(monitor.loss_plot, box.mapViewToScene(QPointF(42.2, 3.0)))
    assert monitor.readout.text().startswith("step 42 ·") and "val 2.5000 @ step 100" in monitor.readout.text()
    assert monitor._crosshairs[0].value() == pytest.approx(42.2, abs=0.5)


def test_a_visible_monitor_redraws_itself_on_its_timer_and_a_hidden_one_waits(monitor, qtbot):
    monitor.add_steps(steps(1, 10))
    qtbot.wait(300)
    assert monitor._ema.getData()[0] is None  # hidden: nothing drawn
    monitor.show()
    qtbot.waitUntil(lambda: monitor._ema.getData()[0] is not None and len(monitor._ema.getData()[0]) == 10,
                    timeout=3000)


def test_the_plot_follows_the_data_until_the_user_zooms(monitor, qtbot):
    monitor.show()
    monitor.add_steps(steps(1, 50))
    monitor.redraw()
    (x0, x1), _ = monitor.loss_plot.getPlotItem().vb.viewRange()
    assert x0 <= 1 and x1 >= 50
    follower = monitor._followers[0]
    follower.box.sigRangeChangedManually.emit([True, True])  # what a mouse zoom emits
    monitor.loss_plot.getPlotItem().vb.setXRange(10, 20, padding=0)
    monitor.add_steps(steps(51, 100))
    monitor.redraw()
    assert monitor.loss_plot.getPlotItem().vb.viewRange()[0] == [10, 20] and not follower.following
    monitor.loss_plot.getPlotItem().vb.enableAutoRange()  # the plot's "A" button
    monitor.add_steps(steps(101, 110))
    monitor.redraw()
    assert follower.following and monitor.loss_plot.getPlotItem().vb.viewRange()[0][1] >= 110


def test_100k_points_redraw_in_under_50_ms(monitor, qtbot):
    monitor.show()
    monitor.begin_run("big", vocab_size=1000, max_steps=200_000)
    monitor.add_steps(steps(1, 100_000, loss=lambda i: 2.0 + 5.0 / math.sqrt(i)))
    monitor.redraw()
    qtbot.wait(1)
    times = []
    for i in range(5):
        monitor.add_steps(steps(100_001 + i, 100_001 + i))
        started = time.thread_time()  # CPU time of this thread: other load on a shared machine does not count
        monitor.redraw()
        monitor.repaint()  # paint synchronously, so the figure includes drawing
        times.append(time.thread_time() - started)
    assert min(times) < 0.050, times


def test_exports_write_one_csv_row_per_step_and_a_png(monitor, tmp_path):
    monitor.begin_run("r", vocab_size=1000)
    monitor.add_eval(evaluation(0, 6.9))
    monitor.add_steps(steps(1, 50))
    monitor.add_eval(evaluation(25))
    monitor.add_eval(evaluation(50))
    assert monitor.export_csv(tmp_path / "run.csv") == 51
    with open(tmp_path / "run.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [int(r["step"]) for r in rows] == list(range(51))
    assert rows[0]["loss"] == "" and float(rows[0]["val_loss"]) == 6.9
    assert float(rows[25]["val_loss"]) == 3.0 and rows[24]["val_loss"] == ""
    assert float(rows[50]["loss"]) == pytest.approx(steps(50, 50)[0].loss)
    assert monitor.export_png(tmp_path / "run.png") and (tmp_path / "run.png").stat().st_size > 1000


# ------------------------------------------------------------------------------------------- following

def write(path, events, mode="a"):
    with open(path, mode, encoding="utf-8") as handle:
        for event in events:
            handle.write(json.dumps(event_record(event)) + "\n")


def test_the_follower_reads_complete_lines_and_restarts_when_the_file_is_rewritten(qtbot, tmp_path):
    metrics = tmp_path / "metrics.jsonl"
    write(metrics, [evaluation(0, 6.9), *steps(1, 10)])
    follower = MetricsFollower(tmp_path)
    got, resets = [], []
    follower.steps_logged.connect(lambda events: got.append([e.step for e in events]))
    follower.eval_logged.connect(lambda event: got.append(("eval", event.step)))
    follower.reset.connect(lambda: resets.append(True))
    follower.poll()
    assert got == [("eval", 0), list(range(1, 11))]
    with open(metrics, "a") as handle:
        handle.write(json.dumps(event_record(steps(11, 11)[0]))[:20])  # a torn line: not yet
    follower.poll()
    assert len(got) == 2
    with open(metrics, "a") as handle:
        handle.write(json.dumps(event_record(steps(11, 11)[0]))[20:] + "\n")
    follower.poll()
    assert got[-1] == [11]
    tmp = tmp_path / "rewrite.tmp"  # a resume from step 5 rewrites the file atomically, then appends
    write(tmp, [evaluation(0, 6.9), *steps(1, 5), *steps(6, 12)], mode="w")
    os.replace(tmp, metrics)
    got.clear()
    follower.poll()
    assert resets == [True] and got == [("eval", 0), list(range(1, 13))]


def test_load_all_returns_every_event_with_samples_after_their_evaluation(tmp_path):
    write(tmp_path / "metrics.jsonl", [evaluation(0), *steps(1, 2), evaluation(2), CheckpointEvent(2, "/c"),
                                       *steps(3, 3), EndEvent(3, "completed", {"steps": 3})])
    write(tmp_path / "samples.jsonl", [SampleEvent(0, "a"), SampleEvent(2, "b")])
    events = MetricsFollower(tmp_path).load_all()
    assert [(e.kind, e.step) for e in events] == [("eval", 0), ("sample", 0), ("step", 1), ("step", 2), ("eval", 2),
                                                  ("checkpoint", 2), ("sample", 2), ("step", 3), ("end", 3)]


@pytest.mark.parametrize("event", [
    StepEvent(3, 2.5, 1e-3, 0.7, 1536, 9000.0, 1.25), EvalEvent(2, 3.0, math.exp(3.0), None, 1024),
    SampleEvent(2, "ROMEO:\nBut soft"), CheckpointEvent(2, "/runs/r/checkpoints/step-2"),
    CorrectionEvent(3, {"lr_scale": 0.5, "grad_clip": 0.5}), ErrorEvent(4, "nan", "The loss is NaN; lower the rate."),
    EndEvent(4, "error", {"steps": 4, "best_val_loss": 3.0}),
], ids=lambda event: event.kind)
def test_every_event_comes_back_from_its_metrics_record(event):
    assert event_from_record(json.loads(json.dumps(event_record(event)))) == event


def test_a_record_from_a_newer_writer_reads_and_a_broken_one_is_refused_by_name():
    record = {**event_record(CheckpointEvent(5, "/c")), "sha256": "ab12"}  # a field this version does not know
    assert event_from_record(record) == CheckpointEvent(5, "/c")
    with pytest.raises(ValueError, match="lacks loss, lr"):
        event_from_record({"kind": "step", "step": 1})
    with pytest.raises(ValueError, match="unknown event kind 'x'"):
        event_from_record({"kind": "x"})
    with pytest.raises(ValueError, match="JSON object"):
        event_from_record([1, 2])  # type: ignore[arg-type]


def test_a_history_loads_in_chunks_off_the_gui_thread_and_following_goes_on_from_its_end(qtbot, tmp_path):
    write(tmp_path / "metrics.jsonl", [evaluation(0), *steps(1, 2500), evaluation(2500), *steps(2501, 5000)])
    write(tmp_path / "samples.jsonl", [SampleEvent(0, "a"), SampleEvent(2500, "b")])
    torn = json.dumps(event_record(steps(5001, 5001)[0]))
    with open(tmp_path / "metrics.jsonl", "a") as handle:
        handle.write(torn[:30])  # the trainer is mid-line: not part of the history yet
    expected = MetricsFollower(tmp_path).load_all()
    follower = MetricsFollower(tmp_path)
    loader = follower.history_loader(chunk_events=1000)
    loader._inline_bytes = 0  # this small file would be read at once; the test is of the reader thread
    chunks = []
    loader.chunk_loaded.connect(lambda chunk: chunks.append(chunk))
    with qtbot.waitSignal(loader.loaded, timeout=30_000) as loaded:
        loader.start()
    assert loaded.args == [len(expected)] and expand(item for chunk in chunks for item in chunk) == expected
    assert [event_count(chunk) for chunk in chunks] == [1000] * 5 + [4]
    assert [type(item) for item in chunks[1]] == [StepBlock]  # 1000 steps travel as one array, not 1000 objects
    with open(tmp_path / "metrics.jsonl", "a") as handle:  # the torn line completes: following takes it from there
        handle.write(torn[30:] + "\n")
    got = []
    follower.steps_logged.connect(lambda events: got.extend(e.step for e in events))
    follower.poll()
    assert got == [5001]


def test_cancelling_a_history_load_stops_the_reader_and_hands_over_nothing_more(qtbot, tmp_path):
    write(tmp_path / "metrics.jsonl", steps(1, 20_000))
    loader = HistoryLoader(tmp_path, chunk_events=500, inline_bytes=0)
    chunks = []

    def take_one_then_cancel(chunk):
        chunks.append(chunk)
        loader.cancel()

    loader.chunk_loaded.connect(take_one_then_cancel)
    loader.start()
    qtbot.waitUntil(lambda: bool(chunks), timeout=30_000)
    assert loader.wait(10_000) and not loader.is_loading
    qtbot.wait(50)  # anything still queued arrives now, and must be dropped
    assert len(chunks) == 1 and not loader.done


def test_a_run_trained_by_another_process_appears_live_in_the_monitor(qtbot, monitor, shakespeare_project):
    before = {r.run_id for r in list_runs(shakespeare_project)}
    settings = {"eval_batches": 2, "eval_interval": 20, "checkpoint_interval": 20, "batch_size": 8,
                "warmup_steps": 2, "sample_tokens": 8}
    command = [sys.executable, "-m", "gpt_studio", "pretrain", str(shakespeare_project.root), "--preset", "tiny-gpt",
               "--max-steps", "80", "--quiet", *[a for k, v in settings.items() for a in ("--set", f"{k}={v}")]]
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        qtbot.waitUntil(lambda: bool({r.run_id for r in list_runs(shakespeare_project)} - before), timeout=60_000)
        run = next(r for r in list_runs(shakespeare_project) if r.run_id not in before)
        follower = MetricsFollower(run.root, interval_ms=50)
        monitor.begin_run(run.run_id, vocab_size=1000, max_steps=80)
        batches = []
        follower.steps_logged.connect(monitor.add_steps)
        follower.steps_logged.connect(lambda events: batches.append(len(events)))
        follower.eval_logged.connect(monitor.add_eval)
        follower.sample_logged.connect(monitor.add_sample)
        with qtbot.waitSignal(follower.ended, timeout=60_000) as ended:
            follower.start()
        follower.stop()
    finally:
        process.wait(60)
    assert process.returncode == 0, process.stderr.read().decode()
    assert ended.args[0]["steps"] == 80 and len(batches) >= 2  # seen while it trained, not only at the end
    engine = [r["loss"] for r in read_jsonl(run.metrics_file) if r["kind"] == "step"]
    assert monitor.buffer("loss").tolist() == engine and monitor._evals.n == 5
    monitor.redraw()
    assert "step 80 / 80" in monitor.status.labels["step"].text()
