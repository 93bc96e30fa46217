"""GRPO on verifiable instruction following: does RL raise the share of held-out synthetic TinyStories-Instruct
prompts whose completions satisfy every constraint (required words, requested features, named characters, length)?

One run: writes train prompts (synthetic stories' `instruction`, seed S) and held-out prompts (seed S + 2,000,003,
as `slm eval tasks instruct` uses), scores the starting checkpoint on the held-out prompts (greedy completions,
the training prompt format), runs `slm finetune grpo` with the instruction-following rewards, and scores its best
checkpoint the same way. The request is phrased plainly ("Write a short story for children. <summary> Use the words
a, b, c. Include: Dialogue."); the rewards check the constraints of the record's `instruction`. Prints before /
after per constraint and the per-token KL to the starting model.

Example:
    python bench/grpo_instruct.py --ckpt /work/runs/ft-instruct/ckpt/instruct/best --out /tmp/grpo-bench --steps 40
    python bench/grpo_instruct.py --ckpt /work/runs/ft-instruct/ckpt/instruct/best --sft-steps 200 --steps 40
    python bench/grpo_instruct.py --ckpt BEFORE --after AFTER --format text --heldout 1000   # re-score only
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch

from slmkit.config import build_config
from slmkit.data.synth import generate_stories
from slmkit.eval.instruct_checks import parse_instruction
from slmkit.infer.load import load_checkpoint
from slmkit.rewards.registry import parse_rewards
from slmkit.tasks.grpo import GRPOModel, GRPOOptions
from slmkit.tasks.grpo_rollouts import GRPORollouts, PromptSet
from slmkit.train.finetune import FinetuneConfig, finetune_stage

CONSTRAINTS = "words,features,names,length"  # every term at 1.0 == check_story(...)["all"]


def natural_prompt(instruction: str) -> str:
    """The constraints as a plain request (the Alpaca-tuned model ignores the raw Features/Words/Summary header)."""
    parsed = parse_instruction(instruction)
    features = f" Include: {', '.join(parsed.features)}." if parsed.features else ""
    return f"Write a short story for children. {parsed.summary} Use the words {', '.join(parsed.words)}.{features}"


def write_prompts(path: Path, n: int, seed: int, raw: bool = False) -> Path:
    """Records with the request (`prompt`) and the constraints the rewards check (`instruction`); `raw` keeps the
    TinyStories-Instruct header itself as the prompt (for models pre-trained on instruction-prefixed stories)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps({"prompt": s.instruction if raw else natural_prompt(s.instruction),
                                        "instruction": s.instruction}) + "\n"
                            for s in generate_stories(n, seed=seed)), encoding="utf-8")
    return path


