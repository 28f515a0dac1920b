import json
import math
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from gpt_studio.engine import checkpoint as ckpt_io
from gpt_studio.engine.errors import StudioError
from gpt_studio.engine.model import preset
from gpt_studio.engine.pretrain import branch_run, new_run, pretrain
from gpt_studio.engine.runs import find_run, read_jsonl
from gpt_studio.engine.trainer import TrainControl, Trainer
from gpt_studio.engine.trainer_config import Schedule, TrainConfig

ROOT = Path(__file__).resolve().parents[1]
FAST = {"eval_batches": 2, "eval_interval": 1000, "checkpoint_interval": 1000, "batch_size": 8,
        "warmup_steps": 2, "lr": 3e-3, "sample_tokens": 8}


def final_weights(project, run_id):
    run = find_run(project, run_id)
    return load_file(str(ckpt_io.latest_checkpoint(run.checkpoints_dir).path / "model.safetensors"))


def test_a_tiny_gpt_lowers_its_validation_loss(shakespeare_project):
    summary = pretrain(shakespeare_project, preset_name="tiny-gpt", settings={**FAST, "eval_batches": 8},
                       max_steps=40)
    assert summary["steps"] == 40 and summary["reason"] == "completed"
    assert summary["final_val_loss"] < summary["initial_val_loss"] - 1.0
    assert summary["val_perplexity"] == pytest.approx(math.exp(summary["final_val_loss"]))
    assert 0 < summary["val_bits_per_byte"] < summary["final_val_loss"] / math.log(2)


def test_a_tiny_bert_lowers_its_masked_lm_loss(shakespeare_project):
    summary = pretrain(shakespeare_project, preset_name="tiny-bert", settings={**FAST, "eval_batches": 8},
                       max_steps=40)
    assert summary["final_val_loss"] < summary["initial_val_loss"] - 1.0
    assert summary["val_bits_per_byte"] is None


@pytest.mark.parametrize("preset_name", ["tiny-gpt", "tiny-bert"])
def test_resume_after_stop_gives_identical_weights(shakespeare_project, preset_name):
    settings = {**FAST, "dropout": 0.1, "checkpoint_interval": 7}
    straight = pretrain(shakespeare_project, preset_name=preset_name, settings=settings, max_steps=16)
    control = TrainControl()

    def stop_at_eight(event):
        if event.kind == "step" and event.step == 8:
            control.stop()

    first = pretrain(shakespeare_project, preset_name=preset_name, settings=settings, max_steps=16,
                     listeners=[stop_at_eight], control=control)
    assert first["reason"] == "stopped" and first["steps"] == 8
    resumed = pretrain(shakespeare_project, resume=first["run_id"])
    assert resumed["run_id"] == first["run_id"] and resumed["steps"] == 16
    a, b = final_weights(shakespeare_project, straight["run_id"]), final_weights(shakespeare_project, first["run_id"])
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    steps = [r["step"] for r in read_jsonl(find_run(shakespeare_project, first["run_id"]).metrics_file)
             if r["kind"] == "step"]
    assert steps == list(range(1, 17)), "metrics continue without gaps or repeats"


def test_max_steps_on_resume_is_the_runs_total(shakespeare_project):
    first = pretrain(shakespeare_project, preset_name="tiny-gpt", settings=FAST, max_steps=6)
    more = pretrain(shakespeare_project, resume=first["run_id"], max_steps=9)
    assert more["steps"] == 9 and more["tokens"] == 9 * 8 * 64
    assert more["initial_val_loss"] == first["initial_val_loss"]


KILLER = """
import os, signal, sys
from gpt_studio.engine import checkpoint as c
from gpt_studio.engine.pretrain import pretrain
from gpt_studio.engine.project import open_project
original = c.save_model
def save_then_die(model, path):
    original(model, path)
    if ".step-000010" in str(path):
        os.kill(os.getpid(), signal.SIGKILL)
c.save_model = save_then_die
pretrain(open_project(sys.argv[1]), preset_name="tiny-gpt", max_steps=20, run_id=None,
         settings={"checkpoint_interval": 5, "eval_batches": 1, "eval_interval": 1000, "batch_size": 4})
"""


