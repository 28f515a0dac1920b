import numpy as np
import pytest

from gpt_studio.engine import data
from gpt_studio.engine.batches import CausalWindows, MaskedSequences, SpecialIds
from gpt_studio.engine.corpus import ImportOptions, import_corpus, iter_documents
from gpt_studio.engine.data import TokenShard, encode_corpus, load_meta
from gpt_studio.engine.errors import StaleDataError, StudioError
from gpt_studio.engine.project import init_project
from gpt_studio.engine.tokenizer import TokenizerSettings, load_tokenizer, train_tokenizer


@pytest.mark.parametrize("split", ["train", "val"])
def test_shards_decode_to_the_corpus_split(shakespeare_project, split):
    tok = load_tokenizer(shakespeare_project)
    shard = TokenShard(shakespeare_project, split)
    text = (shakespeare_project.corpus_dir / f"{split}.txt").read_text()
    assert shard.tokens.dtype == np.uint16
    assert int(shard.tokens[-1]) == tok.eos_id
    assert tok.decode(shard.tokens.tolist()) == text


def test_meta_records_what_the_trainer_needs(shakespeare_project):
    meta = load_meta(shakespeare_project)
    tok = load_tokenizer(shakespeare_project)
    assert meta["vocab_size"] == tok.vocab_size
    assert meta["tokenizer_sha256"] == tok.checksum
    assert meta["splits"]["val"]["bytes"] == (shakespeare_project.corpus_dir / "val.txt").stat().st_size
    assert meta["splits"]["train"]["tokens"] == len(TokenShard(shakespeare_project, "train"))


@pytest.fixture()
def rows_project(tmp_path, sentiment_csv):
    project = init_project(tmp_path / "rows")
    import_corpus(project, [sentiment_csv], ImportOptions(val_fraction=0.2))
    train_tokenizer(project, TokenizerSettings(vocab_size=600))
    return project


