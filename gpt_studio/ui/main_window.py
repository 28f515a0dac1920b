"""The main window: a sidebar of four panes, a welcome page when no project is open, menus and a status bar.

Dialogs are kept at the edge: ``new_project_path`` / ``open_project_path`` do the work without a file
dialog (tests and the command line call them), and every message goes through :mod:`error_dialog`, looked
up at call time so tests can capture it. Long work runs in jobs (:class:`~gpt_studio.workers.Job`); closing
the window while one runs asks first, cancels and waits for it. The window owns the preferences (File ›
Settings…): it loads them from its QSettings into the app state before the panes are built, and applies
their theme.
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QEvent, QSettings, QSize, Qt, QTimer, Signal, Slot
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QMainWindow,
    QScrollArea,
    QStackedWidget,
    QWidget,
)

from gpt_studio.engine.errors import StudioError
from gpt_studio.engine.progress import Reporter
from gpt_studio.engine.project import PROJECT_FILE, Project, init_project, open_project
from gpt_studio.ui import about, error_dialog, preferences, theme
from gpt_studio.ui.app import RecentProjects, make_settings, wait_for_jobs
from gpt_studio.ui.new_project_dialog import IMPORT, NEW, SAMPLE, NewProjectDialog, Purpose
from gpt_studio.ui.placeholder import PANES, ComingNextPage, WelcomePage
from gpt_studio.ui.state import PANE_NAMES, AppState
from gpt_studio.workers import Job, running_jobs

PANE_CLASSES = (  # (module, class) of panes 0-3; imported when the window is built
    ("gpt_studio.ui.panes.corpus_pane", "CorpusPane"),
    ("gpt_studio.ui.panes.pretrain_pane", "PretrainPane"),
    ("gpt_studio.ui.panes.finetune_pane", "FinetunePane"),
    ("gpt_studio.ui.panes.playground_pane", "PlaygroundPane"),
)
WARM_UP_DELAY_MS = 300  # let the window paint before torch's import competes for the GIL


def _build_pane(index: int, state: AppState, parent: QWidget) -> QWidget:
    """Pane ``index``'s widget (each pane module keeps its heavy imports until it is first shown)."""
    module, name = PANE_CLASSES[index]
    return getattr(importlib.import_module(module), name)(state, parent)


def _pane(index: int, state: AppState, parent: QWidget) -> QWidget:
    """Build pane ``index``; a pane that fails to build becomes a page saying so, not a dead window."""
    spec = PANES[index]
    try:
        return _build_pane(index, state, parent)
    except Exception as exc:  # noqa: BLE001 - one broken pane must not stop the app from starting
        traceback.print_exc()
        return ComingNextPage(spec.title.replace("&&", "&"), f"This pane could not be loaded: {exc}",
                              "Report this with the traceback printed on the terminal.", parent)


