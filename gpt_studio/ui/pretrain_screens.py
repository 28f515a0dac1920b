"""Render the Pretrain pane offscreen mid-run to PNG files: configuration, planner, live plots, runs list.

Usage::

    python -m gpt_studio.ui.pretrain_screens OUTDIR [--project PATH] [--size 1600x1000] [--steps 300]

Without ``--project`` a project is built in a temporary folder from Tiny Shakespeare (a 1000-piece BPE
tokenizer and encoded shards), the same data the tests use. A real run trains on the CPU; the shots are
taken while it is paused half-way (after a learning-rate correction, so its marker shows), then the run is
stopped with a checkpoint. Kept apart from ``screens.py`` so the two can change independently.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtWidgets import QApplication, QWidget

DATASETS = Path(os.environ.get("GPT_STUDIO_DATASETS", Path(__file__).resolve().parents[3] / "shared" / "datasets"))
SHAKESPEARE = DATASETS / "tinyshakespeare" / "input.txt"
RUN_SETTINGS = {"batch_size": 16, "eval_interval": 50, "eval_batches": 4, "checkpoint_interval": 100,
                "sample_tokens": 48, "warmup_steps": 20, "lr": 2e-3}


def build_project(folder: Path) -> Path:
    """Tiny Shakespeare imported, a 1000-piece BPE tokenizer trained and the corpus encoded."""
    from gpt_studio.engine.corpus import import_corpus
    from gpt_studio.engine.data import encode_corpus
    from gpt_studio.engine.project import init_project
    from gpt_studio.engine.tokenizer import TokenizerSettings, train_tokenizer

    if not SHAKESPEARE.is_file():
        raise SystemExit(f"{SHAKESPEARE} is missing; pass --project with encoded shards.")
    project = init_project(folder / "shakespeare")
    import_corpus(project, [SHAKESPEARE])
    train_tokenizer(project, TokenizerSettings(model_type="bpe", vocab_size=1000))
    encode_corpus(project)
    return project.root


def _wait(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        QApplication.processEvents()
        time.sleep(0.01)


def _save(widget: QWidget, path: Path) -> Path:
    deadline = time.monotonic() + 0.3  # the planner (debounced) and the monitor redraw on timers, then lay out
    while time.monotonic() < deadline:
        QApplication.processEvents()
        time.sleep(0.02)
    if not widget.grab().save(str(path)):
        raise OSError(f"could not write {path}")
    print(path)
    return path


def _window_shot(path: Path, project_root: Path) -> Path:
    """The pane as the main window shows it at the default screenshot size, before any run."""
    from gpt_studio.ui.main_window import MainWindow

    window = MainWindow(warm_up=False)
    window.resize(1280, 800)
    window.show()
    window.open_project_path(project_root)
    window.show_pane(1)
    _wait(lambda: getattr(window.pane_widget(1), "built", True), 60, "the pane to build")
    _save(window, path)
    window.close()
    return path


def render(outdir: Path, project_root: Path, size: tuple[int, int], steps: int) -> list[Path]:
    """Train a run from the pane, pause it half-way and write the screenshots; returns the files."""
    from gpt_studio.engine.project import open_project
    from gpt_studio.ui import app, theme
    from gpt_studio.ui.panes.pretrain_pane import PretrainPane
    from gpt_studio.ui.state import AppState

    outdir.mkdir(parents=True, exist_ok=True)
    qapp = app.create_application([])
    theme.apply_theme(qapp)
    written = [_window_shot(outdir / "pane-2-pretrain-window.png", project_root)]
    state = AppState()
    state.set_project(open_project(project_root))
    pane = PretrainPane(state)
    pane.resize(*size)
    pane.show()
    pane.ensure_built()
    fields = pane.form.fields
    fields["d_model"].set_value(100)
    fields["n_head"].set_value(3)
    written.append(_save(pane, outdir / "pretrain-invalid.png"))
    pane.form.preset.setCurrentIndex(pane.form.preset.findData("shakespeare-char"))
    for key, value in {**RUN_SETTINGS, "max_steps": steps}.items():
        fields[key].set_value(value)
    pane.planner.measure()
    _wait(lambda: not pane.planner.job_bar.is_running, 120, "the throughput measurement")
    written.append(_save(pane.planner, outdir / "pretrain-planner.png"))
    job = pane.start_run()
    _wait(lambda: pane.monitor.step_count >= steps // 3, 600, "a third of the steps")
    pane.pause()
    _wait(lambda: pane.controls.mode == "paused", 60, "the pause")
    pane.apply_corrections({"lr_scale": 0.5})
    _wait(lambda: pane.monitor.step_count >= steps // 2, 600, "half of the steps")
    pane.pause()
    _wait(lambda: pane.controls.mode == "paused", 60, "the pause")
    written.append(_save(pane, outdir / "pane-2-pretrain.png"))
    written.append(_save(pane.monitor, outdir / "pretrain-monitor.png"))
    pane.stop()
    _wait(lambda: pane.job is None, 120, "the stop")
    pane.runs.refresh()
    written.append(_save(pane, outdir / "pretrain-stopped.png"))
    del job
    pane.shutdown()
    pane.close()
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry: parse options, prepare a project, render."""
    parser = argparse.ArgumentParser(prog="python -m gpt_studio.ui.pretrain_screens",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--project", type=Path, help="a project with encoded shards (default: built from Tiny "
                                                     "Shakespeare in a temporary folder)")
    parser.add_argument("--size", default="1600x1000", help="pane size in logical pixels, WIDTHxHEIGHT")
    parser.add_argument("--steps", type=int, default=300, help="steps of the run (paused half-way)")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    with tempfile.TemporaryDirectory(prefix="gpt-studio-pretrain-screens-") as tmp:
        os.environ["GPT_STUDIO_SETTINGS_DIR"] = str(Path(tmp) / "settings")
        root = args.project.resolve() if args.project else build_project(Path(tmp))
        render(args.outdir, root, (width, height), args.steps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
