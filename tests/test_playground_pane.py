"""The Playground pane, driven like a person would: pick a model, load it, and use every tab that fits it.

Tiny GPT and BERT models are pretrained once for the module on a copy of the Tiny Shakespeare project (and a
tiny GPT classifier fine-tuned on real sentiment rows); every tab runs the real engine on a worker thread.
"""

from __future__ import annotations

import math

import pytest
from projects import capture_errors, private_copy
from PySide6.QtCore import QEvent
from PySide6.QtGui import QHelpEvent
from PySide6.QtWidgets import QApplication, QToolTip

from gpt_studio.engine.project import init_project
from gpt_studio.ui.panes import playground_pane
from gpt_studio.ui.panes.playground_pane import REASONS, PlaygroundPane, tab_reasons
from gpt_studio.ui.state import AppState

JOB_MS = 60_000
PRETRAIN = {"eval_batches": 2, "eval_interval": 1000, "checkpoint_interval": 1000, "batch_size": 8,
            "warmup_steps": 2, "lr": 3e-3, "sample_tokens": 0, "device": "cpu"}


@pytest.fixture(scope="module")
def models(shakespeare_project, sentiment_csv, tmp_path_factory):
    """A private copy of the shared project with a tiny GPT and BERT (40 steps) and a fine-tuned GPT classifier."""
    from gpt_studio.engine.finetune import FinetuneConfig, finetune
    from gpt_studio.engine.finetune_data import ColumnMap, load_task_data, subsample
    from gpt_studio.engine.pretrain import pretrain

    root = tmp_path_factory.mktemp("playground") / "proj"
    project = private_copy(shakespeare_project, root)
    gpt = pretrain(project, preset_name="tiny-gpt", settings=PRETRAIN, max_steps=40)["run_id"]
    bert = pretrain(project, preset_name="tiny-bert", settings=PRETRAIN, max_steps=40)["run_id"]
    data = subsample(load_task_data(sentiment_csv, "classification", ColumnMap(text="text", label="label")), 96, seed=0)
    finetune(project, gpt, data, FinetuneConfig(epochs=1, lr=1e-3, batch_size=32), name="sentiment-gpt")
    return project, {"gpt": gpt, "bert": bert, "classifier": "sentiment-gpt"}


@pytest.fixture
def errors(monkeypatch):
    return capture_errors(monkeypatch, playground_pane)


@pytest.fixture
def pane(qtbot, models, errors):
    state = AppState()
    state.set_project(models[0])
    pane = PlaygroundPane(state)
    qtbot.addWidget(pane)
    pane.resize(1300, 850)
    pane.ensure_built()
    yield pane
    pane.shutdown()


def load(qtbot, pane: PlaygroundPane, spec: str):
    """Choose ``spec`` in the picker and click Load, as a person would; wait for the model."""
    assert pane.select_model(spec), f"{spec} is not in the picker"
    assert pane.load_button.isEnabled(), pane.load_button.toolTip()
    pane.load_button.click()
    qtbot.waitUntil(lambda: not pane.busy, timeout=JOB_MS)
    assert pane.loaded is not None and pane.loaded.spec == spec, pane.load_bar.message.text()
    return pane.loaded


def enabled_tabs(pane: PlaygroundPane) -> list[str]:
    return [pane.tabs.tabText(i) for i in range(pane.tabs.count()) if pane.tabs.isTabEnabled(i)]


# ------------------------------------------------------------------------------------------ availability

def test_a_gpt_cannot_fill_masks_and_a_bert_cannot_generate_and_each_says_why():
    gpt, bert = tab_reasons("gpt", None), tab_reasons("bert", None)
    assert gpt["generate"] is None and gpt["zero_shot"] is None and gpt["inspector"] is None
    assert gpt["fill_mask"] == REASONS["fill_mask"] and "BERT" in gpt["fill_mask"]
    assert bert["fill_mask"] is None and bert["zero_shot"] is None and bert["inspector"] is None
    assert bert["generate"] == REASONS["generate"] and "GPT" in bert["generate"]
    assert gpt["classify"] == bert["classify"] == REASONS["classify"]
    assert tab_reasons("gpt", {"task": "classification"})["classify"] is None
    assert tab_reasons("gpt", {"task": "classification"}, classify_ready=False)["classify"] == \
        REASONS["classify_missing"]
    headless = tab_reasons("bert", {"task": "classification"}, lm_head=False)
    assert headless["fill_mask"] == headless["zero_shot"] == headless["inspector"] == REASONS["no_lm_head"]
    assert headless["classify"] is None


