"""`slm tokenizer train`: the stage function, its config checks and its inputs."""

from __future__ import annotations

import json

import pytest

from slmkit.common.errors import ConfigError, InputError, MissingFileError
from slmkit.common.runs import RunDir
from slmkit.config import build_config
from slmkit.tokenizer import Tokenizer
from slmkit.tokenizer.corpus import iter_training_texts, iter_txt_texts
from slmkit.tokenizer.train import TokenizerTrainConfig, tokenizer_train_stage
from tests.conftest import write_jsonl
from tests.tokenizer.corpus import SMALL_CORPUS


def test_stage_trains_from_the_run_split_and_records_config(tmp_path, capsys):
    run = RunDir(tmp_path / "run")
    write_jsonl(run.split_file("train"), SMALL_CORPUS)
    result = tokenizer_train_stage(build_config(TokenizerTrainConfig, {"run": str(run.root), "vocab_size": 320}))
    tok = Tokenizer.from_file(run.tokenizer_file)
    assert result["vocab_size"] == tok.vocab_size == 320
    assert result["sha256"] == tok.sha256
    assert result["train_docs"] == len(SMALL_CORPUS)
    assert result["bytes_per_token"] > 1.0
    assert run.stage_config("tokenizer")["vocab_size"] == 320
    out = capsys.readouterr().out
    assert "320 tokens" in out and "bytes/token" in out


def test_missing_train_split_points_to_data_prepare(tmp_path):
    with pytest.raises(MissingFileError, match=r"train\.jsonl.*slm data prepare"):
        tokenizer_train_stage(TokenizerTrainConfig(run=str(tmp_path / "run")))


@pytest.mark.parametrize("vocab_size", [100, 261, 2**32 + 1])
def test_vocab_size_bounds(vocab_size):
    with pytest.raises(ConfigError, match="vocab_size"):
        TokenizerTrainConfig(run="r", vocab_size=vocab_size)
    assert TokenizerTrainConfig(run="r", vocab_size=262).vocab_size == 262


def test_txt_and_jsonl_inputs_and_out_override(tmp_path):
    txt = tmp_path / "stories.txt"
    txt.write_text("First story.\n<|endoftext|>\nSecond story,\ntwo lines.\n<|endoftext|>\nTail")
    assert list(iter_txt_texts(txt)) == ["First story.", "Second story,\ntwo lines.", "Tail"]
    jsonl = write_jsonl(tmp_path / "more.jsonl", SMALL_CORPUS)
    out = tmp_path / "elsewhere" / "tok.json"
    cfg = TokenizerTrainConfig(run=str(tmp_path / "run"), input=[str(txt), str(jsonl)], vocab_size=300, out=str(out))
    result = tokenizer_train_stage(cfg)
    assert result["train_docs"] == 3 + len(SMALL_CORPUS)
    assert Tokenizer.from_file(out).vocab_size == 300
    assert not RunDir(tmp_path / "run").tokenizer_file.exists()


def test_max_bytes_caps_the_training_text(tmp_path):
    jsonl = write_jsonl(tmp_path / "t.jsonl", ["abcd" * 10] * 10)  # 40 bytes each
    assert len(list(iter_training_texts([jsonl], max_bytes=100))) == 2
    assert len(list(iter_training_texts([jsonl]))) == 10


def test_malformed_jsonl_line_is_named(tmp_path):
    path = tmp_path / "train.jsonl"
    path.write_text(json.dumps({"text": "fine"}) + "\n" + '{"text": 5}\n')
    with pytest.raises(InputError, match=r"train\.jsonl:2.*string field \"text\""):
        list(iter_training_texts([path]))
    path.write_text("{broken\n")
    with pytest.raises(InputError, match=r"train\.jsonl:1.*one JSON object per line"):
        list(iter_training_texts([path]))


def test_unknown_input_kind_and_missing_input(tmp_path):
    (tmp_path / "data.csv").write_text("a,b\n")
    with pytest.raises(InputError, match=r"data\.csv.*\.txt or \.jsonl"):
        list(iter_training_texts([tmp_path / "data.csv"]))
    with pytest.raises(MissingFileError, match="nope.jsonl"):
        tokenizer_train_stage(TokenizerTrainConfig(run=str(tmp_path), input=[str(tmp_path / "nope.jsonl")]))


def test_no_text_at_all_is_an_input_error(tmp_path):
    path = tmp_path / "empty.jsonl"
    path.write_text("\n\n")
    with pytest.raises(InputError, match="no text"):
        tokenizer_train_stage(TokenizerTrainConfig(run=str(tmp_path / "run"), input=[str(path)], vocab_size=300))
