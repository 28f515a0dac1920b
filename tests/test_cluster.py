"""The torchrun commands for a prepared run: exact, shell-quoted, and one of them really trains the run.

The last test pastes nothing by hand: it runs the single-node command the engine gives (its ``python -m
torch.distributed.run`` form, since ``torchrun`` need not be on the PATH) with 2 CPU processes over gloo,
like tests/test_distributed.py, on a project whose path has a space in it, so a quoting mistake fails.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from projects import private_copy

from gpt_studio.engine.cluster import parse_endpoint, torchrun_commands
from gpt_studio.engine.pretrain import new_run

ROOT = Path(__file__).resolve().parents[1]
TINY = {"batch_size": 4, "eval_batches": 1, "eval_interval": 2, "checkpoint_interval": 4, "sample_tokens": 8,
        "warmup_steps": 1, "dropout": 0.0}


def _env() -> dict[str, str]:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    env.pop("WORLD_SIZE", None)  # never inherit a torchrun context from whoever runs pytest
    return env


def _records(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_the_single_node_command_is_exact_and_quotes_the_project_path() -> None:
    project = "/data/my studio/it's here"
    commands = torchrun_commands(project, "gpt-20260101-000000", nproc_per_node=4)
    single = commands["single_node"]
    assert single["command"] == ("torchrun --standalone --nproc-per-node=4 -m gpt_studio pretrain "
                                 "'/data/my studio/it'\"'\"'s here' --resume gpt-20260101-000000 --json")
    assert shlex.split(single["command"])[6] == project  # the shell gives back the path unchanged
    assert shlex.split(single["python_command"]) == single["argv"]
    assert single["argv"][:3] == ["python", "-m", "torch.distributed.run"]
    assert "--nproc-per-node=4" in single["note"] and "multi_node" not in commands
    assert commands["world_size"] == 4


def test_several_nodes_add_a_c10d_rendezvous_named_after_the_run() -> None:
    commands = torchrun_commands("/shared/p", "gpt-1", nproc_per_node=8, nnodes=2, rdzv_endpoint=" node-a:29400 ")
    multi = commands["multi_node"]
    assert multi["command"] == ("torchrun --nnodes=2 --nproc-per-node=8 --rdzv-backend=c10d "
                                "--rdzv-endpoint=node-a:29400 --rdzv-id=gpt-1 -m gpt_studio pretrain /shared/p "
                                "--resume gpt-1 --json")
    assert "each of the 2 nodes" in multi["note"] and "share" in multi["note"]
    assert commands["world_size"] == 16
    assert commands["single_node"]["command"].startswith("torchrun --standalone --nproc-per-node=8 ")
    named = torchrun_commands("/shared/p", "gpt-1", nproc_per_node=1, nnodes=3, rdzv_endpoint="[::1]:29400",
                              rdzv_id="slurm-4711", python="/opt/venv/bin/python")
    assert "--rdzv-id=slurm-4711" in named["multi_node"]["command"]
    assert named["multi_node"]["argv"][0] == "/opt/venv/bin/python"


def test_several_nodes_without_an_endpoint_or_with_no_processes_are_refused() -> None:
    with pytest.raises(ValueError, match="rendezvous endpoint"):
        torchrun_commands("/p", "r", nproc_per_node=2, nnodes=2)
    with pytest.raises(ValueError, match="at least 1"):
        torchrun_commands("/p", "r", nproc_per_node=0)
    with pytest.raises(ValueError, match="at least 1"):
        torchrun_commands("/p", "r", nproc_per_node=1, nnodes=0)


@pytest.mark.parametrize("text, why", [("node-a", "HOST:PORT"), (":29400", "HOST:PORT"), ("node-a:x", "not a number"),
                                       ("node-a:70000", "between 1 and 65535"), ("node a:29400", "not a host"),
                                       ("::1:29400", "IPv6")])
def test_a_bad_rendezvous_endpoint_says_what_is_wrong(text: str, why: str) -> None:
    with pytest.raises(ValueError, match=why):
        parse_endpoint(text)


def test_good_rendezvous_endpoints_parse() -> None:
    assert parse_endpoint("node-a:29400") == ("node-a", 29400)
    assert parse_endpoint("10.0.0.7:1") == ("10.0.0.7", 1)
    assert parse_endpoint("[fe80::1]:29400") == ("fe80::1", 29400)


@pytest.mark.slow  # two torch processes start and train 4 steps: ≈15 s on 2 busy cores
def test_the_single_node_command_trains_a_created_run_with_two_cpu_processes(shakespeare_project, tmp_path) -> None:
    root = tmp_path / "my project"  # a space: the command must quote it
    project = private_copy(shakespeare_project, root)
    run = new_run(project, "tiny-gpt", TINY, max_steps=4)
    assert run.read()["status"] == "created" and not run.metrics_file.exists()

    commands = torchrun_commands(root, run.run_id, nproc_per_node=2, python=sys.executable)
    argv = shlex.split(commands["single_node"]["python_command"])  # what a shell would run
    proc = subprocess.run(argv, capture_output=True, text=True, env=_env(), cwd=ROOT, timeout=600)
    assert proc.returncode == 0, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr[-4000:]}"

    summaries = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    assert len(summaries) == 1, proc.stdout  # rank 0 alone prints
    summary = summaries[0]
    assert summary["ok"] and summary["run_id"] == run.run_id
    assert summary["steps"] == 4 and summary["world_size"] == 2
    info = run.read()
    assert info["status"] == "completed" and info["world_size"] == 2
    assert [r["step"] for r in _records(run.metrics_file) if r["kind"] == "step"] == [1, 2, 3, 4]
    assert [p.name for p in run.checkpoints_dir.iterdir()] == ["step-000004"]
    assert sorted(p.name for p in (root / "runs").iterdir()) == [run.run_id]  # no second run was made
