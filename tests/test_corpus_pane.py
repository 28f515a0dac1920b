"""The Corpus & Tokenizer pane, driven like a person would, on real files with the real engine."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from projects import capture_errors
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QComboBox

from gpt_studio.engine.corpus import MANIFEST, ImportOptions, import_corpus
from gpt_studio.engine.data import load_meta
from gpt_studio.engine.project import init_project
from gpt_studio.engine.tokenizer import load_tokenizer
from gpt_studio.ui.panes import corpus_pane
from gpt_studio.ui.panes.corpus_pane import CorpusPane
from gpt_studio.ui.state import AppState

FRENCH = "Le café est très bon. À bientôt, François! Où est la gare? Ça va très bien, merci.\n" * 20
JOB_MS = 30_000


@pytest.fixture
def errors(monkeypatch):
    return capture_errors(monkeypatch, corpus_pane)


@pytest.fixture
def state(tmp_path):
    state = AppState()
    state.set_project(init_project(tmp_path / "proj"))
    return state


def make_pane(qtbot, state) -> CorpusPane:
    pane = CorpusPane(state)
    qtbot.addWidget(pane)
    pane.resize(1280, 800)
    return pane


def wait_idle(qtbot, pane: CorpusPane) -> None:
    qtbot.waitUntil(lambda: not pane.busy, timeout=JOB_MS)


def statuses(pane: CorpusPane) -> dict[str, str]:
    return {row.path.name: row.detail for row in pane.corpus.model.rows()}


def drop(widget, paths: list[Path]) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    event = QDropEvent(QPointF(20, 20), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    widget.dropEvent(event)
    assert event.isAccepted()


def test_a_dropped_folder_imports_and_each_file_shows_its_outcome(qtbot, state, tmp_path, errors):
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "english.txt").write_text("A plain English document about tokenizers.\n" * 40, encoding="utf-8")
    (folder / "corrupt.txt").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" * 30)
    (folder / "french.txt").write_bytes(FRENCH.encode("latin-1"))
    (folder / "notes.bin").write_bytes(b"\x00" * 10)
    pane = make_pane(qtbot, state)
    assert not pane.corpus.import_button.isEnabled()
    assert pane.tokenizer.empty.text().startswith("Import a corpus first")

    drop(pane.corpus, [folder])
    qtbot.waitUntil(lambda: pane.corpus.model.rowCount() == 4, timeout=JOB_MS)
    assert pane.corpus.import_button.isEnabled()
    with qtbot.waitSignal(state.part_changed, timeout=JOB_MS, check_params_cb=lambda part: part == "corpus"):
        pane.corpus.import_button.click()
    wait_idle(qtbot, pane)

    shown = statuses(pane)
    assert shown["english.txt"] == "imported 1 doc"
    assert shown["corrupt.txt"].startswith("skipped: binary")
    assert shown["french.txt"].startswith("imported 1 doc") and "decoded as cp1252" in shown["french.txt"]
    assert shown["notes.bin"] == "skipped: unsupported file type .bin"
    assert pane.corpus.stats.figures["documents"].value.text() == "2"
    assert pane.corpus.stats.histogram.bars is not None
    assert pane.tokenizer.train_button.isEnabled()
    assert errors == []


def test_the_text_field_of_jsonl_and_csv_comes_from_the_file_and_can_be_changed(qtbot, state, tmp_path, errors):
    rows = [{"id": i, "title": f"t{i}", "body": f"Body number {i} says something long enough."} for i in range(30)]
    jsonl = tmp_path / "posts.jsonl"
    jsonl.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    csv = tmp_path / "reviews.csv"
    csv.write_text("label,review\n" + "".join(f"pos,Review {i} of a product I liked.\n" for i in range(30)))
    pane = make_pane(qtbot, state)
    pane.corpus.add_paths([jsonl, csv])
    qtbot.waitUntil(lambda: pane.corpus.model.rowCount() == 2, timeout=JOB_MS)
    model = pane.corpus.model
    by_name = {r.path.name: (i, r) for i, r in enumerate(model.rows())}
    j, jrow = by_name["posts.jsonl"]
    assert jrow.choices == ["id", "title", "body"] and jrow.field == "body"
    assert by_name["reviews.csv"][1].field == "review"
    pane.show()
    pane.corpus.table.edit(model.index(j, 3))  # the field cell opens a combo of the keys seen in the file
    combo = pane.corpus.table.findChild(QComboBox)
    assert [combo.itemText(i) for i in range(combo.count())] == ["id", "title", "body"]
    combo.setCurrentText("title")
    qtbot.keyClick(combo, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: jrow.field == "title", timeout=2000)
    specs = {s.path.name: s for s in model.specs()}
    assert specs["posts.jsonl"].jsonl_field == "title" and specs["reviews.csv"].csv_column == "review"
    pane.corpus.import_button.click()
    wait_idle(qtbot, pane)
    assert statuses(pane)["posts.jsonl"] == "imported 30 docs"
    pane.corpus.table.selectRow(0)
    pane.corpus.remove_button.click()
    assert list(statuses(pane)) == ["reviews.csv"]
    assert errors == []


def test_cancelling_an_import_midway_leaves_the_project_unchanged(qtbot, state, tmp_path, war_and_peace, errors):
    import_corpus(state.project, [war_and_peace])
    before = (state.project.corpus_dir / MANIFEST).read_bytes()
    big = tmp_path / "big"
    big.mkdir()
    for i in range(8):  # ≈ 26 MB: a couple of seconds to import, so the cancel lands midway
        shutil.copy(war_and_peace, big / f"copy{i}.txt")
    pane = make_pane(qtbot, state)
    pane.corpus.model.clear()
    pane.corpus.add_paths([big])
    qtbot.waitUntil(lambda: pane.corpus.model.rowCount() == 8, timeout=JOB_MS)

    pane.corpus.import_button.click()
    job = pane.corpus.bar.job
    with qtbot.waitSignal(job.cancelled, timeout=JOB_MS):
        qtbot.waitUntil(lambda: pane.corpus.bar.bar.value() > 0, timeout=JOB_MS)
        pane.corpus.bar.cancel_button.click()
    wait_idle(qtbot, pane)

    assert (state.project.corpus_dir / MANIFEST).read_bytes() == before
    assert not [p for p in state.project.root.iterdir() if p.name.startswith(".")]  # no staging left behind
    assert pane.corpus.bar.message.text().startswith("Cancelled")
    assert set(statuses(pane).values()) == {"not imported yet"}
    assert pane.corpus.import_button.isEnabled() and errors == []


def test_a_trained_tokenizer_previews_typed_text_as_chips_and_its_vocabulary_is_searchable(
        qtbot, state, shakespeare, errors):
    import_corpus(state.project, [shakespeare])
    pane = make_pane(qtbot, state)
    assert pane.corpus.stats.figures["tokens"].caption.text() == "tokens (estimate)"
    section = pane.tokenizer
    section.model_type.setCurrentText("bpe")
    section.vocab_size.setValue(600)
    with qtbot.waitSignal(state.part_changed, timeout=JOB_MS, check_params_cb=lambda part: part == "tokenizer"):
        section.train_button.click()
    wait_idle(qtbot, pane)
    assert section.report["vocab"].text() == "600"
    assert pane.corpus.stats.figures["tokens"].caption.text() == "tokens"

    text = "ROMEO: But soft,\nwhat light"
    section.preview_input.clear()
    qtbot.keyClicks(section.preview_input, "ROMEO: But soft,")
    qtbot.keyClick(section.preview_input, Qt.Key.Key_Return)
    qtbot.keyClicks(section.preview_input, "what light")
    assert section.preview_input.toPlainText() == text
    expected = load_tokenizer(state.project).encode(text)
    qtbot.waitUntil(lambda: [i for _, i in section.chips.tokens()] == expected, timeout=2000)
    assert [piece for piece, _ in section.chips.tokens()] == load_tokenizer(state.project).pieces(text)
    assert len(section.chips.chips()) == len(expected)

    section.preview_input.setPlainText("Zoë smiled")  # ë never occurs in Shakespeare: an unknown piece
    tok = load_tokenizer(state.project)
    qtbot.waitUntil(lambda: [i for _, i in section.chips.tokens()] == tok.encode("Zoë smiled"), timeout=2000)
    unknown = [piece for piece, i in section.chips.tokens() if i == tok.unk_id]
    assert unknown == ["ë"]  # the chip shows the text it stands for, outlined as unknown

    vocab = section.vocab
    assert vocab.proxy.rowCount() == 600
    qtbot.keyClicks(vocab.search, " th")
    qtbot.waitUntil(lambda: 0 < vocab.proxy.rowCount() < 600, timeout=2000)
    pieces = [vocab.proxy.index(r, 1).data() for r in range(vocab.proxy.rowCount())]
    assert all(p.lower().startswith("▁th") or "▁th" in p.lower() for p in pieces)
    assert vocab.proxy.index(0, 3).data() == ""
    vocab.search.setText("")
    qtbot.waitUntil(lambda: vocab.proxy.rowCount() == 600, timeout=2000)
    assert vocab.proxy.index(4, 3).data() == "special: mask"
    vocab.table.sortByColumn(1, Qt.SortOrder.DescendingOrder)
    shown = [vocab.model.pieces[vocab.proxy.mapToSource(vocab.proxy.index(r, 1)).row()] for r in range(600)]
    assert shown == sorted(shown, reverse=True)
    assert errors == []


def test_encoding_shows_the_shard_summary(qtbot, tmp_path, shakespeare_project, errors):
    root = shutil.copytree(shakespeare_project.root, tmp_path / "copy")
    shutil.rmtree(root / "data")
    state = AppState()
    state.set_project(init_project(root))
    pane = make_pane(qtbot, state)
    assert pane.tokenizer.encode_button.isEnabled()
    assert pane.tokenizer.encode_summary.text() == "Not encoded yet."
    with qtbot.waitSignal(state.part_changed, timeout=JOB_MS, check_params_cb=lambda part: part == "data"):
        pane.tokenizer.encode_button.click()
    wait_idle(qtbot, pane)
    meta = load_meta(state.project)
    summary = pane.tokenizer.encode_summary.text()
    assert f"{meta['splits']['train']['tokens']:,}" in summary and "uint16" in summary and "tokens/s" in summary
    assert errors == []


def test_a_failing_job_shows_the_error_dialog_and_the_pane_stays_usable(qtbot, state, tmp_path, errors):
    text = tmp_path / "small.txt"
    text.write_text("Just a few words of text, repeated to make a small corpus.\n" * 50)
    import_corpus(state.project, [text])
    pane = make_pane(qtbot, state)
    pane.tokenizer.vocab_size.setValue(50_000)
    pane.tokenizer.train_button.click()
    qtbot.waitUntil(lambda: len(errors) == 1, timeout=JOB_MS)
    reason, details = errors[0]
    assert "too large" in reason and details == ""
    assert pane.tokenizer.train_button.isEnabled() and not pane.busy
    assert pane.tokenizer.train_bar.message.text().startswith("Failed:")

    pane.tokenizer.model_type.setCurrentText("char")
    pane.tokenizer.vocab_size.setValue(0)
    pane.tokenizer.train_button.click()
    wait_idle(qtbot, pane)
    assert pane.tokenizer.tokenizer is not None and len(errors) == 1


def test_the_tokenizer_settings_show_the_vocab_sizes_the_corpus_can_fill_and_fix_one_outside_them(
        qtbot, state, sentiment_csv, errors):
    import_corpus(state.project, [sentiment_csv])
    pane = make_pane(qtbot, state)
    section, hint = pane.tokenizer, pane.tokenizer.range_hint
    assert hint.text() == "Checking which vocab sizes this corpus can fill…"  # asked off the GUI thread
    qtbot.waitUntil(lambda: hint.range is not None, timeout=JOB_MS)
    bpe = hint.range
    assert f"({bpe.model_type}): {bpe.minimum:,} to {bpe.maximum:,}" in hint.text() and bpe.maximum < 60_000
    section.vocab_size.setValue(bpe.maximum + 1)
    assert f"at most {bpe.maximum:,}" in hint.text() and f"Use {bpe.maximum:,}" in hint.text()
    hint.linkActivated.emit(hint.text().split("href='")[1].split("'")[0])  # the person clicks "Use …"
    assert section.vocab_size.value() == bpe.maximum and "Feasible" in hint.text()

    section.model_type.setCurrentText("unigram")  # another model type: other limits, checked again
    qtbot.waitUntil(lambda: hint.range is not None and hint.range.model_type == "unigram", timeout=JOB_MS)
    assert hint.range.maximum < bpe.maximum and f"at most {hint.range.maximum:,}" in hint.text()
    section.vocab_size.setValue(5)
    assert f"at least {hint.range.minimum:,}" in hint.text()
    hint.linkActivated.emit(hint.text().split("href='")[1].split("'")[0])
    assert section.vocab_size.value() == hint.range.minimum
    with qtbot.waitSignal(state.part_changed, timeout=JOB_MS, check_params_cb=lambda part: part == "tokenizer"):
        section.train_button.click()  # the size it set trains
    wait_idle(qtbot, pane)
    assert section.tokenizer.vocab_size == hint.range.minimum and errors == []


def test_a_suggested_vocab_size_too_large_for_a_small_corpus_is_moved_into_its_range(qtbot, state, tmp_path):
    text = tmp_path / "small.txt"
    text.write_text("Just a few words of text, repeated to make a small corpus.\n" * 50)
    import_corpus(state.project, [text])
    pane = make_pane(qtbot, state)
    section = pane.tokenizer
    assert section.vocab_size.value() == 2000  # proposed from the corpus's size before the range is known
    qtbot.waitUntil(lambda: section.range_hint.range is not None, timeout=JOB_MS)
    assert section.vocab_size.value() == section.range_hint.range.maximum < 200
    assert "Feasible" in section.range_hint.text()


def test_the_sample_request_builds_a_working_project(qtbot, state, errors):
    pane = make_pane(qtbot, state)
    state.request_sample()  # the welcome page's "Use sample corpus" with an empty project open
    assert pane.busy
    wait_idle(qtbot, pane)
    assert errors == []
    meta = load_meta(state.project)  # refuses stale or missing shards
    assert meta["vocab_size"] == 2000 and meta["splits"]["train"]["tokens"] > 50_000
    assert pane.tokenizer.vocab.model.rowCount() == 2000
    assert pane.corpus.model.rowCount() > 50 and set(statuses(pane).values()) >= {"imported 1 doc"}
    assert pane.corpus.bar.message.text().startswith("Sample ready")


def test_use_sample_corpus_in_a_folder_with_other_files_makes_a_project_beside_them(qtbot, tmp_path, errors):
    state = AppState()
    pane = make_pane(qtbot, state)
    assert pane.stack.currentIndex() == 0  # no project: the empty state
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "thesis.tex").write_text("mine")
    pane.use_sample_corpus(folder)
    wait_idle(qtbot, pane)
    assert state.project is not None and state.project.root == (folder / corpus_pane.SAMPLE_FOLDER).resolve()
    assert pane.stack.currentIndex() == 1 and pane.tokenizer.encode_summary.text().count("tokens") >= 2
    assert errors == []


def test_reopening_a_project_lists_its_sources_and_options_from_the_manifest(qtbot, state, tmp_path, errors):
    text = tmp_path / "doc.txt"
    text.write_text("Some words for a small corpus.\n" * 100)
    import_corpus(state.project, [text], ImportOptions(whitespace="keep", val_fraction=0.2))
    pane = make_pane(qtbot, state)
    assert statuses(pane) == {"doc.txt": "imported 1 doc"}
    assert pane.corpus.whitespace.currentText() == "keep" and pane.corpus.val_percent.value() == 20.0
    text.unlink()
    state.set_project(state.project)
    assert statuses(pane)["doc.txt"].startswith("missing")
    pane.corpus.import_button.click()
    assert len(errors) == 1 and "no longer exist" in errors[0][0] and not pane.busy


def test_unknown_pieces_are_shown_as_the_text_they_cover():
    from gpt_studio.ui.widgets.token_chips import unknown_surfaces

    assert unknown_surfaces("naïve café\nx", ["na", "<unk>", "ve", "▁ca", "f", "<unk>", "\n", "x"]) == \
        ["na", "ï", "ve", "▁ca", "f", "é", "\n", "x"]
    assert unknown_surfaces("ïé x", ["<unk>", "▁x"]) == ["ïé", "▁x"]
    assert unknown_surfaces("é", ["<unk>", "<0xC3>"]) == ["<unk>", "<0xC3>"]  # bytes: no safe alignment


def test_a_downloaded_sample_is_saved_in_the_project_and_listed(qtbot, state, tmp_path, shakespeare, errors):
    import functools
    import http.server
    import threading

    from gpt_studio.engine.samples import SOURCES_DIR, SampleSource

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(shakespeare.parent))
    handler.log_message = lambda *args: None
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        pane = make_pane(qtbot, state)
        source = SampleSource(name="Local Shakespeare", url=f"http://127.0.0.1:{httpd.server_address[1]}/input.txt",
                              filename="shakespeare.txt", sha256=None, size="1 MB", description="test")
        pane.corpus.start_download(source)
        qtbot.waitUntil(lambda: pane.corpus.model.rowCount() == 1, timeout=JOB_MS)
    finally:
        httpd.shutdown()
        httpd.server_close()
    saved = state.project.root / SOURCES_DIR / "shakespeare.txt"
    assert saved.read_bytes() == shakespeare.read_bytes()
    assert pane.corpus.model.rows()[0].path == saved and errors == []


def test_the_full_pane_fits_1000_pixels_wide_without_clipping_its_labels(qtbot, shakespeare_project, errors):
    state = AppState()
    state.set_project(init_project(shakespeare_project.root))
    pane = make_pane(qtbot, state)
    pane.resize(1000, 700)
    pane.show()
    qtbot.waitUntil(lambda: pane.tokenizer.inspect_stack.currentIndex() == 1, timeout=2000)
    assert pane.minimumSizeHint().width() <= 1000 and pane.minimumSizeHint().height() <= 700
    message = pane.corpus.bar.message
    assert message.text().startswith("Corpus: 1 document from 1 file.")  # singular, and wrapped, not cut
    qtbot.waitUntil(lambda: message.height() >= message.heightForWidth(message.width()), timeout=2000)
    assert pane.corpus.stats.figures["documents"].caption.text() == "document"
    for widget in (pane.tokenizer.byte_fallback, pane.tokenizer.vocab_size, pane.corpus.download_button):
        right = widget.mapTo(pane, widget.rect().topRight()).x()
        assert widget.isVisible() and right < pane.width(), widget


def test_the_median_label_stays_inside_the_histogram_wherever_the_line_is(qtbot):
    from gpt_studio.ui.widgets.histogram import LengthHistogram

    plot = LengthHistogram()
    qtbot.addWidget(plot)
    plot.resize(220, 200)
    plot.show()
    edges = [10.0 ** (k / 4) for k in range(4, 29)]
    for median, bin_ in ((20.0, 1), (1_115_388.0, 20)):  # a line at the left edge, then at the right edge
        counts = [0] * (len(edges) - 1)
        counts[bin_] = 3
        plot.set_histogram({"edges": edges, "counts": counts, "median": median, "min": 1, "mean": 2, "max": 3})
        qtbot.wait(20)
        label, view = plot.median_label, plot.getPlotItem().getViewBox()
        box = label.mapRectToItem(view, label.boundingRect())
        assert 0 <= box.left() and box.right() <= view.width() + 0.5, (median, box)
        assert "median" in label.toPlainText()
    axis = plot.getPlotItem().getAxis("bottom")
    assert axis.label.boundingRect().width() <= view.width()  # the axis title is shortened, not cut


def test_counts_in_messages_are_singular_for_one():
    from gpt_studio.ui.widgets.wording import plural

    assert plural(1, "document") == "1 document" and plural(2, "document") == "2 documents"
    assert plural(1_204, "file") == "1,204 files" and plural(0, "copy", "copies") == "0 copies"
