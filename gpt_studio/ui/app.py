"""The desktop app's entry point: QApplication, settings, the main window, and a clean shutdown.

``gpt-studio`` (no verb) and ``gpt-studio gui [PROJECT]`` land in :func:`main`. Environment:

- ``QT_QPA_PLATFORM`` is Qt's own (``offscreen`` runs without a screen); without a display on Linux we say so
  instead of letting Qt abort.
- ``GPT_STUDIO_SETTINGS_DIR``: keep settings (window geometry, recent projects) in ``DIR/gpt-studio.ini``
  instead of the user's profile; tests, screenshots and benchmarks use it so they never touch real settings.
- ``GPT_STUDIO_QUIT_AFTER_MS``: close the window after this many ms (smoke tests of the app and the bundle).
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import QCoreApplication, QEventLoop, QSettings, QTimer
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from gpt_studio import __version__
from gpt_studio.workers import Job, running_jobs

ORGANIZATION = "GPT Studio"
APPLICATION = "gpt-studio"
SETTINGS_DIR_ENV = "GPT_STUDIO_SETTINGS_DIR"
QUIT_AFTER_ENV = "GPT_STUDIO_QUIT_AFTER_MS"
MAX_RECENT = 8
ICON_NAMES = ("gpt-studio.svg", "gpt-studio.png", "icon.svg", "icon.png")


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


def _find_icon() -> QIcon | None:
    """The window icon from ``resources/`` (issue 9 adds it); none yet is fine."""
    for folder in (Path(__file__).resolve().parents[2] / "resources", Path(__file__).resolve().parent / "resources"):
        for name in ICON_NAMES:
            if (folder / name).is_file():
                return QIcon(str(folder / name))
    return None


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