def test_stop_texts_masks_and_pieces_read_as_a_person_writes_them():
    from gpt_studio.ui.widgets.playground_common import readable_piece
    from gpt_studio.ui.widgets.playground_fill_mask import mask_contexts
    from gpt_studio.ui.widgets.playground_generate import parse_stops

    assert parse_stops(r"\n\n|THE END||") == ["\n\n", "THE END"] and parse_stops("") == []
    titles = mask_contexts("To be, or not to [MASK], that is the [MASK].")
    assert titles == ["To be, or not to <b>[MASK 1]</b>, that is the [MASK 2] …",
                      "… [MASK 1], that is the <b>[MASK 2]</b>."]
    assert [readable_piece(p) for p in ("\u2581the", "ing", ",", "\n", "\u2581")] == ["the", "…ing", ",", "↵", "␣"]


def test_a_project_without_models_says_how_to_get_one(qtbot, tmp_path, errors):
    state = AppState()
    state.set_project(init_project(tmp_path / "empty"))
    pane = PlaygroundPane(state)
    qtbot.addWidget(pane)
    pane.ensure_built()
    assert pane.inner.currentWidget() is pane.no_models and "Pretrain" in pane.no_models.text()
    assert not pane.load_button.isEnabled() and pane.picker.count() == 0


def test_the_picker_lists_runs_and_saved_models_and_the_loaded_model_picks_its_tabs(qtbot, pane, models):
    _, specs = models
    listed = [pane.picker.itemData(i) for i in range(pane.picker.count())]
    assert set(specs.values()) <= set(listed)
    assert "GPT" in pane.picker.itemText(listed.index(specs["gpt"]))
    load(qtbot, pane, specs["gpt"])
    assert enabled_tabs(pane) == ["Generate", "Zero-shot", "Token inspector"]
    fill_mask = pane.tabs.indexOf(pane.tab("fill_mask"))
    assert pane.tabs.tabToolTip(fill_mask) == REASONS["fill_mask"]
    assert pane.tab("fill_mask").reason_label.text() == REASONS["fill_mask"]  # inside the tab too
    assert pane.tabs.tabToolTip(pane.tabs.indexOf(pane.tab("classify"))) == REASONS["classify"]
    assert specs["gpt"] in pane.status.text() and "GPT" in pane.status.text()
    load(qtbot, pane, specs["bert"])
    assert enabled_tabs(pane) == ["Fill mask", "Zero-shot", "Token inspector"]
    assert pane.tabs.tabToolTip(pane.tabs.indexOf(pane.tab("generate"))) == REASONS["generate"]
    assert pane.tabs.isTabEnabled(pane.tabs.currentIndex())  # moved off a tab that no longer fits
    load(qtbot, pane, specs["classifier"])
    assert enabled_tabs(pane) == ["Generate", "Zero-shot", "Classify", "Token inspector"]


# ---------------------------------------------------------------------------------------------- generate

def test_generate_streams_the_continuation_and_greedy_decoding_repeats_itself(qtbot, pane, models):
    load(qtbot, pane, models[1]["gpt"])
    tab = pane.tab("generate")
    pane.tabs.setCurrentWidget(tab)
    tab.prompt.setPlainText("ROMEO:\n")
    tab.max_tokens.setValue(24)
    tab.temperature.setValue(0.0)
    outputs = []
    for _ in range(2):
        with qtbot.waitSignal(tab.generation_finished, timeout=JOB_MS) as finished:
            tab.generate_button.click()
            assert not tab.generate_button.isEnabled() and not pane.load_button.isEnabled()  # picker locked
        stats = finished.args[0]
        assert stats["reason"] == "max_tokens" and stats["tokens"] == 24 and stats["text"]
        text = tab.output.toPlainText()
        assert text == "ROMEO:\n" + stats["text"]
        assert "tokens/s" in tab.rate.text() and "24 tokens" in tab.rate.text()
        outputs.append(text)
    assert outputs[0] == outputs[1]  # temperature 0 is greedy: the same text every time
    assert tab.generate_button.isEnabled() and pane.load_button.isEnabled()


