"""`slm data prepare`: cleaning, dedup, deterministic splits, manifest, bad input, real TinyStories samples."""

from __future__ import annotations

import hashlib
import json
import random
import time
from pathlib import Path

import pytest
import yaml

from slmkit.common.errors import ConfigError, InputError
from slmkit.common.runs import RunDir
from slmkit.config import build_config
from slmkit.data.prepare import PrepareConfig, prepare_stage
from tests.conftest import shared_data


def prepare(tmp_path: Path, sources: list[Path], name: str = "run", **options) -> tuple[RunDir, dict]:
    run = RunDir(tmp_path / name)
    cfg = build_config(PrepareConfig, {"source": [str(s) for s in sources], "run": str(run.root), **options})
    return run, prepare_stage(cfg)


def read_split(run: RunDir, split: str) -> list[dict]:
    return [json.loads(line) for line in run.split_file(split).read_text("utf-8").splitlines()]


def story(i: int) -> str:
    rng = random.Random(i)
    words = [
        "cat", "dog", "sun", "tree", "ball", "park", "red", "big", "happy", "ran", "saw", "found", "played",
        "jumped", "little", "girl", "boy",
    ]
    return f"Story {i}. " + " ".join(rng.choice(words) for _ in range(60)) + "."


def write_jsonl(path: Path, texts: list[str], field: str = "text") -> Path:
    path.write_text("".join(json.dumps({field: t, "extra": 1}) + "\n" for t in texts), "utf-8")
    return path


def test_clean_dedup_and_manifest(tmp_path):
    a = write_jsonl(tmp_path / "a.jsonl", [story(0), story(1), "   ", story(0) + "  \n\n\n"])  # empty + exact dup
    b = tmp_path / "b.txt"
    b.write_text(f"{story(2)}\n<|endoftext|>\ncafe\u0301 story\n<|endoftext|>\ncaf\u00e9 story\n<|endoftext|>\n",
                 "utf-8")  # the two cafe stories are equal after NFC
    run, result = prepare(tmp_path, [a, b], val_fraction=0.0)
    train = read_split(run, "train")
    assert [r["text"] for r in train] == [story(0), story(1), story(2), "caf\u00e9 story"]
    assert [r["source"] for r in train] == ["a.jsonl", "a.jsonl", "b.txt", "b.txt"]
    assert set(train[0]) == {"text", "source"}
    manifest = json.loads(run.manifest_file.read_text("utf-8"))
    counts = manifest["counts"]
    assert counts["docs_read"] == 7 and counts["empty_dropped"] == 1 and counts["exact_dups_dropped"] == 2
    assert counts["train"]["docs"] == 4 and counts["val"]["docs"] == 0
    assert counts["train"]["bytes"] == sum(len(r["text"].encode()) for r in train)
    src = manifest["sources"][0]
    assert src["path"] == str(a) and src["bytes"] == a.stat().st_size and src["docs_read"] == 4
    assert src["sha256"] == hashlib.sha256(a.read_bytes()).hexdigest() and src["skipped"] == 0
    assert manifest["config"]["source"] == [str(a), str(b)]
    assert result["train"]["docs"] == 4
    recipe = yaml.safe_load(run.recipe_file.read_text("utf-8"))
    assert recipe["stages"]["prepare"]["val_fraction"] == 0.0


def test_split_is_deterministic_and_independent_of_source_order(tmp_path):
    texts = [story(i) for i in range(400)]
    first = write_jsonl(tmp_path / "first.jsonl", texts[:200])
    second = write_jsonl(tmp_path / "second.jsonl", texts[200:])
    run1, _ = prepare(tmp_path, [first, second], "r1", val_fraction=0.1, seed=3)
    run2, _ = prepare(tmp_path, [second, first], "r2", val_fraction=0.1, seed=3)
    run3, _ = prepare(tmp_path, [first, second], "r3", val_fraction=0.1, seed=4)
    val1 = {r["text"] for r in read_split(run1, "val")}
    assert val1 == {r["text"] for r in read_split(run2, "val")}
    assert val1 != {r["text"] for r in read_split(run3, "val")}  # the seed changes the split
    assert 20 <= len(val1) <= 65  # ~10% of 400
    assert not val1 & {r["text"] for r in read_split(run1, "train")}
    rerun, _ = prepare(tmp_path, [first, second], "r1", val_fraction=0.1, seed=3)
    assert rerun.split_file("train").read_bytes() == run1.split_file("train").read_bytes()


def test_val_source_goes_to_val_and_wins_exact_duplicates(tmp_path):
    train = write_jsonl(tmp_path / "train.jsonl", [story(i) for i in range(10)])
    val = write_jsonl(tmp_path / "val.jsonl", [story(3), story(100)])
    run, result = prepare(tmp_path, [train], val_source=[str(val)])
    assert [r["text"] for r in read_split(run, "val")] == [story(3), story(100)]
    assert story(3) not in {r["text"] for r in read_split(run, "train")}
    assert result["train"]["docs"] == 9 and result["exact_dups_dropped"] == 1
    roles = [s["role"] for s in json.loads(run.manifest_file.read_text())["sources"]]
    assert roles == ["val", "train"]


