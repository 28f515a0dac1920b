import json
from pathlib import Path

import numpy as np
import pytest

from gpt_studio.engine.errors import StudioError
from gpt_studio.engine.finetune_data import (
    ColumnMap,
    LabelPlan,
    detect_labels,
    guess_columns,
    load_task_data,
    preview_table,
    read_rows,
    stratified_split,
    subsample,
)
from gpt_studio.engine.finetune_metrics import classification_metrics, pearson, regression_metrics, spearman

DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"

SNLI = DATASETS / "snli" / "snli_dev.csv"
STSB = DATASETS / "stsb" / "stsb_dev.csv"
COPA = DATASETS / "copa" / "copa_dev.jsonl"
SENTIMENT = DATASETS / "sentiment_labelled_sentences" / "sentiment.csv"


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("path", "task", "expected"), [
    (SENTIMENT, "classification", ColumnMap(text="text", label="label")),
    (SNLI, "entailment", ColumnMap(text="premise", text_pair="hypothesis", label="label")),
    (STSB, "similarity", ColumnMap(text="sentence1", text_pair="sentence2", label="score")),
    (COPA, "multiple-choice", ColumnMap(context="context", choices="choices", label="label")),
], ids=["sentiment", "snli", "stsb", "copa"])
def test_the_shared_datasets_map_with_no_clicks(path, task, expected):
    table = preview_table(path, limit=5)
    assert len(table.rows) == 5 and table.total_rows is None
    assert all(isinstance(v, str) for row in table.rows for v in row.values()), "cells are strings for the preview"
    assert guess_columns(table.columns, task) == expected


def test_numbered_answer_columns_are_guessed_as_choices():
    guess = guess_columns(["id", "question", "choice1", "choice2", "choice3", "answer"], "multiple-choice")
    assert guess == ColumnMap(context="question", choices="choice1,choice2,choice3", label="answer")


def test_loading_the_four_formats():
    sentiment = load_task_data(SENTIMENT, "classification", ColumnMap(text="text", label="label"))
    assert sentiment.labels == ["negative", "positive"]
    assert sentiment.label_counts() == {"negative": 1500, "positive": 1500}
    assert sentiment.examples[0].row == 2, "the header is row 1"
    snli = load_task_data(SNLI, "entailment", ColumnMap(text="premise", text_pair="hypothesis", label="label"))
    assert snli.label_counts() == {"contradiction": 3278, "entailment": 3329, "neutral": 3235}
    assert len(snli.examples[0].texts) == 2
    stsb = load_task_data(STSB, "similarity", ColumnMap(text="sentence1", text_pair="sentence2", label="score"),
                          regression=True)
    assert stsb.regression and stsb.labels == [] and stsb.label_counts() == {}
    assert all(0.0 <= e.target <= 5.0 for e in stsb.examples)
    copa = load_task_data(COPA, "multiple-choice", ColumnMap(context="context,question", choices="choices",
                                                             label="label"))
    first = copa.examples[0]
    assert first.row == 1, "the first JSONL line is row 1"
    assert first.texts == ["My body cast a shadow over the grass. cause", "The sun was rising.", "The grass was cut."]
    assert first.label == 0 and copa.labels == ["answer 1", "answer 2"]


def test_rows_are_numbered_like_an_editor_shows_them(tmp_path):
    csv_file = write(tmp_path / "a.csv", 'text,label\n"two\nlines",x\nplain,y\n')
    assert [row for row, _ in read_rows(csv_file)] == [2, 3]
    jsonl = write(tmp_path / "a.jsonl", '{"text": "a", "label": 1}\n\n{"text": "b", "label": 0}\n')
    assert [row for row, _ in read_rows(jsonl)] == [1, 3]
    tsv = write(tmp_path / "a.tsv", "text\tlabel\nhello, world\tpos\n")
    assert list(read_rows(tsv)) == [(2, {"text": "hello, world", "label": "pos"})]


def test_label_plan_renames_merges_and_excludes(tmp_path):
    path = write(tmp_path / "d.csv", "text,label\na,good\nb,great\nc,bad\nd,meh\ne,\n")
    assert detect_labels(path, "label") == {"good": 1, "great": 1, "bad": 1, "meh": 1, "": 1}
    data = load_task_data(path, "classification", ColumnMap(text="text", label="label"),
                          plan=LabelPlan(rename={"great": "good"}, exclude={"meh", ""}))
    assert data.labels == ["bad", "good"] and data.label_counts() == {"bad": 1, "good": 2}
    assert data.skipped == ["row 5: label 'meh' excluded", "row 6: label '' excluded"]


@pytest.mark.parametrize(("content", "columns", "message"), [
    ("text,label\na,x\n", ColumnMap(text="sentence", label="label"), "d.csv, row 1: no column 'sentence'"),
    ("text,label\na,x\nb,\nc,y\n", ColumnMap(text="text", label="label"), "d.csv, row 3: the label ('label') is empty"),
    ("text,label\na,x\nb,x\nc,x\n", ColumnMap(text="text", label="label"), "every row has the label 'x'"),
    ("text,label\na,x\nb,y,z\n", ColumnMap(text="text", label="label"), "d.csv, row 3: 3 fields but the header has 2"),
], ids=["missing-column", "empty-label", "single-class", "ragged-row"])
def test_bad_csv_input_names_the_file_and_row(tmp_path, content, columns, message):
    path = write(tmp_path / "d.csv", content)
    with pytest.raises(StudioError, match="d.csv") as err:
        load_task_data(path, "classification", columns)
    assert message in str(err.value)


