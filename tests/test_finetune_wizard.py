"""The Fine-tune wizard, driven page by page like a person would, on a tiny GPT pretrained on Tiny Shakespeare
and the real labelled files in ../shared/datasets (sentiment, SNLI, STS-B, COPA)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from projects import capture_errors, pretrained_copy
from PySide6.QtCore import QTimer

from gpt_studio.engine.project import init_project
from gpt_studio.ui import error_dialog
from gpt_studio.ui.panes.finetune_pane import FinetunePane
from gpt_studio.ui.state import AppState
from gpt_studio.ui.widgets.finetune_wizard import BASE, DATA, LABELS, OPTIONS, RESULTS, SAVE, TASK, TRAIN

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
SNLI = DATASETS / "snli" / "snli_dev.csv"
STSB = DATASETS / "stsb" / "stsb_dev.csv"
COPA = DATASETS / "copa" / "copa_dev.jsonl"
RUN_MS = 120_000
READ_MS = 30_000
QUICK = {"epochs": 1, "lr": "1e-3", "batch": 16}


@pytest.fixture(scope="module")
def project(shakespeare_project, tmp_path_factory):
    """A copy of the shared project (no runs) with one tiny GPT pretrained for 30 steps."""
    return pretrained_copy(shakespeare_project, tmp_path_factory.mktemp("finetune-wizard") / "proj")


@pytest.fixture
def errors(monkeypatch):
    return capture_errors(monkeypatch, error_dialog)


def make_pane(qtbot, project) -> FinetunePane:
    state = AppState()
    state.set_project(project)
    pane = FinetunePane(state)
    qtbot.addWidget(pane)
    pane.resize(1400, 900)
    pane.ensure_built()
    return pane


@pytest.fixture
def wizard(qtbot, project, errors):
    pane = make_pane(qtbot, project)
    yield pane.wizard
    pane.shutdown()


def click_next(qtbot, wizard) -> None:
    assert wizard.next_button.isEnabled(), wizard.reason_label.text()
    wizard.next_button.click()


def select_checkpoint(wizard) -> None:
    """Choose the pretraining run's checkpoint (models fine-tuned by earlier tests are listed too, newest first)."""
    runs = wizard.choices.project.runs_dir
    wizard.base_page.select(next(i for i, b in enumerate(wizard.base_page.bases) if runs in b.path.parents))


def to_data_page(qtbot, wizard, task: str = "classification") -> None:
    select_checkpoint(wizard)
    click_next(qtbot, wizard)
    wizard.task_page.choose(task)
    click_next(qtbot, wizard)
    assert wizard.current == DATA


def load_file(qtbot, wizard, path: Path) -> None:
    wizard.data_page.set_train_file(path)
    qtbot.waitUntil(lambda: not wizard.data_page.busy(), timeout=READ_MS)
    assert wizard.data_page.reason() == "", wizard.data_page.reason()


def train(qtbot, wizard, **options) -> dict:
    """From the labels page: fill the options, press Train and wait for the run to end."""
    click_next(qtbot, wizard)
    assert wizard.current == OPTIONS
    wizard.options_page.set_values(**options)
    assert wizard.next_button.text() == "Train"
    with qtbot.waitSignal(wizard.train_page.run_finished, timeout=RUN_MS) as finished:
        click_next(qtbot, wizard)
        assert wizard.current == TRAIN and not wizard.back_button.isEnabled()
    return finished.args[0]


# ---------------------------------------------------------------------------------------- navigation

def test_next_waits_with_a_reason_until_a_base_is_chosen(qtbot, wizard):
    assert wizard.current == BASE and wizard.base_page.tree.topLevelItemCount() >= 1
    assert not wizard.next_button.isEnabled()
    assert "Choose the model" in wizard.reason_label.text() and wizard.reason_label.isVisibleTo(wizard)
    select_checkpoint(wizard)
    item = wizard.base_page.tree.currentItem()
    assert item.text(1) == "GPT" and item.text(3) == "2"  # tiny-gpt's layers, for the options page
    assert wizard.next_button.isEnabled() and wizard.reason_label.text() == ""


def test_a_project_without_a_pretrained_model_says_to_pretrain_first(qtbot, tmp_path, errors):
    pane = make_pane(qtbot, init_project(tmp_path / "empty"))
    assert not pane.wizard.next_button.isEnabled()
    assert "Pretrain a model first" in pane.wizard.reason_label.text()
    assert pane.wizard.base_page.empty.isVisibleTo(pane)


