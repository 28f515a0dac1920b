import json
import os
import sys
import threading

import pytest
from PySide6.QtCore import QCoreApplication

from gpt_studio.engine import checkpoint as ckpt_io
from gpt_studio.engine import trainer as trainer_module
from gpt_studio.engine.pretrain import pretrain
from gpt_studio.engine.runs import find_run, read_jsonl
from gpt_studio.engine.trainer_config import StepEvent, event_record
from gpt_studio.ui.widgets.run_monitor import RunMonitor
from gpt_studio.workers import running_jobs
from gpt_studio.workers.history import StepBlock, expand
from gpt_studio.workers.training import StepBatcher, TrainingJob, lower_thread_priority

SETTINGS = {"eval_batches": 2, "eval_interval": 10, "checkpoint_interval": 10, "batch_size": 8, "lr": 3e-3,
            "warmup_steps": 2, "sample_tokens": 8}
TIMEOUT = 60_000


class Recorder:
    """Every signal of a job, in arrival order, with the thread each slot ran on."""

    def __init__(self, job):
        self.log, self.steps, self.threads = [], [], set()
        for name in ("run_started", "eval_logged", "sample_logged", "checkpoint_saved", "correction_applied",
                     "paused_changed", "error_raised", "failed", "finished"):
            getattr(job, name).connect(lambda *args, name=name: self._record(name, args))
        job.steps_logged.connect(self._on_steps)

    def _record(self, name, args):
        self.threads.add(threading.get_ident())
        self.log.append((name, *args))

    def _on_steps(self, events):
        self.threads.add(threading.get_ident())
        self.log.append(("steps_logged", len(events)))
        self.steps.extend(events)

    def names(self):
        return [entry[0] for entry in self.log]

    def first(self, name):
        return next(entry for entry in self.log if entry[0] == name)


def attach(job, monitor):
    job.run_started.connect(lambda run_id: monitor.begin_run(run_id, vocab_size=1000, max_steps=20))
    job.steps_logged.connect(monitor.add_steps)
    job.eval_logged.connect(monitor.add_eval)
    job.sample_logged.connect(monitor.add_sample)
    job.checkpoint_saved.connect(monitor.add_checkpoint)
    job.correction_applied.connect(monitor.add_correction)
    job.error_raised.connect(monitor.add_error)


def test_a_run_streams_every_step_into_the_monitor_in_order(qtbot, shakespeare_project):
    monitor = RunMonitor()
    qtbot.addWidget(monitor)
    job = TrainingJob(shakespeare_project, preset_name="tiny-gpt", settings=SETTINGS, max_steps=20)
    attach(job, monitor)
    seen = Recorder(job)
    with qtbot.waitSignal(job.eval_logged, timeout=TIMEOUT):
        job.start()
        assert job in running_jobs()  # the main window asks before quitting
    with qtbot.waitSignal(job.finished, timeout=TIMEOUT) as done:
        pass
    assert job.wait(10_000) and not job.is_running
    qtbot.waitUntil(lambda: job not in running_jobs())
    assert job._worker.thread() == QCoreApplication.instance().thread()  # handed back: freed on the GUI thread
    summary = done.args[0]
    assert summary["reason"] == "completed" and summary["steps"] == 20 and summary["run_id"] == job.run_id
    assert seen.names()[0] == "run_started" and seen.names()[-1] == "finished"
    assert seen.threads == {threading.get_ident()}  # slots run on the GUI thread
    assert 1 <= seen.names().count("steps_logged") <= 20  # coalesced
    assert [e.step for e in seen.steps] == list(range(1, 21))
    metrics = find_run(shakespeare_project, job.run_id).metrics_file
    engine_steps = [r for r in read_jsonl(metrics) if r["kind"] == "step"]
    assert monitor.buffer("step").tolist() == [r["step"] for r in engine_steps]
    assert monitor.buffer("loss").tolist() == [r["loss"] for r in engine_steps]
    assert [e[1].step for e in seen.log if e[0] == "eval_logged"] == [0, 10, 20]
    assert [e[1].step for e in seen.log if e[0] == "checkpoint_saved"] == [10, 20]
    assert seen.names().count("sample_logged") == 3 and "failed" not in seen.names()
    monitor.redraw(force=True)
    assert "step 20 / 20" in monitor.status.labels["step"].text()


def test_a_job_trains_exactly_like_the_engine_call(qtbot, shakespeare_project):
    job = TrainingJob(shakespeare_project, preset_name="tiny-gpt", settings=SETTINGS, max_steps=5)
    seen = Recorder(job)
    with qtbot.waitSignal(job.finished, timeout=TIMEOUT):
        job.start()
    job.wait()
    direct = []
    pretrain(shakespeare_project, preset_name="tiny-gpt", settings=SETTINGS, max_steps=5,
             listeners=[lambda e: direct.append(e) if e.kind == "step" else None])
    assert [e.loss for e in seen.steps] == [e.loss for e in direct]


