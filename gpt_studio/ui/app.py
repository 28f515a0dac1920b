"""The desktop app's entry point: QApplication, settings, the main window, and a clean shutdown.

``gpt-studio`` (no verb) and ``gpt-studio gui [PROJECT]`` land in :func:`main`. Environment:

- ``QT_QPA_PLATFORM`` is Qt's own (``offscreen`` runs without a screen); without a display on Linux we say so
  instead of letting Qt abort.
- ``GPT_STUDIO_SETTINGS_DIR``: keep settings (window geometry, recent projects) in ``DIR/gpt-studio.ini``
  instead of the user's profile; tests, screenshots and benchmarks use it so they never touch real settings.
- ``GPT_STUDIO_QUIT_AFTER_MS``: close the window after this many ms.

``gpt-studio --smoke`` (:func:`smoke`) checks an installation end to end: it builds the offline sample project,
opens it in the window, waits for torch to load, closes, prints one JSON line and exits 0 (1 on any failure).
Release builds run it on the PyInstaller bundle (``make package-test``).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

from PySide6.QtCore import QCoreApplication, QEvent, QEventLoop, QSettings, QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QMessageBox

from gpt_studio import __version__
from gpt_studio.workers import Job, running_jobs

ORGANIZATION = "GPT Studio"
APPLICATION = "gpt-studio"
SETTINGS_DIR_ENV = "GPT_STUDIO_SETTINGS_DIR"
QUIT_AFTER_ENV = "GPT_STUDIO_QUIT_AFTER_MS"
MAX_RECENT = 8
ICON_SVG = "gpt-studio.svg"  # gpt_studio/resources/: the icon's source; PNGs beside it in the hicolor layout
ICON_PNG_GLOB = "icons/hicolor/*/apps/gpt-studio.png"
SMOKE_TIMEOUT_S = 180.0  # the torch import alone can take a minute on a cold disk (first start of a bundle)


def make_settings() -> QSettings:
    """The app's settings store; a plain INI file under ``$GPT_STUDIO_SETTINGS_DIR`` when that is set."""
    folder = os.environ.get(SETTINGS_DIR_ENV)
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        return QSettings(str(Path(folder) / f"{APPLICATION}.ini"), QSettings.Format.IniFormat)
    return QSettings(ORGANIZATION, APPLICATION)


class RecentProjects:
    """Most-recently-opened project folders, newest first, at most :data:`MAX_RECENT`, kept in QSettings."""

    KEY = "recent_projects"

    def __init__(self, settings: QSettings) -> None:
        self._settings = settings

    def paths(self) -> list[str]:
        """The stored list (a lone INI value comes back as a str, so normalise it)."""
        value = self._settings.value(self.KEY, [])
        if isinstance(value, str):
            value = [value] if value else []
        return [str(v) for v in (value or [])]

    def add(self, path: str | os.PathLike[str]) -> None:
        """Put ``path`` first, dropping an older entry for the same folder."""
        path = str(path)
        self._store([path] + [p for p in self.paths() if p != path])

    def remove(self, path: str | os.PathLike[str]) -> None:
        """Forget ``path`` (e.g. the folder was deleted)."""
        self._store([p for p in self.paths() if p != str(path)])

    def _store(self, paths: list[str]) -> None:
        self._settings.setValue(self.KEY, paths[:MAX_RECENT])
        self._settings.sync()


def wait_for_jobs(jobs: Iterable[Job], timeout_ms: int = 30_000) -> bool:
    """Wait until ``jobs`` have ended, processing events meanwhile; returns False on timeout.

    A plain ``Job.wait()`` on the GUI thread cannot finish: the job's ``finished → thread.quit`` is queued to
    the GUI thread, which would be blocked. So spin a local event loop instead.
    """
    pending = [j for j in jobs if j in running_jobs()]
    deadline = time.monotonic() + timeout_ms / 1000
    loop = QEventLoop()
    poll = QTimer()
    poll.setInterval(20)
    poll.timeout.connect(lambda: loop.quit() if not _any_running(pending) or time.monotonic() > deadline else None)
    if _any_running(pending):
        poll.start()
        loop.exec()
        poll.stop()
    return not _any_running(pending)