class MainWindow(QMainWindow):
    """Sidebar + stacked panes over one :class:`AppState`; the welcome page while no project is open."""

    device_detected = Signal(str)  # the compute device's one-line description, once torch has loaded

    def __init__(self, state: AppState | None = None, settings: QSettings | None = None, *,
                 warm_up: bool = True, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.state = state or AppState()
        self.settings = settings or make_settings()
        self.state.set_preferences(preferences.load(self.settings))  # before the panes: their forms start from it
        theme.set_theme(_application(), self.state.preferences.theme)
        self.recent = RecentProjects(self.settings)
        self.device_description = ""
        self._warm_up_job: Job | None = None
        self.setWindowTitle("GPT Studio")
        self._build_central()
        self._build_menus()
        self._build_status_bar()
        self.state.project_changed.connect(self._on_project_changed)
        self.state.model_requested.connect(lambda _spec: self.show_pane(3))  # the Playground pane opens it
        self.state.pane_requested.connect(lambda name: self.show_pane(PANE_NAMES.index(name)))
        self.state.import_model_requested.connect(self.choose_import_model)
        self._on_project_changed(self.state.project)
        self._default_size()
        self._closed = False
        if warm_up:  # after the first frames: importing torch holds the GIL for up to ~0.4 s in one go
            QTimer.singleShot(WARM_UP_DELAY_MS, self, self._start_warm_up_unless_closed)

    # ------------------------------------------------------------------------------------------ building

    def _build_central(self) -> None:
        self.welcome = WelcomePage(self)
        self.welcome.new_clicked.connect(self.choose_new_project)
        self.welcome.open_clicked.connect(self.choose_open_project)
        self.welcome.recent_chosen.connect(self.open_recent)
        self.welcome.sample_clicked.connect(self.use_sample_corpus)
        self.welcome.import_clicked.connect(self.import_model_into_new_project)
        self.welcome.settings_clicked.connect(self.show_settings)
        self.welcome.set_data_folder(self.state.preferences.data_folder)
        self.sidebar = QListWidget(self)
        self.panes = QStackedWidget(self)
        for index, spec in enumerate(PANES):
            icon = theme.line_icon(spec.icon)
            self.sidebar.addItem(QListWidgetItem(icon, spec.title.replace("&&", "&")))
            self.panes.addWidget(self._scrollable(_pane(index, self.state, self.panes)))
        # The sample hook is the corpus pane's: offer it only when that pane is really there to act on it.
        has_corpus_pane = not isinstance(self.pane_widget(0), ComingNextPage)
        self.welcome.sample_button.setVisible(has_corpus_pane and callable(getattr(self.state, "request_sample", None)))
        self._style_sidebar()
        self.sidebar.currentRowChanged.connect(self._on_pane_selected)
        workspace = QWidget(self)
        layout = QHBoxLayout(workspace)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.sidebar)
        layout.addWidget(self.panes, 1)
        self.root = QStackedWidget(self)
        self.root.addWidget(self.welcome)
        self.root.addWidget(workspace)
        self.workspace = workspace
        self.setCentralWidget(self.root)

    def _scrollable(self, pane: QWidget) -> QScrollArea:
        """Put a pane in a frameless scroll area.

        On a small screen (or at 150 % scaling) a pane with a large minimum size then scrolls instead of
        forcing the window wider than the screen.
        """
        area = QScrollArea(self.panes)
        area.setFrameShape(QFrame.Shape.NoFrame)
        area.setWidgetResizable(True)
        area.setWidget(pane)
        return area

    def pane_widget(self, index: int) -> QWidget:
        """The pane itself (inside its scroll area)."""
        area = self.panes.widget(index)
        assert isinstance(area, QScrollArea)
        return area.widget()

    def _style_sidebar(self) -> None:
        """Size the sidebar from its font (DPI-safe): icons one and a half lines high, a little air per row."""
        metrics = self.sidebar.fontMetrics()
        side = round(metrics.height() * 1.5)
        self.sidebar.setIconSize(QSize(side, side))
        self.sidebar.setSpacing(metrics.height() // 4)
        self.sidebar.setFixedWidth(self.sidebar.sizeHintForColumn(0) + 2 * self.sidebar.frameWidth()
                                   + metrics.averageCharWidth() * 4)
        self.sidebar.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

    def _action(self, text: str, slot: Callable[[], Any], *keys: QKeySequence | str) -> QAction:
        action = QAction(text, self)
        shortcuts: list[QKeySequence] = []
        for key in keys:  # the platform's standard key first, our fallback only where it has none
            standard = isinstance(key, QKeySequence.StandardKey)
            bindings = QKeySequence.keyBindings(key) if standard else [QKeySequence(key)]
            shortcuts += [b for b in bindings if not b.isEmpty() and b not in shortcuts]
        action.setShortcuts(shortcuts)
        action.triggered.connect(slot)
        return action

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addAction(self._action("&New project…", self.choose_new_project, QKeySequence.StandardKey.New))
        file_menu.addAction(self._action("&Open project…", self.choose_open_project, QKeySequence.StandardKey.Open))
        self.recent_menu = file_menu.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        self.import_model_action = self._action("&Import pretrained model…", self.choose_import_model)
        self.import_model_action.setEnabled(False)
        file_menu.addAction(self.import_model_action)
        file_menu.addSeparator()
        self.close_project_action = self._action("&Close project", self.close_project, QKeySequence.StandardKey.Close)
        file_menu.addAction(self.close_project_action)
        file_menu.addSeparator()
        self.settings_action = self._action("&Settings…", self.show_settings, QKeySequence.StandardKey.Preferences,
                                            "Ctrl+,")
        self.settings_action.setMenuRole(QAction.MenuRole.PreferencesRole)
        file_menu.addAction(self.settings_action)
        file_menu.addSeparator()
        quit_action = self._action("&Quit", self.close, QKeySequence.StandardKey.Quit, "Ctrl+Q")
        quit_action.setMenuRole(QAction.MenuRole.QuitRole)
        file_menu.addAction(quit_action)
        go_menu = self.menuBar().addMenu("&Go")
        self.pane_actions = QActionGroup(self)
        for index, spec in enumerate(PANES):
            action = self._action(spec.title, lambda _checked=False, i=index: self.show_pane(i), f"Ctrl+{index + 1}")
            action.setCheckable(True)
            self.pane_actions.addAction(action)
            go_menu.addAction(action)
        help_menu = self.menuBar().addMenu("&Help")
        self.shortcuts_action = self._action("&Keyboard shortcuts…", self.show_shortcuts, "Ctrl+/")
        help_menu.addAction(self.shortcuts_action)
        about_action = self._action("&About GPT Studio", self.show_about)
        about_action.setMenuRole(QAction.MenuRole.AboutRole)
        help_menu.addAction(about_action)

    def _build_status_bar(self) -> None:
        self.project_label = QLabel(self)
        self.project_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.device_label = QLabel("Detecting the compute device…", self)
        self.statusBar().addWidget(self.project_label, 1)
        self.statusBar().addPermanentWidget(self.device_label)

    def _default_size(self) -> None:
        """About 150 × 45 characters, never more than 90 % of the screen (restore_session may override)."""
        metrics = self.fontMetrics()
        width, height = metrics.averageCharWidth() * 150, metrics.height() * 45
        screen = self.screen().availableGeometry() if self.screen() else None
        if screen is not None:
            width, height = min(width, int(screen.width() * 0.9)), min(height, int(screen.height() * 0.9))
        self.resize(width, height)

    # ----------------------------------------------------------------------------------------- projects

    def new_project_path(self, path: str | os.PathLike[str]) -> Project | None:
        """Create (or reuse) a project at ``path`` and open it; an error is shown and None returned."""
        return self._open_with(init_project, path)

    def open_project_path(self, path: str | os.PathLike[str]) -> Project | None:
        """Open the project at ``path``; a folder that is not a project shows the error dialog."""
        return self._open_with(open_project, path)

    def _open_with(self, opener: Callable[[Path], Project], path: str | os.PathLike[str]) -> Project | None:
        try:
            project = opener(Path(path))
        except StudioError as exc:
            error_dialog.show_error(self, str(exc))
            return None
        except OSError as exc:
            error_dialog.show_error(self, f"Could not open {path}: {exc.strerror or exc}.")
            return None
        self.state.set_project(project)
        self.recent.add(project.root)
        self.settings.setValue("session/last_project", str(project.root))
        return project

    def open_recent(self, path: str) -> Project | None:
        """Open a recent project; one whose folder is gone is removed from the list, with a message."""
        if not Path(path).is_dir():
            self.recent.remove(path)
            self._refresh_recent()
            error_dialog.show_notice(self, f"{path} no longer exists (moved or deleted); it was removed from "
                                           "the recent projects.")
            return None
        return self.open_project_path(path)

    def close_project(self) -> None:
        """Back to the welcome page."""
        self.state.set_project(None)
        self.settings.setValue("session/last_project", "")

    @Slot()
    def choose_new_project(self) -> NewProjectDialog:
        """Ask for a name (and a location, the data folder proposed) and create the project there."""
        return self.ask_new_project(NEW)

    def ask_new_project(self, purpose: Purpose, then: Callable[[Project], Any] | None = None) -> NewProjectDialog:
        """Open the new-project dialog (window-modal, not blocking); on Create make the project, then ``then``."""
        dialog = NewProjectDialog(purpose, self.state.preferences.data_folder, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

        def create() -> None:
            project = self.new_project_path(dialog.path())
            if project is not None and then is not None:
                then(project)

        dialog.accepted.connect(create)
        dialog.open()
        return dialog

    @Slot()
    def import_model_into_new_project(self) -> NewProjectDialog:
        """The welcome page's Import a pretrained model…: a model needs a project, so make one, then import."""
        return self.ask_new_project(IMPORT, lambda _project: self.choose_import_model())

    @Slot()
    def choose_open_project(self) -> None:
        """Ask for a project folder and open it."""
        folder = QFileDialog.getExistingDirectory(self, "Open a GPT Studio project folder", self._dialog_dir())
        if folder:
            self._remember_dialog_dir(folder)
            self.open_project_path(folder)

    def _dialog_dir(self) -> str:
        """Where Open project… starts: the last folder used, else the data folder once it exists, else home."""
        data_folder = self.state.preferences.data_folder
        fallback = data_folder if data_folder.is_dir() else Path.home()
        return str(self.settings.value("dialogs/last_dir", "") or fallback)

    def _remember_dialog_dir(self, folder: str) -> None:
        self.settings.setValue("dialogs/last_dir", str(Path(folder).parent))

    @Slot()
    def use_sample_corpus(self) -> NewProjectDialog | None:
        """Build the sample in the open project, or first in a new one (named in a dialog; returned)."""
        if self.state.project is None:
            return self.ask_new_project(SAMPLE, lambda _project: self._build_sample())
        self._build_sample()
        return None

    def _build_sample(self) -> None:
        """Hand over to the corpus pane's sample hook (``AppState.request_sample``) and show its progress."""
        self.state.request_sample()
        self.show_pane(0)

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        paths = self.recent.paths()
        for path in paths:
            action = self.recent_menu.addAction(f"{Path(path).name}  ({Path(path).parent})")
            action.triggered.connect(lambda _checked=False, p=path: self.open_recent(p))
        if not paths:
            self.recent_menu.addAction("No recent projects").setEnabled(False)
            return
        self.recent_menu.addSeparator()
        self.recent_menu.addAction("Clear the list", self._clear_recent)

    def _clear_recent(self) -> None:
        for path in self.recent.paths():
            self.recent.remove(path)
        self._refresh_recent()

    def _refresh_recent(self) -> None:
        self.welcome.set_recent(self.recent.paths())

    @Slot(object)
    def _on_project_changed(self, project: Project | None) -> None:
        self.root.setCurrentWidget(self.workspace if project else self.welcome)
        self.setWindowTitle(f"{project.name} — GPT Studio" if project else "GPT Studio")
        self.project_label.setText(f"Project: {project.root}" if project else "No project open")
        self.close_project_action.setEnabled(project is not None)
        self.import_model_action.setEnabled(project is not None)
        for action in self.pane_actions.actions():
            action.setEnabled(project is not None)
        if project is not None and self.sidebar.currentRow() < 0:
            self.show_pane(0)
        self._refresh_recent()

    @Slot()
    def choose_import_model(self) -> QWidget | None:
        """File › Import pretrained model…: a local Hugging Face GPT-2/BERT folder into the project's models/."""
        if self.state.project is None:
            return None
        from gpt_studio.ui.import_model_dialog import ImportModelDialog

        dialog = ImportModelDialog(self.state.project, self)
        dialog.imported.connect(lambda _path: self.state.notify_changed("models"))
        dialog.open()
        return dialog

    # ------------------------------------------------------------------------------ settings, shortcuts

    @Slot()
    def show_settings(self) -> QWidget:
        """File › Settings…: default device and precision, data folder, theme (window-modal; returned)."""
        from gpt_studio.ui.settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.state.preferences, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.preferences_accepted.connect(self.set_preferences)
        dialog.open()
        return dialog

    def set_preferences(self, chosen: preferences.Preferences) -> None:
        """Store new preferences and pass them on: forms, the welcome page and the theme follow at once."""
        preferences.save(self.settings, chosen)
        theme.set_theme(_application(), chosen.theme)
        self.state.set_preferences(chosen)
        self.welcome.set_data_folder(chosen.data_folder)

    @Slot()
    def show_shortcuts(self) -> QWidget:
        """Help › Keyboard shortcuts…: every shortcut, read from this window's actions (returned)."""
        from gpt_studio.ui.shortcuts_dialog import ShortcutsDialog

        dialog = ShortcutsDialog(self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    # -------------------------------------------------------------------------------------------- panes

    def show_pane(self, index: int) -> None:
        """Select pane ``index`` (0 = Corpus & Tokenizer … 3 = Playground)."""
        self.sidebar.setCurrentRow(index)

    def current_pane(self) -> int:
        """The index of the pane shown."""
        return self.panes.currentIndex()

    @Slot(int)
    def _on_pane_selected(self, index: int) -> None:
        if index >= 0:
            self.panes.setCurrentIndex(index)
            self.pane_actions.actions()[index].setChecked(True)

    # --------------------------------------------------------------------------------------------- jobs

    def run_job(self, fn: Callable[[Reporter], Any], what: str) -> Job:
        """Start ``fn`` in a :class:`Job`; a failure shows the error dialog. Returns the started job."""
        job = Job(fn, what)
        job.failed.connect(self._on_job_failed)
        return job.start()

    @Slot(str, str)
    def _on_job_failed(self, reason: str, details: str) -> None:
        error_dialog.show_error(self, reason, details)

    @Slot()
    def _start_warm_up_unless_closed(self) -> None:
        if not self._closed and self._warm_up_job is None:
            self.start_warm_up()

    def start_warm_up(self) -> Job:
        """Import torch off the GUI thread, describe the compute device and warm the optimizer path."""
        self._warm_up_job = Job(about.detect_compute_device, "loading torch")
        self._warm_up_job.succeeded.connect(self._on_device_detected)
        self._warm_up_job.failed.connect(self._on_warm_up_failed)
        return self._warm_up_job.start()

    @Slot(object)
    def _on_device_detected(self, description: str) -> None:
        self.set_device_description(description)

    def set_device_description(self, description: str) -> None:
        """Show the compute device in the status bar and About, and tell listeners."""
        self.device_description = description
        self.device_label.setText(f"Compute: {description}")
        self.device_detected.emit(description)

    @Slot(str, str)
    def _on_warm_up_failed(self, reason: str, details: str) -> None:
        self.device_label.setText("Compute device unknown")
        error_dialog.show_error(self, f"torch could not be loaded, so training will not work: {reason}", details)

    # ------------------------------------------------------------------------------------ about, session

    @Slot()
    def show_about(self) -> None:
        """Help › About: versions and the compute device."""
        about.show_about(self, self.device_description)

    def restore_session(self, open_last: bool = True) -> None:
        """Restore geometry, the selected pane and (if ``open_last``) the last project, quietly if it is gone."""
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        last = str(self.settings.value("session/last_project", "") or "")
        if open_last and last:
            if (Path(last) / PROJECT_FILE).is_file():
                self.open_project_path(last)
            else:
                self.statusBar().showMessage(f"The last project, {last}, is no longer there.", 10_000)
        pane = self.settings.value("window/pane", 0)
        if self.state.project is not None and str(pane).isdigit() and int(pane) < len(PANES):
            self.show_pane(int(pane))

    def save_session(self) -> None:
        """Remember geometry, pane and project for the next start."""
        self.settings.setValue("window/geometry", self.saveGeometry())
        self.settings.setValue("window/pane", max(self.current_pane(), 0))
        self.settings.setValue("session/last_project", str(self.state.project.root) if self.state.project else "")
        self.settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt's name
        """Ask before stopping running jobs; cancel them and wait so nothing is left half-written."""
        # the warm-up and other quiet jobs (Settings' device check) only read, and end by themselves within seconds
        jobs = [j for j in running_jobs() if j is not self._warm_up_job and not getattr(j, "quiet", False)]
        if jobs and not error_dialog.confirm(
                self, f"{len(jobs)} job(s) still running ({', '.join(j.what for j in jobs)}). Stop them and quit? "
                      "Stopped jobs leave the project as it was before they started.", "Stop and quit"):
            event.ignore()
            return
        self.statusBar().showMessage("Stopping running jobs…")
        QApplication.setOverrideCursor(Qt.CursorShape.WaitCursor)
        try:
            for index in range(self.panes.count()):  # a pane with a training run stops it with a checkpoint
                shutdown = getattr(self.pane_widget(index), "shutdown", None)
                if callable(shutdown):
                    shutdown()
            for job in jobs:
                job.cancel()
            finished = wait_for_jobs(running_jobs(), 60_000)  # includes the warm-up, which cannot be cancelled
        finally:
            QApplication.restoreOverrideCursor()
        if not finished:
            print("gpt-studio: a job did not stop within 60 s; quitting anyway.", file=sys.stderr)
        self.save_session()
        self._closed = True
        event.accept()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 - Qt's name
        """Follow a palette change (the system's light/dark switch, or File › Settings…' theme) in plots too."""
        if event.type() == QEvent.Type.PaletteChange:
            theme.sync_plot_colors(self.palette())
            theme.refresh_palette_dependents(self, self.palette())
        super().changeEvent(event)


def _application() -> QApplication:
    """The running QApplication (a main window cannot exist without one)."""
    app = QApplication.instance()
    assert isinstance(app, QApplication)
    return app
