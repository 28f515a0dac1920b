import pytest

from gpt_studio.engine.corpus import ImportOptions, import_corpus
from gpt_studio.engine.errors import CancelledError, StudioError
from gpt_studio.engine.progress import Reporter
from gpt_studio.engine.project import init_project
from gpt_studio.engine.tokenizer import SPECIAL_IDS, TokenizerSettings, load_tokenizer, train_tokenizer
from gpt_studio.engine.vocab_range import vocab_range


@pytest.fixture(scope="module")
def sentiment_project(tmp_path_factory, sentiment_csv):
    project = init_project(tmp_path_factory.mktemp("tok") / "proj")
    import_corpus(project, [sentiment_csv])
    return project


def test_special_tokens_have_their_fixed_ids(shakespeare_project):
    tok = load_tokenizer(shakespeare_project)
    for name, piece in [("pad", "<pad>"), ("unk", "<unk>"), ("bos", "<s>"), ("eos", "</s>"), ("mask", "[MASK]"),
                        ("cls", "[CLS]"), ("sep", "[SEP]"), ("newline", "\n")]:
        assert tok.id_to_piece(SPECIAL_IDS[name]) == piece
    assert tok.encode("[MASK]") != [tok.mask_id], "control symbols are never produced from text"
    assert tok.vocab_size == 1000


@pytest.mark.parametrize("split", ["train", "val"])
def test_decoding_the_encoding_gives_back_the_normalised_corpus(shakespeare_project, split):
    tok = load_tokenizer(shakespeare_project)
    text = (shakespeare_project.corpus_dir / f"{split}.txt").read_text()
    assert tok.decode(tok.encode(text)) == text


@pytest.mark.parametrize("model_type,vocab", [("unigram", 2000), ("char", 0)])
def test_other_model_types_round_trip_war_and_peace(tmp_path, war_and_peace, model_type, vocab):
    project = init_project(tmp_path / "wp")
    import_corpus(project, [war_and_peace], ImportOptions(val_fraction=0.05))
    meta = train_tokenizer(project, TokenizerSettings(model_type=model_type, vocab_size=vocab, byte_fallback=True,
                                                      max_sentences=20000))
    tok = load_tokenizer(project)
    text = (project.corpus_dir / "val.txt").read_text()
    assert tok.decode(tok.encode(text)) == text
    assert meta["report"]["unknown_rate"] == 0.0
    if model_type == "char":
        assert meta["report"]["chars_per_token"] <= 1.0


def test_the_report_gives_fertility_and_unknown_rate(shakespeare_project):
    report = load_tokenizer(shakespeare_project).meta["report"]
    assert 1.0 < report["fertility"] < 3.0
    assert report["unknown_rate"] == 0.0


def test_a_vocab_too_large_names_the_largest_feasible_value_which_works(sentiment_project):
    with pytest.raises(StudioError) as err:
        train_tokenizer(sentiment_project, TokenizerSettings(vocab_size=60000))
    message = str(err.value)
    assert "largest feasible value is" in message
    largest = int(message.split("largest feasible value is ")[1].split(".")[0])
    meta = train_tokenizer(sentiment_project, TokenizerSettings(vocab_size=largest))
    assert meta["vocab_size"] == largest


def test_a_vocab_too_small_names_the_smallest_feasible_value(sentiment_project):
    with pytest.raises(StudioError) as err:
        train_tokenizer(sentiment_project, TokenizerSettings(vocab_size=20))
    smallest = int(str(err.value).split("need at least ")[1].split(".")[0])
    assert train_tokenizer(sentiment_project, TokenizerSettings(vocab_size=smallest))["vocab_size"] == smallest
    with pytest.raises(StudioError):
        train_tokenizer(sentiment_project, TokenizerSettings(vocab_size=smallest - 1))


def test_a_vocab_below_the_reserved_tokens_is_refused_before_training():
    with pytest.raises(StudioError, match="reserved tokens"):
        TokenizerSettings(vocab_size=8)


