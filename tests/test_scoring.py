"""Scoring: masked-token prediction, log-probabilities, pseudo-log-likelihood and the zero-shot heuristics,
on tiny models trained on tiny Shakespeare and the shared sentiment, COPA and WSC files."""

from __future__ import annotations

import json
import math
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from gpt_studio.engine import logprobs
from gpt_studio.engine.data import TokenShard
from gpt_studio.engine.errors import CancelledError, StudioError
from gpt_studio.engine.loading import load_model
from gpt_studio.engine.model import Transformer, preset
from gpt_studio.engine.pretrain import pretrain
from gpt_studio.engine.runs import find_run, read_jsonl
from gpt_studio.engine.scoring import (
    NORMALISATION_HELP,
    NORMALISATIONS,
    acceptability,
    choice_pairs,
    conditional_logprobs,
    continuation_logprobs,
    fill_mask,
    fill_mask_ids,
    fill_mask_probe,
    label_word_strings,
    label_words,
    probe_positions,
    pseudo_log_likelihood,
    score_choices,
    token_surprisal,
    winograd,
    winograd_pair,
    zero_shot_dataset,
)
from gpt_studio.engine.tokenizer import Tokenizer

DATASETS = Path(__file__).resolve().parents[1].parent / "shared" / "datasets"
SENTIMENT = DATASETS / "sentiment_labelled_sentences" / "sentiment.csv"
COPA = DATASETS / "copa" / "copa_dev.jsonl"
WSC = DATASETS / "wsc273" / "wsc273.jsonl"
FAST = {"batch_size": 16, "eval_batches": 1, "eval_interval": 1000, "warmup_steps": 5, "lr": 3e-3,
        "sample_tokens": 0, "device": "cpu"}
LINES = ["Now is the winter of our discontent", "To be, or not to be, that is the question",
         "My lord, I will not speak of it again", "What is the matter with you, my good lord?",
         "I pray you, sir, give me leave to go", "O, let me not be mad, not mad, sweet heaven",
         "The king is come to see you, my lord", "Good night, sweet prince, and flights of angels"]


@pytest.fixture(scope="module")
def tokenizer(shakespeare_project) -> Tokenizer:
    return Tokenizer(shakespeare_project.tokenizer_dir)


def test_fill_mask_ranks_ordinary_tokens_for_every_mask(tokenizer):
    torch.manual_seed(0)
    model = Transformer(preset("tiny-bert", vocab_size=tokenizer.vocab_size))
    ids = [tokenizer.cls_id, *tokenizer.encode("To be, or not to be"), tokenizer.sep_id]
    ids[2] = ids[4] = tokenizer.mask_id
    guesses = fill_mask_ids(model, tokenizer, ids, top_k=4)
    assert [g.position for g in guesses] == [2, 4]
    for guess in guesses:
        assert len(guess.ids) == 4 and guess.probabilities == sorted(guess.probabilities, reverse=True)
        assert not set(guess.ids) & set(tokenizer.special_ids)
        assert 0 < sum(guess.probabilities) <= 1.0 + 1e-6


def test_fill_mask_refuses_a_causal_model_and_an_overlong_text(tokenizer):
    gpt = Transformer(preset("tiny-gpt", vocab_size=tokenizer.vocab_size))
    with pytest.raises(ValueError, match="bidirectional"):
        fill_mask_ids(gpt, tokenizer, [tokenizer.mask_id])
    bert = Transformer(preset("tiny-bert", vocab_size=tokenizer.vocab_size))
    with pytest.raises(ValueError, match="longer than the model's context"):
        fill_mask_ids(bert, tokenizer, [tokenizer.mask_id] * 65)


def test_probe_positions_are_spread_over_ordinary_tokens_and_skip_specials():
    tokens = np.array([5, 10, 11, 12, 3, 13, 14, 15, 16])
    positions = probe_positions(tokens, {3, 5}, 3)
    assert len(positions) == 3 and positions == sorted(positions)
    assert all(tokens[p] not in (3, 5) for p in positions)
    assert probe_positions(np.array([3, 5]), {3, 5}) == []


def test_a_bert_run_shows_a_fill_mask_probe_at_each_evaluation(shakespeare_project, tokenizer):
    summary = pretrain(shakespeare_project, preset_name="tiny-bert", max_steps=4,
                       settings={"eval_interval": 2, "eval_batches": 1, "batch_size": 4, "sample_tokens": 1,
                                 "checkpoint_interval": 100})
    samples = list(read_jsonl(find_run(shakespeare_project, summary["run_id"]).samples_file))
    assert [s["step"] for s in samples] == [0, 2, 4]
    lines = samples[-1]["text"].splitlines()
    assert "[MASK]" in lines[0] and len(lines) == 4
    assert all("(was " in line and "%" in line for line in lines[1:])
    doc = TokenShard(shakespeare_project, "val").document(0)
    assert fill_mask_probe(Transformer(preset("tiny-bert", vocab_size=tokenizer.vocab_size)), tokenizer, doc)


