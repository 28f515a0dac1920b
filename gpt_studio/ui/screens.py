"""Render GPT Studio offscreen to PNG files: welcome page, its dialogs, every pane, About, errors, a mid-run.

Usage::

    python -m gpt_studio.ui.screens OUTDIR [--project PATH] [--size 1280x800] [--dark]
                                           [--midrun-size 1600x1000] [--steps 200] [--no-midrun]

Without ``--project`` a sample project is built in a temporary folder as a user has it after the first steps:
Tiny Shakespeare imported, a 2000-piece tokenizer trained and the corpus encoded (the offline Python
documentation sample when the shared datasets are missing). The tokenizer preview shows typed text. Settings
go to a temporary folder too, so the user's recent projects are not touched. ``--dark`` previews dark mode
with a dark palette (the offscreen platform reports no system colour scheme). The mid-run view trains a real
run on the CPU from the Pretrain pane and is taken while it is paused half-way, after a learning-rate
correction (so its marker shows); the run is then stopped with a checkpoint.

Every shot waits for the state it shows, never for a fixed time: a pane built, the planner's figures current,
the plots redrawn, and then two identical frames in a row (layouts and deferred paints done).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QEventLoop, QTimer
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QWidget

DATASETS = Path(os.environ.get("GPT_STUDIO_DATASETS", Path(__file__).resolve().parents[3] / "shared" / "datasets"))
SHAKESPEARE = DATASETS / "tinyshakespeare" / "input.txt"
PREVIEW_TEXT = "To be, or not to be: that is the question.\nWhether 'tis nobler in the mind to suffer"
VOCAB_SIZE = 2000
READY_TIMEOUT_S = 120.0  # building a pane imports torch: seconds on a busy machine
FRAME_TIMEOUT_S = 3.0  # a blinking cursor may keep frames from ever matching; then the last frame is taken
MIDRUN_PRESET = "shakespeare-char"
MIDRUN_SETTINGS = {"batch_size": 16, "eval_interval": 50, "eval_batches": 4, "checkpoint_interval": 100,
                   "sample_tokens": 48, "warmup_steps": 20, "lr": 2e-3}
FINETUNE_PANE = 2


def build_sample_project(folder: Path) -> Path:
    """A project with a corpus imported, a tokenizer trained and the shards encoded.

    Tiny Shakespeare when the shared datasets are there, else the offline Python documentation sample.
    Training starts a process, so call this under ``if __name__ == "__main__"`` (as :func:`main` is).
    """
    from gpt_studio.engine.corpus import import_corpus
    from gpt_studio.engine.data import encode_corpus
    from gpt_studio.engine.project import init_project
    from gpt_studio.engine.samples import prepare_sample_project
    from gpt_studio.engine.tokenizer import TokenizerSettings, train_tokenizer

    if not SHAKESPEARE.is_file():
        project = init_project(folder / "python-docs")
        prepare_sample_project(project, vocab_size=VOCAB_SIZE)
        return project.root
    project = init_project(folder / "shakespeare")
    import_corpus(project, [SHAKESPEARE])
    train_tokenizer(project, TokenizerSettings(vocab_size=VOCAB_SIZE))
    encode_corpus(project)
    return project.root


# ------------------------------------------------------------------------------------------ waiting, saving

def spin(ms: int) -> None:
    """Run the event loop for ``ms`` (timers fire, queued signals arrive); the waits below poll with it."""
    loop = QEventLoop()
    QTimer.singleShot(ms, loop.quit)
    loop.exec()


def wait_until(condition: Callable[[], bool], what: str, timeout_s: float = READY_TIMEOUT_S) -> None:
    """Run the event loop until ``condition()`` holds; TimeoutError naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        spin(10)


def settled_frame(widget: QWidget, timeout_s: float = FRAME_TIMEOUT_S) -> QPixmap:
    """Grab ``widget`` until two grabs in a row are identical: layouts, deferred resizes and paints are done."""
    deadline = time.monotonic() + timeout_s
    spin(0)
    frame = widget.grab()
    while time.monotonic() < deadline:
        spin(20)
        again = widget.grab()
        if again.toImage() == frame.toImage():
            return again
        frame = again
    return frame


def save(widget: QWidget, path: Path, ready: Callable[[], bool] | None = None, what: str = "") -> Path:
    """Wait until ``ready()`` (if given) and the frame settles, then write ``widget`` as a PNG."""
    if ready is not None:
        wait_until(ready, what or f"{path.name} to be ready")
    if not settled_frame(widget).save(str(path)):
        raise OSError(f"could not write {path}")
    print(path)
    return path


