"""Desktop integration and packaging (issue 9): the .desktop file, the icons, the window icon, ``--smoke`` and the
Linux installer. Building the PyInstaller bundle is too slow for every run: ``make package-test`` does that."""

import configparser
import filecmp
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, QSize
from PySide6.QtGui import QImage
from PySide6.QtSvg import QSvgRenderer

from gpt_studio.cli import build_parser
from gpt_studio.ui import app as app_module

ROOT = Path(__file__).resolve().parents[1]
RESOURCES = ROOT / "gpt_studio" / "resources"
DESKTOP = RESOURCES / "gpt-studio.desktop"
INSTALLER = ROOT / "packaging" / "install-linux.sh"
SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def load_render_icons():
    spec = importlib.util.spec_from_file_location("render_icons", ROOT / "packaging" / "render_icons.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def desktop_entry(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(path, encoding="utf-8")
    return parser["Desktop Entry"]


def channels(image: QImage, x: int, y: int) -> tuple[int, int, int, int]:
    color = image.pixelColor(x, y)
    return color.red(), color.green(), color.blue(), color.alpha()


def png(size: int, root: Path = RESOURCES) -> Path:
    return root / "icons" / "hicolor" / f"{size}x{size}" / "apps" / "gpt-studio.png"


# ------------------------------------------------------------------------------------------ .desktop file

def test_desktop_entry_names_the_app_its_icon_and_a_command_the_cli_accepts():
    entry = desktop_entry(DESKTOP)
    assert entry["Type"] == "Application" and entry["Name"] == "GPT Studio"
    assert entry["Icon"] == "gpt-studio" and png(48).stem == entry["Icon"]
    assert (RESOURCES / f"{entry['Icon']}.svg").is_file()
    command, *args = entry["Exec"].split()
    assert command == entry["TryExec"] == app_module.APPLICATION
    assert args[-1] == "%f"
    parsed = build_parser().parse_args([*args[:-1], "/home/me/projects/shakespeare"])
    assert parsed.verb == "gui" and parsed.project == "/home/me/projects/shakespeare"
    assert entry["Terminal"] == "false"
    assert {"Development", "Science"} <= set(entry["Categories"].rstrip(";").split(";"))
    assert entry["Keywords"].endswith(";") and "GPT" in entry["Keywords"].split(";")


def test_desktop_entry_matches_the_window_class_and_desktop_file_name_qt_sets(qapp):
    application = app_module.create_application([])
    entry = desktop_entry(DESKTOP)
    # X11's WM_CLASS class is the application name; Wayland's app_id is the desktop file name.
    assert entry["StartupWMClass"] == application.applicationName() == application.desktopFileName() == "gpt-studio"
    assert DESKTOP.name == f"{application.desktopFileName()}.desktop"


@pytest.mark.skipif(shutil.which("desktop-file-validate") is None, reason="desktop-file-utils not installed")
def test_desktop_entry_passes_desktop_file_validate():
    result = subprocess.run(["desktop-file-validate", str(DESKTOP)], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "error" not in result.stdout and "warning" not in result.stdout, result.stdout


# ----------------------------------------------------------------------------------------------- icons

@pytest.mark.parametrize("size", SIZES)
def test_every_icon_size_exists_at_its_pixel_size_with_transparent_corners(qapp, size):
    image = QImage(str(png(size)))
    assert not image.isNull(), png(size)
    assert (image.width(), image.height()) == (size, size)
    assert image.hasAlphaChannel()
    assert image.pixelColor(0, 0).alpha() == 0, "the rounded tile leaves the corners transparent"
    assert image.pixelColor(size // 2, size * 3 // 4).alpha() == 255, "the tile itself is opaque"


@pytest.mark.parametrize("size", (16, 32))
def test_committed_pngs_are_the_svg_rendered_again(qapp, size):
    """An edit of the SVG without ``packaging/render_icons.py`` would leave the PNGs stale."""
    render_icons = load_render_icons()
    renderer = QSvgRenderer(str(RESOURCES / "gpt-studio.svg"))
    assert renderer.isValid()
    fresh = render_icons.render(renderer, size).convertToFormat(QImage.Format.Format_ARGB32)
    committed = QImage(str(png(size))).convertToFormat(QImage.Format.Format_ARGB32)
    worst = max(abs(a - b) for x in range(size) for y in range(size)
                for a, b in zip(channels(fresh, x, y), channels(committed, x, y)))
    assert worst <= 3, f"{png(size)} differs from the SVG by up to {worst}/255: run packaging/render_icons.py"


def test_the_icon_is_distinct_at_16_px(qapp):
    """Light blocks and the amber spark on a dark tile: enough contrast to read in a panel."""
    image = QImage(str(png(16)))
    colors = [image.pixelColor(x, y) for x in range(16) for y in range(16) if image.pixelColor(x, y).alpha() == 255]
    lightness = sorted(c.lightness() for c in colors)
    assert lightness[-1] - lightness[0] > 120
    assert any(c.red() > 200 and c.green() > 130 and c.blue() < 120 for c in colors), "the amber spark survives"


def test_render_icons_check_finds_all_sizes(qapp):
    assert load_render_icons().stale_sizes(RESOURCES) == []


# ---------------------------------------------------------------------------------------- the application

def test_application_sets_a_multi_size_window_icon_and_the_display_name(qapp):
    application = app_module.create_application([])
    icon = application.windowIcon()
    assert not icon.isNull()
    assert {QSize(s, s) for s in (16, 32, 48, 256)} <= set(icon.availableSizes())
    assert application.applicationDisplayName() == "GPT Studio"
    assert app_module.resources_dir() == RESOURCES


def test_smoke_check_fails_when_the_project_did_not_open(qtbot, tmp_path):
    from gpt_studio.ui.main_window import MainWindow

    window = MainWindow(settings=QSettings(str(tmp_path / "s.ini"), QSettings.Format.IniFormat), warm_up=False)
    qtbot.addWidget(window)
    with pytest.raises(app_module.SmokeFailure, match="did not open"):
        app_module._check_window(window, tmp_path, timeout_s=1)


@pytest.mark.slow
def test_smoke_from_source_exits_0_with_its_summary_and_leaves_user_settings_alone(tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path / "home"),
           "XDG_CONFIG_HOME": str(tmp_path / "config")}
    env.pop(app_module.SETTINGS_DIR_ENV, None)
    result = subprocess.run([sys.executable, "-m", "gpt_studio", "--smoke"], capture_output=True, text=True,
                            timeout=300, cwd=ROOT, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["ok"] is True and summary["frozen"] is False
    assert summary["platform"] == "offscreen" and summary["window_icon"] is True
    assert summary["panes"] == 4 and summary["device"].startswith(("CPU", "CUDA", "MPS", "cuda", "mps"))
    assert summary["project_documents"] > 50 and summary["train_tokens"] > 10_000
    # QSettings would write XDG_CONFIG_HOME/GPT Studio/gpt-studio.conf; the smoke keeps settings in a temp dir.
    assert not (tmp_path / "config").exists() and not (tmp_path / "home" / ".config").exists()


# ---------------------------------------------------------------------------------------- install-linux.sh

def fake_bundle(folder: Path) -> Path:
    """The layout PyInstaller produces: the launcher, and the package data under _internal/."""
    bundle = folder / "gpt-studio"
    shutil.copytree(RESOURCES, bundle / "_internal" / "gpt_studio" / "resources")
    launcher = bundle / "gpt-studio"
    launcher.write_text("#!/bin/sh\necho \"fake gpt-studio $*\"\n")
    launcher.chmod(0o755)
    return bundle


def run_installer(*args: str, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HOME": str(home)}
    env.pop("PREFIX", None)
    return subprocess.run(["bash", str(INSTALLER), *args], capture_output=True, text=True, timeout=60, env=env)


def test_installer_puts_bundle_menu_entry_and_icons_under_the_prefix_and_is_idempotent(tmp_path):
    bundle, prefix = fake_bundle(tmp_path / "dist"), tmp_path / "my prefix"
    for _ in range(2):
        result = run_installer("--prefix", str(prefix), "--bundle", str(bundle), home=tmp_path / "home")
        assert result.returncode == 0, result.stderr
    installed = prefix / "opt" / "gpt-studio"
    assert filecmp.cmp(installed / "gpt-studio", bundle / "gpt-studio", shallow=False)
    link = prefix / "bin" / "gpt-studio"
    assert link.is_symlink() and link.resolve() == (installed / "gpt-studio").resolve()
    assert subprocess.run([str(link), "--version"], capture_output=True, text=True).stdout.startswith("fake")
    entry = desktop_entry(prefix / "share" / "applications" / "gpt-studio.desktop")
    assert entry["Exec"] == f'"{installed / "gpt-studio"}" gui %f'  # quoted: the prefix has a space
    assert entry["TryExec"] == str(installed / "gpt-studio") and entry["Icon"] == "gpt-studio"
    hicolor = prefix / "share" / "icons" / "hicolor"
    for size in SIZES:
        assert filecmp.cmp(hicolor / f"{size}x{size}" / "apps" / "gpt-studio.png", png(size), shallow=False)
    assert (hicolor / "scalable" / "apps" / "gpt-studio.svg").is_file()
    assert not list((prefix / "opt").glob(".gpt-studio.*")), "no staging folder left behind"
    assert not (tmp_path / "home").exists(), "nothing written outside the prefix"


def test_installer_uninstall_removes_its_files_and_keeps_a_foreign_command(tmp_path):
    bundle, prefix = fake_bundle(tmp_path / "dist"), tmp_path / "prefix"
    assert run_installer("--prefix", str(prefix), "--bundle", str(bundle), home=tmp_path).returncode == 0
    result = run_installer("--uninstall", "--prefix", str(prefix), home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert not (prefix / "opt" / "gpt-studio").exists() and not (prefix / "bin" / "gpt-studio").exists()
    assert not (prefix / "share" / "applications" / "gpt-studio.desktop").exists()
    assert not list((prefix / "share" / "icons").rglob("gpt-studio.*"))
    (prefix / "bin" / "gpt-studio").write_text("#!/bin/sh\n")  # e.g. a pip-installed command
    assert run_installer("--uninstall", "--prefix", str(prefix), home=tmp_path).returncode == 0
    assert (prefix / "bin" / "gpt-studio").is_file()


def test_installer_without_a_bundle_fails_and_installs_nothing(tmp_path):
    result = run_installer("--prefix", str(tmp_path / "prefix"), "--bundle", str(tmp_path / "nope"), home=tmp_path)
    assert result.returncode != 0 and "make package" in result.stderr
    assert not (tmp_path / "prefix" / "share").exists()
