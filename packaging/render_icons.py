"""Render the app icon's PNGs from its SVG with QtSvg, so the hicolor sizes can be regenerated after an edit.

``gpt_studio/resources/gpt-studio.svg`` is the one source; this writes
``gpt_studio/resources/icons/hicolor/NxN/apps/gpt-studio.png`` for every size in :data:`SIZES` (the sizes
freedesktop icon themes look up; 256 and 512 also serve macOS .icns and Windows .ico conversion).

Usage: ``.venv/bin/python packaging/render_icons.py`` (``--check`` only reports PNGs that are missing or of
the wrong size, exit 1 if any).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # rendering needs no screen

from PySide6.QtCore import QRectF, Qt  # noqa: E402 - after the platform is chosen
from PySide6.QtGui import QGuiApplication, QImage, QPainter  # noqa: E402
from PySide6.QtSvg import QSvgRenderer  # noqa: E402

RESOURCES = Path(__file__).resolve().parents[1] / "gpt_studio" / "resources"
SVG = RESOURCES / "gpt-studio.svg"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
ICON_NAME = "gpt-studio.png"


def png_path(size: int, root: Path = RESOURCES) -> Path:
    """Where the ``size`` px PNG lives, in the freedesktop hicolor layout (installed as is)."""
    return root / "icons" / "hicolor" / f"{size}x{size}" / "apps" / ICON_NAME


def render(renderer: QSvgRenderer, size: int) -> QImage:
    """The icon at ``size`` × ``size`` px on a transparent background, antialiased."""
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    return image


def save_atomic(image: QImage, path: Path) -> None:
    """Write beside the target and rename, so an interrupted run never leaves a truncated PNG."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    if not image.save(str(tmp), "PNG"):
        tmp.unlink(missing_ok=True)
        raise OSError(f"could not write {tmp}")
    os.replace(tmp, path)


def stale_sizes(root: Path = RESOURCES) -> list[int]:
    """Sizes whose PNG is missing or not ``size`` × ``size`` px."""
    stale = []
    for size in SIZES:
        image = QImage(str(png_path(size, root)))
        if image.isNull() or (image.width(), image.height()) != (size, size):
            stale.append(size)
    return stale


def main(argv: list[str] | None = None) -> int:
    """Render (or with ``--check`` verify) every size; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only verify the PNGs exist at the right sizes")
    args = parser.parse_args(argv)
    _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    if args.check:
        stale = stale_sizes()
        for size in stale:
            print(f"missing or wrong size: {png_path(size)}", file=sys.stderr)
        return 1 if stale else 0
    renderer = QSvgRenderer(str(SVG))
    if not renderer.isValid():
        print(f"render_icons: {SVG} is not a valid SVG (for QtSvg)", file=sys.stderr)
        return 1
    for size in SIZES:
        save_atomic(render(renderer, size), png_path(size))
        print(png_path(size).relative_to(RESOURCES.parents[1]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