def test_a_kill_while_writing_a_checkpoint_leaves_the_previous_one_and_the_run_resumable(shakespeare_project):
    before = {p.name for p in shakespeare_project.runs_dir.iterdir()}
    result = subprocess.run([sys.executable, "-c", KILLER, str(shakespeare_project.root)], cwd=ROOT, timeout=300,
                            capture_output=True, text=True)
    assert result.returncode == -9, result.stderr
    (run_id,) = {p.name for p in shakespeare_project.runs_dir.iterdir()} - before
    run = find_run(shakespeare_project, run_id)
    assert [c.step for c in ckpt_io.list_checkpoints(run.checkpoints_dir)] == [5]
    assert any(p.name.startswith(".step-000010") for p in run.checkpoints_dir.iterdir())
    summary = pretrain(shakespeare_project, resume=run_id)
    assert summary["steps"] == 20
    assert not any(p.name.startswith(".") for p in run.checkpoints_dir.iterdir())


@pytest.fixture()
def finished_run(shakespeare_project):
    summary = pretrain(shakespeare_project, preset_name="tiny-gpt", settings={**FAST, "checkpoint_interval": 3},
                       max_steps=6)
    return find_run(shakespeare_project, summary["run_id"])


def test_a_truncated_checkpoint_gives_a_clear_error(finished_run):
    latest = ckpt_io.latest_checkpoint(finished_run.checkpoints_dir)
    weights = latest.path / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(StudioError, match="damaged.*model.safetensors"):
        ckpt_io.load_model_from_checkpoint(latest.path)


def test_a_garbled_trainer_state_gives_a_clear_error(finished_run):
    latest = ckpt_io.latest_checkpoint(finished_run.checkpoints_dir)
    (latest.path / "trainer_state.json").write_text("{ nope")
    with pytest.raises(StudioError, match="trainer_state.json is damaged"):
        latest.state()


def test_a_checkpoint_of_another_vocabulary_or_shape_is_refused(finished_run):
    latest = ckpt_io.latest_checkpoint(finished_run.checkpoints_dir)
    saved = latest.config()
    other_vocab = preset("tiny-gpt", vocab_size=saved.vocab_size + 1)
    with pytest.raises(StudioError, match=f"vocabulary of {saved.vocab_size} tokens"):
        ckpt_io.load_weights(latest, __import__("gpt_studio.engine.model", fromlist=["x"]).Transformer(other_vocab))
    with pytest.raises(StudioError, match="n_layer 2 vs 4"):
        ckpt_io.check_compatible(saved, preset("tiny-gpt", vocab_size=saved.vocab_size, n_layer=4))


def test_only_the_last_checkpoints_and_the_best_are_kept(shakespeare_project):
    summary = pretrain(shakespeare_project, preset_name="tiny-gpt",
                       settings={**FAST, "checkpoint_interval": 2, "keep_checkpoints": 2, "eval_interval": 2},
                       max_steps=10)
    run = find_run(shakespeare_project, summary["run_id"])
    steps = [c.step for c in ckpt_io.list_checkpoints(run.checkpoints_dir)]
    best = json.loads((run.checkpoints_dir / "step-000010" / "trainer_state.json").read_text())["best_step"]
    assert steps[-2:] == [8, 10] and set(steps) == {8, 10, best}