def test_the_data_page_waits_for_a_file_and_a_usable_mapping(qtbot, wizard, sentiment_csv):
    to_data_page(qtbot, wizard)
    assert not wizard.next_button.isEnabled() and "Choose a training file" in wizard.reason_label.text()
    load_file(qtbot, wizard, sentiment_csv)
    assert (wizard.choices.columns.text, wizard.choices.columns.label) == ("text", "label")
    assert wizard.data_page.table.rowCount() == 20 and wizard.next_button.isEnabled()
    wizard.data_page.set_column("label", "text")
    assert not wizard.next_button.isEnabled() and "same one" in wizard.reason_label.text()
    wizard.data_page.set_column("label", "label")
    qtbot.waitUntil(lambda: wizard.next_button.isEnabled(), timeout=READ_MS)
    assert "3,000 examples" in wizard.data_page.status.text()


def test_a_bad_row_keeps_next_disabled_and_is_named(qtbot, wizard, tmp_path, sentiment_csv):
    lines = sentiment_csv.read_text(encoding="utf-8").splitlines()[:41]  # the header and rows 2-41
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join([*lines, "one,field,too many"]) + "\n", encoding="utf-8")
    to_data_page(qtbot, wizard)
    wizard.data_page.set_train_file(bad)
    assert wizard.data_page.table.rowCount() == 20  # the preview reads only the first rows
    qtbot.waitUntil(lambda: not wizard.data_page.busy(), timeout=READ_MS)
    assert not wizard.next_button.isEnabled()
    assert "row 42" in wizard.reason_label.text() and wizard.data_page.error.isVisibleTo(wizard)


def test_rows_without_a_label_start_excluded(qtbot, wizard, tmp_path):
    blank = tmp_path / "blank.csv"
    blank.write_text("text,label\ngood film,positive\nno label here,\nawful,negative\n", encoding="utf-8")
    to_data_page(qtbot, wizard)
    load_file(qtbot, wizard, blank)
    click_next(qtbot, wizard)
    assert wizard.labels_page.counts() == {"positive": 1, "negative": 1}
    assert "(1 left out)" in wizard.labels_page.summary.text() and wizard.choices.plan.exclude == {""}


def test_the_preview_shows_the_token_sequence_with_its_special_tokens(qtbot, wizard, sentiment_csv):
    to_data_page(qtbot, wizard)
    load_file(qtbot, wizard, sentiment_csv)
    sequences = wizard.data_page.preview_tokens()
    assert len(sequences) == 1
    pieces = [piece for piece, _ in sequences[0]]
    ids = [token_id for _, token_id in sequences[0]]
    assert pieces[0] == "<s>" and pieces[-1] == "[CLS]" and (ids[0], ids[-1]) == (2, 5)
    assert len(pieces) > 5  # the text itself in between
    wizard.data_page.preview.example.setValue(3)
    assert wizard.data_page.preview_tokens()[0] != sequences[0]
    assert "Row 4 of sentiment.csv" in wizard.data_page.preview.example_label.text()


def test_back_keeps_every_choice(qtbot, wizard, sentiment_csv):
    to_data_page(qtbot, wizard)
    load_file(qtbot, wizard, sentiment_csv)
    click_next(qtbot, wizard)
    wizard.labels_page.rename("positive", "good")
    click_next(qtbot, wizard)
    wizard.options_page.set_values(epochs=2, batch=8, name="kept-name")
    for _ in range(OPTIONS - TASK):
        assert wizard.go_back()
    assert wizard.current == TASK and wizard.task_page.cards["classification"].radio.isChecked()
    click_next(qtbot, wizard)
    assert wizard.choices.train_path == sentiment_csv and wizard.data_page.combos["text"].currentText() == "text"
    assert wizard.data_page.reason() == ""
    click_next(qtbot, wizard)
    assert "good" in wizard.labels_page.counts() and wizard.choices.plan.rename == {"positive": "good"}
    click_next(qtbot, wizard)
    assert (wizard.options_page.epochs.value(), wizard.options_page.batch.value()) == (2, 8)
    assert wizard.choices.name == "kept-name" and wizard.choices.config.epochs == 2


