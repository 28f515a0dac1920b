"""Render the main window offscreen to PNG files: the welcome page, each pane, About and the error dialog.

Usage::

    python -m gpt_studio.ui.screens OUTDIR [--project PATH] [--size 1280x800] [--dark]

Without ``--project`` a sample project is built in a temporary folder as a user has it after the first steps:
Tiny Shakespeare imported, a 2000-piece tokenizer trained and the corpus encoded (the offline Python
documentation sample when the shared datasets are missing). The tokenizer preview shows typed text. Settings
go to a temporary folder too, so the user's recent projects are not touched. ``--dark`` previews dark mode
with a dark palette (the offscreen platform reports no system colour scheme).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtWidgets import QApplication, QWidget

DATASETS = Path(os.environ.get("GPT_STUDIO_DATASETS", Path(__file__).resolve().parents[3] / "shared" / "datasets"))
SHAKESPEARE = DATASETS / "tinyshakespeare" / "input.txt"
PREVIEW_TEXT = "To be, or not to be: that is the question.\nWhether 'tis nobler in the mind to suffer"
VOCAB_SIZE = 2000


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


def _type_preview(window: QWidget) -> None:
    """Put text in the Corpus & Tokenizer pane's live preview, as a user trying the tokenizer would."""
    pane = window.pane_widget(0)  # type: ignore[attr-defined]
    section = getattr(pane, "tokenizer", None)
    if section is not None and hasattr(section, "preview_input"):
        section.preview_input.setPlainText(PREVIEW_TEXT)
        section.update_preview()


def _save(widget: QWidget, path: Path) -> None:
    """Grab ``widget`` once layouts, deferred resizes and queued signals have run."""
    for _ in range(5):
        QApplication.processEvents()
    if not widget.grab().save(str(path)):
        raise OSError(f"could not write {path}")
    print(path)


def render(outdir: Path, project: Path, size: tuple[int, int], dark: bool) -> list[Path]:
    """Render every screen into ``outdir``; returns the files written."""
    from gpt_studio.ui import about, app, error_dialog, theme
    from gpt_studio.ui.main_window import PANES, MainWindow

    outdir.mkdir(parents=True, exist_ok=True)
    qapp = app.create_application([])
    if dark:
        qapp.setPalette(theme.dark_palette())
        theme.sync_plot_colors(qapp.palette())
    suffix = "-dark" if dark else ""
    window = MainWindow(warm_up=False)
    window.set_device_description(about.detect_compute_device())
    window.recent.add(project)
    window.close_project()
    window.resize(*size)
    window.show()
    written = [outdir / f"welcome{suffix}.png"]
    _save(window, written[-1])
    window.open_project_path(project)
    _type_preview(window)
    for index, spec in enumerate(PANES):
        window.show_pane(index)
        slug = spec.title.replace("&&", "").replace(" ", "-").replace("--", "-").lower()
        written.append(outdir / f"pane-{index + 1}-{slug}{suffix}.png")
        _save(window, written[-1])
    box = about.show_about(window, window.device_description)
    written.append(outdir / f"about{suffix}.png")
    _save(box, written[-1])
    box.close()
    box = error_dialog.show_error(window, "/tmp/notes is not a GPT Studio project (no studio.json); create one "
                                  "with `gpt-studio init /tmp/notes`.", "Traceback (most recent call last): …")
    written.append(outdir / f"error{suffix}.png")
    _save(box, written[-1])
    box.close()
    window.close()
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry: parse options, prepare settings and a project, render."""
    parser = argparse.ArgumentParser(prog="python -m gpt_studio.ui.screens", description=__doc__.splitlines()[0])
    parser.add_argument("outdir", type=Path)
    parser.add_argument("--project", type=Path, help="project to show (default: a sample built in a temp folder)")
    parser.add_argument("--size", default="1280x800", help="window size in logical pixels, WIDTHxHEIGHT")
    parser.add_argument("--dark", action="store_true", help="preview with a dark palette")
    args = parser.parse_args(argv)
    width, height = (int(v) for v in args.size.lower().split("x"))
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    with tempfile.TemporaryDirectory(prefix="gpt-studio-screens-") as tmp:
        os.environ["GPT_STUDIO_SETTINGS_DIR"] = str(Path(tmp) / "settings")
        project = args.project.resolve() if args.project else build_sample_project(Path(tmp))
        render(args.outdir, project, (width, height), args.dark)
    return 0


if __name__ == "__main__":
    sys.exit(main())
