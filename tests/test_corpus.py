import gzip
import json

import numpy as np
import pytest

from gpt_studio.engine import corpus_sources
from gpt_studio.engine.corpus import ImportOptions, SourceSpec, import_corpus, iter_documents, load_manifest
from gpt_studio.engine.errors import CancelledError, StudioError
from gpt_studio.engine.progress import Reporter
from gpt_studio.engine.project import init_project


@pytest.fixture()
def project(tmp_path):
    return init_project(tmp_path / "proj")


def _source(manifest, name):
    return next(s for s in manifest["sources"] if s["path"].endswith(name))


def test_one_big_file_gets_a_tail_validation_split_of_the_requested_size(project, shakespeare):
    manifest = import_corpus(project, [shakespeare])
    split = manifest["split"]
    assert split["mode"] == "tail"
    share = split["val"]["characters"] / manifest["stats"]["characters"]
    assert share == pytest.approx(0.1, abs=0.001)
    original = shakespeare.read_text()
    val = (project.corpus_dir / "val.txt").read_text()
    assert original.rstrip().endswith(val.rstrip()[-2000:])


def test_many_rows_are_split_by_document_deterministically(project, tmp_path, sentiment_csv):
    first = import_corpus(project, [SourceSpec(path=sentiment_csv, csv_column="text")])
    assert first["split"]["mode"] == "document"
    val_docs = first["split"]["val"]["documents"]
    assert 0.07 < val_docs / first["stats"]["documents"] < 0.13
    val_text = (project.corpus_dir / "val.txt").read_bytes()
    import_corpus(project, [SourceSpec(path=sentiment_csv, csv_column="text")])
    assert (project.corpus_dir / "val.txt").read_bytes() == val_text
    import_corpus(project, [sentiment_csv], ImportOptions(seed=7))
    assert (project.corpus_dir / "val.txt").read_bytes() != val_text


def test_documents_read_back_from_the_index_are_the_rows(project, sentiment_csv):
    import csv

    import_corpus(project, [sentiment_csv], ImportOptions(val_fraction=0.2))
    docs = list(iter_documents(project, "train")) + list(iter_documents(project, "val"))
    with open(sentiment_csv, newline="") as handle:
        rows = {row["text"].strip() + "\n" for row in csv.DictReader(handle)}
    assert set(docs) <= rows
    assert len(docs) == load_manifest(project)["stats"]["documents"]


@pytest.fixture()
def messy_folder(tmp_path, shakespeare):
    folder = tmp_path / "messy"
    (folder / "sub").mkdir(parents=True)
    (folder / "good.txt").write_text(shakespeare.read_text()[:20000])
    (folder / "image.txt").write_bytes(bytes(range(256)) * 40)
    (folder / "sub" / "latin1.txt").write_bytes(
        "Le café de la gare était fermé; déjà l'été, naïve façade.\n".encode("latin-1") * 20)
    (folder / "empty.md").write_text("")
    (folder / "ragged.csv").write_text('text,label\n"a fine film",1\n"too, many",fields,0\n"bad acting",0\n')
    lines = [json.dumps({"text": f"line number {i} of the jsonl file"}) for i in range(5)]
    lines.insert(2, '{"text": "broken')
    (folder / "rows.jsonl").write_text("\n".join(lines) + "\n")
    (folder / "notes.pdf").write_bytes(b"%PDF-1.4 not really")
    return folder