def test_near_duplicates_reported_or_dropped(tmp_path):
    base = story(7)
    near = base.replace("Story 7.", "Story 7!").rstrip(".") + " today."  # one word added: Jaccard ~0.9
    src = write_jsonl(tmp_path / "n.jsonl", [base, story(8), near])
    run, result = prepare(tmp_path, [src], "report", val_fraction=0.0)
    assert result["near_dups_found"] == 1 and result["near_dups_dropped"] == 0
    assert result["train"]["docs"] == 3
    manifest = json.loads(run.manifest_file.read_text())
    assert manifest["near_dup_examples"] == [{"doc": "n.jsonl:3", "near_duplicate_of": "n.jsonl:1"}]
    run, result = prepare(tmp_path, [src], "drop", val_fraction=0.0, near_dup="drop")
    assert result["near_dups_dropped"] == 1 and [r["text"] for r in read_split(run, "train")] == [base, story(8)]
    _, result = prepare(tmp_path, [src], "off", val_fraction=0.0, near_dup="off")
    assert result["near_dups_found"] == 0 and result["train"]["docs"] == 3


def test_bad_input_stops_without_output_or_is_skipped_and_counted(tmp_path):
    src = tmp_path / "bad.jsonl"
    src.write_text('{"text": "good one"}\n{"text": 12}\n{"text": "good two"}\n', "utf-8")
    run = RunDir(tmp_path / "run")
    with pytest.raises(InputError, match=r"bad\.jsonl:2: "):
        prepare_stage(PrepareConfig(source=[str(src)], run=str(run.root)))
    assert not run.split_file("train").exists() and not list(run.data_dir.glob(".*tmp"))  # nothing half-written
    run, result = prepare(tmp_path, [src], skip_bad=True, val_fraction=0.0)
    assert result["bad_records_skipped"] == 1 and result["train"]["docs"] == 2
    entry = json.loads(run.manifest_file.read_text())["sources"][0]
    assert entry["skipped"] == 1 and entry["skipped_where"][0].startswith(f"{src}:2: ")


def test_missing_source_and_config_errors(tmp_path):
    with pytest.raises(InputError, match=r"nope\.jsonl: not found"):
        prepare(tmp_path, [tmp_path / "nope.jsonl"])
    with pytest.raises(ConfigError, match="source"):
        build_config(PrepareConfig, {"run": str(tmp_path)})
    with pytest.raises(ConfigError, match="val_fraction"):
        build_config(PrepareConfig, {"run": str(tmp_path), "source": ["x"], "val_fraction": 1.5})
    with pytest.raises(ConfigError, match="near_dup"):
        build_config(PrepareConfig, {"run": str(tmp_path), "source": ["x"], "near_dup": "maybe"})
    empty = write_jsonl(tmp_path / "empty.jsonl", ["", "  \n "])
    with pytest.raises(InputError, match="no documents left after cleaning"):
        prepare(tmp_path, [empty])


def test_tiny_input_still_gets_a_val_document(tmp_path):
    src = write_jsonl(tmp_path / "tiny.jsonl", [story(i) for i in range(3)])
    run, result = prepare(tmp_path, [src], val_fraction=0.01)
    assert result["train"]["docs"] == 2 and result["val"]["docs"] == 1
    texts = {r["text"] for r in read_split(run, "train") + read_split(run, "val")}
    assert texts == {story(i) for i in range(3)}


def test_synth_output_folder_with_metadata(tmp_path):
    synth = tmp_path / "synth"
    synth.mkdir()
    write_jsonl(synth / "stories.jsonl", [story(i) for i in range(5)])
    (synth / "meta.json").write_text('{"n": 5, "seed": 0}', "utf-8")
    _, result = prepare(tmp_path, [synth], val_fraction=0.0)
    assert result["train"]["docs"] == 5


def test_other_formats_and_text_field(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.table({"body": [story(1), story(2)]}), tmp_path / "p.parquet")
    (tmp_path / "j.json").write_text(json.dumps([{"body": story(3)}]), "utf-8")
    run, result = prepare(tmp_path, [tmp_path / "p.parquet", tmp_path / "j.json"], text_field="body",
                          val_fraction=0.0)
    assert [r["source"] for r in read_split(run, "train")] == ["p.parquet", "p.parquet", "j.json"]


def test_real_tinystories_v1_samples(tmp_path):
    train = shared_data("tinystories-v1-train-sample")
    valid = shared_data("tinystories-v1-valid-sample")
    start = time.perf_counter()
    run, result = prepare(tmp_path, [train], val_source=[str(valid)])
    elapsed = time.perf_counter() - start
    assert result["train"]["docs"] + result["exact_dups_dropped"] + result["near_dups_dropped"] == 2316
    assert result["val"]["docs"] == 1000 and result["unterminated_tails_dropped"] == 1
    assert result["train"]["bytes"] > 2_000_000
    first = read_split(run, "train")[0]
    assert first["text"].startswith("One day, a little girl named Lily") and first["source"] == "tinystories_sample.txt"
    assert elapsed < 20, f"prepare on 2.8 MiB took {elapsed:.1f} s"
