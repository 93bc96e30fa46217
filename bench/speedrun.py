"""CPU speedrun: our TinyStories recipe against a nanoGPT-style reference, both trained for the same minutes in one
run, scored in bits-per-byte on the TinyStories v1 validation sample (1,000 stories).

The reference is the issue's baseline written with slmkit's own code: 4 layers, 4 heads, d_model 128, context 256,
LayerNorm, GELU, learned positions, tied embeddings with biases, AdamW lr 1e-3, 100 warmup steps, cosine to 1e-4,
weight decay 0.1, batch 16, a vocab-4096 byte-level BPE trained on the training text, fp32.
"Ours" is the `pretrain` stage of configs/tinystories-cpu.yaml (with its own tokenizer stage).

Usage:
    python bench/speedrun.py --minutes 10            # both, ~22 minutes
    python bench/speedrun.py --minutes 3 --only ours --set pretrain.optim.lr=3e-3   # quick experiments
"""

from __future__ import annotations

import argparse
import copy
import json
import time
from pathlib import Path

import torch
import yaml

from slmkit.common.runs import RunDir
from slmkit.eval.documents import read_documents
from slmkit.eval.harness import evaluate_text
from slmkit.infer.load import load_checkpoint
from slmkit.pipeline import run_stages

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "configs" / "tinystories-cpu.yaml"
REFERENCE_PRETRAIN = {
    "preset": None,
    "model": {
        "n_layers": 4,
        "n_heads": 4,
        "d_model": 128,
        "context_length": 256,
        "pos_emb": "learned",
        "norm": "layernorm",
        "mlp": "gelu",
        "tie_embeddings": True,
        "bias": True,
        "dropout": 0.0,
    },
    "optim": {
        "name": "adamw",
        "lr": 1e-3,
        "min_lr_ratio": 0.1,
        "warmup_steps": 100,
        "schedule": "cosine",
        "weight_decay": 0.1,
        "beta1": 0.9,
        "beta2": 0.95,
    },
    "batch_size": 16,
    "seq_len": 256,
    "max_steps": 10**9,
}


def _set(tree: dict, dotted: str, value: str) -> None:
    *parents, leaf = dotted.split(".")
    for key in parents:
        tree = tree.setdefault(key, {})
    tree[leaf] = yaml.safe_load(value)


def run_one(name: str, stages: dict, out: Path, minutes: float, val_file: Path) -> dict:
    stages = copy.deepcopy(stages)
    stages.pop("eval_lm", None)
    pre = stages["pretrain"]
    pre.update(
        max_minutes=minutes, progress=False, eval_interval=10**6, ckpt_interval=10**6, sample_prompt="", threads=2
    )
    run = RunDir(out / name)
    t0 = time.time()
    run_stages(stages, run, base_dir=RECIPE.parent)
    wall = time.time() - t0
    loaded = load_checkpoint(run.root)
    report = evaluate_text(loaded.model, loaded.tokenizer, read_documents(val_file), 256, 16, "cpu")
    summary = json.loads((run.root / "pretrain_summary.json").read_text())
    return {
        "name": name,
        "bits_per_byte": report["bits_per_byte"],
        "val_loss": report["loss"],
        "params": loaded.model.num_params(),
        "train_tokens": summary["tokens"],
        "steps": summary["step"],
        "tokens_per_s": summary["tokens"] / max(summary["train_seconds"], 1e-9),
        "wall_s": wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--only", choices=["ours", "reference"], default=None)
    parser.add_argument("--out", default=str(REPO / "bench" / "out" / "speedrun"))
    parser.add_argument("--tag", default="", help="suffix for the run folders (experiments)")
    parser.add_argument("--set", action="append", default=[], help="override a recipe key: pretrain.optim.lr=3e-3")
    args = parser.parse_args()
    torch.set_num_threads(2)

    recipe = yaml.safe_load(RECIPE.read_text())
    stages = recipe["stages"]
    for item in args.set:
        key, value = item.split("=", 1)
        _set(stages, key, value)
    val_file = Path(stages["eval_lm"]["text"][0])
    val_file = val_file if val_file.is_absolute() else (RECIPE.parent / val_file).resolve()
    reference = copy.deepcopy(stages)
    reference["tokenizer"] = {"vocab_size": 4096}
    reference["pretrain"] = copy.deepcopy(REFERENCE_PRETRAIN)

    results = []
    out = Path(args.out)
    for name, st in (("reference", reference), ("ours", stages)):
        if args.only in (None, name):
            results.append(run_one(name + (f"-{args.tag}" if args.tag else ""), st, out, args.minutes, val_file))
            print(json.dumps(results[-1]))
    print(f"\n{'run':<18}{'bpb':>8}{'params':>10}{'tokens':>11}{'tok/s':>9}")
    for r in results:
        print(
            f"{r['name']:<18}{r['bits_per_byte']:>8.4f}{r['params'] / 1e6:>9.2f}M{r['train_tokens']:>11,}"
            f"{r['tokens_per_s']:>9,.0f}"
        )
    if len(results) == 2:
        ratio = results[1]["bits_per_byte"] / results[0]["bits_per_byte"]
        print(f"ours / reference bits-per-byte: {ratio:.3f} ({(1 - ratio) * 100:.1f}% better)")


if __name__ == "__main__":
    main()
