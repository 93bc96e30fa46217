"""`slm finetune grpo`: the GRPO task made ready for the one training loop (tasks/grpo.py, tasks/grpo_rollouts.py)
with its rewards (rewards/registry.py), plus the reward-curve plot.

Batch sizes: `batch_size` prompts per rollout batch, each sampled `grpo.group_size` times; every optimizer step trains
on all of them (cut into `grad_accum` micro-batches), `grpo.mu` steps per rollout batch. One epoch is one pass over
the training prompts (each prompt sampled `group_size` times, trained on `mu` times).

Example:
    slm finetune grpo --ckpt runs/ft/ckpt/instruct/best --prompts prompts.jsonl --reward words,features,length
"""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import Any

from slmkit.common.errors import ConfigError
from slmkit.common.log import print0
from slmkit.common.runs import RunDir
from slmkit.rewards.registry import parse_rewards
from slmkit.tasks.base import Prepared, set_trainable
from slmkit.tasks.grpo import GRPOModel, GRPOOptions
from slmkit.tasks.grpo_rollouts import GRPORollouts, PromptSet
from slmkit.tasks.instruct import InstructOptions, InstructTask
from slmkit.tokenizer.special import EOT
from slmkit.train.metrics_log import read_metrics, save_figure

PROMPT_FIELDS = ([], ["prompt"])  # (required, column names of header-less tab files) for read_records


def prepare_grpo(cfg, lm, tokenizer, device, run: RunDir, splits: tuple[list, list, list],
                 lora_record) -> Prepared:
    """Prepared for GRPO from (train, val, test) prompt records; `cfg` is the FinetuneConfig."""
    opts: GRPOOptions = cfg.grpo
    rewards = parse_rewards(cfg.reward, cfg.judge, run.root / f"judge_reward_cache_{cfg.stage_name}.jsonl")
    max_prompt = lm.cfg.context_length - opts.max_new_tokens
    if max_prompt < 16:
        raise ConfigError("grpo.max_new_tokens", opts.max_new_tokens,
                          f"at most context_length - 16 = {lm.cfg.context_length - 16} (room for the prompt)")
    train_r, val_r, test_r = splits
    train_p, val_p = PromptSet(train_r, tokenizer, opts, max_prompt), PromptSet(val_r, tokenizer, opts, max_prompt)
    test_p = PromptSet(test_r, tokenizer, opts, max_prompt) if test_r else None
    if cfg.max_eval_examples:
        val_p.records, val_p.texts, val_p.ids = (v[: cfg.max_eval_examples] for v in (val_p.records, val_p.texts,
                                                                                        val_p.ids))
    print0(f"prompts: {len(train_p)} train, {len(val_p)} val, {len(test_p or [])} test | rewards {rewards.names}")
    lora_names = set_trainable(lm, cfg.trainable, cfg.lora)
    model = GRPOModel(lm, opts)
    rollouts = GRPORollouts(model, tokenizer, train_p, rewards.score, opts, cfg.batch_size, cfg.grad_accum,
                            cfg.seed, device)
    rollouts.samples_path = run.root / f"samples_{cfg.stage_name}.jsonl"
    if opts.format == "text":
        prompt_record: dict[str, Any] = {"format": "text", "stop": [EOT], "max_length": max_prompt}
    else:
        template = InstructTask(InstructOptions(format=opts.format), tokenizer, max_prompt)
        template.used_format = opts.format
        prompt_record = template.checkpoint_record()
    record: dict[str, Any] = dict(prompt_record, lora=lora_record(lora_names),
                                  grpo={"reward": cfg.reward, "group_size": opts.group_size, "mu": opts.mu,
                                        "clip_eps": opts.clip_eps, "beta": opts.beta})
    mean_prompt = sum(len(p) for p in train_p.ids) / max(1, len(train_p))
    per_step = rollouts.per_step * opts.group_size
    return Prepared(
        model=model,
        lm=lm,
        micro_batch=rollouts.micro_batch,
        batches_per_epoch=max(1, rollouts.rollouts_per_epoch) * opts.mu * cfg.grad_accum,
        tokens_per_micro=int((mean_prompt + opts.max_new_tokens / 2) * per_step / cfg.grad_accum),
        evaluate=partial(rollouts.evaluate, val_p),
        test=partial(rollouts.evaluate, test_p) if test_p else None,
        record=record,
        select_metric="reward",
        select_mode="max",
        extra_tensors=rollouts.extra_tensors,
        restore=rollouts.restore,
        attach_log=lambda log: setattr(rollouts, "log", log),
    )


def plot_rewards(run: RunDir, metrics_path: Path, out_name: str) -> Path | None:
    """plots/<out_name>: mean rollout reward (± std band) per step and the validation reward."""
    records = read_metrics(metrics_path)
    train = [(r["step"], r["reward/mean"], r.get("reward/std", 0.0)) for r in records if "reward/mean" in r]
    val = [(r["step"], r["val/reward"]) for r in records if "val/reward" in r]
    if not train and not val:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
    if train:
        steps, mean, std = zip(*train)
        ax.plot(steps, mean, label="rollout reward (mean)", linewidth=1)
        ax.fill_between(steps, [m - s for m, s in zip(mean, std)], [m + s for m, s in zip(mean, std)], alpha=0.2,
                        label="± std within the batch")
    if val:
        ax.plot(*zip(*val), "o-", label="validation reward", markersize=3)
    ax.set_xlabel("step")
    ax.set_ylabel("reward")
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(f"{run.root.name}: GRPO")
    return save_figure(fig, run.plots_dir / out_name)
