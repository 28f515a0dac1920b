"""TensorBoard event files beside metrics.jsonl, for people who keep their usual tool (optional extra).

metrics.jsonl stays the run's record; this listener only mirrors the trainer's events into
``runs/<id>/tensorboard/`` so ``tensorboard --logdir PROJECT/runs`` shows every run of a project.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gpt_studio.engine.errors import StudioError

INSTALL_HINT = "pip install 'gpt-studio[tensorboard]' (or: pip install tensorboard)"
FLUSH_SECONDS = 10  # a killed run loses at most this much of its TensorBoard view (metrics.jsonl loses nothing)


def tensorboard_available() -> bool:
    """Whether the tensorboard package (needed by torch's SummaryWriter) is installed."""
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        return False
    return True


class TensorBoardListener:
    """A trainer listener writing steps, evaluations and samples as TensorBoard scalars and text."""

    def __init__(self, log_dir: Path, purge_step: int | None = None) -> None:
        """Open the writer; ``purge_step`` drops events at or after that step left by a run that crashed."""
        if not tensorboard_available():
            raise StudioError(f"tensorboard=true needs the tensorboard package (not installed): {INSTALL_HINT}.")
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(str(log_dir), purge_step=purge_step or None, flush_secs=FLUSH_SECONDS)

    def __call__(self, event: Any) -> None:
        """Mirror one trainer event."""
        kind, step, add = event.kind, event.step, self.writer.add_scalar
        if kind == "step":
            add("train/loss", event.loss, step)
            add("train/learning_rate", event.lr, step)
            add("train/grad_norm", event.grad_norm, step)
            add("train/tokens_per_second", event.tokens_per_second, step)
        elif kind == "eval":
            add("val/loss", event.val_loss, step)
            add("val/perplexity", event.val_perplexity, step)
            if event.val_bits_per_byte is not None:
                add("val/bits_per_byte", event.val_bits_per_byte, step)
        elif kind == "sample":
            self.writer.add_text("samples", "    " + event.text.replace("\n", "\n    "), step)  # markdown code block
        elif kind in ("end", "error"):
            self.writer.flush()
            if kind == "end":
                self.writer.close()
