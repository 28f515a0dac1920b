"""Render the Fine-tune wizard offscreen to PNG files, page by page, with the sample sentiment data.

Usage::

    python -m gpt_studio.ui.finetune_screens OUTDIR [--project PATH] [--size 1400x900] [--steps 300]

Without ``--project`` a project is built in a temporary folder from Tiny Shakespeare (a 1000-piece BPE
tokenizer, as the tests use) and a tiny GPT is pretrained for ``--steps`` steps; the wizard then
fine-tunes it on the labelled sentences for real. Kept apart from ``screens.py`` so the two change
independently. :func:`render_finetune` does the driving and works on a main window or a bare pane.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gpt_studio.ui.screens import save, wait_until

DATASETS = Path(os.environ.get("GPT_STUDIO_DATASETS", Path(__file__).resolve().parents[3] / "shared" / "datasets"))
SENTIMENT = DATASETS / "sentiment_labelled_sentences" / "sentiment.csv"
SHAKESPEARE = DATASETS / "tinyshakespeare" / "input.txt"
PRETRAIN_STEPS = 300
PRETRAIN_SETTINGS = {"batch_size": 16, "eval_interval": 100, "eval_batches": 4, "checkpoint_interval": 1000,
                     "sample_tokens": 0, "warmup_steps": 20, "lr": 2e-3}
# λ = 0: on a 168K-parameter model the auxiliary LM loss drowns the task (sentiment, 1,200 rows: accuracy 0.63
# with λ 0.5, 0.73 with 0; measured 2026-11-24), and the shots should show a model that learned something.
OPTIONS = {"epochs": 4, "lr": "3e-3", "aux": 0.0, "batch": 16, "max_examples": 1200, "name": "sentiment-demo"}


def _pane_of(target: Any) -> Any:
    """The Fine-tune pane of a main window (shown), or the pane itself."""
    if hasattr(target, "pane_widget"):
        target.show_pane(2)
        return target.pane_widget(2)
    return target


def render_finetune(window_or_pane: Any, outdir: str | os.PathLike[str], data: Path = SENTIMENT,
                    timeout_s: float = 600, pretrain_if_missing: bool = True) -> list[Path]:
    """Drive the wizard through every step on ``data`` (training for real) and grab each step; returns the PNGs.

    A project without a pretrained model is shot in that empty state first; then (unless told not to) a tiny
    GPT is pretrained into it for a few seconds, so the remaining steps have a base to start from.
    """
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    pane = _pane_of(window_or_pane)
    pane.ensure_built()
    wizard = pane.wizard
    shots: list[Path] = []

    def shot(name: str) -> None:
        shots.append(save(window_or_pane, outdir / f"finetune-{name}.png"))

    wizard.go_to(0)
    if wizard.base_page.tree.topLevelItemCount() == 0:  # e.g. screens.py's fresh sample project
        shot("0-no-model")
        if not pretrain_if_missing:
            return shots
        pretrain_tiny(wizard.choices.project, PRETRAIN_STEPS)
        wizard.go_to(0)
    wizard.base_page.select(0)
    shot("1-base")
    wizard.go_next()
    wizard.task_page.choose("classification")
    shot("2-tasks")
    wizard.go_next()
    wizard.data_page.set_train_file(data)
    wait_until(lambda: not wizard.data_page.busy(), "the data file to be read", timeout_s)
    wizard.data_page.table.selectRow(1)
    shot("3-mapping")
    wizard.go_next()
    labels = wizard.labels_page
    if "positive" in wizard.choices.label_counts:
        labels.rename("positive", "good")  # show an edit in the table
        labels.rename("positive", "positive")
    shot("4-labels")
    wizard.go_next()
    options = dict(OPTIONS)
    if (wizard.choices.project.models_dir / options["name"]).exists():  # rendered into this project before
        options["name"] += time.strftime("-%Y%m%d-%H%M%S")
    wizard.options_page.set_values(**options)
    shot("5-options")
    if not wizard.go_next():
        raise RuntimeError(f"could not start training: {wizard.reason_label.text()}")
    wait_until(lambda: len(wizard.train_page.steps) >= 40, "training to get going", timeout_s)
    shot("6-train-live")
    wait_until(lambda: not wizard.train_page.busy(), "training to end", timeout_s)
    shot("6-train")
    wizard.go_next()
    shot("7-results")
    results = wizard.results_page  # the paper's layer sweep, run for real on the same choices (3 models here)
    results.tabs.setCurrentWidget(results.analyses)
    results.analyses.sweep_button.click()
    wait_until(lambda: not results.analyses.busy(), "the layer sweep to end", timeout_s)
    shot("9-analyses")
    results.tabs.setCurrentIndex(0)
    wizard.go_next()
    shot("8-save")
    return shots


def pretrain_tiny(project: Any, steps: int) -> str:
    """Pretrain a tiny GPT for ``steps`` steps (seconds on a CPU; blocks, which a screenshot script may)."""
    from gpt_studio.engine.pretrain import pretrain

    return str(pretrain(project, preset_name="tiny-gpt", max_steps=steps, settings=PRETRAIN_SETTINGS)["run_id"])


def prepare_project(folder: Path, steps: int) -> Path:
    """Tiny Shakespeare imported, a 1000-piece BPE tokenizer, shards, and a tiny GPT pretrained on them."""
    from gpt_studio.engine.corpus import import_corpus
    from gpt_studio.engine.data import encode_corpus
    from gpt_studio.engine.project import init_project
    from gpt_studio.engine.tokenizer import TokenizerSettings, train_tokenizer

    if not SHAKESPEARE.is_file():
        raise SystemExit(f"{SHAKESPEARE} is missing; pass --project with a pretrained run.")
    project = init_project(folder / "shakespeare")
    import_corpus(project, [SHAKESPEARE])
    train_tokenizer(project, TokenizerSettings(model_type="bpe", vocab_size=1000))
    encode_corpus(project)
    pretrain_tiny(project, steps)
    return project.root


def render(outdir: Path, project_root: Path, size: tuple[int, int], dark: bool = False) -> list[Path]:
    """Open ``project_root`` in a main window of ``size`` and render the wizard's steps."""
    from gpt_studio.ui import app, theme
    from gpt_studio.ui.main_window import MainWindow

    qapp = app.create_application([])
    if dark:
        qapp.setStyle("Fusion")
        qapp.setPalette(theme.dark_palette())
    theme.apply_theme(qapp)
    window = MainWindow(warm_up=False)
    window.resize(*size)
    window.show()
    window.open_project_path(project_root)
    try:
        return render_finetune(window, outdir)
    finally:
        pane = window.pane_widget(2)
        if hasattr(pane, "shutdown"):
            pane.shutdown()
        window.close()


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry: parse options, prepare a project, render."""
    parser = argparse.ArgumentParser(prog="python -m gpt_studio.ui.finetune_screens",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--project", type=Path, help="a project with a pretrained run (default: built from Tiny "
                                                     "Shakespeare in a temporary folder)")
    parser.add_argument("--size", default="1400x900", help="window size in logical pixels, WIDTHxHEIGHT")
    parser.add_argument("--steps", type=int, default=300, help="pretraining steps of the tiny GPT")
    parser.add_argument("--dark", action="store_true", help="render with the dark palette")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    with tempfile.TemporaryDirectory(prefix="gpt-studio-finetune-screens-") as tmp:
        os.environ["GPT_STUDIO_SETTINGS_DIR"] = str(Path(tmp) / "settings")
        root = args.project.resolve() if args.project else prepare_project(Path(tmp), args.steps)
        render(args.outdir, root, (width, height), args.dark)
    return 0


if __name__ == "__main__":
    sys.exit(main())
