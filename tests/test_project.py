import json

import pytest

from gpt_studio.engine.errors import ProjectFormatError
from gpt_studio.engine.project import FORMAT_VERSION, SUBDIRS, init_project, open_project


def test_init_creates_every_folder_and_a_versioned_studio_json(tmp_path):
    project = init_project(tmp_path / "work")
    for sub in SUBDIRS:
        assert (project.root / sub).is_dir()
    meta = json.loads((project.root / "studio.json").read_text())
    assert meta["format"] == "gpt-studio-project"
    assert meta["format_version"] == FORMAT_VERSION


def test_init_on_an_existing_project_keeps_it(tmp_path):
    project = init_project(tmp_path / "work")
    (project.corpus_dir / "keep.txt").write_text("mine")
    again = init_project(tmp_path / "work")
    assert again.root == project.root
    assert (project.corpus_dir / "keep.txt").read_text() == "mine"


def test_init_refuses_a_folder_that_holds_other_files(tmp_path):
    (tmp_path / "notes.txt").write_text("personal")
    with pytest.raises(ProjectFormatError, match="already holds other files"):
        init_project(tmp_path)


def test_opening_a_plain_folder_says_how_to_create_a_project(tmp_path):
    with pytest.raises(ProjectFormatError, match="gpt-studio init"):
        open_project(tmp_path)


def test_a_project_from_a_newer_version_is_refused_with_the_versions(tmp_path):
    project = init_project(tmp_path / "p")
    meta = project.meta()
    meta["format_version"] = FORMAT_VERSION + 1
    (project.root / "studio.json").write_text(json.dumps(meta))
    with pytest.raises(ProjectFormatError, match=f"format {FORMAT_VERSION + 1}.*up to {FORMAT_VERSION}"):
        open_project(project.root)


def test_a_project_from_an_older_version_is_upgraded_on_open(tmp_path):
    root = tmp_path / "old"
    for sub in ("corpus", "tokenizer", "data", "runs"):
        (root / sub).mkdir(parents=True)
    (root / "studio.json").write_text(json.dumps({"format": "gpt-studio-project", "format_version": 0}))
    project = open_project(root)
    assert project.meta()["format_version"] == FORMAT_VERSION
    assert (root / "models").is_dir()


def test_a_damaged_studio_json_gives_a_clear_message(tmp_path):
    project = init_project(tmp_path / "p")
    (project.root / "studio.json").write_text("{ not json")
    with pytest.raises(ProjectFormatError, match="damaged"):
        open_project(project.root)


def test_atomic_writes_leave_no_temporary_files(tmp_path):
    from gpt_studio.engine.atomic import write_json

    target = tmp_path / "x.json"
    write_json(target, {"a": 1})
    with pytest.raises(TypeError):
        write_json(target, {"bad": object()})
    assert json.loads(target.read_text()) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]