def test_stop_ends_a_long_generation_early_and_keeps_the_text(qtbot, pane, models):
    load(qtbot, pane, models[1]["gpt"])
    tab = pane.tab("generate")
    tab.max_tokens.setValue(4000)
    tab.temperature.setValue(1.0)
    tab.seed.setValue(7)
    job = tab.start()
    with qtbot.waitSignal(job.text_streamed, timeout=JOB_MS):
        pass
    with qtbot.waitSignal(tab.generation_finished, timeout=JOB_MS) as finished:
        tab.stop_button.click()
    stats = finished.args[0]
    assert stats["reason"] == "cancelled" and 0 < stats["tokens"] < 4000
    assert tab.output.toPlainText().endswith(stats["text"]) and tab.generate_button.isEnabled()


# --------------------------------------------------------------------------------------------- fill mask

def test_fill_mask_draws_one_bar_chart_per_mask(qtbot, pane, models):
    load(qtbot, pane, models[1]["bert"])
    tab = pane.tab("fill_mask")
    pane.tabs.setCurrentWidget(tab)
    tab.text.setPlainText("To be, or not to [MASK], that is the question: whether")
    cursor = tab.text.textCursor()
    cursor.setPosition(len("To be, or not to [MASK], that is the question:"))
    tab.text.setTextCursor(cursor)
    tab.insert_button.click()  # a second mask where the cursor is
    assert tab.masks() == 2 and "question: [MASK] whether" in tab.text.toPlainText()
    tab.top_k.setValue(4)
    with qtbot.waitSignal(tab.predicted, timeout=JOB_MS) as predicted:
        tab.predict_button.click()
    assert len(predicted.args[0]) == 2 and len(tab.cards) == 2
    for n, card in enumerate(tab.cards, 1):
        assert f"[MASK {n}]" in card.title.text()
        assert card.chart.bars is not None and len(card.chart.labels) == 4 == len(card.chart.texts)
        assert card.chart.values == sorted(card.chart.values, reverse=True) and 0 < sum(card.chart.values) <= 1.0001


def test_a_worker_error_shows_the_dialog_and_leaves_the_tab_usable(qtbot, pane, models, errors):
    load(qtbot, pane, models[1]["bert"])
    tab = pane.tab("fill_mask")
    tab.text.setPlainText("word " * 200 + "[MASK]")  # longer than the tiny model's 64-token context
    with qtbot.waitSignal(tab.job_bar.running_changed, timeout=JOB_MS, check_params_cb=lambda running: not running):
        tab.predict_button.click()
    assert len(errors) == 1 and "context" in errors[0][0] and errors[0][1] == ""  # a StudioError: no traceback
    assert tab.predict_button.isEnabled() and pane.load_button.isEnabled()
    tab.text.setPlainText("The king is [MASK].")
    with qtbot.waitSignal(tab.predicted, timeout=JOB_MS):
        tab.predict_button.click()
    assert len(tab.cards) == 1 and len(errors) == 1


# --------------------------------------------------------------------------------------------- zero-shot

def test_the_zero_shot_preview_shows_the_exact_scored_strings_as_they_are_typed(qtbot, pane, models):
    from gpt_studio.engine.scoring import NORMALISATION_HELP, choice_pairs, label_word_strings

    load(qtbot, pane, models[1]["gpt"])
    tab = pane.tab("zero_shot")
    tab.set_heuristic("label-words")
    editor = tab.editor
    editor.text.setPlainText("What a dull film.")
    editor.template.setText("Review: {text} It was")
    words = {"positive": " positive", "negative": " negative"}
    assert tab.preview_strings() == list(label_word_strings("What a dull film.", "Review: {text} It was",
                                                            words).values())
    assert "text-decoration: underline" in tab.preview.toHtml() and tab.score_button.isEnabled()
    editor.template.setText("no placeholder")
    assert tab.preview_problem and "{text}" in tab.preview_problem and not tab.score_button.isEnabled()
    tab.set_heuristic("multiple-choice")
    assert tab.normalisation.currentData() == "token"
    assert tab.normalisation_help.text() == NORMALISATION_HELP["token"]
    tab.normalisation.setCurrentIndex(tab.normalisation.findData("char"))
    assert tab.normalisation_help.text() == NORMALISATION_HELP["char"]
    expected = choice_pairs("My body cast a shadow over the grass because", ["the sun was rising.",
                                                                               "the grass was cut."])
    assert tab.preview_strings() == [c + x for c, x in expected]
    tab.set_heuristic("acceptability")
    assert not tab.dataset_radio.isEnabled() and tab.dataset_radio.toolTip()


