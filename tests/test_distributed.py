"""Data parallelism under torchrun on the CPU (gloo): 2 processes × batch B against 1 process × batch 2B.

Both runs start from the same weights (rank 0 seeds like a single process and DDP broadcasts rank 0's
weights), use the same seed, learning rate and global batch, and take the same number of steps; they
differ only in which training windows they draw: a single process samples the whole train split from
one stream, each rank its own half from its own stream. Their validation losses therefore agree only
statistically. Over seeds 1 to 5 at these settings (40 steps of tiny-gpt at lr 3e-3, loss 6.91 → ≈5.7)
the two differed by 0.3 % to 1.4 % of the loss (0.3 % at the seed used here: 5.746 vs 5.764), about as
much as two single-process runs with different seeds (5.66 to 5.76); the test allows 3 %, roughly twice
the worst seen, while a run that failed to learn, or diverged, would miss by far more (the drop from the
initial loss is ≈1.2 nats, ≈17 %).

The validation windows are the same in both runs: evaluation draws ``eval_batches × batch_size``
windows from a fixed stream, so the 2-process run evaluates twice as many half-size batches.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from gpt_studio.engine.devices import DistributedContext
from gpt_studio.engine.errors import StudioError
from gpt_studio.engine.pretrain import pretrain
from gpt_studio.engine.project import open_project

STEPS = 40
B = 16  # per-process batch of the 2-process run; the single process uses 2B
EVAL_WINDOWS = 256  # validation windows per evaluation in both runs
RELATIVE_TOLERANCE = 0.03
SETTINGS = {"lr": 3e-3, "warmup_steps": 5, "seed": 1337, "dropout": 0.0, "eval_interval": 20,
            "checkpoint_interval": 20, "keep_checkpoints": 5, "sample_tokens": 8}
ROOT = Path(__file__).resolve().parents[1]


def _env() -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    env.pop("WORLD_SIZE", None)  # never inherit a torchrun context from whoever runs pytest
    return env


def _cli(nproc: int, *args: str) -> subprocess.CompletedProcess[str]:
    launcher = ([sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
                 "-m", "gpt_studio"] if nproc > 1 else [sys.executable, "-m", "gpt_studio"])
    for _attempt in range(2):
        proc = subprocess.run([*launcher, *args, "--json", "--quiet"], capture_output=True, text=True, env=_env(),
                              cwd=ROOT, timeout=300)
        if proc.returncode == 0 or not _port_taken(proc.stderr):
            break  # a port another process took between torchrun choosing it and binding it: try once more
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr[-4000:]}"
    return proc


def _port_taken(stderr: str) -> bool:
    """Whether torchrun failed because its rendezvous port was in use (a race with other processes, not a bug)."""
    return "EADDRINUSE" in stderr or "address already in use" in stderr.lower()


def _json_lines(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def _settings(**overrides: Any) -> list[str]:
    args: list[str] = []
    for key, value in {**SETTINGS, **overrides}.items():
        args += ["--set", f"{key}={value}"]
    return args


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def runs(shakespeare_project, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The same project copied (the session project is read-only), trained once by 1 and once by 2 processes."""
    project = tmp_path_factory.mktemp("ddp") / "proj"
    shutil.copytree(shakespeare_project.root, project, ignore=shutil.ignore_patterns("runs"))
    (project / "runs").mkdir()
    single = _cli(1, "pretrain", str(project), "--preset", "tiny-gpt", "--max-steps", str(STEPS),
                  *_settings(batch_size=2 * B, eval_batches=EVAL_WINDOWS // (2 * B)))
    double = _cli(2, "pretrain", str(project), "--preset", "tiny-gpt", "--max-steps", str(STEPS),
                  *_settings(batch_size=B, eval_batches=EVAL_WINDOWS // B))
    one, two = _json_lines(single.stdout), _json_lines(double.stdout)
    run_dir = project / "runs" / two[-1]["run_id"]
    return {"project": project, "one": one, "two": two, "run_dir": run_dir,
            "run_ids": sorted(p.name for p in (project / "runs").iterdir()),
            "files": sorted(p.relative_to(run_dir).as_posix() for p in run_dir.rglob("*") if p.is_file()),
            "metrics": _records(run_dir / "metrics.jsonl"), "samples": _records(run_dir / "samples.jsonl"),
            "run_json": json.loads((run_dir / "run.json").read_text(encoding="utf-8"))}


@pytest.mark.slow  # the module-scoped fixture trains twice: ≈20 s on 2 cores
def test_two_processes_match_one_process_with_the_same_global_batch(runs: dict[str, Any]) -> None:
    one, two = runs["one"][-1], runs["two"][-1]
    assert one["ok"] and two["ok"]
    assert (one["world_size"], two["world_size"]) == (1, 2)
    assert one["steps"] == two["steps"] == STEPS
    assert one["tokens"] == two["tokens"] == STEPS * 2 * B * 64  # same global batch: 2B sequences of 64 tokens
    # Same initial weights scored on the same validation windows.
    assert two["initial_val_loss"] == pytest.approx(one["initial_val_loss"], abs=1e-4)
    for summary in (one, two):
        assert summary["final_val_loss"] < summary["initial_val_loss"] - 0.8, summary
    gap = abs(one["final_val_loss"] - two["final_val_loss"])
    assert gap < RELATIVE_TOLERANCE * one["final_val_loss"], (one["final_val_loss"], two["final_val_loss"])


@pytest.mark.slow
def test_rank_zero_alone_prints_and_writes(runs: dict[str, Any]) -> None:
    assert len(runs["two"]) == 1, "only rank 0 prints the JSON summary"
    assert runs["run_ids"] == sorted([runs["one"][-1]["run_id"], runs["two"][-1]["run_id"]])  # none per rank
    steps = [r["step"] for r in runs["metrics"] if r["kind"] == "step"]
    assert steps == list(range(1, STEPS + 1))  # each step recorded once
    assert [r["step"] for r in runs["metrics"] if r["kind"] == "eval"] == [0, 20, 40]
    assert [r["step"] for r in runs["metrics"] if r["kind"] == "checkpoint"] == [20, 40]
    assert [r["step"] for r in runs["samples"]] == [0, 20, 40]
    assert sorted(p.name for p in (runs["run_dir"] / "checkpoints").iterdir()) == ["step-000020", "step-000040"]
    assert not [f for f in runs["files"] if not f.startswith("checkpoints/")
                and f not in ("run.json", "metrics.jsonl", "samples.jsonl")], runs["files"]
    info = runs["run_json"]
    assert info["status"] == "completed" and info["world_size"] == 2 and info["summary"]["world_size"] == 2
    state = json.loads((runs["run_dir"] / "checkpoints" / "step-000040" / "trainer_state.json").read_text())
    assert state["world_size"] == 2 and len(state["sampler"]) == 2  # every rank's data position is kept
    assert state["sampler"][0] != state["sampler"][1]


@pytest.mark.slow  # ≈10 s
def test_resume_under_torchrun_and_refuse_another_process_count(runs: dict[str, Any]) -> None:
    project, run_id = str(runs["project"]), runs["run_json"]["run_id"]
    with pytest.raises(StudioError, match="checkpointed with 2 processes; resume it with the same number"):
        pretrain(open_project(project), resume=run_id, max_steps=STEPS + 10)  # in this one process

    resumed = _json_lines(_cli(2, "pretrain", project, "--resume", run_id, "--max-steps", str(STEPS + 10)).stdout)
    assert len(resumed) == 1
    summary = resumed[0]
    assert summary["run_id"] == run_id and summary["steps"] == STEPS + 10 and summary["world_size"] == 2
    assert summary["initial_val_loss"] == runs["two"][-1]["initial_val_loss"]  # carried over from the first leg
    assert summary["final_val_loss"] <= runs["two"][-1]["final_val_loss"] + 0.05
    metrics = _records(runs["run_dir"] / "metrics.jsonl")
    assert [r["step"] for r in metrics if r["kind"] == "step"] == list(range(1, STEPS + 11))


@pytest.mark.slow  # ≈6 s
def test_bert_with_an_nsp_head_trained_without_nsp_runs_under_ddp(runs: dict[str, Any]) -> None:
    """The NSP head then gets no gradient; DDP must be told, or it fails on the second step."""
    settings = ["--set", "nsp_head=true", "--set", "nsp=false", "--set", "batch_size=4", "--set", "eval_batches=1"]
    out = _cli(2, "pretrain", str(runs["project"]), "--preset", "tiny-bert", "--max-steps", "3", *settings)
    summary = _json_lines(out.stdout)[-1]
    assert summary["steps"] == 3 and summary["world_size"] == 2


def test_one_process_needs_no_process_group(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    ctx = DistributedContext.from_environment()
    assert (ctx.rank, ctx.world_size, ctx.is_main, ctx.active) == (0, 1, True, False)
    module = nn.Linear(2, 2)
    assert ctx.wrap(module, torch.device("cpu")) is module
    assert ctx.mean(2.5) == 2.5 and ctx.any(True) and not ctx.any(False)
    assert ctx.gather_objects({"a": 1}) == [{"a": 1}] and ctx.broadcast_object("x") == "x"


def test_more_processes_than_gpus_is_refused_before_joining(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(StudioError, match="--nproc-per-node=1"):
        DistributedContext.from_environment()