# ------------------------------------------------------------------------------ models trained on Shakespeare

@pytest.fixture(scope="module")
def gpt(shakespeare_project):
    summary = pretrain(shakespeare_project, preset_name="tiny-gpt", max_steps=60, settings=FAST)
    return load_model(summary["run_id"], shakespeare_project)


@pytest.fixture(scope="module")
def bert(shakespeare_project):
    summary = pretrain(shakespeare_project, preset_name="tiny-bert", max_steps=120, settings=FAST)
    return load_model(summary["run_id"], shakespeare_project)


def shuffled(line: str, seed: int) -> str:
    words = line.split()
    rng = random.Random(seed)
    while True:
        rng.shuffle(words)
        if " ".join(words) != line:
            return " ".join(words)


PAIRS = [("ROMEO:\nI", " love thee"), ("", "To be, or not to be"), ("First Citizen:\nWe are", " all resolved"),
         ("KING RICHARD III:\n" + "Now is the winter of our discontent " * 8, " made glorious summer"),
         ("My lord, ", "I will not"), ("Good", "")]


# -------------------------------------------------------------------------------- log-probability scoring

def test_batched_scoring_equals_scoring_one_pair_at_a_time(gpt):
    together = continuation_logprobs(gpt.model, gpt.tokenizer, PAIRS, batch_size=4)
    alone = [continuation_logprobs(gpt.model, gpt.tokenizer, [pair], batch_size=1)[0] for pair in PAIRS]
    assert [len(t) for t in together] == [len(a) for a in alone] and len(together[-1]) == 0
    for t, a in zip(together, alone, strict=True):
        assert [s.id for s in t] == [s.id for s in a]
        assert np.allclose([s.logprob for s in t], [s.logprob for s in a], atol=1e-5)
        if t:
            assert [p for p, _ in t[0].top] == [p for p, _ in a[0].top]
    assert all(s.logprob < 0 and len(s.top) == 5 for t in together for s in t)


SHARED = [("ROMEO:\nI", " love thee"), ("ROMEO:\nI", " hate thee, villain"), ("ROMEO:\nI", " go"),
          ("ROMEO:\nI", ""), ("First Citizen:\nWe are", " all resolved"), ("First Citizen:\nWe are", " not"),
          ("Good", " night"), ("KING RICHARD III:\n" + "Now is the winter of our discontent " * 8, " made"),
          ("KING RICHARD III:\n" + "Now is the winter of our discontent " * 8, " glorious summer")]


@pytest.mark.parametrize("batch_size", [1, 3, 64])
def test_answers_sharing_a_context_score_as_if_each_were_alone(gpt, monkeypatch, batch_size):
    """Packed rows (one context, every answer after it) give each answer the scores of its own sequence.

    SHARED mixes a four-answer group with an empty answer, two-answer groups, a lone pair and a group too long
    to pack into the 64-token context (scored one pair per row instead).
    """
    shared = continuation_logprobs(gpt.model, gpt.tokenizer, SHARED, batch_size=batch_size)
    monkeypatch.setattr(logprobs, "SHARE_CONTEXTS", False)
    separate = continuation_logprobs(gpt.model, gpt.tokenizer, SHARED, batch_size=batch_size)
    assert [len(s) for s in shared] == [len(s) for s in separate] and len(shared[3]) == 0
    for a, b in zip(shared, separate, strict=True):
        assert [s.id for s in a] == [s.id for s in b]
        assert np.allclose([s.logprob for s in a], [s.logprob for s in b], atol=1e-5)
        assert [[p for p, _ in s.top] for s in a] == [[p for p, _ in s.top] for s in b]


def test_a_packed_row_reads_each_answer_after_the_context_only(gpt):
    """The row layout: answers restart at the position after the context and see it, not each other."""
    context = [gpt.tokenizer.eos_id, 5, 6, 7]
    row = logprobs._packed_row(context, [[10, 11, 12], [20], [30, 31]], 64)
    assert row is not None
    assert row.inputs == [*context, 10, 11, 30] and row.targets == [10, 11, 12, 20, 30, 31]
    assert row.positions == [0, 1, 2, 3, 4, 5, 4] and row.segments == [0, 0, 0, 0, 1, 1, 3]
    assert row.reads == [3, 4, 5, 3, 3, 6]
    positions, mask = logprobs._layout([row], len(row.inputs) + 1)
    assert mask[0, 6].tolist() == [True, True, True, True, False, False, True, False]  # answer 3 sees context + itself
    assert positions[0].tolist() == [0, 1, 2, 3, 4, 5, 4, 0]
    assert logprobs._packed_row(context, [[1] * 40, [2] * 30], 64) is None  # 4 + 39 + 29 > 64: one row per pair