def pretrain_ready(pane: Any) -> bool:
    """The Pretrain pane as a person sees it once it has settled.

    Its body is built after it is first shown, and the planner recomputes on a 150 ms debounce: grabbing
    earlier showed a blank planner, and once a smoothing slider squeezed into a square that looked like a
    checkbox because the layout had not run yet. So: built, the planner's figures current (or the form
    refusing a setting), the monitor redrawn, and its slider laid out at its real width.
    """
    if getattr(pane, "meta", None) is None:  # no project or no shards: the empty state is final
        return True
    if not pane.built:
        return False
    planner, monitor = pane.planner, pane.monitor
    figures = planner.plan is not None and planner.values["parameters"].text() != "—"
    if not planner.is_settled or not (figures or not pane.form.is_valid):
        return False
    slider = getattr(monitor, "smoothing", None)
    laid_out = slider is None or slider.width() > 2 * slider.height()
    return laid_out and not getattr(monitor, "redraw_pending", False)


def corpus_ready(pane: Any) -> bool:
    """The Corpus & Tokenizer pane has checked which vocab sizes its corpus can fill."""
    hint = getattr(getattr(pane, "tokenizer", None), "range_hint", None)
    return hint is None or not hint.is_checking


PANE_READY: dict[int, Callable[[Any], bool]] = {0: corpus_ready, 1: pretrain_ready}  # when a pane shows its state


# ---------------------------------------------------------------------------------------- the main window

def _type_preview(window: Any) -> None:
    """Put text in the Corpus & Tokenizer pane's live preview, as a user trying the tokenizer would."""
    pane = window.pane_widget(0)
    section = getattr(pane, "tokenizer", None)
    if section is not None and hasattr(section, "preview_input"):
        section.preview_input.setPlainText(PREVIEW_TEXT)
        section.update_preview()


def _slug(title: str) -> str:
    return title.replace("&&", "").replace(" ", "-").replace("--", "-").lower()


def render(outdir: Path, project: Path, size: tuple[int, int], dark: bool) -> list[Path]:
    """Render the welcome page and its dialogs, every pane, About and the error dialog; returns the files."""
    from gpt_studio.ui import about, error_dialog
    from gpt_studio.ui.main_window import PANES, MainWindow

    suffix = _start(outdir, dark)
    window = MainWindow(warm_up=False)
    window.set_device_description(about.detect_compute_device())
    window.recent.add(project)
    window.close_project()
    window.resize(*size)
    window.show()
    written = [save(window, outdir / f"welcome{suffix}.png")]
    written += _dialog_shots(window, outdir, suffix)
    window.open_project_path(project)
    _type_preview(window)
    for index, spec in enumerate(PANES):
        window.show_pane(index)
        ready = PANE_READY.get(index)
        pane = window.pane_widget(index)
        condition = (lambda r=ready, p=pane: r(p)) if ready else None
        written.append(save(window, outdir / f"pane-{index + 1}-{_slug(spec.title)}{suffix}.png", condition,
                            f"the {spec.title} pane to settle"))
    box = about.show_about(window, window.device_description)
    written.append(save(box, outdir / f"about{suffix}.png"))
    box.close()
    box = error_dialog.show_error(window, "/tmp/notes is not a GPT Studio project (no studio.json); create one "
                                  "with `gpt-studio init /tmp/notes`.", "Traceback (most recent call last): …")
    written.append(save(box, outdir / f"error{suffix}.png"))
    box.close()
    _close(window)
    return written


def _dialog_shots(window: Any, outdir: Path, suffix: str) -> list[Path]:
    """Settings (once the devices are known), keyboard shortcuts, and naming a project to import a model into."""
    dialog = window.show_settings()
    written = [save(dialog, outdir / f"settings{suffix}.png", lambda: dialog.detected is not None,
                    "the settings dialog to know the devices")]
    dialog.reject()
    for name, opened in (("shortcuts", window.show_shortcuts()), ("new-project-import",
                                                                   window.import_model_into_new_project())):
        written.append(save(opened, outdir / f"{name}{suffix}.png"))
        opened.reject()
    return written


def _start(outdir: Path, dark: bool) -> str:
    """Create the application (light or dark) and ``outdir``; returns the file-name suffix."""
    from gpt_studio.ui import app, theme

    outdir.mkdir(parents=True, exist_ok=True)
    qapp = app.create_application([])
    if dark:
        qapp.setPalette(theme.dark_palette())
        theme.sync_plot_colors(qapp.palette())
    return "-dark" if dark else ""


def _close(window: Any) -> None:
    """Close a window the way a person does (panes stop their jobs), then let deferred deletes run."""
    window.close()
    spin(0)


# ------------------------------------------------------------------------------------ the Fine-tune pane