def test_renaming_and_excluding_labels_changes_the_counts_and_the_chart(qtbot, wizard, sentiment_csv):
    to_data_page(qtbot, wizard)
    load_file(qtbot, wizard, sentiment_csv)
    click_next(qtbot, wizard)
    page = wizard.labels_page
    assert wizard.current == LABELS
    assert page.counts() == {"negative": 1500, "positive": 1500} and page.chart.heights() == [1500, 1500]
    assert not page.warning.isVisibleTo(page)
    page.rename("positive", "good")
    assert page.counts() == {"negative": 1500, "good": 1500}
    page.rename("negative", "good")  # the same name merges the two classes
    assert page.counts() == {"good": 3000} and page.chart.heights() == [3000]
    assert not wizard.next_button.isEnabled() and "at least two classes" in wizard.reason_label.text()
    page.rename("negative", "negative")
    page.set_used("negative", False)
    assert page.counts() == {"good": 1500} and not wizard.next_button.isEnabled()
    page.set_used("negative", True)
    assert wizard.next_button.isEnabled() and wizard.choices.plan.exclude == set()


def test_an_imbalanced_file_gets_a_warning(qtbot, wizard, tmp_path, sentiment_csv):
    lines = sentiment_csv.read_text(encoding="utf-8").splitlines()
    positives = [line for line in lines[1:] if line.endswith(",positive")][:200]
    negatives = [line for line in lines[1:] if line.endswith(",negative")][:20]
    skewed = tmp_path / "skewed.csv"
    skewed.write_text("\n".join([lines[0], *positives, *negatives]) + "\n", encoding="utf-8")
    to_data_page(qtbot, wizard)
    load_file(qtbot, wizard, skewed)
    click_next(qtbot, wizard)
    assert wizard.labels_page.warning.isVisibleTo(wizard.labels_page)
    assert "10.0×" in wizard.labels_page.warning.text() and "macro-F1" in wizard.labels_page.warning.text()


def test_snli_and_copa_map_their_columns_automatically(qtbot, wizard):
    to_data_page(qtbot, wizard, "entailment")
    load_file(qtbot, wizard, SNLI)
    columns = wizard.choices.columns
    assert (columns.text, columns.text_pair, columns.label) == ("premise", "hypothesis", "label")
    assert set(wizard.choices.label_counts) == {"entailment", "neutral", "contradiction"}
    pieces = [p for p, _ in wizard.data_page.preview_tokens()[0]]
    assert pieces[0] == "<s>" and "[SEP]" in pieces and pieces[-1] == "[CLS]"
    wizard.go_back()
    wizard.task_page.choose("multiple-choice")
    click_next(qtbot, wizard)
    load_file(qtbot, wizard, COPA)
    columns = wizard.choices.columns
    assert (columns.context, columns.choices, columns.label) == ("context", "choices", "label")
    sequences = wizard.data_page.preview_tokens()
    assert len(sequences) == 2 and all(s[0][0] == "<s>" and s[-1][0] == "[CLS]" for s in sequences)
    assert "the right answer" in " ".join(c.text() for c in wizard.data_page.preview.captions)


def test_stsb_scores_default_to_regression_on_the_labels_page(qtbot, wizard):
    to_data_page(qtbot, wizard, "similarity")
    load_file(qtbot, wizard, STSB)
    assert len(wizard.data_page.preview_tokens()) == 2  # both orders
    click_next(qtbot, wizard)
    page = wizard.labels_page
    assert page.regression.isVisibleTo(page) and page.regression.isChecked() and wizard.choices.regression
    assert "scores from 0 to 5" in page.summary.text() and sum(page.chart.heights()) == 1500
    page.regression.setChecked(False)
    assert not wizard.choices.regression and len(page.counts()) > 10


# ------------------------------------------------------------------------------------------ training

