"""GRPO: advantages, the clipped objective, the k3 KL and the loss on hand-computed values; completion masks; the
frozen reference; `slm finetune grpo` end to end on a micro model whose reward rises on a trivially learnable reward;
exact resume between the mu steps of one rollout batch."""

from __future__ import annotations

import json
import math

import pytest
import torch
from safetensors.torch import load_file

from slmkit.cli import main
from slmkit.common.errors import ConfigError
from slmkit.config import build_config
from slmkit.model.config import ModelConfig
from slmkit.model.loss import IGNORE_INDEX
from slmkit.model.transformer import Transformer
from slmkit.tasks.grpo import (
    GRPOModel,
    GRPOOptions,
    RolloutChunk,
    clipped_surrogate,
    group_advantages,
    grpo_loss,
    k3_kl,
)
from slmkit.tasks.grpo_rollouts import completion_batch
from slmkit.train.finetune import FinetuneConfig, finetune_stage
from slmkit.train.metrics_log import read_metrics


def test_group_advantages_by_hand():
    adv = group_advantages(torch.tensor([1.0, 0.0, 0.0, 0.0, 2.0, 2.0, 2.0, 2.0]), group_size=4, eps=0.0)
    # group 1: mean 0.25, unbiased std sqrt((0.5625 + 3 * 0.0625) / 3) = 0.5; group 2: all equal -> 0 (eps 0: 0/0)
    assert adv[:4].tolist() == pytest.approx([1.5, -0.5, -0.5, -0.5])
    adv = group_advantages(torch.tensor([3.0, 1.0, 2.0, 2.0]), group_size=2, eps=1e-4)
    std = math.sqrt(2.0)  # (3, 1): mean 2, unbiased std sqrt(2)
    assert adv.tolist() == pytest.approx([1 / (std + 1e-4), -1 / (std + 1e-4), 0.0, 0.0])


def test_clipped_surrogate_by_hand():
    logp = torch.tensor([[0.0, math.log(0.5)]])  # ratios e (vs old -1) and 0.5 (vs old 0)
    old = torch.tensor([[-1.0, 0.0]])
    value, clipped = clipped_surrogate(logp, old, torch.tensor([1.0]), clip_eps=0.2)
    assert value[0].tolist() == pytest.approx([1.2, 0.5])  # min(e, 1.2), min(0.5, 0.8)
    assert clipped.tolist() == [[True, False]]
    value, clipped = clipped_surrogate(logp, old, torch.tensor([-1.0]), clip_eps=0.2)
    assert value[0].tolist() == pytest.approx([-math.e, -0.8])  # pessimistic: min(-e, -1.2), min(-0.5, -0.8)
    assert clipped.tolist() == [[False, True]]


def test_k3_kl_by_hand():
    kl = k3_kl(torch.tensor([0.0, -1.0, -2.0]), torch.tensor([-1.0, -1.0, -1.0]))
    assert kl.tolist() == pytest.approx([math.exp(-1) + 1 - 1, 0.0, math.exp(1) - 1 - 1])
    assert (k3_kl(torch.randn(100), torch.randn(100)) >= 0).all()


def test_grpo_loss_by_hand():
    # two sequences: the first has 2 completion tokens, the second 1 (its second position is padding)
    logp = torch.tensor([[0.0, 0.0], [0.0, 5.0]])
    old = torch.tensor([[-1.0, 0.0], [0.0, 0.0]])
    ref = torch.tensor([[-1.0, 0.0], [0.0, 0.0]])
    mask = torch.tensor([[True, True], [True, False]])
    adv = torch.tensor([1.0, -2.0])
    loss, stats = grpo_loss(logp, old, ref, adv, mask, clip_eps=0.2, beta=0.5)
    kl0 = math.exp(-1)  # k3 of the first token; the others are 0
    seq1 = (-1.2 + 0.5 * kl0 - 1.0) / 2  # token 1: ratio e clipped at 1.2, plus beta * KL; token 2: ratio 1
    seq2 = 2.0  # -(ratio 1 x advantage -2); its padded second position does not count
    assert loss.item() == pytest.approx((seq1 + seq2) / 2)
    assert stats["kl"] == pytest.approx(kl0 / 3) and stats["clip_fraction"] == pytest.approx(1 / 3)
    no_kl, _ = grpo_loss(logp, old, None, adv, mask, clip_eps=0.2, beta=0.0)
    assert no_kl.item() == pytest.approx(((-1.2 - 1.0) / 2 + 2.0) / 2)


