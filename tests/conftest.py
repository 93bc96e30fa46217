"""Shared fixtures: the shared-data location, and a tiny trained tokenizer + run directory built in-process."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"


def shared_data(*parts: str) -> Path:
    """Path under ../shared/data; skips the test when absent (fails instead in CI, where the data must exist)."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"shared data missing in CI: {path}")
        pytest.skip(f"shared data not available: {path}")
    return path


def write_jsonl(path: Path, texts: list[str]) -> Path:
    import json

    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"text": t, "source": "test"}) + "\n" for t in texts), encoding="utf-8")
    return path


@pytest.fixture(scope="session")
def encoded_run(tmp_path_factory) -> Path:
    """A run directory with data splits, a 384-token BPE and token shards, built in-process from synthetic stories.

    Tests that train copy it (`copy_run`) so they never share checkpoints.
    """
    from slmkit.common.runs import RunDir
    from slmkit.config import build_config
    from slmkit.data.encode import EncodeConfig, encode_stage
    from slmkit.data.synth import generate_stories
    from slmkit.tokenizer.train import TokenizerTrainConfig, tokenizer_train_stage

    root = tmp_path_factory.mktemp("encoded_run")
    run = RunDir(root)
    stories = [s.text for s in generate_stories(400, seed=7)]
    write_jsonl(run.split_file("train"), stories[:360])
    write_jsonl(run.split_file("val"), stories[360:])
    tokenizer_train_stage(build_config(TokenizerTrainConfig, {"run": str(root), "vocab_size": 384}))
    encode_stage(build_config(EncodeConfig, {"run": str(root)}))
    return root


@pytest.fixture
def copy_run(encoded_run, tmp_path) -> Path:
    import shutil

    dest = tmp_path / "run"
    shutil.copytree(encoded_run, dest)
    return dest


# A model small enough that a training step takes milliseconds on 2 CPU cores.
MICRO_MODEL = {
    "model.n_layers": 2, "model.n_heads": 2, "model.d_model": 32, "model.context_length": 64,
}


@pytest.fixture(scope="session")
def micro_checkpoint(encoded_run, tmp_path_factory) -> Path:
    """A run directory holding a micro model pre-trained for 200 steps (for generation and serving tests): enough
    that greedy continuations differ between prompts."""
    import shutil

    from slmkit.config import build_config
    from slmkit.train.pretrain import PretrainConfig, pretrain_stage

    run = tmp_path_factory.mktemp("micro_ckpt") / "micro"
    shutil.copytree(encoded_run, run)
    opts = {**MICRO_MODEL, "run": str(run), "max_steps": 200, "batch_size": 8, "seq_len": 48, "progress": False,
            "sample_prompt": "", "eval_interval": 200, "ckpt_interval": 200, "optim.lr": 1e-2}
    pretrain_stage(build_config(PretrainConfig, {}, opts))
    return run