def test_a_nan_loss_stops_the_run_with_an_error_event_and_keeps_the_last_good_checkpoint(shakespeare_project):
    run = new_run(shakespeare_project, "tiny-gpt", {**FAST, "checkpoint_interval": 5}, max_steps=20)
    events = []
    trainer = Trainer(shakespeare_project, run, listeners=[events.append])

    def poison(event):
        if event.kind == "step" and event.step == 7:
            with torch.no_grad():
                trainer.model.wte.weight.fill_(float("nan"))

    trainer.listeners.append(poison)
    with pytest.raises(StudioError, match="loss became nan at step 8"):
        trainer.run()
    errors = [e for e in events if e.kind == "error"]
    assert len(errors) == 1 and errors[0].reason == "nan"
    assert events[-1].kind == "end" and events[-1].reason == "error"
    assert [c.step for c in ckpt_io.list_checkpoints(run.checkpoints_dir)] == [5]
    assert run.read()["status"] == "error"


def test_pause_then_correct_the_learning_rate_from_another_thread(shakespeare_project):
    control = TrainControl()
    steps, paused_at_five = [], threading.Event()

    def on_event(event):
        if event.kind == "step":
            steps.append(event)
            if event.step == 5:
                control.pause()
                paused_at_five.set()

    settings = {**FAST, "schedule": "constant", "warmup_steps": 0, "lr": 1e-3}
    result = {}
    worker = threading.Thread(target=lambda: result.update(pretrain(
        shakespeare_project, preset_name="tiny-gpt", settings=settings, max_steps=10, listeners=[on_event],
        control=control)))
    worker.start()
    assert paused_at_five.wait(60)
    threading.Event().wait(0.3)
    assert len(steps) == 5, "a paused run takes no steps"
    control.correct(lr_scale=0.5, eval_interval=3)
    control.resume()
    worker.join(60)
    assert result["steps"] == 10
    assert steps[4].lr == pytest.approx(1e-3) and steps[5].lr == pytest.approx(5e-4)
    run = find_run(shakespeare_project, result["run_id"])
    assert run.read()["corrections"] == [{"step": 5, "lr_scale": 0.5, "eval_interval": 3}]
    evals = [r["step"] for r in read_jsonl(run.metrics_file) if r["kind"] == "eval"]
    assert 6 in evals and 9 in evals
    assert any(r["kind"] == "correction" for r in read_jsonl(run.metrics_file))


def test_a_resume_can_set_a_new_schedule_and_it_is_recorded(shakespeare_project):
    first = pretrain(shakespeare_project, preset_name="tiny-gpt", settings=FAST, max_steps=4)
    seen = []
    pretrain(shakespeare_project, resume=first["run_id"], settings={"lr": 2e-4, "schedule": "constant"},
             max_steps=6, listeners=[lambda e: seen.append(e) if e.kind == "step" else None])
    assert [e.lr for e in seen] == pytest.approx([2e-4, 2e-4])
    assert find_run(shakespeare_project, first["run_id"]).read()["corrections"][0]["lr"] == 2e-4


def test_a_resume_refuses_changes_to_the_model(shakespeare_project):
    first = pretrain(shakespeare_project, preset_name="tiny-gpt", settings=FAST, max_steps=2)
    with pytest.raises(StudioError, match="keeps its configuration"):
        pretrain(shakespeare_project, resume=first["run_id"], settings={"n_layer": 4})


def test_a_branch_records_its_parent_and_continues_from_its_checkpoint(shakespeare_project):
    parent = pretrain(shakespeare_project, preset_name="tiny-gpt", settings={**FAST, "checkpoint_interval": 4},
                      max_steps=8)
    child = branch_run(shakespeare_project, parent["run_id"], 4)
    assert child.read()["parent"] == {"run_id": parent["run_id"], "step": 4}
    summary = pretrain(shakespeare_project, resume=child.run_id, settings={"lr_scale": 0.5}, max_steps=8)
    assert summary["steps"] == 8
    steps = [r["step"] for r in read_jsonl(child.metrics_file) if r["kind"] == "step"]
    assert steps == list(range(1, 9))


