"""The main window: panes, projects, recent list, errors, session restore, About and a clean shutdown."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from importlib import metadata
from pathlib import Path

import PySide6
import pytest
from PySide6.QtCore import QSettings, qVersion
from PySide6.QtWidgets import QWidget

from gpt_studio.engine.project import init_project
from gpt_studio.ui import about, error_dialog, main_window
from gpt_studio.ui.app import MAX_RECENT, RecentProjects, wait_for_jobs
from gpt_studio.ui.main_window import PANES, MainWindow
from gpt_studio.ui.placeholder import ComingNextPage
from gpt_studio.ui.state import AppState
from gpt_studio.workers import running_jobs

ROOT = Path(__file__).resolve().parents[1]


class Messages:
    """Captures what the window would show in message boxes (a real box would need a person to close it)."""

    def __init__(self) -> None:
        self.errors: list[tuple[str, str]] = []
        self.notices: list[str] = []
        self.questions: list[str] = []
        self.answer = True

    def confirm(self, parent, question, accept_text):
        self.questions.append(question)
        return self.answer


@pytest.fixture
def messages(monkeypatch) -> Messages:
    captured = Messages()
    monkeypatch.setattr(error_dialog, "show_error", lambda parent, reason, details="": captured.errors.append(
        (reason, details)))
    monkeypatch.setattr(error_dialog, "show_notice", lambda parent, text: captured.notices.append(text))
    monkeypatch.setattr(error_dialog, "confirm", captured.confirm)
    return captured


@pytest.fixture
def settings_path(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("GPT_STUDIO_SETTINGS_DIR", str(tmp_path / "settings"))  # nothing may touch real settings
    return tmp_path / "settings.ini"


@pytest.fixture
def make_window(qtbot, settings_path, messages):
    def make(**kwargs) -> MainWindow:
        settings = QSettings(str(settings_path), QSettings.Format.IniFormat)
        window = MainWindow(kwargs.pop("state", None) or AppState(), settings, warm_up=False, **kwargs)
        qtbot.addWidget(window)
        return window

    return make


@pytest.fixture
def project(tmp_path) -> Path:
    return init_project(tmp_path / "proj").root


def test_the_window_has_four_panes_and_the_sidebar_and_shortcuts_switch_them(make_window, project):
    window = make_window()
    window.open_project_path(project)
    assert window.panes.count() == window.sidebar.count() == len(PANES) == 4
    assert [window.sidebar.item(i).text() for i in range(4)] == ["Corpus & Tokenizer", "Pretrain", "Fine-tune",
                                                                  "Playground"]
    assert window.current_pane() == 0
    window.sidebar.setCurrentRow(2)
    assert window.current_pane() == 2 and window.pane_actions.actions()[2].isChecked()
    window.pane_actions.actions()[3].trigger()  # Go › Playground, Ctrl+4
    assert window.current_pane() == 3 and window.sidebar.currentRow() == 3
    assert [a.shortcut().toString() for a in window.pane_actions.actions()] == [f"Ctrl+{i}" for i in range(1, 5)]


def test_every_pane_is_the_real_one(make_window):
    from gpt_studio.ui.panes.corpus_pane import CorpusPane
    from gpt_studio.ui.panes.finetune_pane import FinetunePane
    from gpt_studio.ui.panes.playground_pane import PlaygroundPane
    from gpt_studio.ui.panes.pretrain_pane import PretrainPane

    window = make_window()
    kinds = (CorpusPane, PretrainPane, FinetunePane, PlaygroundPane)
    assert [type(window.pane_widget(i)) for i in range(4)] == list(kinds)
    assert not any(isinstance(window.pane_widget(i), ComingNextPage) for i in range(4))


def test_import_pretrained_model_needs_a_project_and_opens_its_dialog(make_window, project, qtbot):
    from gpt_studio.ui.import_model_dialog import ImportModelDialog

    window = make_window()
    assert not window.import_model_action.isEnabled()
    window.open_project_path(project)
    assert window.import_model_action.isEnabled()
    window.import_model_action.trigger()
    dialogs = window.findChildren(ImportModelDialog)
    assert len(dialogs) == 1 and dialogs[0].isVisible()
    dialogs[0].reject()


def test_a_model_request_switches_to_the_playground(make_window, project):
    window = make_window()
    window.open_project_path(project)
    assert window.current_pane() == 0
    window.state.request_model("no-such-model")
    assert window.current_pane() == 3


def test_without_a_project_the_welcome_page_shows_and_panes_are_disabled(make_window):
    window = make_window()
    assert window.root.currentWidget() is window.welcome
    assert not any(a.isEnabled() for a in window.pane_actions.actions())
    assert window.project_label.text() == "No project open"


def test_new_project_creates_the_folder_opens_it_and_adds_it_to_recent(make_window, tmp_path):
    window = make_window()
    folder = tmp_path / "fresh"
    project = window.new_project_path(folder)
    assert project is not None and (folder / "studio.json").is_file()
    assert window.state.project == project and window.root.currentWidget() is window.workspace
    assert "fresh" in window.windowTitle() and str(project.root) in window.project_label.text()
    assert window.recent.paths()[0] == str(project.root)


def test_recent_projects_persist_newest_first_and_reopen(make_window, tmp_path):
    first, second = init_project(tmp_path / "a").root, init_project(tmp_path / "b").root
    window = make_window()
    window.open_project_path(first)
    window.open_project_path(second)
    window.close()
    again = make_window()
    assert again.recent.paths() == [str(second), str(first)]
    assert again.welcome.recent_list.count() == 2
    assert again.welcome.recent_list.item(0).data(main_window.Qt.ItemDataRole.UserRole) == str(second)
    again.open_recent(str(first))
    assert again.state.project.root == first and again.recent.paths()[0] == str(first)


def test_the_recent_list_keeps_at_most_eight(settings_path):
    recent = RecentProjects(QSettings(str(settings_path), QSettings.Format.IniFormat))
    for i in range(MAX_RECENT + 3):
        recent.add(f"/p/{i}")
    assert recent.paths() == [f"/p/{i}" for i in range(MAX_RECENT + 2, 2, -1)]


def test_a_missing_recent_project_gives_a_message_and_is_removed(make_window, tmp_path, messages):
    gone = tmp_path / "gone"
    window = make_window()
    window.new_project_path(gone)
    window.close_project()
    (gone / "studio.json").unlink()
    for sub in gone.iterdir():
        sub.rmdir()
    gone.rmdir()
    assert window.open_recent(str(gone)) is None
    assert len(messages.notices) == 1 and "no longer exists" in messages.notices[0]
    assert window.recent.paths() == [] and window.welcome.recent_list.count() == 0
    assert messages.errors == []


def test_opening_a_folder_that_is_not_a_project_shows_the_error_dialog(make_window, tmp_path, messages):
    window = make_window()
    (tmp_path / "notes").mkdir()
    assert window.open_project_path(tmp_path / "notes") is None
    assert len(messages.errors) == 1 and "is not a GPT Studio project" in messages.errors[0][0]
    assert window.state.project is None and window.root.currentWidget() is window.welcome
    assert window.recent.paths() == []


def test_a_new_project_in_a_folder_with_other_files_is_refused_with_a_reason(make_window, tmp_path, messages):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "thesis.tex").write_text("x")
    assert make_window().new_project_path(tmp_path / "busy") is None
    assert "already holds other files" in messages.errors[0][0]


def test_a_failing_job_shows_the_error_dialog_and_the_window_stays_usable(make_window, qtbot, project, messages):
    window = make_window()
    job = window.run_job(lambda reporter: 1 / 0, "the test job")
    qtbot.waitUntil(lambda: len(messages.errors) == 1, timeout=5000)
    reason, details = messages.errors[0]
    assert reason.startswith("The test job failed") and "ZeroDivisionError" in details
    qtbot.waitUntil(lambda: job not in running_jobs(), timeout=5000)
    assert window.open_project_path(project) is not None
    window.show_pane(1)
    assert window.current_pane() == 1


def test_geometry_pane_and_last_project_are_restored_in_a_new_window(make_window, qtbot, project):
    window = make_window()
    window.open_project_path(project)
    window.show_pane(2)
    window.resize(700, 450)  # inside the offscreen screen (800 × 600): restoring clamps to it
    window.show()
    qtbot.waitExposed(window)
    window.close()
    again = make_window()
    again.restore_session()
    assert (again.width(), again.height()) == (700, 450)
    assert again.state.project is not None and again.state.project.root == project
    assert again.current_pane() == 2


def test_a_closed_project_is_not_reopened_and_a_vanished_one_is_skipped(make_window, project, messages):
    window = make_window()
    window.open_project_path(project)
    window.close_project()
    window.close()
    again = make_window()
    again.restore_session()
    assert again.state.project is None
    again.settings.setValue("session/last_project", str(project.parent / "vanished"))
    third = make_window()
    third.restore_session()
    assert third.state.project is None and messages.errors == []
    assert "no longer there" in third.statusBar().currentMessage()


def test_about_names_the_python_torch_qt_and_device():
    text = about.about_html("CPU (2 threads)")
    for needle in (metadata.version("torch"), qVersion(), PySide6.__version__, metadata.version("pyqtgraph"),
                   metadata.version("sentencepiece"), "CPU (2 threads)", sys.version.split()[0]):
        assert needle in text


def test_the_about_box_opens_without_blocking(make_window):
    window = make_window()
    window.set_device_description("CPU (test)")
    box = about.show_about(window, window.device_description)
    assert box.isVisible() and qVersion() in box.text() and "CPU (test)" in box.text()
    box.close()


def test_closing_with_a_running_job_asks_then_cancels_and_waits(make_window, messages):
    window = make_window()
    window.show()
    started = threading.Event()

    def spin(reporter):
        started.set()
        while True:
            reporter.check()
            threading.Event().wait(0.005)

    job = window.run_job(spin, "the spinning job")
    assert started.wait(5)
    messages.answer = False
    assert not window.close() and window.isVisible() and job in running_jobs()
    assert "the spinning job" in messages.questions[0]
    messages.answer = True
    assert window.close()
    assert job not in running_jobs() and messages.errors == []


def test_the_start_up_job_loads_torch_and_shows_the_compute_device(qtbot, settings_path, messages):
    window = MainWindow(AppState(), QSettings(str(settings_path), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    with qtbot.waitSignal(window.device_detected, timeout=60_000) as blocker:
        pass
    assert blocker.args[0].startswith(("CPU", "CUDA", "Apple MPS"))
    assert window.device_label.text() == f"Compute: {blocker.args[0]}"
    assert wait_for_jobs(running_jobs(), 10_000) and messages.errors == []


def test_the_sample_button_names_a_new_project_then_calls_the_state_hook(make_window, monkeypatch, tmp_path):
    from gpt_studio.ui.new_project_dialog import NewProjectDialog

    class State(AppState):
        calls = 0

        def request_sample(self) -> None:
            State.calls += 1

    build = main_window._build_pane
    monkeypatch.setattr(main_window, "_build_pane",
                        lambda index, state, parent: QWidget(parent) if index == 0 else build(index, state, parent))
    window = make_window(state=State())
    assert not window.welcome.sample_button.isHidden()
    window.welcome.sample_button.click()
    [dialog] = window.findChildren(NewProjectDialog)  # no project is open: the sample needs one first
    assert State.calls == 0 and dialog.isVisible()
    dialog.location_edit.setText(str(tmp_path))
    dialog.create_button.click()
    assert State.calls == 1
    assert window.state.project is not None and window.state.project.root == tmp_path / "python-docs-sample"


def test_the_sample_button_is_hidden_while_the_corpus_pane_is_a_placeholder(make_window, monkeypatch):
    build = main_window._build_pane
    monkeypatch.setattr(main_window, "_build_pane", lambda index, state, parent: ComingNextPage("C", "w", "n", parent)
                        if index == 0 else build(index, state, parent))
    assert make_window().welcome.sample_button.isHidden()


def test_the_screens_script_renders_every_screen(tmp_path, monkeypatch, project, settings_path):
    from gpt_studio.ui import screens

    monkeypatch.setattr(about, "detect_compute_device", lambda reporter=None: "CPU (test)")
    files = screens.render(tmp_path / "shots", project, (800, 500), dark=False)
    assert len(files) == 10 and all(f.stat().st_size > 1000 for f in files)
    assert {"settings.png", "shortcuts.png", "new-project-import.png"} <= {f.name for f in files}


def test_the_gui_verb_opens_a_project_and_quits_cleanly(tmp_path, project):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "GPT_STUDIO_SETTINGS_DIR": str(tmp_path / "s"),
           "GPT_STUDIO_QUIT_AFTER_MS": "300"}
    result = subprocess.run([sys.executable, "-m", "gpt_studio", "gui", str(project)], capture_output=True,
                            text=True, timeout=120, cwd=ROOT, env=env)
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    ini = (tmp_path / "s" / "gpt-studio.ini").read_text()
    assert f"last_project={project}" in ini
