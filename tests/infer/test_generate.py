"""Generation from a trained micro checkpoint: KV-cached decoding equals full recomputation, streaming text never
splits a UTF-8 character, and the `slm generate` command streams samples."""

from __future__ import annotations

import shutil

import pytest
import torch

from slmkit.cli import main
from slmkit.config import build_config
from slmkit.infer.cli_generate import StreamingDecoder
from slmkit.infer.engine import generate
from slmkit.infer.load import load_checkpoint
from slmkit.infer.sampling import SamplingParams
from slmkit.tokenizer import Tokenizer
from slmkit.train.pretrain import PretrainConfig, pretrain_stage
from tests.conftest import MICRO_MODEL


@pytest.fixture(scope="module")
def trained_run(encoded_run, tmp_path_factory):
    run = tmp_path_factory.mktemp("gen") / "run"
    shutil.copytree(encoded_run, run)
    opts = {**MICRO_MODEL, "run": str(run), "max_steps": 40, "batch_size": 4, "seq_len": 32, "progress": False,
            "sample_prompt": "", "eval_interval": 40, "ckpt_interval": 40, "optim.lr": 3e-3}
    pretrain_stage(build_config(PretrainConfig, {}, opts))
    return run


def test_greedy_cached_generation_matches_full_recomputation(trained_run):
    loaded = load_checkpoint(trained_run)
    model, tok = loaded.model, loaded.tokenizer
    prompt = [tok.eot_id] + tok.encode("Once upon a time")
    cached = generate(model, [prompt], 20, SamplingParams(temperature=0))[0]
    ids = list(prompt)
    with torch.no_grad():
        for _ in range(20):
            ids.append(int(model(torch.tensor([ids])).logits[0, -1].argmax()))
    assert cached == ids[len(prompt):]  # no stop ids given, so all 20 tokens are generated


def test_streaming_decoder_holds_back_partial_characters(trained_run):
    tok = Tokenizer.from_file(trained_run / "tokenizer" / "tokenizer.json")
    text = "Lily 🐻 said héllo 你好"
    ids = tok.encode(text)
    decoder = StreamingDecoder(tok)
    pieces = [decoder.push(i) for i in ids]
    assert "".join(pieces) == text
    assert all("\ufffd" not in p for p in pieces)


def test_generate_command_streams_seeded_samples(trained_run, capsys):
    args = ["generate", "--ckpt", str(trained_run), "--prompt", "Once", "--n", "2", "--max-tokens", "15", "--seed", "4"]
    assert main(args) == 0
    first = capsys.readouterr().out
    assert first.count("--- sample") == 2 and first.count("Once") >= 2
    assert main(args) == 0
    assert capsys.readouterr().out == first  # same seed, same text
    assert main(["generate", "--ckpt", str(trained_run), "--temperature", "-1"]) == 2
    assert "temperature: found -1.0" in capsys.readouterr().err