def test_the_schedule_warms_up_decays_and_scales_keep_its_shape():
    schedule = Schedule.from_config(TrainConfig(lr=1.0, min_lr=0.1, warmup_steps=10, max_steps=110))
    assert schedule.lr_at(0) < schedule.lr_at(9) < 1.0
    assert schedule.lr_at(10) == pytest.approx(1.0)
    assert schedule.lr_at(60) == pytest.approx(0.55)
    assert schedule.lr_at(110) == pytest.approx(0.1)
    unscaled = schedule.lr_at(80)
    schedule.scale(50, 0.5)
    assert schedule.lr_at(49) == pytest.approx(Schedule.from_config(
        TrainConfig(lr=1.0, min_lr=0.1, warmup_steps=10, max_steps=110)).lr_at(49))
    assert schedule.lr_at(80) == pytest.approx(unscaled / 2)
    restored = Schedule.from_list(json.loads(json.dumps(schedule.to_list())))
    assert restored.lr_at(80) == pytest.approx(unscaled / 2)


def test_bf16_on_cpu_trains_and_fp16_on_cpu_is_refused_with_the_reason(shakespeare_project):
    summary = pretrain(shakespeare_project, preset_name="tiny-gpt", settings={**FAST, "precision": "bf16"},
                       max_steps=3)
    assert summary["steps"] == 3 and math.isfinite(summary["final_val_loss"])
    with pytest.raises(StudioError, match="fp16 training needs a CUDA GPU"):
        pretrain(shakespeare_project, preset_name="tiny-gpt", settings={**FAST, "precision": "fp16"}, max_steps=2)


def test_the_cli_pretrains_and_resumes_with_json(shakespeare_project):
    def run(*args):
        out = subprocess.run([sys.executable, "-m", "gpt_studio", "pretrain", str(shakespeare_project.root), *args,
                              "--json"], capture_output=True, text=True, cwd=ROOT, timeout=300)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout.strip().splitlines()[-1])

    first = run("--preset", "tiny-gpt", "--max-steps", "4", "--set", "eval_batches=2", "--set", "batch_size=4")
    for key in ("run_id", "steps", "tokens", "initial_val_loss", "final_train_loss", "final_val_loss",
                "val_perplexity", "val_bits_per_byte", "tokens_per_second", "wall_seconds"):
        assert first[key] is not None, key
    second = run("--resume", first["run_id"], "--max-steps", "6")
    assert second["run_id"] == first["run_id"] and second["steps"] == 6


def test_out_of_memory_becomes_an_error_event_that_suggests_a_smaller_batch(shakespeare_project):
    run = new_run(shakespeare_project, "tiny-gpt", {**FAST, "checkpoint_interval": 2}, max_steps=10)
    events = []
    trainer = Trainer(shakespeare_project, run, listeners=[events.append])
    real_step, calls = trainer._train_step, []

    def step_that_runs_out_of_memory():  # CUDA OOM cannot happen on a CPU: raise what torch raises there
        calls.append(1)
        if len(calls) == 3:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return real_step()

    trainer._train_step = step_that_runs_out_of_memory
    with pytest.raises(StudioError, match="batch_size=4 with grad_accum=2"):
        trainer.run()
    assert [e.reason for e in events if e.kind == "error"] == ["oom"]
    assert [c.step for c in ckpt_io.list_checkpoints(run.checkpoints_dir)] == [2]


def test_tensorboard_event_files_mirror_the_metrics(shakespeare_project):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    summary = pretrain(shakespeare_project, preset_name="tiny-gpt", max_steps=6,
                       settings={**FAST, "tensorboard": True, "eval_interval": 3})
    log_dir = find_run(shakespeare_project, summary["run_id"]).root / "tensorboard"
    events = EventAccumulator(str(log_dir)).Reload()
    losses = events.Scalars("train/loss")
    assert [e.step for e in losses] == [1, 2, 3, 4, 5, 6]
    records = [r for r in read_jsonl(find_run(shakespeare_project, summary["run_id"]).metrics_file)
               if r["kind"] == "step"]
    assert losses[-1].value == pytest.approx(records[-1]["loss"], rel=1e-6)
    assert [e.step for e in events.Scalars("val/loss")] == [0, 3, 6]
    assert "samples/text_summary" in events.Tags()["tensors"]


