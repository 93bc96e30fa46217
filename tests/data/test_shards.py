"""Token shards on disk: dtype choice, the writer's atomicity, meta.json validation, memmapped reading."""

from __future__ import annotations

import json

import numpy as np
import pytest

from slmkit.common.errors import InputError, MissingFileError
from slmkit.data.shards import ShardMeta, ShardWriter, SplitInfo, check_compatible, open_shard, token_dtype
from slmkit.tokenizer.train import train_tokenizer
from tests.tokenizer.corpus import SMALL_CORPUS, small_tokenizer


def write_shards(folder, arrays: dict[str, np.ndarray], vocab_size=400, sha="a" * 64) -> ShardMeta:
    dtype = token_dtype(vocab_size)
    splits = {}
    for name, arr in arrays.items():
        with ShardWriter(folder / f"{name}.bin", dtype) as writer:
            writer.append(arr)
        splits[name] = SplitInfo(f"{name}.bin", tokens=len(arr), bytes=3 * len(arr), docs=1)
    meta = ShardMeta(vocab_size, dtype.name, sha, 0, splits)
    meta.save(folder)
    return meta


@pytest.mark.parametrize(
    "vocab_size, dtype", [(262, np.uint16), (4096, np.uint16), (65_535, np.uint16), (65_536, np.uint32),
                          (200_000, np.uint32), (2**32, np.uint32)],
)
def test_dtype_switches_above_65535_tokens(vocab_size, dtype):
    assert token_dtype(vocab_size) == dtype


def test_uint32_shard_round_trips_large_ids(tmp_path):
    ids = np.array([0, 70_000, 2**32 - 1, 5], dtype=np.int64)
    write_shards(tmp_path, {"train": ids}, vocab_size=2**32)
    shard = open_shard(tmp_path, "train")
    assert shard.dtype == np.uint32 and shard.ndim == 1
    assert shard.tolist() == ids.tolist()


def test_writer_refuses_ids_that_do_not_fit(tmp_path):
    writer = ShardWriter(tmp_path / "train.bin", np.uint16)
    with pytest.raises(ValueError, match="out of range"):
        writer.append(np.array([1, 70_000]))
    writer.abort()
    assert list(tmp_path.iterdir()) == []


def test_writer_is_atomic(tmp_path):
    target = tmp_path / "train.bin"
    target.write_bytes(b"old!")
    with pytest.raises(RuntimeError), ShardWriter(target, np.uint16) as writer:
        writer.append(np.arange(10))
        raise RuntimeError("interrupted")
    assert target.read_bytes() == b"old!"  # untouched, and no temp file left behind
    assert [p.name for p in tmp_path.iterdir()] == ["train.bin"]
    with ShardWriter(target, np.uint16) as writer:
        writer.append(np.arange(10))
        writer.append([10, 11])
        assert target.read_bytes() == b"old!"  # still old until finalized
    assert np.fromfile(target, dtype=np.uint16).tolist() == list(range(12))


def test_meta_round_trip_and_bytes_per_token(tmp_path):
    write_shards(tmp_path, {"train": np.arange(10), "val": np.arange(5)})
    meta = ShardMeta.load(tmp_path)
    assert meta.has_split("val") and not meta.has_split("test")
    assert meta.split("train").tokens == 10
    assert meta.bytes_per_token("val") == 3.0 and meta.bytes_per_token() == 3.0
    raw = json.loads((tmp_path / "meta.json").read_text())
    assert set(raw) == {"vocab_size", "dtype", "tokenizer_sha256", "eot_id", "splits", "bytes_per_token"}
    with pytest.raises(InputError, match=r"'test' split"):
        meta.split("test")


def test_run_directory_or_shard_folder_both_work(tmp_path):
    shards = tmp_path / "run" / "shards"
    write_shards(shards, {"train": np.arange(4)})
    assert open_shard(tmp_path / "run", "train").tolist() == [0, 1, 2, 3]
    assert ShardMeta.load(shards).split("train").file == "train.bin"


def test_missing_meta_says_to_encode(tmp_path):
    (tmp_path / "run" / "data").mkdir(parents=True)
    with pytest.raises(MissingFileError, match=r"shards/meta\.json.*slm data encode"):
        ShardMeta.load(tmp_path / "run")


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda m: "{oops", "invalid JSON"),
        (lambda m: json.dumps({**m, "dtype": "int8"}), "dtype"),
        (lambda m: json.dumps({k: v for k, v in m.items() if k != "tokenizer_sha256"}), "tokenizer_sha256"),
        (lambda m: json.dumps({**m, "splits": {"train": {"file": "train.bin"}}}), r"splits\.train\.tokens"),
    ],
)
def test_corrupt_meta_is_an_input_error(tmp_path, edit, message):
    write_shards(tmp_path, {"train": np.arange(4)})
    raw = json.loads((tmp_path / "meta.json").read_text())
    (tmp_path / "meta.json").write_text(edit(raw))
    with pytest.raises(InputError, match=message):
        ShardMeta.load(tmp_path)


def test_missing_truncated_and_empty_shards_are_refused(tmp_path):
    write_shards(tmp_path, {"train": np.arange(8)})
    (tmp_path / "train.bin").write_bytes(b"\x00" * 6)
    with pytest.raises(InputError, match=r"train\.bin.*6 bytes.*16 bytes"):
        open_shard(tmp_path, "train")
    (tmp_path / "train.bin").unlink()
    with pytest.raises(MissingFileError, match=r"train\.bin"):
        open_shard(tmp_path, "train")
    meta = write_shards(tmp_path, {"train": np.arange(0)})
    with pytest.raises(InputError, match="empty shard"):
        open_shard(tmp_path, "train", meta)


def test_check_compatible_refuses_another_tokenizer(tmp_path):
    tok = small_tokenizer()
    meta = write_shards(tmp_path, {"train": np.arange(4)}, vocab_size=tok.vocab_size, sha=tok.sha256)
    check_compatible(meta, tok)  # same tokenizer: fine
    other = train_tokenizer(SMALL_CORPUS, vocab_size=300)
    with pytest.raises(InputError, match=rf"meta\.json.*{other.sha256[:12]}"):
        check_compatible(meta, other)