def test_completion_batch_trains_only_completion_tokens():
    x, y = completion_batch([[0, 5, 6], [0, 7]], [[8, 9, 0], [3]], pad_id=1)
    assert x.tolist() == [[0, 5, 6, 8, 9], [0, 7, 1, 1, 1]]
    assert y.tolist() == [[IGNORE_INDEX, IGNORE_INDEX, 8, 9, 0], [IGNORE_INDEX, 3] + [IGNORE_INDEX] * 3]


def test_reference_is_frozen_and_first_update_has_ratio_one():
    torch.manual_seed(0)
    lm = Transformer(ModelConfig(vocab_size=50, context_length=16, n_layers=1, n_heads=2, d_model=16))
    model = GRPOModel(lm, GRPOOptions(beta=0.1))
    assert not any(p.requires_grad for p in model.reference.parameters())
    x, y = completion_batch([[1, 2, 3]] * 2, [[4, 5], [6, 7]], pad_id=0)
    from slmkit.tasks.grpo_rollouts import sequence_logprobs_of

    old = sequence_logprobs_of(lm, x, y)
    out = model(x, RolloutChunk(y, old, sequence_logprobs_of(model.reference, x, y), torch.tensor([1.0, -1.0])))
    assert out.stats["kl"] == pytest.approx(0.0, abs=1e-6) and out.stats["clip_fraction"] == 0.0
    out.loss.backward()
    assert lm.lm_head.weight.grad is not None and all(p.grad is None for p in model.reference.parameters())
    with pytest.raises(ConfigError, match="grpo.group_size"):
        GRPOOptions(group_size=1)


# ---- end to end ----------------------------------------------------------------------------------------------------

NAMES = ["Tom", "Lily", "Ben", "Mia", "Sam", "Anna", "Max", "Lucy"]
THINGS = ["a ball", "a dog", "a cat", "a kite", "a tree", "a cake"]
# the micro model says "was" in about 1 of 6 sampled 16-token completions: a reward GRPO can find and reinforce
LEARNABLE = "contains:was"


@pytest.fixture
def prompts(tmp_path):
    path = tmp_path / "prompts.jsonl"
    path.write_text("".join(json.dumps({"prompt": f"{NAMES[i % 8]} saw {THINGS[i % 6]}."}) + "\n"
                            for i in range(40)))
    return path


def _args(ckpt, prompts, run, *extra):
    return ["finetune", "grpo", "--ckpt", str(ckpt / "ckpt" / "base"), "--prompts", str(prompts), "--run", str(run),
            "--reward", LEARNABLE, "--grpo.format", "chat", "--grpo.max-new-tokens", "16", "--grpo.group-size", "8",
            "--batch-size", "4", "--val-size", "8", "--test-size", "0", "--optim.lr", "3e-3",
            "--optim.warmup-steps", "0", "--progress", "false", "--threads", "1", "--log-interval", "1", *extra]


def test_finetune_grpo_raises_a_learnable_reward(micro_checkpoint, prompts, tmp_path, capsys):
    torch.manual_seed(0)
    run = tmp_path / "grpo"
    assert main(_args(micro_checkpoint, prompts, run, "--max-steps", "20", "--eval-interval", "10",
                      "--grpo.mu", "2", "--grpo.beta", "0.02", "--eval-at-start")) == 0
    records = read_metrics(run / "metrics_grpo.jsonl")
    steps = [r for r in records if "reward/mean" in r]
    assert [r["step"] for r in steps] == list(range(1, 21))
    for key in ("reward/std", "completion_len", "kl", "clip_fraction", f"reward/{LEARNABLE}"):
        assert key in steps[0]
    rewards = [r["reward/mean"] for r in steps]
    assert sum(rewards[-4:]) / 4 > sum(rewards[:4]) / 4 + 0.2, rewards
    assert steps[0]["clip_fraction"] == 0.0  # the first step on fresh rollouts: ratio 1 everywhere
    evals = [r for r in records if "val/reward" in r]
    assert [r["step"] for r in evals] == [0, 10, 20] and evals[0]["val/kl"] == 0.0  # step 0: the reference itself
    assert (run / "plots" / "reward_grpo.png").stat().st_size > 1000
    samples = [json.loads(line) for line in (run / "samples_grpo.jsonl").read_text().splitlines()]
    assert len(samples) == 9 and {s["step"] for s in samples} == {0, 10, 20} and "completion" in samples[0]
    config = json.loads((run / "ckpt" / "grpo" / "best" / "latest" / "config.json").read_text())
    assert config["finetune"]["grpo"]["reward"] == LEARNABLE and config["finetune"]["format"] == "chat"
    assert "reward" in capsys.readouterr().out