def _any_running(jobs: list[Job]) -> bool:
    running = running_jobs()
    return any(j in running for j in jobs)


def resources_dir() -> Path | None:
    """The folder with the icons and the .desktop file, or None if this installation lacks it.

    They are package data (``gpt_studio/resources``), so one path serves a source checkout and a pip install;
    a PyInstaller bundle puts them under ``sys._MEIPASS`` at the same relative path.
    """
    candidates = [Path(__file__).resolve().parents[1] / "resources"]
    bundle = getattr(sys, "_MEIPASS", None)
    if bundle:
        candidates.append(Path(bundle) / "gpt_studio" / "resources")
    return next((folder for folder in candidates if (folder / ICON_SVG).is_file()), None)


def _find_icon() -> QIcon | None:
    """The window icon from every rendered PNG size (needs no SVG plugin), else from the SVG; None if absent."""
    folder = resources_dir()
    if folder is None:
        return None
    icon = QIcon()
    for png in sorted(folder.glob(ICON_PNG_GLOB)):
        icon.addFile(str(png))
    return icon if not icon.isNull() else QIcon(str(folder / ICON_SVG))


def _display_missing() -> bool:
    """On Linux without X11/Wayland and no QT_QPA_PLATFORM, Qt would abort with a cryptic message."""
    return (sys.platform.startswith("linux") and not os.environ.get("QT_QPA_PLATFORM")
            and not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY"))


def create_application(argv: Sequence[str]) -> QApplication:
    """The QApplication with our names and icon (reused if one exists, as under pytest-qt)."""
    QCoreApplication.setOrganizationName(ORGANIZATION)
    QCoreApplication.setApplicationName(APPLICATION)
    QCoreApplication.setApplicationVersion(__version__)
    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else APPLICATION, *argv])
    assert isinstance(app, QApplication)
    QApplication.setApplicationDisplayName("GPT Studio")
    QApplication.setDesktopFileName(APPLICATION)
    icon = _find_icon()
    if icon is not None:
        app.setWindowIcon(icon)
    from gpt_studio.ui import theme

    theme.apply_theme(app)
    return app


def _install_excepthook() -> None:
    """A bug in a slot shows the error dialog (and the traceback on stderr); the window stays usable."""
    previous = sys.excepthook

    def hook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
        previous(kind, exc, tb)
        if issubclass(kind, KeyboardInterrupt) or QApplication.instance() is None:
            return
        from gpt_studio.ui import error_dialog

        error_dialog.show_error(QApplication.activeWindow(), f"Unexpected error: {exc}",
                                "".join(traceback.format_exception(kind, exc, tb)))

    sys.excepthook = hook


def main(argv: Sequence[str] | None = None) -> int:
    """Start the desktop app; ``argv`` may hold one project folder (and Qt's own options). Returns the exit code."""
    if _display_missing():
        print("gpt-studio: no display found (DISPLAY/WAYLAND_DISPLAY unset). Run it on a desktop, set "
              "QT_QPA_PLATFORM=offscreen, or use the command-line verbs (gpt-studio --help).", file=sys.stderr)
        return 1
    app = create_application(list(argv or []))
    from gpt_studio.ui.main_window import MainWindow

    projects = [a for a in app.arguments()[1:] if not a.startswith("-")]
    window = MainWindow()
    window.restore_session(open_last=not projects)
    if projects:
        window.open_project_path(projects[0])
    _install_excepthook()
    window.show()
    quit_after = os.environ.get(QUIT_AFTER_ENV)
    if quit_after:
        QTimer.singleShot(int(quit_after), window.close)
    status = app.exec()
    wait_for_jobs(running_jobs(), 60_000)  # a QThread destroyed while running aborts the process
    return status


# -------------------------------------------------------------------------------------------------- smoke

class SmokeFailure(RuntimeError):
    """A check of ``--smoke`` failed; the message says which."""


