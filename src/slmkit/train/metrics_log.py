"""Training metrics: one JSON line per logged step (metrics.jsonl), TensorBoard events, and a loss plot.

Example:
    log = MetricsLogger(run); log.write({"step": 10, "train/loss": 2.3}); log.close(); plot_losses(run)
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from slmkit.common.atomic import atomic_path
from slmkit.common.runs import RunDir


class MetricsLogger:
    """Appends metrics as JSON lines (flushed each write) and mirrors scalars to TensorBoard if available.
    `resume_step`: lines logged after it are dropped first (-1 for a fresh start: stale lines of a run that was
    killed before its first checkpoint go too)."""

    def __init__(self, run: RunDir, resume_step: int | None = None, tensorboard: bool = True, path: Path | None = None):
        self.path = path or run.metrics_file  # fine-tuning stages log to metrics_<task>.jsonl
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if resume_step is not None:
            truncate_after(self.path, resume_step)  # lines from the lost part of an interrupted run
        self.file = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 (closed in close())
        self.tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(run.tb_dir))
            except ImportError:  # tensorboard is optional at run time
                self.tb = None

    def write(self, record: dict[str, Any]) -> None:
        self.file.write(json.dumps(record) + "\n")
        self.file.flush()
        if self.tb is not None:
            step = int(record.get("step", 0))
            for key, value in record.items():
                if key != "step" and isinstance(value, (int, float)):
                    self.tb.add_scalar(key, value, step)

    def close(self) -> None:
        self.file.close()
        if self.tb is not None:
            self.tb.close()


def truncate_after(path: Path, step: int) -> None:
    """Drop metric lines logged after `step` (they belong to a run that was killed before its next checkpoint)."""
    if not path.exists():
        return
    kept = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip() and _step(ln) <= step]
    with atomic_path(path) as tmp:
        tmp.write_text("".join(ln + "\n" for ln in kept), encoding="utf-8")


def _step(line: str) -> int:
    try:
        return int(json.loads(line).get("step", 0))
    except (json.JSONDecodeError, AttributeError, ValueError):
        return 1 << 62


def read_metrics(path: Path) -> list[dict[str, Any]]:
    """All records of a metrics.jsonl file."""
    if not path.exists():
        return []
    return [json.loads(ln) for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]


def save_figure(fig, out: Path) -> Path:
    """Write a matplotlib figure as PNG atomically and close it. Example: `save_figure(fig, run.plots_dir / "x.png")`"""
    import matplotlib.pyplot as plt

    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", bbox_inches="tight")
    plt.close(fig)
    return out


def plot_losses(run: RunDir, out_name: str = "loss.png", metrics_path: Path | None = None) -> Path | None:
    """plots/loss.png: training and validation loss against step (and tokens)."""
    records = read_metrics(metrics_path or run.metrics_file)
    train = [(r["step"], r["train/loss"]) for r in records if "train/loss" in r]
    val = [(r["step"], r["val/loss"]) for r in records if "val/loss" in r]
    if not train and not val:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4), dpi=120)
    if train:
        ax.plot(*zip(*train), label="train loss", linewidth=1)
    if val:
        ax.plot(*zip(*val), "o-", label="val loss", markersize=3)
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (nats/token)")
    ax.grid(alpha=0.3)
    ax.legend()
    ax.set_title(run.root.name)
    return save_figure(fig, run.plots_dir / out_name)
