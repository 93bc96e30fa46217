"""Pre-training end to end on a micro model: checkpoints, exact resume after SIGKILL, budgets, errors, DDP."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from safetensors.torch import load_file

from slmkit.cli import main
from slmkit.common.errors import ConfigError, InputError
from slmkit.config import build_config
from slmkit.train.metrics_log import read_metrics
from slmkit.train.pretrain import PretrainConfig, pretrain_stage
from tests.conftest import MICRO_MODEL

BASE = {**MICRO_MODEL, "batch_size": 4, "seq_len": 32, "eval_interval": 10, "eval_batches": 2, "log_interval": 1,
        "ckpt_interval": 10, "progress": False, "sample_prompt": "", "threads": 1, "optim.warmup_steps": 5}


def pretrain(run: Path, **overrides):
    opts = {**BASE, "run": str(run), **{k.replace("__", "."): v for k, v in overrides.items()}}
    return pretrain_stage(build_config(PretrainConfig, {}, opts))


def cli_args(run: Path, **overrides) -> list[str]:
    opts = {**BASE, **overrides}
    args = ["pretrain", "--run", str(run)]
    for key, value in opts.items():
        args += [f"--{key}", str(value)]
    return args


def losses(run: Path) -> dict[int, float]:
    return {r["step"]: r["train/loss"] for r in read_metrics(run / "metrics.jsonl") if "train/loss" in r}


def test_pretrain_writes_checkpoints_metrics_and_plot(copy_run):
    summary = pretrain(copy_run, max_steps=20, keep_last=1)
    stage = copy_run / "ckpt" / "base"
    assert sorted(p.name for p in stage.iterdir()) == ["latest", "step_000020"]  # keep_last=1 pruned step 10
    ckpt = stage / "latest"
    for name in ("config.json", "model.safetensors", "tokenizer.json", "optimizer.safetensors", "trainer_state.json"):
        assert (ckpt / name).is_file(), name
    state = json.loads((ckpt / "trainer_state.json").read_text())
    assert state["step"] == 20 and state["tokens"] == 20 * 4 * 32
    assert "torch" in state["rng"]
    config = json.loads((ckpt / "config.json").read_text())
    assert config["model"]["vocab_size"] == 384  # follows the tokenizer
    assert (copy_run / "plots" / "loss.png").stat().st_size > 1000
    assert set(losses(copy_run)) == set(range(1, 21))
    assert 0 < summary["val/bits_per_byte"] < 10
    trained = losses(copy_run)
    assert trained[20] < trained[1]  # it learns
    recipe = (copy_run / "recipe.yaml").read_text()
    assert "pretrain:" in recipe and "max_steps: 20" in recipe


def test_resume_after_sigkill_matches_uninterrupted_run(copy_run, tmp_path):
    reference = tmp_path / "reference"
    shutil.copytree(copy_run, reference)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2] / "src"))
    run_args = cli_args(copy_run, max_steps=60)
    proc = subprocess.Popen([sys.executable, "-m", "slmkit.cli", *run_args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while not (copy_run / "ckpt" / "base" / "step_000010" / "trainer_state.json").exists():
        assert proc.poll() is None, proc.stderr.read().decode()
        assert time.time() < deadline
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (copy_run / "ckpt" / "base" / "step_000060").exists(), "the run finished before it could be killed"

    assert main(run_args + ["--resume"]) == 0
    pretrain(reference, max_steps=60)
    resumed, uninterrupted = losses(copy_run), losses(reference)
    assert sorted(resumed) == list(range(1, 61))  # lines of the killed tail were replaced, none duplicated
    for step in (11, 30, 60):
        assert resumed[step] == pytest.approx(uninterrupted[step], rel=1e-5, abs=1e-6)
    a = load_file(str(copy_run / "ckpt/base/latest/model.safetensors"))
    b = load_file(str(reference / "ckpt/base/latest/model.safetensors"))
    for key in a:
        assert (a[key] - b[key]).abs().max().item() < 1e-5, key


def test_max_tokens_budget_and_existing_checkpoints_refused(copy_run):
    summary = pretrain(copy_run, max_steps=1000, max_tokens=4 * 32 * 7)
    assert summary["step"] == 7
    with pytest.raises(ConfigError, match="resume: found 'existing checkpoints"):
        pretrain(copy_run, max_steps=10)


def test_bad_inputs_give_one_line_errors(copy_run, capsys):
    with pytest.raises(ConfigError, match="model.d_model"):
        build_config(PretrainConfig, {}, {"run": "x", "model.d_model": 30, "model.n_heads": 4})
    with pytest.raises(ConfigError, match="seq_len: found 999"):
        build_config(PretrainConfig, {}, {"run": "x", "seq_len": 999, "model.context_length": 64})
    with pytest.raises(ConfigError, match="model.vocab_size: found 100"):
        pretrain(copy_run, max_steps=1, model__vocab_size=100)
    (copy_run / "shards" / "train.bin").unlink()
    assert main(cli_args(copy_run, max_steps=2)) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "train.bin" in err and len(err.splitlines()) == 1


def test_shards_from_another_tokenizer_are_refused(copy_run):
    meta_path = copy_run / "shards" / "meta.json"
    meta = json.loads(meta_path.read_text())
    meta["tokenizer_sha256"] = "0" * 64
    meta_path.write_text(json.dumps(meta))
    with pytest.raises(InputError, match="meta.json: found 'shards encoded with tokenizer 000000000000'"):
        pretrain(copy_run, max_steps=1)


def test_corrupt_checkpoint_is_a_clear_error(copy_run):
    pretrain(copy_run, max_steps=10)
    weights = copy_run / "ckpt/base/latest/model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    with pytest.raises(InputError, match="model.safetensors: found 'an unreadable file"):
        pretrain(copy_run, max_steps=20, resume=True)


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["ddp", "fsdp"])
def test_two_cpu_ranks_equal_one_process_with_double_accumulation(copy_run, tmp_path, strategy):
    single = tmp_path / "single"
    shutil.copytree(copy_run, single)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2] / "src"), OMP_NUM_THREADS="1")
    ddp = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
         f"--master_port={29533 if strategy == 'ddp' else 29534}", "-m", "slmkit", "--",
         *cli_args(copy_run, max_steps=8, grad_accum=1, eval_interval=8, ckpt_interval=8, distributed=strategy)],
        env=env, capture_output=True, text=True, timeout=300,
    )
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    pretrain(single, max_steps=8, grad_accum=2, eval_interval=8, ckpt_interval=8)
    multi, one = losses(copy_run), losses(single)
    for step in range(1, 9):
        assert multi[step] == pytest.approx(one[step], rel=1e-4), step
    assert json.loads((copy_run / "ckpt/base/latest/trainer_state.json").read_text())["tokens"] == 8 * 2 * 4 * 32
    # the gathered checkpoint holds the same weights as the single-process run
    a = load_file(str(copy_run / "ckpt/base/latest/model.safetensors"))
    b = load_file(str(single / "ckpt/base/latest/model.safetensors"))
    assert a.keys() == b.keys()
    for key in a:
        assert (a[key] - b[key]).abs().max().item() < 1e-4, key


def test_ctrl_c_stops_after_the_step_and_checkpoints(copy_run):
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[2] / "src"))
    args = cli_args(copy_run, max_steps=100000, ckpt_interval=10**6)
    proc = subprocess.Popen([sys.executable, "-m", "slmkit", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not (copy_run / "metrics.jsonl").exists() or len(losses(copy_run)) < 3:
        assert proc.poll() is None and time.time() < deadline
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err[-2000:]
    assert "interrupted" in out
    state = json.loads((copy_run / "ckpt/base/latest/trainer_state.json").read_text())
    assert 3 <= state["step"] < 100000
    assert max(losses(copy_run)) == state["step"]


def test_mixture_of_experts_preset_trains_and_logs_tensorboard(copy_run):
    summary = pretrain(copy_run, preset="moe-tiny", max_steps=10, model__n_experts=4, model__moe_top_k=2)
    config = json.loads((copy_run / "ckpt/base/latest/config.json").read_text())
    assert config["model"]["n_experts"] == 4
    assert summary["val/loss"] < 7.0  # ln(384) = 5.95 is chance; the router losses are not part of the val loss
    assert any(p.name.startswith("events.out.tfevents") for p in (copy_run / "tb").iterdir())


@pytest.mark.slow
def test_torch_compile_trains_the_same_model(copy_run, tmp_path):
    eager = tmp_path / "eager"
    shutil.copytree(copy_run, eager)
    pretrain(copy_run, max_steps=3, compile=True, eval_interval=3, ckpt_interval=3)
    pretrain(eager, max_steps=3, eval_interval=3, ckpt_interval=3)
    compiled, plain = losses(copy_run), losses(eager)
    assert compiled[3] == pytest.approx(plain[3], rel=1e-3)
    assert "_orig_mod" not in "".join(load_file(str(copy_run / "ckpt/base/latest/model.safetensors")))