def test_zero_shot_multiple_choice_scores_one_question_under_every_normalisation(qtbot, pane, models):
    load(qtbot, pane, models[1]["gpt"])
    tab = pane.tab("zero_shot")
    tab.set_heuristic("multiple-choice")
    tab.set_mode(0)
    with qtbot.waitSignal(tab.scored, timeout=JOB_MS) as scored:
        tab.score_button.click()
    result = scored.args[0]
    assert set(result.by_normalisation) == {"sum", "token", "char"} and len(result.scores) == 2
    assert tab.bars.isVisibleTo(tab) and len(tab.bars.labels) == 2
    assert sum(tab.bars.values) == pytest.approx(1.0)
    assert tab.side_by_side.columnCount() == 4 and tab.side_by_side.rowCount() == 2
    assert "answer" in tab.answer.text()


def test_zero_shot_dataset_mode_scores_real_sentiment_rows_against_chance(qtbot, pane, models, sentiment_csv):
    load(qtbot, pane, models[1]["gpt"])
    tab = pane.tab("zero_shot")
    pane.tabs.setCurrentWidget(tab)
    tab.set_heuristic("label-words")
    tab.set_mode(1)
    tab.path.setText(str(sentiment_csv))
    assert tab.editor.text.toPlainText().startswith("So there is no way")  # the file's first row in the preview
    tab.limit.setValue(30)
    with qtbot.waitSignal(tab.dataset_scored, timeout=JOB_MS) as scored:
        tab.dataset_button.click()
        assert tab.busy and not pane.load_button.isEnabled()
    report = scored.args[0]
    assert report.n == 30 and report.chance == 0.5
    results = tab.results
    assert results.headline.text() == f"{100 * report.accuracy:.1f} % correct"
    assert "on 30 rows" in results.subline.text() and "chance 50.0 %" in results.subline.text()
    assert results.rows.rowCount() == 30 == results.table.model().rowCount()
    assert sum(r["correct"] for r in results.rows.rows) / 30 == pytest.approx(report.accuracy)
    assert results.bars.labels == ["this model", "chance"] and results.bars.values[1] == 0.5
    results.mistakes.setChecked(True)
    assert results.table.model().rowCount() == sum(not r["correct"] for r in report.rows)


def test_cancelling_a_dataset_run_leaves_no_result_and_the_tab_usable(qtbot, pane, models, sentiment_csv):
    load(qtbot, pane, models[1]["gpt"])
    tab = pane.tab("zero_shot")
    tab.set_heuristic("label-words")
    tab.set_mode(1)
    tab.path.setText(str(sentiment_csv))
    tab.limit.setValue(0)  # all 3000 rows: long enough to cancel
    with qtbot.waitSignal(tab.job_bar.running_changed, timeout=JOB_MS, check_params_cb=lambda running: not running):
        assert tab.score_dataset()
        tab.job_bar.cancel_button.click()
    assert "Cancelled" in tab.job_bar.message.text() and tab.results.report is None
    assert tab.dataset_button.isEnabled()


# --------------------------------------------------------------------------------------------- inspector

@pytest.mark.parametrize("family", ["gpt", "bert"])
def test_the_token_inspector_colours_every_token_and_names_its_log_probability(qtbot, pane, models, family):
    from gpt_studio.ui.widgets.playground_inspector import surprisal_bits, surprisal_color

    loaded = load(qtbot, pane, models[1][family])
    tab = pane.tab("inspector")
    pane.tabs.setCurrentWidget(tab)
    text = "Before we proceed any further, hear me speak."
    tab.text.setPlainText(text)
    with qtbot.waitSignal(tab.inspected, timeout=JOB_MS) as inspected:
        tab.inspect_button.click()
    scores = inspected.args[0]
    assert [s.id for s in scores] == loaded.tokenizer.encode(text)
    view = tab.view
    assert len(view.spans) == len(scores)
    top = math.log2(loaded.tokenizer.vocab_size)
    for span, score in zip(view.spans, scores, strict=True):
        assert span.color == surprisal_color(surprisal_bits(score.logprob), top)
    assert len({span.color.name() for span in view.spans}) > 1  # not one flat colour
    assert "perplexity" in tab.summary.text()
    span = view.spans[3]
    center = span.rect.center().toPoint()
    QApplication.sendEvent(view, QHelpEvent(QEvent.Type.ToolTip, center, view.mapToGlobal(center)))
    tip = QToolTip.text() if QToolTip.isVisible() else view.tooltip_for(span.index)
    assert f"log p = {scores[3].logprob:.3f}" in tip and "The model expected:" in tip
    QToolTip.hideText()


