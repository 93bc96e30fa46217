"""`slm data encode`: shards + meta.json from the run's JSONL splits."""

from __future__ import annotations

import json

import numpy as np
import pytest

from slmkit.common.errors import InputError, MissingFileError
from slmkit.common.runs import RunDir
from slmkit.data.encode import EncodeConfig, encode_stage, iter_line_chunks, ordered_parallel_map
from slmkit.data.shards import ShardMeta, check_compatible, open_shard
from slmkit.tokenizer import Tokenizer
from slmkit.tokenizer.corpus import iter_txt_texts
from slmkit.tokenizer.train import train_tokenizer
from tests.conftest import shared_data, write_jsonl
from tests.tokenizer.corpus import MULTILINGUAL, SMALL_CORPUS, STORIES, small_tokenizer

TRAIN = STORIES * 8 + MULTILINGUAL * 2 + ["A story that mentions <|endoftext|> in its text."]
VAL = STORIES[:3]


@pytest.fixture
def run(tmp_path) -> RunDir:
    run = RunDir(tmp_path / "run")
    write_jsonl(run.split_file("train"), TRAIN)
    write_jsonl(run.split_file("val"), VAL)
    small_tokenizer().save(run.tokenizer_file)
    return run


def encode(run: RunDir, **options) -> dict:
    return encode_stage(EncodeConfig(run=str(run.root), progress=False, **options))


def documents_of(tokens: np.ndarray, eot: int) -> list[list[int]]:
    ends = np.flatnonzero(tokens == eot)
    starts = np.concatenate([[0], ends[:-1] + 1])
    return [tokens[s:e].tolist() for s, e in zip(starts, ends)]


def test_meta_contents(run):
    result = encode(run, workers=1)
    tok = small_tokenizer()
    meta = json.loads(run.shards_meta_file.read_text())
    assert meta["vocab_size"] == tok.vocab_size and meta["dtype"] == "uint16"
    assert meta["tokenizer_sha256"] == tok.sha256 and meta["eot_id"] == tok.eot_id == 0
    train_bytes = sum(len(t.encode()) + 1 for t in TRAIN)
    train_tokens = sum(len(tok.encode(t)) + 1 for t in TRAIN)
    assert meta["splits"]["train"] == {"file": "train.bin", "tokens": train_tokens, "bytes": train_bytes,
                                       "docs": len(TRAIN)}
    assert meta["splits"]["val"]["docs"] == len(VAL)
    total_tokens = train_tokens + meta["splits"]["val"]["tokens"]
    total_bytes = train_bytes + meta["splits"]["val"]["bytes"]
    assert meta["bytes_per_token"] == pytest.approx(total_bytes / total_tokens)
    assert result["splits"] == meta["splits"]
    assert run.stage_config("encode")["workers"] == 1


def test_each_document_is_followed_by_endoftext(run):
    encode(run, workers=1)
    tok = small_tokenizer()
    tokens = np.asarray(open_shard(run.root, "train"))
    assert tokens[-1] == tok.eot_id
    docs = documents_of(tokens, tok.eot_id)
    assert [tok.decode(ids) for ids in docs] == TRAIN  # the literal "<|endoftext|>" in a text did not split it
    assert docs == [tok.encode(t) for t in TRAIN]


def test_one_and_two_workers_write_identical_shards(run, tmp_path):
    encode(run, workers=1, chunk_bytes=300)
    one = {s: run.shard_file(s).read_bytes() for s in ("train", "val")}
    one_meta = run.shards_meta_file.read_text()
    result = encode(run, workers=2, chunk_bytes=300, out=str(tmp_path / "two"))
    assert result["workers"] == 2
    assert {s: (tmp_path / "two" / f"{s}.bin").read_bytes() for s in ("train", "val")} == one
    assert (tmp_path / "two" / "meta.json").read_text() == one_meta


def test_line_chunks_are_bounded_and_numbered(tmp_path):
    path = write_jsonl(tmp_path / "t.jsonl", [f"doc {i}" for i in range(100)])
    chunks = list(iter_line_chunks(path, chunk_bytes=200))
    assert len(chunks) > 5
    assert all(c.nbytes < 200 + 40 for c in chunks)  # at most one line past the limit
    assert [c.first_line for c in chunks] == [1 + sum(len(p.lines) for p in chunks[:i]) for i in range(len(chunks))]
    assert b"".join(line for c in chunks for line in c.lines) == path.read_bytes()


