"""First run: the welcome page's four ways in, every pane's empty state, Settings, and the shortcuts list.

Real windows on a real event loop (offscreen), real project folders in tmp_path, settings in a private INI
file whose data folder is set to tmp_path first, so nothing here touches the user's profile or data folder.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QSettings, Qt
from PySide6.QtGui import QAction, QPalette
from PySide6.QtWidgets import QApplication

from gpt_studio.engine.corpus import import_corpus
from gpt_studio.engine.project import init_project
from gpt_studio.ui import error_dialog, preferences, theme
from gpt_studio.ui.import_model_dialog import ImportModelDialog
from gpt_studio.ui.main_window import MainWindow
from gpt_studio.ui.new_project_dialog import NewProjectDialog, free_name
from gpt_studio.ui.preferences import Preferences
from gpt_studio.ui.settings_dialog import SettingsDialog
from gpt_studio.ui.shortcuts_dialog import ShortcutsDialog, plain_text
from gpt_studio.ui.state import AppState

WINDOW = QPalette.ColorRole.Window


@pytest.fixture(autouse=True)
def system_theme(qapp):
    """Every test ends with the theme it found: the QApplication is shared by the whole test session."""
    before = qapp.palette().color(WINDOW)
    yield
    theme.set_theme(qapp, "system")
    assert qapp.palette().color(WINDOW) == before


@pytest.fixture
def errors(monkeypatch) -> list[str]:
    """Messages the window would show; a question (e.g. "jobs still running, quit?") is one too, answered yes."""
    shown: list[str] = []
    monkeypatch.setattr(error_dialog, "show_error", lambda parent, reason, details="": shown.append(reason))
    monkeypatch.setattr(error_dialog, "show_notice", lambda parent, text: shown.append(text))
    monkeypatch.setattr(error_dialog, "confirm", lambda parent, question, accept: shown.append(question) or True)
    return shown


@pytest.fixture
def data_folder(tmp_path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def settings(tmp_path, monkeypatch, data_folder) -> QSettings:
    monkeypatch.setenv("GPT_STUDIO_SETTINGS_DIR", str(tmp_path / "settings"))  # nothing may touch real settings
    store = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    preferences.save(store, Preferences(data_folder=data_folder))
    return store


@pytest.fixture
def window(qtbot, settings, errors) -> MainWindow:
    made = MainWindow(AppState(), settings, warm_up=False)
    qtbot.addWidget(made)
    return made


@pytest.fixture
def fresh(window, tmp_path) -> MainWindow:
    """The window with a brand-new project open: no corpus, tokenizer, shards, runs or models."""
    window.open_project_path(init_project(tmp_path / "fresh").root)
    return window


def open_dialog(window: MainWindow, kind: type) -> object:
    [dialog] = [d for d in window.findChildren(kind) if d.isVisible()]
    return dialog


def activate(qtbot, window: MainWindow) -> None:
    """Show the window and wait until it has the keyboard (window shortcuts need an active window)."""
    window.show()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=5000)


def close_with_escape(qtbot, dialog) -> None:
    """Close a dialog a key opened with Escape, as a person does.

    It also resets the key state: the modal dialog swallowed the Ctrl release of the shortcut, and QTest's
    global "Ctrl is down" would make a later test's ``selectRow`` toggle (deselect) instead of select.
    """
    qtbot.keyClick(dialog, Qt.Key.Key_Escape)
    assert not dialog.isVisible() and QApplication.keyboardModifiers() == Qt.KeyboardModifier.NoModifier


def wait_for_devices(qtbot, dialog: SettingsDialog) -> None:
    qtbot.waitUntil(lambda: dialog.detected is not None, timeout=60_000)  # imports torch on a worker


# ------------------------------------------------------------------------------------------ welcome page

def test_the_welcome_page_offers_four_ways_in_and_names_the_data_folder(window, data_folder):
    welcome = window.welcome
    assert window.root.currentWidget() is welcome
    buttons = [welcome.new_button, welcome.open_button, welcome.sample_button, welcome.import_button]
    assert [b.text() for b in buttons] == ["New project…", "Open project…", "Use sample corpus",
                                           "Import a pretrained model…"]
    assert not any(b.isHidden() for b in buttons)
    assert str(data_folder) in welcome.data_folder_label.text()


def test_importing_from_the_welcome_page_makes_a_project_then_opens_the_import_dialog(window, data_folder):
    window.welcome.import_button.click()
    dialog = open_dialog(window, NewProjectDialog)
    assert dialog.location_edit.text() == str(data_folder)  # proposed under the data folder
    assert "first creates this project" in dialog.findChildren(type(dialog.target))[0].text()
    assert dialog.create_button.text() == "Create and choose the model…"
    assert dialog.path() == data_folder / "pretrained-models"
    dialog.create_button.click()
    assert (data_folder / "pretrained-models" / "studio.json").is_file()  # the data folder was made too
    assert window.state.project.root == data_folder / "pretrained-models"
    assert window.root.currentWidget() is window.workspace
    importer = open_dialog(window, ImportModelDialog)
    assert importer.project == window.state.project and not importer.action_button.isEnabled()
    importer.reject()
    assert not importer.isVisible() and window.state.project is not None


def test_new_project_proposes_a_free_name_in_the_data_folder_and_refuses_paths_and_full_folders(window, data_folder):
    (data_folder / "my-project").mkdir(parents=True)
    (data_folder / "my-project" / "notes.txt").write_text("mine")
    dialog = window.choose_new_project()
    assert dialog.name_edit.text() == "my-project-2" == free_name(data_folder, "my-project")
    assert dialog.create_button.isEnabled() and str(data_folder / "my-project-2") in dialog.target.text()
    dialog.name_edit.setText("a/b")
    assert not dialog.create_button.isEnabled() and "not a path" in dialog.error.text()
    dialog.name_edit.setText("my-project")
    assert not dialog.create_button.isEnabled() and "already exists and holds files" in dialog.error.text()
    dialog.name_edit.setText("thesis corpus")
    dialog.create_button.click()
    assert window.state.project.root == data_folder / "thesis corpus"


def test_a_new_project_where_nothing_can_be_written_is_refused_in_the_dialog(window, tmp_path):
    (tmp_path / "a-file").write_text("x")
    dialog = window.choose_new_project()
    dialog.location_edit.setText(str(tmp_path / "a-file" / "projects"))
    dialog.create_button.click()
    assert dialog.isVisible() and "cannot write" in dialog.error.text() and window.state.project is None


# ------------------------------------------------------------------------------------------ empty states

def test_the_corpus_pane_of_a_fresh_project_asks_for_text(fresh):
    pane = fresh.pane_widget(0)
    assert pane.corpus.sources_stack.currentIndex() == 0  # the empty card, with its sample button
    assert pane.corpus.empty_sample_button.isVisibleTo(pane)
    assert "Import a corpus first" in pane.tokenizer.empty.text()


def test_the_pretrain_pane_names_the_next_step_and_goes_to_the_corpus_pane(fresh, tmp_path):
    fresh.show_pane(1)
    pane = fresh.pane_widget(1)
    assert pane.stack.currentWidget() is pane.no_data
    assert "Next: import text" in pane.no_data.text()
    go, sample = pane.no_data.buttons["Go to Corpus && Tokenizer"], pane.no_data.buttons["Use the sample corpus"]
    assert go.isVisibleTo(pane) and sample.isVisibleTo(pane)
    go.click()
    assert fresh.current_pane() == 0
    text = tmp_path / "notes.txt"
    text.write_text("A few sentences of text to import.\n\nAnd a second paragraph of it.\n" * 20)
    import_corpus(fresh.state.project, [text])
    fresh.state.notify_changed("corpus")
    assert "Next: train a tokenizer" in pane.no_data.text() and "import text" not in pane.no_data.text()
    assert not sample.isVisibleTo(pane)  # a corpus exists: replacing it is the corpus pane's question


def test_the_fine_tune_pane_offers_pretraining_and_importing_a_model(fresh):
    fresh.show_pane(2)
    pane = fresh.pane_widget(2)
    pane.ensure_built()
    base = pane.wizard.base_page
    assert base.empty.isVisibleTo(pane) and "no pretrained model yet" in base.empty.text()
    assert base.pretrain_button.isVisibleTo(pane)
    base.import_button.click()
    open_dialog(fresh, ImportModelDialog).reject()
    base.pretrain_button.click()
    assert fresh.current_pane() == 1


def test_the_playground_pane_without_models_offers_the_three_ways_to_get_one(fresh):
    fresh.show_pane(3)
    pane = fresh.pane_widget(3)
    pane.ensure_built()
    empty = pane.no_models
    assert pane.inner.currentWidget() is empty and "No trained model" in empty.text()
    empty.buttons["Go to Fine-tune"].click()
    assert fresh.current_pane() == 2
    empty.buttons["Go to Pretrain"].click()
    assert fresh.current_pane() == 1
    empty.buttons["Import a pretrained model…"].click()
    open_dialog(fresh, ImportModelDialog).reject()


# ------------------------------------------------------------------------------------------------ settings

def test_settings_round_trip_and_new_forms_start_with_the_chosen_device_and_precision(qtbot, fresh, tmp_path):
    fresh.settings_action.trigger()  # File › Settings…
    dialog = open_dialog(fresh, SettingsDialog)
    wait_for_devices(qtbot, dialog)
    cuda_row = dialog.device.findData("cuda")
    assert dialog.device.model().item(cuda_row).isEnabled() == (dialog.detected["cuda"] is not None)
    assert "Trains on:" in dialog.device_note.text()
    dialog.device.setCurrentIndex(dialog.device.findData("cpu"))
    dialog.precision.setCurrentIndex(dialog.precision.findData("bf16"))
    dialog.folder_edit.setText(str(tmp_path / "elsewhere"))
    dialog.theme.setCurrentIndex(dialog.theme.findData("dark"))
    dialog.buttons.button(dialog.buttons.StandardButton.Ok).click()
    assert not dialog.isVisible()
    chosen = Preferences(device="cpu", precision="bf16", data_folder=tmp_path / "elsewhere", theme="dark")
    assert preferences.load(fresh.settings) == fresh.state.preferences == chosen
    assert (tmp_path / "elsewhere").is_dir() and str(tmp_path / "elsewhere") in fresh.welcome.data_folder_label.text()
    again = fresh.show_settings()
    assert (again.device.currentData(), again.precision.currentData(), again.folder_edit.text(),
            again.theme.currentData()) == ("cpu", "bf16", str(tmp_path / "elsewhere"), "dark")
    again.reject()
    pretrain = fresh.pane_widget(1)
    pretrain.ensure_built()  # a run form made now starts from the preferences
    assert pretrain.form.fields["device"].value() == "cpu" and pretrain.form.fields["precision"].value() == "bf16"
    fresh.pane_widget(2).ensure_built()
    options = fresh.pane_widget(2).wizard.options_page
    assert (options.device.currentData(), options.precision.currentData()) == ("cpu", "bf16")
    assert options.config().device == "cpu" and options.config().precision == "bf16"
    assert fresh.choose_new_project().location_edit.text() == str(tmp_path / "elsewhere")


def test_a_form_follows_new_defaults_but_keeps_what_the_person_chose(fresh, data_folder):
    pane = fresh.pane_widget(1)
    pane.ensure_built()
    fields = pane.form.fields
    assert (fields["device"].value(), fields["precision"].value()) == ("auto", "fp32")
    fresh.set_preferences(Preferences(device="cpu", precision="bf16", data_folder=data_folder))
    assert (fields["device"].value(), fields["precision"].value()) == ("cpu", "bf16")  # untouched: follows
    fields["precision"].set_value("fp32")  # the person's choice
    fresh.set_preferences(Preferences(device="auto", precision="bf16", data_folder=data_folder))
    assert (fields["device"].value(), fields["precision"].value()) == ("auto", "fp32")


def test_the_theme_applies_as_soon_as_it_is_chosen_plots_included_and_cancel_restores_it(qtbot, fresh, qapp):
    histogram = fresh.pane_widget(0).corpus.stats.histogram
    before = qapp.palette().color(WINDOW)
    dialog = fresh.show_settings()
    dialog.theme.setCurrentIndex(dialog.theme.findData("dark"))
    assert qapp.palette().color(WINDOW).lightness() < 80 and before.lightness() > 150
    base = qapp.palette().color(QPalette.ColorRole.Base)
    import pyqtgraph as pg

    qtbot.waitUntil(lambda: histogram.backgroundBrush().color() == base)  # plots already made (events are posted)
    assert pg.mkColor(pg.getConfigOption("background")) == base  # new plots
    muted = fresh.welcome.data_folder_label.palette().color(QPalette.ColorRole.WindowText)
    assert muted == theme.dark_palette().color(QPalette.ColorRole.PlaceholderText)  # muted text stays readable
    dialog.reject()
    assert qapp.palette().color(WINDOW) == before
    qtbot.waitUntil(lambda: histogram.backgroundBrush().color() == qapp.palette().color(QPalette.ColorRole.Base))
    assert preferences.load(fresh.settings).theme == "system"


def test_a_stored_dark_theme_applies_when_the_window_starts(qtbot, settings, errors, qapp, data_folder):
    preferences.save(settings, Preferences(theme="dark", data_folder=data_folder))
    window = MainWindow(AppState(), settings, warm_up=False)
    qtbot.addWidget(window)
    assert qapp.palette().color(WINDOW) == theme.dark_palette().color(WINDOW)
    assert qapp.style().name().lower() == "fusion"


@pytest.mark.parametrize("where", ["under-a-file", "is-a-file"])
def test_a_data_folder_that_cannot_be_written_is_refused_with_the_reason(qtbot, window, tmp_path, where):
    (tmp_path / "a-file").write_text("x")
    target = tmp_path / "a-file" / "projects" if where == "under-a-file" else tmp_path / "a-file"
    dialog = window.show_settings()
    dialog.folder_edit.setText(str(target))
    dialog.buttons.button(dialog.buttons.StandardButton.Ok).click()
    assert dialog.isVisible() and dialog.folder_error.isVisibleTo(dialog)
    assert str(target) in dialog.folder_error.text()
    assert ("cannot write" if where == "under-a-file" else "is a file, not a folder") in dialog.folder_error.text()
    assert preferences.load(window.settings).data_folder == tmp_path / "data"  # nothing stored
    dialog.reject()


def test_unknown_stored_values_fall_back_to_their_defaults_one_by_one(settings):
    settings.setValue("preferences/device", "tpu")
    settings.setValue("preferences/theme", "solarized")
    settings.setValue("preferences/precision", "bf16")
    loaded = preferences.load(settings)
    assert (loaded.device, loaded.theme, loaded.precision) == ("auto", "system", "bf16")
    with pytest.raises(ValueError, match="device must be one of"):
        Preferences(device="tpu")


# ----------------------------------------------------------------------------------------------- shortcuts

def test_the_shortcuts_dialog_lists_every_action_of_the_window_that_has_a_shortcut(qtbot, fresh):
    activate(qtbot, fresh)
    qtbot.keyClick(fresh, Qt.Key.Key_Slash, Qt.KeyboardModifier.ControlModifier)  # Help › Keyboard shortcuts…
    dialog = open_dialog(fresh, ShortcutsDialog)
    with_keys = [a for a in fresh.findChildren(QAction) if a.shortcuts()]
    assert sorted(id(r.action) for r in dialog.rows) == sorted(id(a) for a in with_keys)
    listed = dict(dialog.listed())
    assert listed["Settings…"] == "Ctrl+," and listed["Keyboard shortcuts…"] == "Ctrl+/"
    assert [listed[plain_text(t)] for t in ("Corpus && Tokenizer", "Pretrain", "Fine-tune", "Playground")] == [
        f"Ctrl+{i}" for i in range(1, 5)]
    assert "Close" not in listed["Close project"].split(", ")  # the dedicated Close key is not "typed"
    menus = {dialog.tree.topLevelItem(i).text(0) for i in range(dialog.tree.topLevelItemCount())}
    assert {"File", "Go", "Help"} <= menus
    close_with_escape(qtbot, dialog)


def test_ctrl_comma_opens_the_settings(qtbot, fresh):
    activate(qtbot, fresh)
    qtbot.keyClick(fresh, Qt.Key.Key_Comma, Qt.KeyboardModifier.ControlModifier)
    dialog = open_dialog(fresh, SettingsDialog)
    close_with_escape(qtbot, dialog)


def test_the_application_palette_is_the_systems_again_after_system_is_chosen(qapp):
    before = QApplication.palette().color(WINDOW)
    theme.set_theme(qapp, "dark")
    theme.set_theme(qapp, "light")
    assert qapp.style().name().lower() == "fusion"
    theme.set_theme(qapp, "system")
    assert QApplication.palette().color(WINDOW) == before and qapp.property(theme.NATIVE_STYLE_PROPERTY) is None