# -------------------------------------------------------------------------------------------- classify

def test_classify_shows_the_fine_tuned_models_label_probabilities(qtbot, pane, models):
    load(qtbot, pane, models[1]["classifier"])
    tab = pane.tab("classify")
    pane.tabs.setCurrentWidget(tab)
    assert list(tab.boxes) == ["text"]
    tab.boxes["text"].setPlainText("The food was cold and the waiter was rude.")
    with qtbot.waitSignal(tab.classified, timeout=JOB_MS) as classified:
        tab.classify_button.click()
    result = classified.args[0]
    assert result["labels"] == ["negative", "positive"]
    assert sum(result["probabilities"]) == pytest.approx(1.0, abs=1e-5)
    assert tab.bars.labels == ["negative", "positive"] and tab.bars.values == pytest.approx(result["probabilities"])
    assert tab.answer.text().split(" (")[0] in ("negative", "positive")
    tab.boxes["text"].setPlainText("  ")
    assert not tab.classify() and "Fill in" in tab.job_bar.message.text()


# ------------------------------------------------------------------------------------------ main window

def test_the_main_window_shows_the_playground_as_its_fourth_pane(qtbot, tmp_path, models):
    from PySide6.QtCore import QSettings

    from gpt_studio.ui.main_window import MainWindow

    settings = QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)
    window = MainWindow(AppState(), settings, warm_up=False)
    qtbot.addWidget(window)
    window.open_project_path(models[0].root)
    window.show()
    window.show_pane(3)
    pane = window.pane_widget(3)
    assert isinstance(pane, PlaygroundPane)
    qtbot.waitUntil(lambda: pane.built, timeout=JOB_MS)
    assert pane.picker.count() >= 3 and pane.inner.currentWidget() is pane.tabs
    window.close()



def test_export_opens_the_hugging_face_export_for_the_chosen_model(qtbot, pane, models, tmp_path):
    from gpt_studio.ui.export_dialog import ExportDialog

    assert pane.export_button.isEnabled()
    pane.picker.setCurrentIndex(pane.picker.findData(models[1]["gpt"]))
    pane.export_selected()
    dialogs = pane.findChildren(ExportDialog)
    assert len(dialogs) == 1 and dialogs[0].model == pane.picker.currentData()
    dialogs[0].out_edit.setText(str(tmp_path / "hf"))
    with qtbot.waitSignal(dialogs[0].exported, timeout=60_000) as exported:
        dialogs[0].action_button.click()
    assert (exported.args[0] / "config.json").is_file() and (exported.args[0] / "model.safetensors").is_file()


def test_while_a_run_trains_the_playground_says_it_shares_the_device(qtbot, pane, models, tmp_path):
    from gpt_studio.workers.training import TrainingJob

    pane.show()
    assert not pane.shared_note.isVisible()
    elsewhere = private_copy(models[0], tmp_path / "other")  # any run of this window counts, in any project
    job = TrainingJob(elsewhere, preset_name="tiny-gpt", settings=PRETRAIN, max_steps=100_000)
    with qtbot.waitSignal(job.run_started, timeout=JOB_MS):
        job.start()
    try:
        qtbot.waitUntil(pane.shared_note.isVisible, timeout=3000)  # noticed within a poll
        assert f"While the pretraining run {job.run_id} trains" in pane.shared_note.text()
        assert "File › Settings…" in pane.shared_note.text()
    finally:
        with qtbot.waitSignal(job.finished, timeout=JOB_MS):
            job.stop()
    qtbot.waitUntil(lambda: not pane.shared_note.isVisible(), timeout=3000)


def test_running_out_of_memory_is_told_as_such_not_as_a_crash(qtbot):
    from gpt_studio.workers import Job

    def allocate(_reporter):  # what torch raises when a CUDA allocation fails
        raise RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB (GPU 0; 7.79 GiB total capacity)")

    job = Job(allocate, "generating")
    with qtbot.waitSignal(job.failed, timeout=JOB_MS) as failed:
        job.start()
    reason = failed.args[0]
    assert reason.startswith("Out of memory while generating.") and "pause or stop a training run" in reason
