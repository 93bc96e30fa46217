"""`slm scale`: train a sweep of model sizes with one recipe, fit scaling laws, plot loss vs parameters and compute.

Every size is a normal run directory `<run>/<LxD>/` (pre-trained with `slm pretrain` on the shards and tokenizer of
`--data`), so a sweep is resumable: a finished point is skipped, an interrupted one resumes from its checkpoint.
Points: N = non-embedding parameters (Kaplan et al.), D = training tokens seen, C = 6*N*D FLOPs. Each validation
evaluation during training is one (N, D, loss) point for L(N, D); the last evaluation of each size gives L(N).
Each size's final checkpoint is also scored on a task-level ability (`scale.abilities`: recalling the character a
story is about), to show where it appears.

Example:
    slm scale --run runs/scale --data runs/ts-tiny --sizes 1x32 2x64 4x128 --max-steps 300
    -> runs/scale/scale.json, runs/scale/plots/scale_{params,compute,abilities}.png
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from slmkit.common.atomic import atomic_path, atomic_write_json
from slmkit.common.errors import ConfigError
from slmkit.config import build_config, check, opt
from slmkit.infer.load import load_checkpoint, read_model_config
from slmkit.model.transformer import Transformer
from slmkit.scale.abilities import name_recall_accuracy
from slmkit.scale.fit import fit_loss_nd, fit_power_law
from slmkit.train.checkpoint import latest_checkpoint
from slmkit.train.pretrain import PretrainConfig, pretrain_stage

SIZE = re.compile(r"^(\d+)x(\d+)$")


@dataclass
class ScaleConfig:
    run: str = opt(None, "sweep folder: one run directory per size, plus scale.json and plots/")
    data: str = opt(None, "run directory whose tokenizer/ and shards/ every size trains on")
    sizes: list[str] = opt(factory=lambda: ["1x32", "2x64", "3x96"], help="model sizes as <n_layers>x<d_model>")
    head_dim: int = opt(32, "attention head width (n_heads = d_model / head_dim)")
    max_steps: int = opt(200, "optimizer steps per size (the same token budget D for all)")
    batch_size: int = opt(8, "sequences per step")
    seq_len: int = opt(128, "tokens per sequence")
    lr: float = opt(3e-3, "peak learning rate (one recipe for all sizes)")
    evals: int = opt(4, "validation evaluations per size (the (N, D, loss) points of L(N, D))")
    seed: int = opt(1337, "training seed")
    threads: int | None = opt(None, "torch CPU threads per run")
    device: str = opt("auto", "auto, cpu, cuda")

    def __post_init__(self):
        check(self.run is not None, "run", self.run, "a folder (--run DIR)")
        check(self.data is not None, "data", self.data, "a run directory with tokenizer/ and shards/ (--data DIR)")
        check(len(self.sizes) >= 1, "sizes", self.sizes, "one or more <n_layers>x<d_model>")
        for size in self.sizes:
            match = SIZE.match(size)
            check(match is not None, "sizes", size, "<n_layers>x<d_model>, e.g. 2x64")
            check(int(match.group(2)) % self.head_dim == 0, "sizes", size, f"d_model a multiple of {self.head_dim}")
        check(self.max_steps >= self.evals >= 1, "evals", self.evals, f"between 1 and max_steps={self.max_steps}")


def train_point(cfg: ScaleConfig, size: str) -> Path:
    """Pre-train (or resume, or skip when finished) the run directory of one size; returns its folder."""
    n_layers, d_model = (int(x) for x in SIZE.match(size).groups())
    point = Path(cfg.run) / size
    data = Path(cfg.data)
    latest = latest_checkpoint(point / "ckpt" / "base")
    if latest is not None:
        state = json.loads((latest / "trainer_state.json").read_text(encoding="utf-8"))
        if state["step"] >= cfg.max_steps:
            print(f"scale: {size} already trained ({state['step']} steps), skipped")
            return point
    interval = max(1, cfg.max_steps // cfg.evals)
    overrides = {
        "run": str(point), "shards": str(data / "shards"), "tokenizer": str(data / "tokenizer" / "tokenizer.json"),
        "preset": None, "model.n_layers": n_layers, "model.d_model": d_model, "model.n_heads": d_model // cfg.head_dim,
        "model.context_length": cfg.seq_len, "batch_size": cfg.batch_size, "seq_len": cfg.seq_len,
        "max_steps": cfg.max_steps, "optim.lr": cfg.lr, "optim.warmup_steps": max(1, cfg.max_steps // 10),
        "eval_interval": interval, "ckpt_interval": interval, "eval_batches": 10, "seed": cfg.seed,
        "sample_prompt": "", "progress": False, "resume": latest is not None, "device": cfg.device,
        "threads": cfg.threads,
    }
    print(f"scale: training {size} ({'resuming' if latest else 'new'}) -> {point}")
    pretrain_stage(build_config(PretrainConfig, {}, overrides))
    return point


def read_point(point: Path) -> dict[str, Any]:
    """N (non-embedding params), the validation curve [(step, tokens, loss)] and the name-recall ability of one
    trained size."""
    ckpt = latest_checkpoint(point / "ckpt" / "base")
    model_cfg, _ = read_model_config(ckpt)
    with torch.device("meta"):
        n_params = Transformer(model_cfg).num_params(non_embedding=True)
    by_step = {}
    for line in (point / "metrics.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if "val/loss" in row:
            by_step[row["step"]] = (row["step"], row["tokens"], row["val/loss"])  # a resumed run re-logs: keep last
    curve = [by_step[s] for s in sorted(by_step)]
    loaded = load_checkpoint(ckpt)
    ability = name_recall_accuracy(loaded.model, loaded.tokenizer)
    return {"size": point.name, "n_params": n_params, "curve": curve, "final_loss": curve[-1][2],
            "name_recall": ability["accuracy"], "name_recall_chance": ability["chance"]}


def scale_stage(cfg: ScaleConfig) -> dict[str, Any]:
    """Train every size, fit L(N) and L(N, D), write scale.json and two plots."""
    points = [read_point(train_point(cfg, size)) for size in cfg.sizes]
    points.sort(key=lambda p: p["n_params"])
    summary: dict[str, Any] = {"points": points, "fit_n": None, "fit_nd": None}
    if len({p["n_params"] for p in points}) >= 3:
        fit = fit_power_law([p["n_params"] for p in points], [p["final_loss"] for p in points])
        summary["fit_n"] = fit.to_dict()
        if len(points) == 3:
            summary["fit_n_note"] = "3 points for 3 parameters: the curve passes through them exactly"
    triples = [(p["n_params"], tokens, loss) for p in points for _, tokens, loss in p["curve"] if tokens > 0]
    if len({t[0] for t in triples}) >= 2 and len(triples) >= 5:
        try:
            summary["fit_nd"] = fit_loss_nd(*zip(*triples)).to_dict()
        except (ValueError, ConfigError) as exc:
            summary["fit_nd_error"] = str(exc)
    root = Path(cfg.run)
    atomic_write_json(root / "scale.json", summary)
    plots = _plot(points, summary, root / "plots")
    for p in points:
        print(f"scale: {p['size']:>8}  N={p['n_params']:>10,}  final val loss {p['final_loss']:.4f}  "
              f"name recall {p['name_recall']:.2f} (chance {p['name_recall_chance']:.2f})")
    if summary["fit_n"]:
        f = summary["fit_n"]
        print(f"scale: L(N) = {f['a']:.3g} * N^-{f['alpha']:.3f} + {f['c']:.3f}")
    if summary["fit_nd"]:
        f = summary["fit_nd"]
        print(f"scale: L(N, D) = {f['E']:.3f} + {f['A']:.3g}/N^{f['alpha']:.3f} + {f['B']:.3g}/D^{f['beta']:.3f} "
              f"(rmse {f['rmse']:.4f})")
    return {**summary, "plots": [str(p) for p in plots]}


def _plot(points: list[dict], summary: dict, out_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    fig, ax = plt.subplots(figsize=(6, 4), dpi=110)
    n = np.array([p["n_params"] for p in points], dtype=float)
    ax.plot(n, [p["final_loss"] for p in points], "o", label="final val loss")
    if summary["fit_n"]:
        f = summary["fit_n"]
        grid = np.geomspace(n.min() / 2, n.max() * 4, 100)
        ax.plot(grid, f["a"] * grid ** -f["alpha"] + f["c"], "-",
                label=f"{f['a']:.3g}·N^-{f['alpha']:.3f} + {f['c']:.2f}")
    ax.set_xscale("log")
    ax.set_xlabel("non-embedding parameters N")
    ax.set_ylabel("validation loss (nats/token)")
    ax.set_title("loss vs model size (same data and steps)")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    paths.append(_save(fig, out_dir / "scale_params.png"))

    fig, ax = plt.subplots(figsize=(6, 4), dpi=110)
    for p in points:
        curve = [(6 * p["n_params"] * tokens, loss) for _, tokens, loss in p["curve"] if tokens > 0]
        ax.plot(*zip(*curve), "o-", markersize=3, label=f"{p['size']} (N={p['n_params']:,})")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training compute C = 6·N·D (FLOPs)")
    ax.set_ylabel("validation loss")
    ax.set_title("loss vs compute")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    paths.append(_save(fig, out_dir / "scale_compute.png"))

    fig, ax = plt.subplots(figsize=(6, 4), dpi=110)
    ax.plot(n, [p["name_recall"] for p in points], "o-", label="name recall (scale.abilities)")
    ax.axhline(points[0]["name_recall_chance"], color="gray", linestyle="--", label="chance")
    ax.set_xscale("log")
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("non-embedding parameters N")
    ax.set_ylabel("accuracy")
    ax.set_title("an ability across sizes: recalling the story's character")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    paths.append(_save(fig, out_dir / "scale_abilities.png"))
    return paths


def _save(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", bbox_inches="tight")
    plt.close(fig)
    return path