def test_a_continuation_is_scored_from_the_end_of_its_context(gpt):
    """The pair scores equal the last tokens of the whole text's surprisal (same tokens either way here)."""
    context, continuation = "ROMEO:\nWhat say you", " to this"
    pair = continuation_logprobs(gpt.model, gpt.tokenizer, [(context, continuation)])[0]
    whole = token_surprisal(gpt.model, gpt.tokenizer, context + continuation)
    assert [s.piece for s in whole[-len(pair):]] == [s.piece for s in pair]
    assert np.allclose([s.logprob for s in whole[-len(pair):]], [s.logprob for s in pair], atol=1e-5)
    assert continuation_logprobs(gpt.model, gpt.tokenizer, [("My lord ", "come")])[0][0].piece.startswith("\u2581")


def test_a_long_text_is_read_in_windows_and_every_token_is_scored(gpt):
    text = " ".join(LINES * 3)
    scores = token_surprisal(gpt.model, gpt.tokenizer, text, top_k=3)
    ids = gpt.tokenizer.encode(text)
    assert len(ids) > gpt.model.config.context_length and [s.id for s in scores] == ids
    assert all(math.isfinite(s.logprob) and len(s.top) == 3 for s in scores)
    head = token_surprisal(gpt.model, gpt.tokenizer, gpt.tokenizer.decode(ids[:40]))
    assert [s.id for s in head] == ids[:40]
    assert np.allclose([s.logprob for s in head], [s.logprob for s in scores[:40]], atol=1e-5)


def test_causal_scoring_refuses_a_masked_model_and_pll_a_causal_one(gpt, bert):
    with pytest.raises(ValueError, match="causal"):
        continuation_logprobs(bert.model, bert.tokenizer, PAIRS[:1])
    with pytest.raises(ValueError, match="masked"):
        pseudo_log_likelihood(gpt.model, gpt.tokenizer, LINES[0])


def test_a_trained_gpt_prefers_real_lines_to_their_shuffled_words(gpt):
    real = [acceptability(gpt.model, gpt.tokenizer, line) for line in LINES]
    mixed = [acceptability(gpt.model, gpt.tokenizer, shuffled(line, seed)) for seed, line in enumerate(LINES)]
    assert sum(r > m for r, m in zip(real, mixed, strict=True)) >= 6 and np.mean(real) > np.mean(mixed)


# ------------------------------------------------------------------------------------------ masked models

def test_fill_mask_with_two_masks_returns_top_k_for_each(bert):
    guesses = fill_mask(bert.model, bert.tokenizer, "To be, or not to [MASK], that is the [MASK].", top_k=3)
    assert len(guesses) == 2 and guesses[0].position < guesses[1].position
    for guess in guesses:
        assert len(guess.ids) == 3 and guess.probabilities == sorted(guess.probabilities, reverse=True)
        assert not set(guess.ids) & set(bert.tokenizer.special_ids)
    with pytest.raises(StudioError, match=r"\[MASK\]"):
        fill_mask(bert.model, bert.tokenizer, "no marker here")
    with pytest.raises(StudioError, match="causal"):
        fill_mask(Transformer(preset("tiny-gpt", vocab_size=bert.tokenizer.vocab_size)), bert.tokenizer, "[MASK]")


def test_pseudo_log_likelihood_is_finite_and_prefers_real_lines(bert):
    real = [pseudo_log_likelihood(bert.model, bert.tokenizer, line) for line in LINES]
    mixed = [pseudo_log_likelihood(bert.model, bert.tokenizer, shuffled(line, seed))
             for seed, line in enumerate(LINES)]
    assert all(math.isfinite(v) and v < 0 for v in real + mixed)
    assert np.mean(real) > np.mean(mixed)
    scores = token_surprisal(bert.model, bert.tokenizer, LINES[0], top_k=2)
    assert math.isclose(sum(s.logprob for s in scores), real[0], rel_tol=1e-5)
    assert len(scores) == len(bert.tokenizer.encode(LINES[0])) and all(len(s.top) == 2 for s in scores)