class _Done:
    def __init__(self, value):
        self.value = value

    def result(self):
        return self.value


def test_parallel_map_keeps_order_and_reads_ahead_only_a_little():
    pulled = []

    def items():
        for i in range(50):
            pulled.append(i)
            yield i

    results = ordered_parallel_map(lambda i: _Done(i * i), items(), max_in_flight=4)
    first = next(results)
    assert first == 0 and len(pulled) == 4  # constant memory: the input is not read ahead
    assert [first, *results] == [i * i for i in range(50)]


def test_other_tokenizer_shards_are_never_mixed(run):
    encode(run, workers=1)
    other = train_tokenizer(SMALL_CORPUS, vocab_size=300)
    other.save(run.tokenizer_file)
    old_train = run.shard_file("train").read_bytes()
    with pytest.raises(InputError, match=r"meta\.json.*\['train'\].*never mix"):
        encode(run, workers=1, splits=["val"])
    assert run.shard_file("train").read_bytes() == old_train  # nothing was replaced
    check_compatible(ShardMeta.load(run.root), small_tokenizer())
    encode(run, workers=1)  # every split: fine
    meta = ShardMeta.load(run.root)
    check_compatible(meta, Tokenizer.from_file(run.tokenizer_file))
    with pytest.raises(InputError, match="re-run `slm data encode`"):
        check_compatible(meta, small_tokenizer())


def test_same_tokenizer_can_re_encode_one_split(run):
    encode(run, workers=1)
    write_jsonl(run.split_file("val"), VAL * 2)
    encode(run, workers=1, splits=["val"])
    meta = ShardMeta.load(run.root)
    assert meta.split("val").docs == 2 * len(VAL) and meta.split("train").docs == len(TRAIN)


def test_missing_inputs_have_clear_errors(tmp_path, run):
    with pytest.raises(MissingFileError, match=r"test\.jsonl.*slm data prepare"):
        encode(run, splits=["test"])
    empty_run = RunDir(tmp_path / "empty")
    small_tokenizer().save(empty_run.tokenizer_file)
    with pytest.raises(MissingFileError, match=r"data/train\.jsonl.*slm data prepare"):
        encode(empty_run)
    run.tokenizer_file.unlink()
    with pytest.raises(MissingFileError, match=r"tokenizer\.json.*slm tokenizer train"):
        encode(run)


def test_empty_split_is_refused_and_nothing_is_written(run):
    run.split_file("val").write_text("\n")
    with pytest.raises(InputError, match=r"val\.jsonl.*no documents"):
        encode(run, workers=1)
    assert not run.shards_dir.exists() or sorted(p.name for p in run.shards_dir.iterdir()) == []


@pytest.mark.parametrize("workers", [1, 2])
def test_malformed_line_names_file_and_line(run, workers):
    with open(run.split_file("train"), "a") as f:
        f.write('{"text": 12}\n')
    with pytest.raises(InputError, match=rf"train\.jsonl:{len(TRAIN) + 1}.*\"text\""):
        encode(run, workers=workers, chunk_bytes=500)
    assert not run.shards_meta_file.exists()
    assert list(run.shards_dir.glob("*.tmp")) == []


def test_real_tinystories_round_trip(tmp_path):
    docs = list(iter_txt_texts(shared_data("tinystories-v1-train-sample", "tinystories_sample.txt")))[:600]
    run = RunDir(tmp_path / "run")
    write_jsonl(run.split_file("train"), docs[:500])
    write_jsonl(run.split_file("val"), docs[500:])
    tok = train_tokenizer(docs[:500], vocab_size=1024)
    tok.save(run.tokenizer_file)
    result = encode(run)
    assert result["engine"] == "tiktoken"
    tokens = np.asarray(open_shard(run.root, "val"))
    assert [tok.decode(ids) for ids in documents_of(tokens, tok.eot_id)] == docs[500:]
    assert 3.0 < ShardMeta.load(run.root).bytes_per_token("train") < 5.0
