"""Render the Playground pane offscreen to PNG files, each tab after real work on real models.

Usage::

    python -m gpt_studio.ui.playground_screens OUTDIR [--project PATH] [--size 1400x900] [--steps 300] [--dark]

Without ``--project`` a project is built in a temporary folder from Tiny Shakespeare (a 1000-piece BPE
tokenizer and encoded shards), a tiny GPT and a tiny BERT are pretrained on the CPU for ``--steps`` steps and
the GPT is fine-tuned on real sentiment rows, so every tab has a model to show. :func:`render_playground`
also works on a pane or main window someone else set up (the project must already hold models).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QWidget

from gpt_studio.ui.screens import save, wait_until

DATASETS = Path(os.environ.get("GPT_STUDIO_DATASETS", Path(__file__).resolve().parents[3] / "shared" / "datasets"))
SHAKESPEARE = DATASETS / "tinyshakespeare" / "input.txt"
SENTIMENT = DATASETS / "sentiment_labelled_sentences" / "sentiment.csv"
COPA = DATASETS / "copa" / "copa_dev.jsonl"
WAIT_S = 300
PRETRAIN = {"batch_size": 16, "eval_interval": 100, "eval_batches": 4, "checkpoint_interval": 1000,
            "sample_tokens": 0, "warmup_steps": 20, "lr": 2e-3, "device": "cpu"}


def _load(pane: Any, family: str, kind: str | None = None) -> bool:
    """Load the newest model of ``family`` (and ``kind``) through the picker; False when there is none."""
    entry = next((e for e in pane.entries if e.family == family and (kind is None or e.kind == kind)), None)
    if entry is None:
        return False
    pane.select_model(entry.spec)
    pane.load_selected()
    wait_until(lambda: pane.loaded is not None and pane.loaded.spec == entry.spec and not pane.busy,
               f"loading {entry.spec}", WAIT_S)
    return True


def _run(tab: Any, start: Callable[[], Any], what: str) -> None:
    start()
    wait_until(lambda: not tab.busy, what, WAIT_S)


def _gpt_shots(pane: Any, target: QWidget, outdir: Path) -> list[Path]:
    written = []
    generate = pane.tab("generate")
    pane.tabs.setCurrentWidget(generate)
    generate.prompt.setPlainText("ROMEO:\nBut soft, what light")
    generate.max_tokens.setValue(160)
    generate.temperature.setValue(0.8)
    generate.seed.setValue(1)
    generate.stop_text.setText(r"\n\n\n")
    _run(generate, generate.start, "generation")
    written.append(save(target, outdir / "playground-generate.png"))
    zero = pane.tab("zero_shot")
    pane.tabs.setCurrentWidget(zero)
    zero.set_heuristic("multiple-choice")
    zero.set_mode(0)
    _run(zero, zero.score_single, "zero-shot scoring")
    written.append(save(target, outdir / "playground-zero-shot.png"))
    zero.set_heuristic("label-words")
    zero.set_mode(1)
    zero.path.setText(str(SENTIMENT))
    zero.limit.setValue(300)
    _run(zero, zero.score_dataset, "dataset scoring")
    written.append(save(target, outdir / "playground-zero-shot-dataset.png"))
    inspector = pane.tab("inspector")
    pane.tabs.setCurrentWidget(inspector)
    inspector.text.setPlainText("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\n"
                                "Speak, speak. The quantum chromodynamics of it!")
    _run(inspector, inspector.inspect, "token scoring")
    written.append(save(target, outdir / "playground-inspector.png"))
    return written


def _bert_shots(pane: Any, target: QWidget, outdir: Path) -> list[Path]:
    fill = pane.tab("fill_mask")
    pane.tabs.setCurrentWidget(fill)
    fill.text.setPlainText("To be, or not to [MASK], that is the [MASK]:\nWhether 'tis nobler in the [MASK] to "
                           "suffer")
    _run(fill, fill.predict, "mask prediction")
    return [save(target, outdir / "playground-fill-mask.png")]


def _classify_shot(pane: Any, target: QWidget, outdir: Path) -> list[Path]:
    tab = pane.tab("classify")
    pane.tabs.setCurrentWidget(tab)
    box = next(iter(tab.boxes.values()))
    box.setPlainText("The food was cold and the waiter was rude; I will not come back.")
    _run(tab, tab.classify, "classification")
    return [save(target, outdir / "playground-classify.png")]


def render_playground(pane_or_window: QWidget, outdir: Path) -> list[Path]:
    """Drive every tab of the Playground pane (of a main window, shown at pane 3) and save one PNG per tab."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    window = pane_or_window if hasattr(pane_or_window, "pane_widget") else None
    if window is not None:
        window.show_pane(3)  # type: ignore[attr-defined]
        pane: Any = window.pane_widget(3)  # type: ignore[attr-defined]
    else:
        pane = pane_or_window
    target = window or pane
    target.show()
    pane.ensure_built()
    pane.refresh_models()
    written = [save(target, outdir / "playground-empty.png")]
    if _load(pane, "gpt", "run"):
        written += _gpt_shots(pane, target, outdir)
    if _load(pane, "bert", "run"):
        written += _bert_shots(pane, target, outdir)
    if _load(pane, "gpt", "finetuned") or _load(pane, "bert", "finetuned"):
        written += _classify_shot(pane, target, outdir)
    return written