def test_a_messy_folder_reports_every_source_with_a_reason(project, messy_folder):
    manifest = import_corpus(project, [messy_folder])
    assert _source(manifest, "good.txt")["status"] == "imported"
    binary = _source(manifest, "image.txt")
    assert binary["status"] == "skipped" and "binary" in binary["reason"]
    latin = _source(manifest, "latin1.txt")
    assert latin["status"] == "imported" and "not valid UTF-8" in latin["reason"]
    assert "café" in (project.corpus_dir / "train.txt").read_text() + (project.corpus_dir / "val.txt").read_text()
    empty = _source(manifest, "empty.md")
    assert empty["status"] == "skipped" and "empty" in empty["reason"]
    ragged = _source(manifest, "ragged.csv")
    assert ragged["documents"] == 2 and ragged["bad_rows"] == 1
    assert "line 3" in ragged["warnings"][0] and "3 fields but the header has 2" in ragged["warnings"][0]
    jsonl = _source(manifest, "rows.jsonl")
    assert jsonl["documents"] == 5 and jsonl["warnings"][0].startswith("line 3: not valid JSON")
    pdf = _source(manifest, "notes.pdf")
    assert pdf["status"] == "skipped" and "unsupported" in pdf["reason"]


def test_a_missing_csv_column_names_the_columns_there_are(project, tmp_path):
    path = tmp_path / "reviews.csv"
    path.write_text("review,stars\ngood,5\nbad,1\n")
    with pytest.raises(StudioError) as err:
        import_corpus(project, [path])
    assert "no column 'text'" in str(err.value) and "review, stars" in str(err.value)


def test_a_jsonl_field_can_be_chosen(project, tmp_path):
    path = tmp_path / "docs.jsonl"
    path.write_text("".join(json.dumps({"body": f"document {i} " * 20}) + "\n" for i in range(30)))
    manifest = import_corpus(project, [SourceSpec(path=path, jsonl_field="body")])
    assert manifest["stats"]["documents"] == 30


def test_zero_usable_documents_fail_and_leave_the_previous_corpus(project, shakespeare, tmp_path):
    import_corpus(project, [shakespeare])
    before = (project.corpus_dir / "manifest.json").read_bytes()
    junk = tmp_path / "junk"
    junk.mkdir()
    (junk / "a.txt").write_text("   \n\n")
    (junk / "b.bin.txt").write_bytes(b"\x00\x01\x02" * 100)
    with pytest.raises(StudioError, match="No usable documents"):
        import_corpus(project, [junk])
    assert (project.corpus_dir / "manifest.json").read_bytes() == before
    assert [p.name for p in project.root.iterdir() if p.name.startswith(".")] == []


def test_cancelling_an_import_leaves_the_project_as_it_was(project, shakespeare, war_and_peace):
    import_corpus(project, [shakespeare])
    before = (project.corpus_dir / "train.txt").read_bytes()
    reporter = Reporter(lambda done, total, msg: reporter.cancel(), min_interval_s=0)
    with pytest.raises(CancelledError):
        import_corpus(project, [war_and_peace], reporter=reporter)
    assert (project.corpus_dir / "train.txt").read_bytes() == before
    assert [p.name for p in project.root.iterdir() if p.name.startswith(".")] == []


def test_exact_duplicates_are_removed_once(project, tmp_path):
    folder = tmp_path / "dups"
    folder.mkdir()
    for i in range(20):
        (folder / f"{i:02d}.txt").write_text(f"Document {i % 10}: " + "words " * 50)
    manifest = import_corpus(project, [folder], ImportOptions(split="document", val_fraction=0.3))
    assert manifest["stats"]["documents"] == 10
    assert manifest["stats"]["duplicates_removed"] == 10
    assert import_corpus(project, [folder], ImportOptions(dedup=False))["stats"]["documents"] == 20


def test_gzip_files_import_like_plain_ones(project, tmp_path, shakespeare):
    packed = tmp_path / "input.txt.gz"
    packed.write_bytes(gzip.compress(shakespeare.read_bytes()))
    import_corpus(project, [shakespeare])
    plain = (project.corpus_dir / "train.txt").read_bytes()
    manifest = import_corpus(project, [packed])
    assert _source(manifest, "input.txt.gz")["format"] == "text"
    assert (project.corpus_dir / "train.txt").read_bytes() == plain


