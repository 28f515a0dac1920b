"""The Pretrain pane's questions to the user: mid-flight corrections, branching, how far to resume; run endings.

Each function opens a dialog with what it needs from a run's files and calls back with the answer, so the
pane keeps only the decisions (what to launch). Dialogs are window-modal (``open``), never ``exec``: the
event loop keeps running, so a paused run's signals and the monitor's redraws go on behind them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Qt, Slot
from PySide6.QtWidgets import QInputDialog, QProgressDialog, QWidget

from gpt_studio.engine.runs import RunDir
from gpt_studio.ui.widgets.runs_list import RunRow, history_reader

INT_MAX = 2**31 - 1
DEFAULT_LR, DEFAULT_CLIP, DEFAULT_EVAL_INTERVAL = 6e-4, 1.0, 250  # TrainConfig's defaults, for a run.json without them
BUSY_DELAY_MS = 300  # a busy dialog only for a read that takes longer than this (a shorter one would flicker)


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
    """Choose one of ``run``'s checkpoints and a new total; accepting calls ``branch(run_id, step, total)``.

    The dialog shows each checkpoint's validation loss, so the run's evaluations are read first, on a worker
    (seconds for a long run): meanwhile a busy dialog offers Cancel, and cancelling it or closing the pane
    stops the reading. Returns the dialog shown now: the branch dialog, or for a long run the busy one.
    """
    return _BranchOpener(parent, run, info, branch).start()


class _BranchOpener(QObject):
    """Reads a run's evaluations in the background, then opens the branch dialog (a busy dialog meanwhile).

    A child of the pane, so it is deleted on the GUI thread, with the pane at the latest; deleting it cancels
    the reading. Its reader is parentless (see RunHistoryReader): it lives until its thread ends.
    """

    def __init__(self, parent: QWidget, run: RunDir, info: dict[str, Any],
                 branch: Callable[[str, int, int], Any]) -> None:
        super().__init__(parent)
        self._widget, self._run, self._info, self._branch = parent, run, info, branch
        self.dialog: QWidget | None = None
        self._progress: QProgressDialog | None = None
        self._reader = history_reader(run, steps=False)

    def start(self) -> QWidget:
        """Start reading; returns the branch dialog when the run was read at once, else the busy dialog."""
        reader = self._reader
        if reader is None:  # this build lacks the readers: no losses beside the checkpoints
            return self._open({})
        reader.loaded.connect(self._on_loaded)
        reader.failed.connect(self._on_failed)
        self.destroyed.connect(reader.cancel)  # the pane went away while reading
        reader.start()
        if self.dialog is not None:  # a short run is read at once
            return self.dialog
        self._progress = progress = QProgressDialog(f"Reading the evaluations of {self._run.run_id}…", "Cancel",
                                                    0, 0, self._widget)
        progress.setWindowTitle("Branch from a checkpoint")
        progress.setWindowModality(Qt.WindowModality.WindowModal)
        progress.setMinimumDuration(BUSY_DELAY_MS)
        progress.canceled.connect(self._on_cancelled)
        progress.setValue(0)  # shows it after BUSY_DELAY_MS, unless the evaluations are read by then
        return progress

    @Slot(str, object, object)
    def _on_loaded(self, _run_id: str, _steps: list[Any], events: list[Any]) -> None:
        self._open({e.step: e.val_loss for e in events if e.kind == "eval"})

    @Slot(str, str)
    def _on_failed(self, _reason: str, _details: str) -> None:
        self._open({})  # the losses only annotate the checkpoints: branching works without them

    @Slot()
    def _on_cancelled(self) -> None:
        self._reader.cancel()
        self._end()

    def _open(self, losses: dict[int, float]) -> QWidget:
        from gpt_studio.engine.checkpoint import list_checkpoints
        from gpt_studio.ui.widgets.run_controls import BranchDialog

        self._end()
        run, branch = self._run, self._branch
        steps = [c.step for c in list_checkpoints(run.checkpoints_dir)]
        total = int(self._info.get("max_steps") or self._info.get("train", {}).get("max_steps") or 1)
        self.dialog = dialog = BranchDialog(run.run_id, steps, losses, total, self._widget)
        dialog.accepted.connect(lambda: branch(run.run_id, dialog.chosen_step(), dialog.total_steps()))
        return _show(dialog)

    def _end(self) -> None:
        """Put the busy dialog away (without its close event, which would say cancelled) and go."""
        if self._progress is not None:
            self._progress.canceled.disconnect(self._on_cancelled)
            self._progress.deleteLater()
            self._progress = None
        self.deleteLater()


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
