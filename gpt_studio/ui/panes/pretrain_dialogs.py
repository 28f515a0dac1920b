"""The Pretrain pane's questions to the user: mid-flight corrections, branching, how far to resume; run endings.

Each function opens a dialog with what it needs from a run's files and calls back with the answer, so the
pane keeps only the decisions (what to launch). Dialogs are window-modal (``open``), never ``exec``: the
event loop keeps running, so a paused run's signals and the monitor's redraws go on behind them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QInputDialog, QWidget

from gpt_studio.engine.runs import RunDir
from gpt_studio.ui.widgets.runs_list import RunRow, run_history

INT_MAX = 2**31 - 1
DEFAULT_LR, DEFAULT_CLIP, DEFAULT_EVAL_INTERVAL = 6e-4, 1.0, 250  # TrainConfig's defaults, for a run.json without them


def open_corrections(parent: QWidget, train: dict[str, Any], last_lr: float | None,
                     apply: Callable[[dict[str, Any]], None]) -> QWidget:
    """The corrections dialog for a paused run whose run.json holds ``train``; accepting calls ``apply(changes)``."""
    from gpt_studio.ui.widgets.run_controls import CorrectionsDialog

    dialog = CorrectionsDialog(last_lr or train.get("lr", DEFAULT_LR), train.get("grad_clip", DEFAULT_CLIP),
                               train.get("eval_interval", DEFAULT_EVAL_INTERVAL), parent)
    dialog.accepted.connect(lambda: apply(dialog.changes()))
    return _show(dialog)


def open_branch(parent: QWidget, run: RunDir, info: dict[str, Any],
                branch: Callable[[str, int, int], Any]) -> QWidget:
    """Choose one of ``run``'s checkpoints and a new total; accepting calls ``branch(run_id, step, total)``."""
    from gpt_studio.engine.checkpoint import list_checkpoints
    from gpt_studio.ui.widgets.run_controls import BranchDialog

    steps = [c.step for c in list_checkpoints(run.checkpoints_dir)]
    losses = {e.step: e.val_loss for e in run_history(run) if e.kind == "eval"}
    total = int(info.get("max_steps") or info.get("train", {}).get("max_steps") or 1)
    dialog = BranchDialog(run.run_id, steps, losses, total, parent)
    dialog.accepted.connect(lambda: branch(run.run_id, dialog.chosen_step(), dialog.total_steps()))
    return _show(dialog)


def ask_resume_total(parent: QWidget, row: RunRow) -> tuple[bool, int | None]:
    """(go on?, new total steps): a completed run needs a larger total to train on; others keep theirs."""
    if row.status != "completed" or not row.max_steps:
        return True, None
    total, ok = QInputDialog.getInt(parent, "Resume run", f"{row.run_id} has completed its {row.max_steps:,} steps. "
                                    "Train on until step:", row.max_steps * 2, row.max_steps + 1, INT_MAX, 100)
    return ok, total if ok else None


def summary_text(summary: dict[str, Any] | None) -> str:
    """One line about how a run ended."""
    if not summary:
        return "The run did not start or failed; see the message."
    reason = {"completed": "Completed", "stopped": "Stopped", "error": "Ended with an error"}.get(
        summary.get("reason", ""), "Ended")
    text = f"{reason} at step {summary.get('steps', 0):,}"
    if summary.get("final_val_loss") is not None:
        text += f": val loss {summary['final_val_loss']:.4f}"
    if summary.get("best_val_loss") is not None:
        text += f" (best {summary['best_val_loss']:.4f})"
    if summary.get("error"):
        text += f". {summary['error']}"
    return text + "."


def _show(dialog: Any) -> Any:
    dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dialog.open()
    return dialog