def test_streaming_in_small_chunks_gives_the_same_corpus(project, war_and_peace, monkeypatch):
    import_corpus(project, [war_and_peace])
    whole = (project.corpus_dir / "train.txt").read_bytes() + (project.corpus_dir / "val.txt").read_bytes()
    monkeypatch.setattr(corpus_sources, "CHUNK_CHARS", 3000)
    import_corpus(project, [war_and_peace])
    chunked = (project.corpus_dir / "train.txt").read_bytes() + (project.corpus_dir / "val.txt").read_bytes()
    assert chunked == whole


@pytest.mark.parametrize("whitespace", ["keep", "strip", "collapse"])
def test_streamed_whitespace_modes_match_whole_document_rules(project, tmp_path, monkeypatch, whitespace):
    text = "  Title  \r\n\r\n\r\n\r\nFirst para line one.   \nline two\t\n\n\n\nSecond   para.  \n\n\n"
    path = tmp_path / "doc.txt"
    path.write_text(text * 40)
    options = ImportOptions(whitespace=whitespace, split="tail")
    import_corpus(project, [path], options)
    whole = (project.corpus_dir / "train.txt").read_text() + (project.corpus_dir / "val.txt").read_text()
    monkeypatch.setattr(corpus_sources, "CHUNK_CHARS", 7)
    import_corpus(project, [path], options)
    chunked = (project.corpus_dir / "train.txt").read_text() + (project.corpus_dir / "val.txt").read_text()
    assert chunked == whole
    assert "\r" not in whole
    if whitespace == "collapse":
        assert whole.count("\n") == 1 and whole.endswith("\n")
        assert "  " not in whole
    if whitespace == "strip":
        assert "\n\n\n" not in whole and " \n" not in whole


def test_nfkc_folds_compatibility_characters(project, tmp_path):
    path = tmp_path / "lig.txt"
    path.write_text("The ﬁrst ﬂoor oﬃce. " * 50 + "\n" + "Ｆｕｌｌｗｉｄｔｈ text. " * 50)
    import_corpus(project, [path], ImportOptions(normalization="NFKC", split="tail"))
    text = (project.corpus_dir / "train.txt").read_text()
    assert "first floor office" in text and "ﬁ" not in text and "Fullwidth" in text


def test_manifest_statistics_describe_the_corpus(project, shakespeare):
    manifest = import_corpus(project, [shakespeare], ImportOptions(whitespace="keep"))
    stats = manifest["stats"]
    text = shakespeare.read_text()
    assert stats["characters"] == len(text)
    joined = (project.corpus_dir / "train.txt").read_text() + (project.corpus_dir / "val.txt").read_text()
    assert joined == text
    assert manifest["split"]["train"]["characters"] == int(round(len(text) * 0.9))
    assert stats["words"] == len(text.split())
    assert stats["distinct_characters"] == len(set(text))
    assert stats["top_characters"][0]["char"] == " "
    assert sum(stats["doc_length_histogram"]["counts"]) == stats["documents"] == 1
    train_idx = np.fromfile(project.corpus_dir / "train.idx", dtype="<u8")
    assert train_idx[-1] == (project.corpus_dir / "train.txt").stat().st_size


def test_short_latin1_french_is_read_as_windows_1252(project, tmp_path):
    path = tmp_path / "menu.txt"
    path.write_bytes(("Café crème brûlée, déjà vu.\n" * 50).encode("latin-1"))
    manifest = import_corpus(project, [path], ImportOptions(split="tail"))
    assert manifest["sources"][0]["encoding"] == "cp1252"
    assert "brûlée" in (project.corpus_dir / "train.txt").read_text()


def test_the_manifest_records_which_field_each_source_was_read_from(project, tmp_path, sentiment_csv):
    path = tmp_path / "docs.jsonl"
    path.write_text("".join(json.dumps({"body": f"document {i} " * 20}) + "\n" for i in range(30)))
    manifest = import_corpus(project, [SourceSpec(path=path, jsonl_field="body"), sentiment_csv])
    assert [s["text_field"] for s in manifest["sources"]] == ["body", "text"]