def test_pause_holds_the_loop_and_resume_continues_the_same_count(qtbot, shakespeare_project):
    job = TrainingJob(shakespeare_project, preset_name="tiny-gpt", settings=SETTINGS, max_steps=30)
    seen = Recorder(job)
    with qtbot.waitSignal(job.steps_logged, timeout=TIMEOUT):
        job.start()
    with qtbot.waitSignal(job.paused_changed, timeout=TIMEOUT, check_params_cb=lambda held: held):
        job.pause()
    assert job.is_paused
    held_at = len(seen.steps)
    qtbot.wait(400)
    assert len(seen.steps) == held_at  # no step while paused
    job.correct(lr_scale=0.5)
    with pytest.raises(ValueError, match="batch_size"):
        job.correct(batch_size=4)
    with qtbot.waitSignal(job.finished, timeout=TIMEOUT) as done:
        job.resume()
    job.wait()
    assert [e.step for e in seen.steps] == list(range(1, 31)) and done.args[0]["steps"] == 30
    correction = seen.first("correction_applied")[1]
    assert correction.step == held_at and correction.changes == {"lr_scale": 0.5}
    assert ("paused_changed", False) in seen.log and not job.is_paused


def test_stop_leaves_a_loadable_checkpoint_and_a_new_job_resumes_it(qtbot, shakespeare_project):
    job = TrainingJob(shakespeare_project, preset_name="tiny-gpt", settings=SETTINGS, max_steps=40)
    job.steps_logged.connect(lambda events: job.stop())
    with qtbot.waitSignal(job.finished, timeout=TIMEOUT) as done:
        job.start()
    job.wait()
    stopped = done.args[0]
    assert stopped["reason"] == "stopped" and 0 < stopped["steps"] < 40
    run = find_run(shakespeare_project, job.run_id)
    latest = ckpt_io.latest_checkpoint(run.checkpoints_dir)
    assert latest.step == stopped["steps"]
    model, _ = ckpt_io.load_model_from_checkpoint(latest.path)
    assert model.config.vocab_size == 1000

    recorded = [r["step"] for r in read_jsonl(run.metrics_file) if r["kind"] == "step"]
    with open(run.metrics_file, "a", encoding="utf-8") as out:  # steps a crash left after the last checkpoint
        for step in range(latest.step + 1, latest.step + 4):
            out.write(json.dumps(event_record(StepEvent(step, 9.0, 1e-3, 1.0, 0, 0.0, 0.0))) + "\n")

    again = TrainingJob(shakespeare_project, resume=job.run_id)
    seen = Recorder(again)
    taken = []
    again.run_started.connect(lambda _run_id: taken.append(again.take_history()))
    with qtbot.waitSignal(again.finished, timeout=TIMEOUT) as done:
        again.start()
    again.wait()
    assert seen.first("run_started")[1] == job.run_id
    assert seen.steps[0].step == stopped["steps"] + 1 and done.args[0]["steps"] == 40
    # the history before the resume, read on the worker: up to the checkpoint, as arrays, taken once
    history = taken[0]
    assert [e.step for e in expand(history) if e.kind == "step"] == recorded
    assert any(isinstance(item, StepBlock) for item in history) and again.take_history() == []


def test_a_nan_loss_is_an_error_event_then_finished_with_the_summary(qtbot, shakespeare_project, monkeypatch):
    real_step = trainer_module.Trainer._train_step

    def step_then_nan(self):
        if self.step == 3:
            raise trainer_module._NonFiniteLoss(float("nan"))
        return real_step(self)

    monkeypatch.setattr(trainer_module.Trainer, "_train_step", step_then_nan)
    job = TrainingJob(shakespeare_project, preset_name="tiny-gpt", settings=SETTINGS, max_steps=20)
    seen = Recorder(job)
    with qtbot.waitSignal(job.finished, timeout=TIMEOUT) as done:
        job.start()
    job.wait()
    error = seen.first("error_raised")[1]
    assert error.reason == "nan" and "learning rate" in error.message
    assert "failed" not in seen.names() and done.args[0]["reason"] == "error"


@pytest.mark.parametrize("kwargs, reason", [
    ({"resume": "no-such-run"}, "was not found"),
    ({"resume": "", "settings": {"n_layer": 4}}, "keeps its configuration"),
    ({"preset_name": "no-such-preset"}, "Unknown preset"),
])
def test_a_bad_request_fails_with_a_reason_and_finishes_without_a_summary(qtbot, shakespeare_project, kwargs, reason):
    job = TrainingJob(shakespeare_project, **kwargs)
    seen = Recorder(job)
    with qtbot.waitSignal(job.finished, timeout=TIMEOUT) as done:
        job.start()
    job.wait()
    failed = seen.first("failed")
    assert reason in failed[1] and failed[2] == "" and done.args == [None] and job.run_id is None


def test_exactly_one_way_to_start_is_required(shakespeare_project):
    with pytest.raises(ValueError):
        TrainingJob(shakespeare_project, preset_name="tiny-gpt", resume="x")


def test_the_batcher_coalesces_steps_without_losing_any():
    out = []
    batcher = StepBatcher(out.append, interval_s=3600)
    for i in range(5):
        batcher.add(i)
    batcher.flush()
    assert out == [[0], [1, 2, 3, 4]]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are a Linux feature")
def test_the_training_thread_yields_the_cpu_to_the_gui_thread():
    seen = []

    def body():
        lower_thread_priority()
        seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))

    thread = threading.Thread(target=body)
    thread.start()
    thread.join()
    base = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())  # this (GUI) thread: untouched
    assert seen == [min(19, base + 5)]  # relative, so it holds under `nice -n 10 gpt-studio` too
    assert base < seen[0] or base == 19