def test_masked_pair_scores_batch_and_pad_like_one_at_a_time(bert):
    pairs = PAIRS[:3] + [("A very long context " * 20, " ends here")]
    together = conditional_logprobs(bert.model, bert.tokenizer, pairs, batch_size=5)
    alone = [conditional_logprobs(bert.model, bert.tokenizer, [p], batch_size=1)[0] for p in pairs]
    for t, a in zip(together, alone, strict=True):
        assert np.allclose([s.logprob for s in t], [s.logprob for s in a], atol=1e-5)


# ------------------------------------------------------------------------------------ zero-shot heuristics

def test_every_normalisation_has_a_one_line_definition():
    assert set(NORMALISATION_HELP) == set(NORMALISATIONS) == {"sum", "token", "char"}
    assert all("\n" not in text and len(text) < 200 for text in NORMALISATION_HELP.values())


def test_choice_normalisations_divide_the_sum_by_tokens_and_characters(gpt):
    context, choices = "The king is", ["dead", "come to see you, my lord"]
    sums = score_choices(gpt.model, gpt.tokenizer, context, choices, normalisation="sum")
    tokens = score_choices(gpt.model, gpt.tokenizer, context, choices, normalisation="token")
    chars = score_choices(gpt.model, gpt.tokenizer, context, choices, normalisation="char")
    pairs = choice_pairs(context, choices)
    assert pairs == [("The king is", " dead"), ("The king is", " come to see you, my lord")]
    counts = [len(s) for s in continuation_logprobs(gpt.model, gpt.tokenizer, pairs)]
    assert np.allclose(tokens, [s / n for s, n in zip(sums, counts, strict=True)])
    assert np.allclose(chars, [s / len(c) for s, c in zip(sums, choices, strict=True)])
    with pytest.raises(StudioError, match="sum, token, char"):
        score_choices(gpt.model, gpt.tokenizer, context, choices, normalisation="mean")


def test_label_words_score_the_exact_strings_the_preview_shows(gpt):
    words = {"yes": " good", "no": " gentlemen all"}  # a word of several tokens is summed
    strings = label_word_strings("A fine day", "{text}, it was very", words)
    assert strings == {"yes": "A fine day, it was very good", "no": "A fine day, it was very gentlemen all"}
    scores = label_words(gpt.model, gpt.tokenizer, "A fine day", template="{text}, it was very", words=words)
    pairs = [("A fine day, it was very", w) for w in words.values()]
    expected = [sum(s.logprob for s in t) for t in continuation_logprobs(gpt.model, gpt.tokenizer, pairs)]
    assert list(scores) == ["yes", "no"] and np.allclose(list(scores.values()), expected)
    assert set(label_words(gpt.model, gpt.tokenizer, "Great phone")) == {"positive", "negative"}
    with pytest.raises(StudioError, match="placeholder"):
        label_word_strings("x", "no placeholder", words)


def test_winograd_substitution_follows_the_datasets_rules():
    sentence = "The trophy doesn't fit into the brown suitcase because it is too large."
    at = sentence.index(" it ") + 1
    assert winograd_pair(sentence, at, "it", "The trophy") == (
        "The trophy doesn't fit into the brown suitcase because the trophy", " is too large.")
    assert winograd_pair("He lost his keys.", 0, "He", "the man")[0] == "The man"
    assert winograd_pair("Tom gave Ray his coat.", 13, "his", "Tom")[0] == "Tom gave Ray Tom's"
    with pytest.raises(StudioError, match="not at character 3"):
        winograd_pair(sentence, 3, "it", "x")


def test_winograd_scores_only_the_words_after_the_pronoun(gpt):
    sentence = "The city councilmen refused the demonstrators a permit because they feared violence."
    at = sentence.index("they")
    scores = winograd(gpt.model, gpt.tokenizer, sentence, at, "they", ["The city councilmen", "the demonstrators"])
    pairs = [(sentence[:at] + "the city councilmen", " feared violence."),
             (sentence[:at] + "the demonstrators", " feared violence.")]
    expected = [sum(s.logprob for s in t) for t in continuation_logprobs(gpt.model, gpt.tokenizer, pairs)]
    assert np.allclose(scores, expected)


# ------------------------------------------------------------------------------------------- dataset mode

@pytest.mark.parametrize("path, task", [(SENTIMENT, "label-words"), (COPA, "multiple-choice"), (WSC, "winograd")],
                         ids=["sentiment", "copa", "wsc"])
