"""The import and export dialogs: preview, work on a worker thread, clear errors, cancel on close."""

from __future__ import annotations

import fractions
import json
import shutil

import pytest
import torch
from hf_models import make_gpt2_folder, shakespeare_lines
from projects import capture_errors
from PySide6.QtWidgets import QDialog
from safetensors.torch import load_file

from gpt_studio.engine.hf_import import import_hf_model
from gpt_studio.engine.project import init_project
from gpt_studio.ui import error_dialog
from gpt_studio.ui.export_dialog import ExportDialog
from gpt_studio.ui.import_model_dialog import ImportModelDialog

WAIT_MS = 60_000


@pytest.fixture(scope="module")
def gpt2_folder(tmp_path_factory, shakespeare):
    return make_gpt2_folder(tmp_path_factory.mktemp("hf") / "tiny-gpt2", shakespeare_lines(shakespeare, count=300),
                            vocab_size=400)


@pytest.fixture
def errors(monkeypatch):
    return capture_errors(monkeypatch, error_dialog)


@pytest.fixture
def project(tmp_path):
    return init_project(tmp_path / "proj")


def _import_dialog(qtbot, project) -> ImportModelDialog:
    dialog = ImportModelDialog(project)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def test_import_dialog_previews_the_folder_and_imports_on_a_worker(qtbot, project, gpt2_folder, errors):
    dialog = _import_dialog(qtbot, project)
    assert not dialog.action_button.isEnabled()  # nothing chosen yet
    dialog.set_folder(gpt2_folder)
    assert "gpt2 (GPT2LMHeadModel)" in dialog.summary.text() and "2 layers" in dialog.summary.text()
    assert dialog.name_edit.text() == "tiny-gpt2" and dialog.action_button.isEnabled()
    with qtbot.waitSignal(dialog.imported, timeout=WAIT_MS) as blocker:
        assert dialog.start() is not None
        assert not dialog.name_edit.isEnabled() and not dialog.action_button.isEnabled()  # locked while it runs
    path = blocker.args[0]
    assert path == project.models_dir / "tiny-gpt2" and (path / "model.safetensors").is_file()
    assert dialog.result() == QDialog.DialogCode.Accepted and not dialog.isVisible() and errors == []


def test_import_dialog_names_an_unsupported_model_type_before_anything_runs(qtbot, project, tmp_path):
    folder = tmp_path / "t5"
    folder.mkdir()
    config = {"model_type": "t5", "architectures": ["T5ForConditionalGeneration"]}
    (folder / "config.json").write_text(json.dumps(config))
    dialog = _import_dialog(qtbot, project)
    dialog.set_folder(folder)
    assert "'t5'" in dialog.summary.text() and "T5ForConditionalGeneration" in dialog.summary.text()
    assert "gpt2" in dialog.summary.text() and "bert" in dialog.summary.text()  # what would be supported
    dialog.name_edit.setText("t5")
    assert not dialog.action_button.isEnabled() and dialog.start() is None


def test_a_failed_import_shows_the_reason_and_the_dialog_stays_usable(qtbot, project, gpt2_folder, tmp_path, errors):
    folder = shutil.copytree(gpt2_folder, tmp_path / "pickled")
    state = load_file(str(folder / "model.safetensors"))
    (folder / "model.safetensors").unlink()
    torch.save({**state, "args": fractions.Fraction(1, 3)}, folder / "pytorch_model.bin")
    dialog = _import_dialog(qtbot, project)
    dialog.set_folder(folder)
    dialog.start()
    qtbot.waitUntil(lambda: bool(errors), timeout=WAIT_MS)
    assert "unpickling" in errors[0][0] and errors[0][1] == ""  # a user error: no traceback behind it
    qtbot.waitUntil(lambda: dialog.action_button.isEnabled(), timeout=WAIT_MS)
    assert dialog.isVisible() and dialog.name_edit.isEnabled() and not (project.models_dir / "pickled").exists()


def test_closing_the_dialog_while_importing_cancels_and_leaves_nothing(qtbot, project, gpt2_folder, errors):
    dialog = _import_dialog(qtbot, project)
    dialog.set_folder(gpt2_folder)
    dialog.start()
    dialog.reject()  # Close while it runs: cancel, then close once the job has stopped
    assert dialog.isVisible()
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=WAIT_MS)
    assert not (project.models_dir / "tiny-gpt2").exists() and errors == []
    assert not [p for p in project.models_dir.iterdir() if p.name.startswith(".")]


def test_export_dialog_writes_a_hugging_face_folder_or_says_why_not(qtbot, project, gpt2_folder, tmp_path, errors):
    import_hf_model(gpt2_folder, project, "tiny-gpt2")
    dialog = ExportDialog("tiny-gpt2", project, description="tiny-gpt2 · imported GPT-2")
    qtbot.addWidget(dialog)
    dialog.show()
    assert not dialog.action_button.isEnabled()
    dialog.set_output(tmp_path / "out")
    with qtbot.waitSignal(dialog.exported, timeout=WAIT_MS) as blocker:
        dialog.start()
    config = json.loads((blocker.args[0] / "config.json").read_text())
    assert config["architectures"] == ["GPT2LMHeadModel"] and (tmp_path / "out" / "tokenizer.json").is_file()
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "keep.txt").write_text("mine")
    again = ExportDialog("tiny-gpt2", project)
    qtbot.addWidget(again)
    again.show()
    again.set_output(busy)
    again.start()
    qtbot.waitUntil(lambda: bool(errors), timeout=WAIT_MS)
    assert "not empty" in errors[0][0] and again.isVisible() and (busy / "keep.txt").read_text() == "mine"