def test_resume_between_mu_steps_is_exact(micro_checkpoint, prompts, tmp_path):
    def cfg(run, max_steps, resume=False):
        opts = {"task": "grpo", "ckpt": str(micro_checkpoint / "ckpt" / "base"), "prompts": str(prompts),
                "run": str(run), "reward": LEARNABLE, "grpo.format": "chat", "grpo.max_new_tokens": 12,
                "grpo.group_size": 4, "grpo.mu": 2, "batch_size": 2, "grad_accum": 2, "val_size": 4, "test_size": 0,
                "optim.lr": 3e-3, "optim.schedule": "constant", "optim.warmup_steps": 0, "max_steps": max_steps,
                "eval_interval": 3, "progress": False, "threads": 1, "log_interval": 1, "resume": resume}
        return build_config(FinetuneConfig, {}, opts)

    finetune_stage(cfg(tmp_path / "a", 4))
    finetune_stage(cfg(tmp_path / "b", 3))  # stops after step 3: half-way through rollout batch 1 (steps 3 and 4)
    assert (tmp_path / "b" / "ckpt" / "grpo" / "latest" / "rollouts.safetensors").is_file()
    finetune_stage(cfg(tmp_path / "b", 4, resume=True))

    def losses(run):
        return {r["step"]: r["train/loss"] for r in read_metrics(run / "metrics_grpo.jsonl") if "train/loss" in r}

    assert losses(tmp_path / "a") == losses(tmp_path / "b") and set(losses(tmp_path / "a")) == {1, 2, 3, 4}
    a = load_file(str(tmp_path / "a" / "ckpt" / "grpo" / "latest" / "trainable.safetensors"))
    b = load_file(str(tmp_path / "b" / "ckpt" / "grpo" / "latest" / "trainable.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    samples = [(run / "samples_grpo.jsonl").read_text() for run in (tmp_path / "a", tmp_path / "b")]
    assert samples[0] == samples[1] and samples[0].count("\n") == 6  # evaluations at steps 3 and 4, 3 samples each


def test_grpo_bad_options_are_one_line_errors(micro_checkpoint, prompts, tmp_path, capsys):
    base = _args(micro_checkpoint, prompts, tmp_path / "bad", "--max-steps", "1")
    assert main([*base, "--reward", "no_such_reward"]) == 2
    assert "reward: found 'no_such_reward'" in capsys.readouterr().err
    assert main([*base, "--grad-accum", "3"]) == 2  # 4 prompts x 8 completions do not split in 3
    assert "grad_accum" in capsys.readouterr().err
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"text": "no prompt"}) + "\n" * 1 + json.dumps({"prompt": "ok"}) + "\n")
    assert main([*_args(micro_checkpoint, bad, tmp_path / "bad2", "--val-size", "1"), "--max-steps", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert "'prompt'" in err and len(err.splitlines()) == 1


def test_prompt_formats(tokenizer):
    from slmkit.tasks.grpo import GRPOOptions
    from slmkit.tasks.grpo_rollouts import PromptSet

    record = {"prompt": "Features: Dialogue\nWords: dog\nStory: \n\n", "where": "p:1"}
    text = PromptSet([record], tokenizer, GRPOOptions(format="text"), max_prompt=64)
    assert text.ids[0] == [tokenizer.eot_id] + tokenizer.encode(record["prompt"])  # raw continuation
    assert text.texts[0] == record["prompt"]
    chat = PromptSet([record], tokenizer, GRPOOptions(format="chat"), max_prompt=64)
    assert chat.ids[0][-2:] == [tokenizer.special_ids["<|assistant|>"], *tokenizer.encode("\n")]
    short = PromptSet([record], tokenizer, GRPOOptions(format="text"), max_prompt=5)
    assert len(short.ids[0]) == 5 and short.ids[0][-4:] == tokenizer.encode(record["prompt"])[-4:]