def test_a_one_epoch_run_on_200_rows_completes_and_shows_accuracy_and_a_confusion_matrix(
        qtbot, wizard, errors, sentiment_csv, project):
    to_data_page(qtbot, wizard)
    load_file(qtbot, wizard, sentiment_csv)
    click_next(qtbot, wizard)
    ticks: list[float] = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(20)
    result = train(qtbot, wizard, max_examples=200, name="sentiment-200", **QUICK)
    timer.stop()
    assert errors == [] and result["reason"] == "completed"
    assert result["train_examples"] + result["val_examples"] == 200 and result["val_examples"] == 20
    page = wizard.train_page
    assert len(page.steps) == result["steps"] == 12 and len(page.evals) == 1
    assert page.step_signals <= len(page.steps)  # batched, never more than one signal per step
    gaps = [b - a for a, b in zip(ticks, ticks[1:])]
    print(f"GUI timer during the run: {len(ticks)} ticks, worst gap {max(gaps) * 1000:.0f} ms")
    assert max(gaps) < 2.0  # the event loop kept running while the model trained
    click_next(qtbot, wizard)
    assert wizard.current == RESULTS
    results = wizard.results_page
    metrics = {results.metrics.item(r, 0).text(): results.metrics.item(r, 1).text()
               for r in range(results.metrics.rowCount())}
    assert float(metrics["Accuracy"]) == pytest.approx(result["val_accuracy"], abs=1e-4) and "Macro-F1" in metrics
    assert results.per_class.rowCount() == 2
    assert (results.confusion.rowCount(), results.confusion.columnCount()) == (2, 2)
    cells = [int(results.confusion.item(r, c).text()) for r in range(2) for c in range(2)]
    assert sum(cells) == 20 and cells == [v for row in result["confusion"] for v in row]
    wrong = [p for p in results.predictions if p["true"] != p["predicted"]]
    assert len(results.predictions) == 20 and results.mistakes.rowCount() == len(wrong)
    probabilities = [float(row[4]) for row in results.mistake_rows()]
    assert probabilities == sorted(probabilities, reverse=True)
    results.confusion.cellClicked.emit(0, 0)
    assert results.mistakes.rowCount() == result["confusion"][0][0]  # the diagonal cell lists its right answers
    click_next(qtbot, wizard)
    assert wizard.current == SAVE and not wizard.next_button.isVisibleTo(wizard)
    save = wizard.save_page
    assert save.model_path == project.models_dir / "sentiment-200" and (save.model_path / "model.safetensors").is_file()
    assert save.playground_button.isEnabled() and "Playground" in save.playground_button.toolTip()
    save.name.setText("sentiment-renamed")
    assert save.rename()
    with qtbot.waitSignal(save.open_requested) as opened:
        save.playground_button.click()
    assert opened.args == ["sentiment-renamed"]
    assert (project.models_dir / "sentiment-renamed" / "finetune.json").is_file()
    assert not (project.models_dir / "sentiment-200").exists()
    wizard.go_to(BASE)
    assert any(b.spec == "sentiment-renamed" for b in wizard.base_page.bases)  # a saved model is a base too


def test_pause_then_stop_keeps_the_model_so_far(qtbot, wizard, errors, sentiment_csv):
    to_data_page(qtbot, wizard)
    load_file(qtbot, wizard, sentiment_csv)
    click_next(qtbot, wizard)
    click_next(qtbot, wizard)
    wizard.options_page.set_values(max_examples=100, name="paused-then-stopped", **QUICK)
    click_next(qtbot, wizard)
    page = wizard.train_page
    page.pause()
    qtbot.waitUntil(lambda: page.mode == "paused", timeout=RUN_MS)
    assert page.resume_button.isEnabled() and not page.pause_button.isEnabled() and not wizard.back_button.isEnabled()
    assert "Training is running" in wizard.reason_label.text()
    with qtbot.waitSignal(page.run_finished, timeout=RUN_MS) as finished:
        page.stop()
    result = finished.args[0]
    assert errors == [] and result["reason"] == "stopped" and Path(result["model_path"]).is_dir()
    assert wizard.next_button.isEnabled() and "Stopped" in page.status.text()


FORMATS = {
    "classification": (None, {}),
    "entailment": (SNLI, {}),
    "similarity": (STSB, {"regression": True}),
    "multiple-choice": (COPA, {}),
}


@pytest.mark.parametrize("task", list(FORMATS))
def test_each_task_format_trains_end_to_end_in_the_wizard(qtbot, wizard, errors, task, sentiment_csv):
    path, expect = FORMATS[task]
    to_data_page(qtbot, wizard, task)
    load_file(qtbot, wizard, path or sentiment_csv)
    click_next(qtbot, wizard)
    assert wizard.choices.regression == expect.get("regression", False)
    result = train(qtbot, wizard, max_examples=64, name=f"format-{task}", **QUICK)
    assert errors == [] and result["reason"] == "completed" and result["task"] == task
    click_next(qtbot, wizard)
    results = wizard.results_page
    assert results.metrics.rowCount() > 3 and results.predictions
    if expect.get("regression"):
        assert result["val_pearson"] is not None and not results.confusion_box.isVisibleTo(results)
        assert results.mistakes_title.text() == "Largest errors"
    else:
        size = len(result["labels"])
        assert results.confusion.rowCount() == results.confusion.columnCount() == size >= 2
