import os

import pytest

from slmkit.common.atomic import atomic_dir, atomic_write_json, atomic_write_text
from slmkit.common.runs import RunDir


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path):
    target = tmp_path / "sub" / "f.txt"
    atomic_write_text(target, "one")
    atomic_write_text(target, "two")
    assert target.read_text() == "two"
    assert os.listdir(target.parent) == ["f.txt"]


def test_failed_write_keeps_old_content(tmp_path):
    target = tmp_path / "f.json"
    atomic_write_json(target, {"a": 1})
    with pytest.raises(TypeError):
        atomic_write_json(target, {"a": object()})
    assert target.read_text().strip().startswith("{")
    assert '"a": 1' in target.read_text()
    assert sorted(os.listdir(tmp_path)) == ["f.json"]


def test_atomic_dir_is_all_or_nothing(tmp_path):
    final = tmp_path / "ckpt" / "step_1"
    with pytest.raises(RuntimeError), atomic_dir(final) as tmp:
        (tmp / "half.bin").write_bytes(b"x")
        raise RuntimeError("killed mid-write")
    assert not final.exists() and os.listdir(final.parent) == []
    with atomic_dir(final) as tmp:
        (tmp / "a").write_text("1")
    with atomic_dir(final) as tmp:  # replacing an existing folder
        (tmp / "b").write_text("2")
    assert sorted(os.listdir(final)) == ["b"]


def test_run_dir_records_each_stage_config(tmp_path):
    run = RunDir(tmp_path / "r")
    run.save_stage_config("tokenizer", {"vocab_size": 512})
    run.save_stage_config("encode", {"workers": 2})
    assert run.stage_config("tokenizer") == {"vocab_size": 512}
    assert run.stage_config("encode") == {"workers": 2}
    assert run.tokenizer_file == tmp_path / "r" / "tokenizer" / "tokenizer.json"
