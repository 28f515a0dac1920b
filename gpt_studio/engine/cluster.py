"""The ``torchrun`` command lines that train a run created beforehand, on one machine or several.

Why a prepared run: the app writes run.json (the form's configuration) into the project first and the
command only says ``--resume RUN_ID``, so every process on every node trains exactly that configuration
and the app knows the run folder to follow before any process starts. A run without a checkpoint
"resumes" from step 0. Commands are strings a person pastes into a shell, so every argument is quoted
with :func:`shlex.quote` (a project path with spaces still works).
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

DEFAULT_RDZV_PORT = 29400  # torchrun's documented c10d example port; 29500 is the static master port


def default_nproc_per_node() -> int:
    """One process per GPU this machine sees, else 2 CPU processes (the smallest that is data parallel)."""
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 2


def parse_endpoint(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6-address]:PORT`` too) as (host, port); ValueError says what is wrong.

    Checked here, not left to torchrun, because a typo there only shows as a rendezvous timeout minutes
    later on every node.
    """
    text = text.strip()
    host, sep, port_text = text.rpartition(":")
    if not sep or not host:
        raise ValueError("Give the rendezvous endpoint as HOST:PORT, for example node-a:29400.")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    if not host or any(c.isspace() for c in host) or (":" in host and not text.startswith("[")):
        raise ValueError(f"{host!r} is not a host name or address (write an IPv6 address as [addr]:PORT).")
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"The port {port_text!r} is not a number (for example node-a:29400).") from None
    if not 1 <= port <= 65535:
        raise ValueError(f"The port must be between 1 and 65535, not {port}.")
    return host, port


def torchrun_commands(project_root: str | Path, run_id: str, *, nproc_per_node: int, nnodes: int = 1,
                      rdzv_endpoint: str | None = None, rdzv_id: str | None = None,
                      python: str = "python") -> dict[str, Any]:
    """The commands that train ``run_id`` under torchrun: ``single_node`` always, ``multi_node`` when nnodes > 1.

    Each command is a dict with ``command`` (``torchrun ...``), ``python_command`` (the same through
    ``python -m torch.distributed.run``, for a shell where torchrun is not on the PATH), ``argv`` (the
    python command as a list, ready for ``subprocess``) and a one-line ``note``. ``world_size`` is the
    process count a later resume must use again.
    """
    if nproc_per_node < 1:
        raise ValueError("Processes per node must be at least 1.")
    if nnodes < 1:
        raise ValueError("The number of nodes must be at least 1.")
    tail = ["-m", "gpt_studio", "pretrain", str(project_root), "--resume", run_id, "--json"]
    single = ["--standalone", f"--nproc-per-node={nproc_per_node}"]
    commands: dict[str, Any] = {
        "run_id": run_id, "world_size": nproc_per_node * nnodes,
        "single_node": _command(python, single + tail,
                                f"On one machine: {nproc_per_node} processes. Resume this run later with the same "
                                f"--nproc-per-node={nproc_per_node}; the run folder is written into the project."),
    }
    if nnodes > 1:
        if not rdzv_endpoint:
            raise ValueError("Several nodes need a rendezvous endpoint HOST:PORT that every node can reach.")
        parse_endpoint(rdzv_endpoint)
        multi = [f"--nnodes={nnodes}", f"--nproc-per-node={nproc_per_node}", "--rdzv-backend=c10d",
                 f"--rdzv-endpoint={rdzv_endpoint.strip()}", f"--rdzv-id={rdzv_id or run_id}"]
        commands["multi_node"] = _command(
            python, multi + tail,
            f"Run this same command on each of the {nnodes} nodes, with the project folder at this path on a file "
            f"system they all share; resume with the same {nnodes} × {nproc_per_node} processes.")
    return commands


def _command(python: str, args: list[str], note: str) -> dict[str, Any]:
    argv = [python, "-m", "torch.distributed.run", *args]
    return {"command": shlex.join(["torchrun", *args]), "python_command": shlex.join(argv), "argv": argv,
            "note": note}