def test_dataset_mode_reports_accuracy_against_chance_on_the_shared_sets(gpt, path, task):
    seen = []
    report = zero_shot_dataset(gpt.model, gpt.tokenizer, path, task, limit=40, batch_size=16,
                               progress=lambda done, total: seen.append((done, total)))
    assert report.n == 40 == len(report.rows) and 0.0 <= report.accuracy <= 1.0 and report.chance == 0.5
    assert report.accuracy == sum(r["correct"] for r in report.rows) / 40
    assert seen[-1] == (40, 40)
    assert sum(m["support"] for m in report.per_class.values()) == 40
    row = report.rows[0]
    assert set(row) >= {"index", "text", "scores", "predicted", "gold", "correct"} and len(row["scores"]) == 2
    assert row["predicted"] in row["choices"] and row["gold"] in row["choices"]
    assert report.to_dict(rows=False).keys() >= {"task", "n", "accuracy", "chance", "per_class"}


def test_dataset_mode_runs_on_a_masked_model_and_keeps_the_models_mode(bert):
    bert.model.train()
    try:
        report = zero_shot_dataset(bert.model, bert.tokenizer, COPA, "multiple-choice", limit=6)
        assert report.n == 6 and report.chance == 0.5 and bert.model.training
    finally:
        bert.model.eval()


def test_a_limit_takes_an_evenly_spaced_subset_and_cancel_stops_between_batches(gpt):
    report = zero_shot_dataset(gpt.model, gpt.tokenizer, SENTIMENT, "label-words", limit=3, batch_size=2)
    assert [r["row"] for r in report.rows] == [2, 1002, 2002]  # one from each source (amazon, imdb, yelp)
    with pytest.raises(CancelledError):
        zero_shot_dataset(gpt.model, gpt.tokenizer, COPA, "multiple-choice", limit=20, batch_size=4,
                          cancel=lambda: True)


def test_bad_files_name_the_file_and_the_row(gpt, tmp_path):
    bad_label = tmp_path / "reviews.csv"
    bad_label.write_text("text,label\nGreat phone,positive\nMeh,neutral\n")
    with pytest.raises(StudioError, match=r"reviews.csv, row 3: label 'neutral' has no label word"):
        zero_shot_dataset(gpt.model, gpt.tokenizer, bad_label, "label-words")
    no_column = tmp_path / "cols.csv"
    no_column.write_text("sentence,label\nGreat phone,positive\n")
    with pytest.raises(StudioError, match=r"cols.csv, row 2: no 'text' column \(found: sentence, label\)"):
        zero_shot_dataset(gpt.model, gpt.tokenizer, no_column, "label-words")
    broken = tmp_path / "copa.jsonl"
    good = COPA.read_text().splitlines()[0]
    broken.write_text(good + "\n{oops\n")
    with pytest.raises(StudioError, match=r"copa.jsonl, row 2: not valid JSON"):
        zero_shot_dataset(gpt.model, gpt.tokenizer, broken, "multiple-choice")
    answer = tmp_path / "copa2.jsonl"
    answer.write_text(json.dumps({**json.loads(good), "label": 2}) + "\n")
    with pytest.raises(StudioError, match=r"copa2.jsonl, row 1: 'label' must be the 0-based index"):
        zero_shot_dataset(gpt.model, gpt.tokenizer, answer, "multiple-choice")
    wsc = tmp_path / "wsc.jsonl"
    record = json.loads(WSC.read_text().splitlines()[0])
    wsc.write_text(json.dumps({**record, "pronoun_index": 3}) + "\n")
    with pytest.raises(StudioError, match=r"wsc.jsonl, row 1: The pronoun 'they' is not at character 3"):
        zero_shot_dataset(gpt.model, gpt.tokenizer, wsc, "winograd")
    packed = tmp_path / "reviews.csv.gz"
    packed.write_bytes(b"\x1f\x8b")
    with pytest.raises(StudioError, match="unsupported file type"):
        zero_shot_dataset(gpt.model, gpt.tokenizer, packed, "label-words")
    with pytest.raises(StudioError, match="Unknown zero-shot task"):
        zero_shot_dataset(gpt.model, gpt.tokenizer, bad_label, "sentiment")


def test_scoring_pauses_the_garbage_collector_only_for_its_own_bookkeeping():
    """The collector is paused per pass (a speed-up) and is always left as it was found, errors included."""
    import gc

    from gpt_studio.engine.logprobs import _no_collection

    assert gc.isenabled()
    with pytest.raises(RuntimeError), _no_collection():
        assert not gc.isenabled()
        raise RuntimeError("a pass failed")
    assert gc.isenabled()
    gc.disable()
    try:
        with _no_collection():
            pass
        assert not gc.isenabled()  # someone else's choice is kept
    finally:
        gc.enable()
