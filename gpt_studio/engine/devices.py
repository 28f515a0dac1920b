"""Devices, precision and data parallelism: the few places where CUDA, MPS and CPU differ.

``DistributedContext`` hides whether the process runs alone or under ``torchrun``: with one process every
method is a cheap no-op, so the trainer's loop is the same in both cases.
"""

from __future__ import annotations

import atexit
import ctypes
import functools
import os
import sys
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from gpt_studio.engine.errors import StudioError


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    """``auto`` → the first CUDA device (this rank's under torchrun), else Apple MPS, else the CPU."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", local_rank % torch.cuda.device_count())
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise StudioError("device=cuda was chosen but no CUDA GPU is available to torch here; use device=cpu "
                          "or install a CUDA build of torch (see README).")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise StudioError("device=mps was chosen but Apple's MPS backend is not available here; use cpu.")
    if name == "cuda":
        return torch.device("cuda", local_rank % torch.cuda.device_count())
    return torch.device(name)


def check_precision(device: torch.device, precision: str) -> None:
    """Refuse a precision the device cannot run, with the reason and an alternative."""
    if precision == "fp16" and device.type != "cuda":
        raise StudioError(f"fp16 training needs a CUDA GPU (loss scaling); on {device.type} use bf16 or fp32.")
    if precision == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
        raise StudioError("This GPU has no bfloat16 support (it predates Ampere); use fp16 or fp32.")
    if precision == "bf16" and device.type == "mps":
        raise StudioError("bf16 autocast is not supported on MPS here; use fp32.")


def autocast_context(device: torch.device, precision: str) -> AbstractContextManager[Any]:
    """Mixed precision for the forward pass; fp32 needs none."""
    if precision == "fp32":
        return nullcontext()
    dtype = torch.bfloat16 if precision == "bf16" else torch.float16
    return torch.autocast(device_type=device.type, dtype=dtype)


@functools.lru_cache(maxsize=1)
def cpu_fused_adamw() -> bool:
    """Whether this torch build has the fused AdamW kernel for CPU tensors (torch ≥ 2.4)."""
    try:
        param = nn.Parameter(torch.zeros(2))
        param.grad = torch.zeros(2)
        torch.optim.AdamW([param], fused=True).step()
        return True
    except (RuntimeError, TypeError, ValueError):
        return False


@functools.lru_cache(maxsize=1)
def keep_freed_memory() -> bool:
    """Keep the buffers a CPU training step frees inside the process (Linux/glibc; elsewhere a no-op).

    glibc hands large freed blocks back to the kernel, so every step page-faults its activations and
    gradients in again, zero-filled (shakespeare-char: ~1-2k faults and 2-7 ms of system time per ~40 ms
    step). Fixing the mmap threshold at its maximum (32 MiB) and the trim threshold at 1 GiB keeps them;
    the cost is that RSS stays at its peak. Returns whether the settings were applied.
    """
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (musl, ...)
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    m_trim_threshold, m_mmap_threshold = -1, -3  # <malloc.h>
    return bool(mallopt(m_mmap_threshold, 32 << 20)) and bool(mallopt(m_trim_threshold, 1 << 30))


def describe(device: torch.device) -> str:
    """A one-line description for status bars and run.json."""
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        return f"CUDA {props.name} ({props.total_memory / 2**30:.0f} GiB)"
    if device.type == "mps":
        return "Apple MPS"
    return f"CPU ({torch.get_num_threads()} threads)"


@dataclass
class DistributedContext:
    """Rank, world size and the collective operations the trainer needs (no-ops for one process)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @classmethod
    def from_environment(cls) -> DistributedContext:
        """Read torchrun's variables and join the process group (gloo on CPU, nccl on CUDA)."""
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world <= 1:
            return cls()
        import torch.distributed as dist

        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        if not dist.is_initialized():
            backend = "nccl" if torch.cuda.is_available() else "gloo"
            if backend == "nccl":
                gpus = torch.cuda.device_count()
                per_node = int(os.environ.get("LOCAL_WORLD_SIZE", str(local_rank + 1)))
                if per_node > gpus:
                    raise StudioError(f"torchrun started {per_node} processes on this machine but it has {gpus} "
                                      f"CUDA GPU(s); use --nproc-per-node={gpus} (one process per GPU), or hide "
                                      "the GPUs (CUDA_VISIBLE_DEVICES=) to train on CPUs.")
                torch.cuda.set_device(local_rank)
            dist.init_process_group(backend=backend)
            atexit.register(_leave_process_group)
        return cls(dist.get_rank(), dist.get_world_size(), local_rank)

    @property
    def is_main(self) -> bool:
        """Rank 0 alone writes logs and checkpoints."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        """Whether there is more than one process."""
        return self.world_size > 1

    def wrap(self, module: nn.Module, device: torch.device, *, find_unused_parameters: bool = False) -> nn.Module:
        """DistributedDataParallel around the module when there are several processes.

        ``find_unused_parameters`` must be set when some parameters never take part in the loss (a BERT
        with an NSP head trained without NSP): DDP otherwise fails on the second step.
        """
        if not self.active:
            return module
        import torch.distributed as dist
        from torch.nn.parallel import DistributedDataParallel

        if device.type not in ("cpu", "cuda"):
            raise StudioError(f"torchrun is supported on CUDA GPUs and CPUs, not {device.type}; set device=cpu.")
        if dist.get_backend() == "nccl":
            if device.type != "cuda":
                raise StudioError(f"Under torchrun on a machine with CUDA GPUs the processes talk over NCCL, so each "
                                  f"must train on its GPU, not on {device.type}: leave device=auto (or cuda), or "
                                  "hide the GPUs (CUDA_VISIBLE_DEVICES=) to train on CPUs.")
            if device.index != torch.cuda.current_device():
                raise StudioError(f"Under torchrun each process trains on the GPU of its local rank (cuda:"
                                  f"{torch.cuda.current_device()} here), not {device}: use device=auto or cuda.")
        ids = [device.index] if device.type == "cuda" else None
        return DistributedDataParallel(module, device_ids=ids, find_unused_parameters=find_unused_parameters)

    def no_sync(self, module: nn.Module) -> AbstractContextManager[Any]:
        """Skip the gradient all-reduce on accumulation micro-steps."""
        return module.no_sync() if self.active else nullcontext()  # type: ignore[operator]

    def mean(self, value: float) -> float:
        """Average of a scalar over ranks (for logging the global loss)."""
        if not self.active:
            return value
        import torch.distributed as dist

        tensor = _collective_tensor([value], torch.float64)
        dist.all_reduce(tensor)
        return float(tensor.item()) / self.world_size

    def any(self, flag: bool) -> bool:
        """True on every rank if it is true on any rank (so all ranks stop at the same step)."""
        if not self.active:
            return flag
        import torch.distributed as dist

        tensor = torch.tensor([1.0 if flag else 0.0])
        if dist.get_backend() == "nccl":
            tensor = tensor.cuda()
        dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
        return bool(tensor.item() > 0)

    def gather_objects(self, obj: Any) -> list[Any]:
        """Every rank's ``obj`` (as a list indexed by rank)."""
        if not self.active:
            return [obj]
        import torch.distributed as dist

        out: list[Any] = [None] * self.world_size
        dist.all_gather_object(out, obj)
        return out

    def broadcast_object(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank."""
        if not self.active:
            return obj
        import torch.distributed as dist

        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def barrier(self) -> None:
        """Wait for every rank."""
        if self.active:
            import torch.distributed as dist

            dist.barrier()


def _collective_tensor(values: list[float] | list[int], dtype: torch.dtype) -> torch.Tensor:
    """A small tensor on the device the process group communicates from (the GPU under NCCL)."""
    import torch.distributed as dist

    tensor = torch.tensor(values, dtype=dtype)
    return tensor.cuda() if dist.get_backend() == "nccl" else tensor


def _leave_process_group() -> None:
    """Leave the process group at exit (NCCL warns when a process ends without doing so)."""
    import torch.distributed as dist

    if dist.is_initialized():
        dist.destroy_process_group()
