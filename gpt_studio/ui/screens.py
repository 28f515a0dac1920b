"""Render the main window offscreen to PNG files: the welcome page, each pane, About and the error dialog.

Usage::

    python -m gpt_studio.ui.screens OUTDIR [--project PATH] [--size 1280x800] [--dark]

Without ``--project`` a sample project (Tiny Shakespeare imported) is built in a temporary folder. Settings
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
SAMPLE_TEXT = ("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n\n" * 200)


def build_sample_project(folder: Path) -> Path:
    """A project with a corpus imported (Tiny Shakespeare when the shared datasets are there, else filler)."""
    from gpt_studio.engine.corpus import import_corpus
    from gpt_studio.engine.project import init_project

    project = init_project(folder / "shakespeare")
    source = SHAKESPEARE
    if not source.is_file():
        source = folder / "sample.txt"
        source.write_text(SAMPLE_TEXT, encoding="utf-8")
    import_corpus(project, [source])
    return project.root


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