def test_a_failed_training_keeps_the_previous_tokenizer(sentiment_project):
    train_tokenizer(sentiment_project, TokenizerSettings(vocab_size=500))
    before = (sentiment_project.tokenizer_dir / "tokenizer.model").read_bytes()
    with pytest.raises(StudioError):
        train_tokenizer(sentiment_project, TokenizerSettings(vocab_size=90000))
    assert (sentiment_project.tokenizer_dir / "tokenizer.model").read_bytes() == before
    assert not [p for p in sentiment_project.root.iterdir() if p.name.startswith(".")]


def test_cancelling_training_stops_it_and_changes_nothing(sentiment_project):
    train_tokenizer(sentiment_project, TokenizerSettings(vocab_size=500))
    before = (sentiment_project.tokenizer_dir / "tokenizer.json").read_bytes()
    reporter = Reporter()
    reporter.cancel()
    with pytest.raises(CancelledError):
        train_tokenizer(sentiment_project, TokenizerSettings(model_type="unigram", vocab_size=3000), reporter)
    assert (sentiment_project.tokenizer_dir / "tokenizer.json").read_bytes() == before


def test_training_without_a_corpus_says_to_import_first(tmp_path):
    with pytest.raises(StudioError, match="import text first"):
        train_tokenizer(init_project(tmp_path / "empty"))


@pytest.mark.parametrize("model_type", ["bpe", "unigram"])
def test_the_feasible_vocab_range_is_exactly_what_training_accepts(tmp_path, sentiment_csv, model_type):
    """Both ends train; one past either end is refused, with the problem named before any training."""
    project = init_project(tmp_path / "proj")
    import_corpus(project, [sentiment_csv])
    found = vocab_range(project, TokenizerSettings(model_type=model_type))
    assert SPECIAL_IDS["newline"] < found.minimum < 200 < found.maximum < 60_000
    for size in (found.minimum, found.maximum):
        assert found.problem(size) is None
        assert train_tokenizer(project, TokenizerSettings(model_type=model_type, vocab_size=size))["vocab_size"] == size
    outside = ((found.minimum - 1, f"at least {found.minimum:,}"), (found.maximum + 1, f"at most {found.maximum:,}"))
    for size, words in outside:
        assert words in found.problem(size)
        with pytest.raises(StudioError):
            train_tokenizer(project, TokenizerSettings(model_type=model_type, vocab_size=size))
    assert f"{found.minimum:,} to {found.maximum:,}" in found.describe()


def test_the_range_is_cached_per_corpus_and_settings_and_a_cancel_leaves_nothing_behind(tmp_path, sentiment_csv):
    project = init_project(tmp_path / "proj")
    import_corpus(project, [sentiment_csv])
    first = vocab_range(project, TokenizerSettings())
    cancelled = Reporter()
    cancelled.cancel()
    assert vocab_range(project, TokenizerSettings(), cancelled) == first  # from the cache: no child ran
    with pytest.raises(CancelledError):  # other settings: not cached, and the cancel stops the probe
        vocab_range(project, TokenizerSettings(byte_fallback=True), cancelled)
    assert not [p for p in project.root.rglob(".*") if p.is_dir()]
    with_bytes = vocab_range(project, TokenizerSettings(byte_fallback=True))
    assert with_bytes.minimum == first.minimum + 256  # a piece for every byte value
    import_corpus(project, [sentiment_csv], ImportOptions(val_fraction=0.4))  # a new corpus: a new range
    assert vocab_range(project, TokenizerSettings()).maximum < first.maximum


def test_a_character_model_has_no_upper_limit_and_names_the_size_that_keeps_every_character(sentiment_project):
    found = vocab_range(sentiment_project, TokenizerSettings(model_type="char", vocab_size=0))
    assert found.maximum is None and found.problem(0) is None and found.problem(10**6) is None
    meta = train_tokenizer(sentiment_project, TokenizerSettings(model_type="char", vocab_size=0))
    assert found.all_characters == meta["vocab_size"] and f"{meta['vocab_size']:,}" in found.describe()