def sft_first(ckpt: str, out: Path, steps: int, threads: int) -> str:
    """Instruction-tune `ckpt` on 3,000 synthetic (plain request -> story) pairs first; returns the best checkpoint.

    The ft-instruct model never writes a story that meets every constraint, so GRPO has nothing to reinforce;
    after this SFT it writes stories (every one long enough, some with the words, names and features).
    """
    data = out / "sft.jsonl"
    data.write_text("".join(json.dumps({"instruction": natural_prompt(s.instruction), "input": "", "output": s.text})
                            + "\n" for s in generate_stories(3000, seed=5_000_011)), encoding="utf-8")
    cfg = build_config(FinetuneConfig, {}, {
        "task": "instruct", "ckpt": ckpt, "data": str(data), "run": str(out / "sft"), "instruct.format": "alpaca",
        "max_steps": steps, "batch_size": 16, "optim.lr": 1e-3, "optim.warmup_steps": 10, "val_size": 50,
        "test_size": 0, "eval_interval": max(1, steps // 2), "progress": False, "threads": threads})
    return finetune_stage(cfg)["best_checkpoint"]


def score(ckpt: str, prompts: Path, opts: GRPOOptions, reference: str | None = None) -> dict:
    """Held-out metrics of a checkpoint with the GRPO evaluation (greedy): reward, share meeting all, per-prompt
    flags, and the per-token KL to `reference` (0 without one)."""
    loaded = load_checkpoint(ckpt)
    records = [dict(json.loads(line), where=f"{prompts}:{i}") for i, line in
               enumerate(prompts.read_text().splitlines(), 1)]
    rewards = parse_rewards(CONSTRAINTS)
    prompt_set = PromptSet(records, loaded.tokenizer, opts, loaded.model.cfg.context_length - opts.max_new_tokens)
    model = GRPOModel(loaded.model, opts)
    if reference is not None:
        model.reference = load_checkpoint(reference).model.eval().requires_grad_(False)
    rollouts = GRPORollouts(model, loaded.tokenizer, prompt_set, rewards.score, opts, 1, 1, 0, "cpu")
    out = rollouts.evaluate(prompt_set, per_prompt=True)
    return {k: v for k, v in out.items() if k not in ("samples",)}


def paired_change(before: list[bool], after: list[bool]) -> str:
    """Prompts that newly meet every constraint vs those that stop meeting them, and the two-sided exact sign-test
    p-value of that split (ties -- same outcome before and after -- carry no information and are dropped)."""
    gained = sum(not b and a for b, a in zip(before, after, strict=True))
    lost = sum(b and not a for b, a in zip(before, after, strict=True))
    n, k = gained + lost, min(gained, lost)
    p_value = min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2**n) if n else 1.0
    return f"prompts gained {gained}, lost {lost} (sign test p = {p_value:.2g})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", required=True)
    parser.add_argument("--out", default="/tmp/grpo-bench")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--train-prompts", type=int, default=512)
    parser.add_argument("--heldout", type=int, default=100)
    parser.add_argument("--reward", default="instruct")
    parser.add_argument("--group-size", type=int, default=8)
    parser.add_argument("--prompts-per-step", type=int, default=8)
    parser.add_argument("--max-new-tokens", type=int, default=128)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--beta", type=float, default=0.04)
    parser.add_argument("--mu", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sft-steps", type=int, default=0, help="instruction-tune on synthetic stories first")
    parser.add_argument("--after", help="skip training: compare --ckpt with this (GRPO-trained) checkpoint")
    parser.add_argument("--format", default="alpaca", choices=["alpaca", "chat", "text"],
                        help="prompt format; text = the raw Features/Words/Summary/Story header")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    raw = args.format == "text"
    train = write_prompts(out / "train_prompts.jsonl", args.train_prompts, args.seed, raw)
    heldout = write_prompts(out / "heldout_prompts.jsonl", args.heldout, args.seed + 2_000_003, raw)
    opts = GRPOOptions(max_new_tokens=args.max_new_tokens, group_size=args.group_size, mu=args.mu, beta=args.beta,
                       format=args.format)
    t0 = time.perf_counter()
    start = sft_first(args.ckpt, out, args.sft_steps, args.threads) if args.sft_steps else args.ckpt
    before = score(start, heldout, opts)
    if args.after:
        report(before, score(args.after, heldout, opts, reference=start), f"--after {args.after}", t0)
        return
    cfg = build_config(FinetuneConfig, {}, {
        "task": "grpo", "ckpt": start, "prompts": str(train), "val_data": str(heldout), "test_size": 0,
        "run": str(out / "run"), "reward": args.reward, "grpo.max_new_tokens": args.max_new_tokens,
        "grpo.group_size": args.group_size, "grpo.mu": args.mu, "grpo.beta": args.beta,
        "grpo.format": args.format, "batch_size":
        args.prompts_per_step, "max_steps": args.steps, "eval_interval": max(1, args.steps // 2), "optim.lr": args.lr,
        "optim.warmup_steps": 0, "progress": False, "threads": args.threads, "log_interval": 1, "seed": args.seed})
    summary = finetune_stage(cfg)
    after_ckpt = summary["best_checkpoint"]
    last = json.loads((Path(after_ckpt) / "trainer_state.json").read_text())["last_eval"]
    after = score(after_ckpt, heldout, opts, reference=start)
    after["kl_during_training_eval"] = last.get("val/kl", float("nan"))
    report(before, after, f"best step {summary['best_step']}", t0)
    (out / "result.json").write_text(json.dumps({"before": before, "after": after, "summary": summary,
                                                 "args": vars(args)}, indent=2, default=str))


def report(before: dict, after: dict, what: str, t0: float) -> None:
    keys = ["all_terms_met", "reward/words", "reward/features", "reward/names", "reward/length", "completion_len",
            "kl"]
    print(f"\n{'metric':<18}{'before':>9}{'after':>9}")
    for key in keys:
        print(f"{key:<18}{before.get(key, float('nan')):>9.3f}{after.get(key, float('nan')):>9.3f}")
    print(f"held-out prompts {before['n']}: {paired_change(before['met'], after['met'])}")
    print(f"{what}, {time.perf_counter() - t0:.0f} s in all")


if __name__ == "__main__":
    main()