def test_a_multiple_choice_answer_index_out_of_range_names_the_row(tmp_path):
    lines = [json.dumps({"context": "c", "choices": ["a", "b"], "label": k}) for k in (0, 1, 2)]
    path = write(tmp_path / "mc.jsonl", "\n".join(lines) + "\n")
    with pytest.raises(StudioError) as err:
        load_task_data(path, "multiple-choice", ColumnMap(context="context", choices="choices", label="label"))
    assert "mc.jsonl, row 3: answer index 2 is out of range for 2 answers" in str(err.value)


def test_a_jsonl_row_missing_a_field_is_named(tmp_path):
    path = write(tmp_path / "c.jsonl", '{"text": "a", "label": "x"}\n{"label": "y"}\n')
    with pytest.raises(StudioError, match=r"c.jsonl, row 2: no field 'text'"):
        load_task_data(path, "classification", ColumnMap(text="text", label="label"))


def test_an_unknown_label_in_an_evaluation_file_names_the_row(tmp_path):
    train = load_task_data(SNLI, "entailment", ColumnMap(text="premise", text_pair="hypothesis", label="label"))
    path = write(tmp_path / "eval.csv", "premise,hypothesis,label\na,b,neutral\nc,d,maybe\n")
    with pytest.raises(StudioError) as err:
        load_task_data(path, "entailment", train.columns, labels=train.labels)
    assert "eval.csv, row 3: label 'maybe' is not one of the training labels" in str(err.value)


def test_a_regression_score_must_be_a_number(tmp_path):
    path = write(tmp_path / "s.csv", "sentence1,sentence2,score\na,b,4.5\nc,d,high\n")
    with pytest.raises(StudioError, match=r"s.csv, row 3: the score 'high' is not a number"):
        load_task_data(path, "similarity", ColumnMap(text="sentence1", text_pair="sentence2", label="score"),
                       regression=True)


def test_unreadable_files_are_user_errors(tmp_path):
    with pytest.raises(StudioError, match="unsupported file type"):
        load_task_data(write(tmp_path / "x.txt", "hi"), "classification", ColumnMap(text="a", label="b"))
    with pytest.raises(StudioError, match="file not found"):
        load_task_data(tmp_path / "none.csv", "classification", ColumnMap(text="a", label="b"))
    (tmp_path / "latin.csv").write_bytes(b"text,label\ncaf\xe9,x\n")
    with pytest.raises(StudioError, match="latin.csv, row 2: not UTF-8"):
        load_task_data(tmp_path / "latin.csv", "classification", ColumnMap(text="text", label="label"))
    with pytest.raises(StudioError, match="needs the column"):
        load_task_data(SNLI, "entailment", ColumnMap(text="premise", label="label"))


def test_prediction_files_may_lack_labels(tmp_path):
    path = write(tmp_path / "p.csv", "text\nhello\nworld\n")
    data = load_task_data(path, "classification", ColumnMap(text="text", label="label"), labels=["neg", "pos"],
                          require_labels=False)
    assert [e.label for e in data.examples] == [None, None] and not data.labelled


def test_stratified_split_keeps_class_shares_and_is_deterministic():
    data = load_task_data(SNLI, "entailment", ColumnMap(text="premise", text_pair="hypothesis", label="label"))
    train, val = stratified_split(data, 0.1, seed=3)
    assert len(train.examples) + len(val.examples) == len(data.examples)
    assert {e.row for e in train.examples}.isdisjoint(e.row for e in val.examples)
    for name, count in data.label_counts().items():
        assert val.label_counts()[name] == round(count * 0.1)
    again = stratified_split(data, 0.1, seed=3)[1]
    assert [e.row for e in again.examples] == [e.row for e in val.examples]
    assert [e.row for e in stratified_split(data, 0.1, seed=4)[1].examples] != [e.row for e in val.examples]
    small = subsample(data, 301, seed=0)
    assert len(small.examples) == 301
    for name, count in data.label_counts().items():
        assert abs(small.label_counts()[name] - count * 301 / len(data.examples)) < 1


def test_classification_metrics_by_hand():
    metrics = classification_metrics([0, 0, 1, 1, 2], [0, 1, 1, 1, 0], ["a", "b", "c"])
    assert metrics["accuracy"] == pytest.approx(0.6)
    assert metrics["confusion"] == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
    assert metrics["per_class"]["b"] == {"precision": pytest.approx(2 / 3), "recall": 1.0, "f1": pytest.approx(0.8),
                                         "support": 2}
    assert metrics["macro_f1"] == pytest.approx((0.5 + 0.8 + 0.0) / 3)


def test_correlations_match_numpy_and_handle_ties():
    rng = np.random.default_rng(0)
    x = rng.normal(size=200)
    y = x + rng.normal(size=200)
    assert pearson(x, y) == pytest.approx(np.corrcoef(x, y)[0, 1])
    assert spearman([1, 2, 2, 3], [1, 3, 3, 4]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert regression_metrics([1.0, 2.0], [1.0, 1.0]) == {"pearson": 0.0, "spearman": 0.0, "mse": 0.5}
