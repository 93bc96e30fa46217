"""PNG pictures of the `slm inspect` analyses (matplotlib, Agg backend, written atomically).

Example:
    save_attention_grid(maps[0], labels, "inspect/attention_layer0.png", title="layer 0")
"""

from __future__ import annotations

import math
from pathlib import Path

import torch

from slmkit.common.atomic import atomic_path


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path | str) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", bbox_inches="tight")
    _pyplot().close(fig)
    return path


def save_attention_grid(weights: torch.Tensor, labels: list[str], path: Path | str, title: str = "") -> Path:
    """One heatmap per head of one layer's weights (n_heads, T, T): rows = query positions, columns = keys."""
    plt = _pyplot()
    n_heads, T, _ = weights.shape
    cols = min(4, n_heads)
    rows = math.ceil(n_heads / cols)
    size = max(2.6, 0.22 * T)
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols, size * rows), dpi=110, squeeze=False)
    for h in range(rows * cols):
        ax = axes[h // cols][h % cols]
        if h >= n_heads:
            ax.axis("off")
            continue
        ax.imshow(weights[h].cpu().numpy(), cmap="viridis", vmin=0.0, vmax=1.0)
        ax.set_title(f"head {h}", fontsize=9)
        ax.set_xticks(range(T), labels, rotation=90, fontsize=6)
        ax.set_yticks(range(T), labels, fontsize=6)
    fig.suptitle(title)
    return _save(fig, path)


def save_logit_lens(token_text: list[list[str]], probs: torch.Tensor, labels: list[str], path: Path | str) -> Path:
    """Heatmap of the top-1 lens probability (points x positions), each cell labelled with its top token."""
    plt = _pyplot()
    n_points, T = probs.shape
    fig, ax = plt.subplots(figsize=(max(6, 0.7 * T), max(3, 0.45 * n_points)), dpi=110)
    ax.imshow(probs.cpu().numpy(), cmap="Blues", vmin=0.0, vmax=1.0, aspect="auto", origin="lower")
    for p in range(n_points):
        for t in range(T):
            ax.text(t, p, token_text[p][t][:8], ha="center", va="center", fontsize=6,
                    color="white" if probs[p, t] > 0.6 else "black")
    ax.set_xticks(range(T), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(n_points), ["embed"] + [f"block {i}" for i in range(n_points - 1)], fontsize=7)
    ax.set_xlabel("input position (the cell is the prediction of the next token)")
    ax.set_title("logit lens: top token and its probability after each block")
    return _save(fig, path)


def save_patching(effect: torch.Tensor, labels: list[str], path: Path | str, title: str) -> Path:
    """Heatmap of the patching effect (points x positions): 1 = restores the clean answer, 0 = no effect."""
    plt = _pyplot()
    n_points, T = effect.shape
    fig, ax = plt.subplots(figsize=(max(6, 0.5 * T), max(3, 0.4 * n_points)), dpi=110)
    bound = max(1.0, float(effect.abs().max()))
    image = ax.imshow(effect.cpu().numpy(), cmap="RdBu_r", vmin=-bound, vmax=bound, aspect="auto", origin="lower")
    fig.colorbar(image, ax=ax, label="restored fraction of the logit difference")
    ax.set_xticks(range(T), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(n_points), ["embed"] + [f"block {i}" for i in range(n_points - 1)], fontsize=7)
    ax.set_xlabel("position patched (clean -> corrupted run)")
    ax.set_title(title, fontsize=9)
    return _save(fig, path)
