"""Distillation against training alone: the same student (a fresh `tiny` model, same seed, same batches, same steps
and learning-rate schedule) trained on the same token shards twice in one run, once with the teacher's softened
logits in the loss (`slm finetune distill`) and once with alpha=0 (plain cross-entropy: the student alone). Both
are scored in bits per byte on the same validation batches; the ratio is printed.

Usage:
    python bench/distill.py --shards RUN/shards --teacher BIGGER_RUN/ckpt/base --out /tmp/kd --steps 300
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from slmkit.config import build_config
from slmkit.train.finetune import FinetuneConfig, finetune_stage


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shards", required=True, help="token shard folder (train.bin, val.bin, meta.json)")
    ap.add_argument("--teacher", required=True, help="teacher checkpoint (slmkit or Hugging Face folder)")
    ap.add_argument("--out", required=True, help="run directory for both students")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--alpha", type=float, default=0.5)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--student", default="tiny", help="student preset")
    ap.add_argument("--threads", type=int, default=None)
    args = ap.parse_args()

    results = {}
    for name, alpha in (("alone", 0.0), ("distilled", args.alpha)):
        opts = {
            "task": "distill",
            "data": args.shards,
            "run": args.out,
            "stage": f"distill_{name}",
            "distill.teacher": args.teacher,
            "distill.alpha": alpha,
            "distill.temperature": args.temperature,
            "distill.student_preset": args.student,
            "distill.seq_len": 256,
            "distill.eval_batches": 40,
            "batch_size": 8,
            "max_steps": args.steps,
            "eval_interval": max(1, args.steps // 4),
            "optim.lr": 6e-3,  # the CPU speedrun's pre-training recipe
            "optim.warmup_steps": min(100, args.steps // 10),
            "optim.weight_decay": 0.1,
            "progress": False,
            "threads": args.threads,
            "seed": 1337,
        }
        summary = finetune_stage(build_config(FinetuneConfig, {}, opts))
        results[name] = {"bits_per_byte": summary["test"]["bits_per_byte"], "train_seconds": summary["train_seconds"]}
    ratio = results["distilled"]["bits_per_byte"] / results["alone"]["bits_per_byte"]
    print(f"\nstudent {args.student}, {args.steps} steps of 8 x 256 tokens, teacher {args.teacher}")
    print(f"{'student':<12}{'val bits/byte':>15}{'train s':>10}")
    for name, r in results.items():
        print(f"{name:<12}{r['bits_per_byte']:>15.4f}{r['train_seconds']:>10.0f}")
    print(f"distilled / alone: {ratio:.4f}")
    Path(args.out, "distill_bench.json").write_text(json.dumps(dict(results, ratio=ratio), indent=2) + "\n")


if __name__ == "__main__":
    main()