def test_zero_shot_probes_are_scored_at_every_evaluation(shakespeare_project, sentiment_csv):
    copa = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "copa" / "copa_dev.jsonl"
    probes = [{"task": "label-words", "data": str(sentiment_csv), "limit": 16, "name": "sentiment"},
              {"task": "multiple-choice", "data": str(copa), "limit": 8}]
    summary = pretrain(shakespeare_project, preset_name="tiny-gpt", max_steps=4,
                       settings={**FAST, "eval_interval": 2, "probes": probes})
    records = [r for r in read_jsonl(find_run(shakespeare_project, summary["run_id"]).metrics_file)
               if r["kind"] == "probe"]
    assert [(r["step"], r["name"]) for r in records] == [
        (0, "sentiment"), (0, "multiple-choice: copa_dev.jsonl"), (2, "sentiment"),
        (2, "multiple-choice: copa_dev.jsonl"), (4, "sentiment"), (4, "multiple-choice: copa_dev.jsonl")]
    assert all(0.0 <= r["accuracy"] <= 1.0 and r["chance"] == pytest.approx(0.5) for r in records)
    assert [r["n"] for r in records[:2]] == [16, 8]


def test_a_probe_with_a_bad_file_or_task_is_refused_before_training(shakespeare_project, tmp_path):
    with pytest.raises(StudioError, match="task"):
        new_run(shakespeare_project, "tiny-gpt", {"probes": [{"task": "guess", "data": "x.csv"}]})
    missing = tmp_path / "nope.csv"
    with pytest.raises(StudioError, match="nope.csv"):
        pretrain(shakespeare_project, preset_name="tiny-gpt", max_steps=2,
                 settings={**FAST, "probes": [{"task": "label-words", "data": str(missing)}]})


def _write_records(path: Path, steps: list[int], tail: str = "") -> None:
    lines = [json.dumps({"kind": "step", "step": s, "loss": 1.0 / (s + 1), "text": "é" * (s % 5)}) for s in steps]
    path.write_text("".join(line + "\n" for line in lines) + tail, encoding="utf-8")


@pytest.mark.parametrize("block", [7, 64, 1 << 16])
def test_a_resume_cuts_the_records_after_its_checkpoint_reading_only_the_tail(tmp_path, monkeypatch, block):
    """The cut equals filtering every record by step, whatever the block size; a file with nothing to cut is
    not rewritten; a torn last line and damaged lines after the cut are dropped."""
    from gpt_studio.engine import runs

    monkeypatch.setattr(runs, "TAIL_BLOCK_BYTES", block)
    run = runs.RunDir(tmp_path / "run")
    run.root.mkdir()
    steps = [0, *range(1, 41), 40, 41, 42, 42, 43]  # an end and an evaluation share their step with a step record
    for cut, torn in ((43, ""), (40, ""), (41, '{"kind": "step", "st'), (0, ""), (-1, ""), (39, "not json\n")):
        _write_records(run.metrics_file, steps, torn)
        before = run.metrics_file.stat()
        runs.truncate_metrics_after(run, cut)
        assert [r["step"] for r in read_jsonl(run.metrics_file)] == [s for s in steps if s <= cut], (cut, torn)
        assert run.metrics_file.read_text(encoding="utf-8").endswith("\n") or cut < 0
        untouched = run.metrics_file.stat().st_ino == before.st_ino
        assert untouched == (cut >= 43 and not torn), (cut, torn)  # rewritten (atomically) only to cut something
    run.metrics_file.write_bytes(b"")
    runs.truncate_metrics_after(run, 5)
    assert run.metrics_file.read_bytes() == b""