def render_finetune_shots(outdir: Path, project: Path, size: tuple[int, int], dark: bool) -> list[Path]:
    """The Fine-tune wizard's step-by-step shots (``finetune_screens.render_finetune``) in a main window."""
    from gpt_studio.ui.finetune_screens import render_finetune
    from gpt_studio.ui.main_window import MainWindow

    _start(outdir, dark)
    window = MainWindow(warm_up=False)
    window.resize(*size)
    window.show()
    window.open_project_path(project)
    window.show_pane(FINETUNE_PANE)
    try:
        return [Path(p) for p in render_finetune(window, outdir) or []]
    finally:
        _close(window)


# --------------------------------------------------------------------------------- the Pretrain pane mid-run

def render_pretrain_midrun(outdir: Path, project: Path, size: tuple[int, int], steps: int,
                           dark: bool = False) -> list[Path]:
    """Train a run from the Pretrain pane, pause it half-way after an lr × 0.5 correction, and shoot the pane."""
    from gpt_studio.engine.project import open_project
    from gpt_studio.ui.panes.pretrain_pane import PretrainPane
    from gpt_studio.ui.state import AppState

    suffix = _start(outdir, dark)
    state = AppState()
    state.set_project(open_project(project))
    pane = PretrainPane(state)
    pane.resize(*size)
    pane.show()
    pane.ensure_built()
    try:
        _configure_midrun(pane, steps)
        _train_to_half_way(pane, steps)
        written = [save(pane, outdir / f"pane-2-pretrain-midrun{suffix}.png",
                        lambda: pretrain_ready(pane) and pane.monitor.step_count >= steps // 2,
                        "the paused run to be drawn")]
        pane.stop()
        wait_until(lambda: pane.job is None, "the run to stop with a checkpoint")
    finally:
        pane.shutdown()
        pane.close()
    return written


def _configure_midrun(pane: Any, steps: int) -> None:
    """The nanoGPT character model with short evaluations, and its speed measured for the planner."""
    pane.form.preset.setCurrentIndex(pane.form.preset.findData(MIDRUN_PRESET))
    for key, value in {**MIDRUN_SETTINGS, "max_steps": steps}.items():
        pane.form.fields[key].set_value(value)
    wait_until(lambda: pane.form.is_valid and pane.planner.is_settled, "the form and the planner")
    pane.planner.measure()
    wait_until(lambda: pane.planner.is_settled and pane.planner.tokens_per_second is not None,
               "the throughput measurement")


def _train_to_half_way(pane: Any, steps: int) -> None:
    """Start, pause at a third for a learning-rate correction, and pause again half-way."""
    if pane.start_run() is None:
        raise RuntimeError(f"the Pretrain pane did not start a run: {pane.form.reason or 'see the message'}")
    wait_until(lambda: pane.monitor.step_count >= steps // 3, "a third of the steps", 600)
    _pause(pane)
    pane.apply_corrections({"lr_scale": 0.5})
    wait_until(lambda: pane.monitor.step_count >= steps // 2, "half of the steps", 600)
    _pause(pane)


def _pause(pane: Any) -> None:
    pane.pause()
    wait_until(lambda: pane.controls.mode == "paused", "the run to pause")


# ------------------------------------------------------------------------------------------------ command

def render_all(outdir: Path, project: Path, size: tuple[int, int], dark: bool,
               midrun_size: tuple[int, int] | None, steps: int) -> list[Path]:
    """Every shot: the window's screens, the Fine-tune pane's (when it has some), the Pretrain pane mid-run."""
    written = render(outdir, project, size, dark)
    written += render_finetune_shots(outdir, project, size, dark)
    if midrun_size is not None:
        written += render_pretrain_midrun(outdir, project, midrun_size, steps, dark)
    return written


def _size(text: str) -> tuple[int, int]:
    width, height = (int(v) for v in text.lower().split("x"))
    return width, height


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry: parse options, prepare settings and a project, render."""
    parser = argparse.ArgumentParser(prog="python -m gpt_studio.ui.screens", description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--project", type=Path, help="project to show (default: a sample built in a temp folder)")
    parser.add_argument("--size", default="1280x800", help="window size in logical pixels, WIDTHxHEIGHT")
    parser.add_argument("--dark", action="store_true", help="preview with a dark palette")
    parser.add_argument("--midrun-size", default="1600x1000", help="size of the mid-run Pretrain pane shot")
    parser.add_argument("--steps", type=int, default=200, help="steps of the mid-run run (paused half-way)")
    parser.add_argument("--no-midrun", action="store_true", help="skip the mid-run shot (it trains for a minute)")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    with tempfile.TemporaryDirectory(prefix="gpt-studio-screens-") as tmp:
        os.environ["GPT_STUDIO_SETTINGS_DIR"] = str(Path(tmp) / "settings")
        project = args.project.resolve() if args.project else build_sample_project(Path(tmp))
        render_all(args.outdir, project, _size(args.size), args.dark,
                   None if args.no_midrun else _size(args.midrun_size), args.steps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