def test_every_document_is_recoverable_from_the_shard(rows_project):
    encode_corpus(rows_project)
    tok = load_tokenizer(rows_project)
    shard = TokenShard(rows_project, "val")
    docs = list(iter_documents(rows_project, "val"))
    assert shard.documents == len(docs)
    for i in (0, len(docs) // 2, len(docs) - 1):
        assert tok.decode(shard.document(i).tolist()) == docs[i]


def test_the_process_pool_gives_the_same_shards_as_one_process(rows_project, monkeypatch):
    encode_corpus(rows_project, workers=1)
    single = [(rows_project.data_dir / f).read_bytes() for f in ("train.bin", "train.docs", "val.bin", "val.docs")]
    monkeypatch.setattr(data, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(data, "CHUNK_BYTES", 2000)
    meta = encode_corpus(rows_project, workers=2)
    assert meta["workers"] == 2
    pooled = [(rows_project.data_dir / f).read_bytes() for f in ("train.bin", "train.docs", "val.bin", "val.docs")]
    assert pooled == single


def test_long_documents_are_encoded_in_pieces_with_one_separator(tmp_path, shakespeare, monkeypatch):
    project = init_project(tmp_path / "long")
    import_corpus(project, [shakespeare])
    train_tokenizer(project, TokenizerSettings(vocab_size=800))
    monkeypatch.setattr(data, "CHUNK_BYTES", 5000)
    encode_corpus(project)
    shard = TokenShard(project, "train")
    tok = load_tokenizer(project)
    assert shard.documents == 1
    assert int(np.count_nonzero(np.asarray(shard.tokens) == tok.eos_id)) == 1
    assert tok.decode(shard.tokens.tolist()) == (project.corpus_dir / "train.txt").read_text()


def test_shards_from_another_tokenizer_are_refused(rows_project):
    encode_corpus(rows_project)
    train_tokenizer(rows_project, TokenizerSettings(vocab_size=700))
    with pytest.raises(StaleDataError, match="different tokenizer"):
        TokenShard(rows_project, "train")


def test_shards_from_an_earlier_import_are_refused(rows_project, shakespeare):
    encode_corpus(rows_project)
    import_corpus(rows_project, [shakespeare])
    with pytest.raises(StaleDataError, match="re-imported"):
        load_meta(rows_project)


def test_encoding_without_a_tokenizer_says_what_to_do(tmp_path, shakespeare):
    project = init_project(tmp_path / "p")
    import_corpus(project, [shakespeare])
    with pytest.raises(StudioError, match="train one first"):
        encode_corpus(project)


def test_causal_windows_are_shifted_pairs_and_resume_exactly(shakespeare_project):
    shard = TokenShard(shakespeare_project, "train")
    sampler = CausalWindows(shard, context_length=32, batch_size=4, seed=1)
    x, y = sampler.next_batch()
    assert x.shape == y.shape == (4, 32)
    assert np.array_equal(x[:, 1:], y[:, :-1])
    state = sampler.state_dict()
    expected = [sampler.next_batch()[0] for _ in range(3)]
    other = CausalWindows(shard, context_length=32, batch_size=4, seed=99)
    other.load_state_dict(state)
    assert all(np.array_equal(a, other.next_batch()[0]) for a in expected)


def test_ranks_sample_disjoint_slices(shakespeare_project):
    shard = TokenShard(shakespeare_project, "train")
    half = len(shard) // 2
    r0 = CausalWindows(shard, 16, 64, seed=0, rank=0, world_size=2)
    r1 = CausalWindows(shard, 16, 64, seed=0, rank=1, world_size=2)
    assert r0.high <= half + 1 and r1.low >= half - 1
    assert not np.array_equal(r0.next_batch()[0], r1.next_batch()[0])


def test_a_context_longer_than_the_data_is_refused_with_the_limit(shakespeare_project):
    shard = TokenShard(shakespeare_project, "val")
    with pytest.raises(StudioError, match="use a shorter context"):
        CausalWindows(shard, context_length=len(shard) + 10, batch_size=1)


def test_masked_sequences_have_cls_sep_segments_and_balanced_nsp(shakespeare_project):
    tok = load_tokenizer(shakespeare_project)
    specials = SpecialIds(cls=tok.cls_id, sep=tok.sep_id, pad=tok.pad_id, newline=tok.newline_id)
    sampler = MaskedSequences(TokenShard(shakespeare_project, "train"), 64, 256, specials, nsp=True, seed=3)
    batch = sampler.next_batch()
    ids, types, mask = batch["input_ids"], batch["token_type_ids"], batch["attention_mask"]
    assert (ids[:, 0] == tok.cls_id).all()
    assert ((ids == tok.sep_id).sum(axis=1) == 2).all()
    lengths = mask.sum(axis=1)
    assert (ids[np.arange(len(ids)), lengths - 1] == tok.sep_id).all()
    assert (ids[mask == 0] == tok.pad_id).all()
    assert (types[mask == 0] == 0).all() and types.max() == 1
    assert 0.4 < batch["nsp_labels"].mean() < 0.6
    is_next = batch["nsp_labels"] == 1
    row = int(np.flatnonzero(is_next)[0])
    seq = ids[row, 1:lengths[row] - 1].tolist()
    seq.remove(tok.sep_id)
    text = (shakespeare_project.corpus_dir / "train.txt").read_text()
    assert tok.decode(seq) in text, "a true next segment continues the first one in the corpus"


def test_long_documents_are_read_in_pieces_that_join_back(tmp_path, war_and_peace):
    from gpt_studio.engine.corpus import iter_document_pieces

    project = init_project(tmp_path / "wp")
    import_corpus(project, [war_and_peace])
    pieces = list(iter_document_pieces(project, "train", max_bytes=50_000))
    assert len(pieces) > 50 and all(n <= 50_000 for _, n, _ in pieces)
    assert [end for _, _, end in pieces].count(True) == 1 and pieces[-1][2]
    assert "".join(text for text, _, _ in pieces) == (project.corpus_dir / "train.txt").read_text()
    assert all(text.endswith("\n") for text, _, end in pieces if not end)