def build_project(folder: Path) -> Path:
    """Tiny Shakespeare imported, a 1000-piece BPE tokenizer trained and the corpus encoded (as the tests do)."""
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


def build_models(project_root: Path, steps: int) -> None:
    """Pretrain a tiny GPT and BERT and fine-tune the GPT on 400 sentiment rows, unless models are there."""
    from gpt_studio.engine.finetune import FinetuneConfig, finetune
    from gpt_studio.engine.finetune_data import ColumnMap, load_task_data, subsample
    from gpt_studio.engine.loading import list_models
    from gpt_studio.engine.pretrain import pretrain
    from gpt_studio.engine.project import open_project

    project = open_project(project_root)
    families = {e.family for e in list_models(project)}
    runs = {}
    for preset in ("tiny-gpt", "tiny-bert"):
        if preset.split("-")[1] not in families:
            runs[preset] = pretrain(project, preset_name=preset, settings=PRETRAIN, max_steps=steps)["run_id"]
    if "tiny-gpt" in runs and SENTIMENT.is_file():
        data = subsample(load_task_data(SENTIMENT, "classification", ColumnMap(text="text", label="label")), 400)
        finetune(project, runs["tiny-gpt"], data, FinetuneConfig(epochs=2, lr=1e-3, batch_size=32),
                 name="sentiment-gpt")


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry: prepare a project with models, render the pane."""
    parser = argparse.ArgumentParser(prog="python -m gpt_studio.ui.playground_screens",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--project", type=Path, help="a project with encoded shards (default: built from Tiny "
                                                     "Shakespeare in a temporary folder)")
    parser.add_argument("--size", default="1400x900", help="pane size in logical pixels, WIDTHxHEIGHT")
    parser.add_argument("--steps", type=int, default=300, help="pretraining steps of each tiny model")
    parser.add_argument("--dark", action="store_true", help="preview with a dark palette")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from gpt_studio.engine.project import open_project
    from gpt_studio.ui import app, theme
    from gpt_studio.ui.panes.playground_pane import PlaygroundPane
    from gpt_studio.ui.state import AppState

    with tempfile.TemporaryDirectory(prefix="gpt-studio-playground-screens-") as tmp:
        os.environ["GPT_STUDIO_SETTINGS_DIR"] = str(Path(tmp) / "settings")
        root = args.project.resolve() if args.project else build_project(Path(tmp))
        build_models(root, args.steps)
        qapp = app.create_application([])
        theme.apply_theme(qapp)
        if args.dark:
            qapp.setPalette(theme.dark_palette())
            theme.sync_plot_colors(qapp.palette())
        state = AppState()
        state.set_project(open_project(root))
        pane = PlaygroundPane(state)
        pane.resize(width, height)
        render_playground(pane, args.outdir)
        pane.shutdown()
        pane.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
