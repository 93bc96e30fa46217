"""`slm eval lm` on a trained micro checkpoint: JSON report, bits-per-byte bookkeeping, errors."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from slmkit.cli import main
from slmkit.common.errors import InputError, MissingFileError
from slmkit.config import build_config
from slmkit.eval.documents import read_documents
from slmkit.eval.harness import token_stream
from slmkit.eval.lm import bits_per_byte, lm_report
from slmkit.tokenizer import Tokenizer
from slmkit.train.pretrain import PretrainConfig, pretrain_stage
from tests.conftest import MICRO_MODEL


@pytest.fixture(scope="module")
def trained_run(encoded_run, tmp_path_factory):
    import shutil

    run = tmp_path_factory.mktemp("eval") / "run"
    shutil.copytree(encoded_run, run)
    opts = {**MICRO_MODEL, "run": str(run), "max_steps": 30, "batch_size": 4, "seq_len": 32, "progress": False,
            "sample_prompt": "", "eval_interval": 30, "ckpt_interval": 30}
    pretrain_stage(build_config(PretrainConfig, {}, opts))
    return run


def test_eval_lm_prints_json_per_file_and_total(trained_run, tmp_path, capsys):
    a = tmp_path / "a.txt"
    a.write_text("Once upon a time there was a cat.\n<|endoftext|>\nThe dog ran to the park.\n<|endoftext|>\n")
    b = tmp_path / "b.jsonl"
    b.write_text(json.dumps({"text": "Lily had a red ball."}) + "\n")
    out = tmp_path / "report.json"
    assert main(["eval", "lm", "--ckpt", str(trained_run), "--text", str(a), str(b), "--out", str(out)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(out.read_text())
    file_a = printed["files"][str(a)]
    assert file_a["documents"] == 2
    # bytes: both stories plus one separator between them
    assert file_a["bytes"] == len("Once upon a time there was a cat.") + len("The dog ran to the park.") + 1
    assert file_a["bits_per_byte"] == pytest.approx(file_a["loss"] * file_a["tokens"] / math.log(2) / file_a["bytes"])
    total = printed["total"]
    assert total["tokens"] == file_a["tokens"] + printed["files"][str(b)]["tokens"]
    assert 0 < total["bits_per_byte"] < 8


def test_eval_lm_breaks_a_jsonl_down_by_source_and_defaults_to_the_run(trained_run, tmp_path, capsys):
    val = tmp_path / "val.jsonl"
    rows = [{"text": "Once upon a time there was a cat.", "source": "stories.txt"},
            {"text": "The dog ran to the park.", "source": "stories.txt"},
            {"text": "Tom said hello to Sue.", "source": "dialogue.jsonl"}]
    val.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["eval", "lm", "--ckpt", str(trained_run), "--text", str(val)]) == 0
    printed = json.loads(capsys.readouterr().out)
    report = printed["files"][str(val)]
    sources = report["sources"]
    assert set(sources) == {"stories.txt", "dialogue.jsonl"} and sources["stories.txt"]["documents"] == 2
    assert report["tokens"] == sum(s["tokens"] for s in sources.values())
    assert report["bytes"] == sum(s["bytes"] for s in sources.values())
    assert json.loads((trained_run / "eval" / "lm.json").read_text()) == printed  # the run's eval/ by default


def test_token_stream_starts_with_eot_and_separates_documents(trained_run):
    tok = Tokenizer.from_file(trained_run / "tokenizer" / "tokenizer.json")
    ids, n_bytes = token_stream(["ab", "cd"], tok)
    assert ids[0] == tok.eot_id and int((ids == tok.eot_id).sum()) == 2
    assert n_bytes == 5
    assert isinstance(ids, np.ndarray)


def test_metrics_math():
    assert bits_per_byte(math.log(2) * 100, 100) == pytest.approx(1.0)
    report = lm_report(20.0, 10, 40)
    assert report["loss"] == 2.0 and report["perplexity"] == pytest.approx(math.exp(2.0))


def test_bad_inputs(tmp_path, trained_run, capsys):
    with pytest.raises(MissingFileError):
        read_documents(tmp_path / "missing.txt")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "ok"}\n{"txt": "no"}\n')
    with pytest.raises(InputError, match=r"bad\.jsonl:2"):
        read_documents(bad)
    assert main(["eval", "lm", "--ckpt", str(tmp_path / "nothing"), "--text", str(bad)]) == 2
    assert "nothing: not found" in capsys.readouterr().err