@contextmanager
def _environment(**values: str) -> Iterator[None]:
    """Set environment variables for the block, then restore them (the smoke may run inside a test)."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _spin_until(done: Callable[[], bool], timeout_s: float) -> bool:
    """Run the event loop until ``done()`` or the timeout; returns ``done()``."""
    deadline = time.monotonic() + timeout_s
    loop = QEventLoop()
    poll = QTimer()
    poll.setInterval(20)
    poll.timeout.connect(lambda: loop.quit() if done() or time.monotonic() > deadline else None)
    poll.start()
    loop.exec()
    poll.stop()
    return done()


def _open_message_boxes() -> list[str]:
    """Texts of visible message boxes: an error shown during the smoke means it failed."""
    return [w.text() for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()]


def _check_window(window: Any, project_root: Path, timeout_s: float) -> dict[str, Any]:
    """Every pane built, the project open, torch loaded, each pane painted; raises :class:`SmokeFailure`."""
    from gpt_studio.ui.main_window import PANE_CLASSES

    broken = [name for i, (_module, name) in enumerate(PANE_CLASSES) if type(window.pane_widget(i)).__name__ != name]
    if broken:  # a pane that failed to import (e.g. a module the bundle left out) became a placeholder page
        raise SmokeFailure(f"panes failed to load: {', '.join(broken)} (traceback above)")
    project = window.state.project
    if project is None or Path(project.root).resolve() != project_root.resolve():
        raise SmokeFailure(f"the sample project at {project_root} did not open")
    if not _spin_until(lambda: bool(window.device_description) or bool(_open_message_boxes()), timeout_s):
        raise SmokeFailure(f"torch did not load within {timeout_s:g} s")
    for index in range(len(PANE_CLASSES)):
        window.show_pane(index)
        if window.grab().isNull():
            raise SmokeFailure(f"pane {index} could not be painted")
    if _open_message_boxes():
        raise SmokeFailure("the app showed an error: " + " | ".join(_open_message_boxes()))
    return {"panes": len(PANE_CLASSES), "device": window.device_description}


def _run_smoke(folder: Path, timeout_s: float) -> dict[str, Any]:
    """Build the sample project in ``folder``, open it in the main window, check it, close the window."""
    from gpt_studio.engine.project import init_project
    from gpt_studio.engine.samples import prepare_sample_project

    start = time.monotonic()
    project = init_project(folder / "sample-project")
    prepared = prepare_sample_project(project)  # import, SentencePiece training (a spawned process), encoding
    app = create_application([])
    from gpt_studio.ui.main_window import MainWindow

    window = MainWindow()
    try:
        window.open_project_path(project.root)
        window.show()
        checks = _check_window(window, project.root, timeout_s)
    finally:
        window.close()
        wait_for_jobs(running_jobs(), 60_000)
        window.deleteLater()  # let its settings and project go before the temporary folder does
        QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    return {"ok": True, "platform": app.platformName(), "window_icon": not app.windowIcon().isNull(),
            "project_documents": prepared["manifest"]["stats"]["documents"],
            "vocab_size": prepared["tokenizer"]["vocab_size"],
            "train_tokens": prepared["data"]["splits"]["train"]["tokens"], **checks,
            "frozen": bool(getattr(sys, "frozen", False)), "seconds": round(time.monotonic() - start, 2)}


def smoke(timeout_s: float = SMOKE_TIMEOUT_S) -> int:
    """``gpt-studio --smoke``: exercise the installed app once, print one JSON line; 0 if all went well.

    Offscreen when there is no display (so CI and a bare build machine can run it); settings and the sample
    project live in a temporary folder that is removed afterwards, so a user's settings are never touched.
    """
    platform = {"QT_QPA_PLATFORM": "offscreen"} if _display_missing() else {}
    with tempfile.TemporaryDirectory(prefix="gpt-studio-smoke-", ignore_cleanup_errors=True) as tmp, \
            _environment(**{SETTINGS_DIR_ENV: str(Path(tmp) / "settings")}, **platform):
        try:
            summary = _run_smoke(Path(tmp), timeout_s)
        except Exception as exc:  # noqa: BLE001 - any failure is the smoke's answer: report it, exit 1
            traceback.print_exc()
            print(f"gpt-studio --smoke: FAILED: {exc}", file=sys.stderr)
            print(json.dumps({"ok": False, "error": str(exc)}))
            return 1
    print(json.dumps(summary))
    return 0
