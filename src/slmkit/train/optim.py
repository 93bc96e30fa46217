"""Optimizers and learning-rate schedules.

AdamW with weight decay on matrices only (embeddings and linear weights; never norms or biases), and optionally
Muon (momentum + Newton-Schulz orthogonalized updates, as in modded-nanogpt and nanochat) for the hidden matrices
with AdamW for the rest.

Example:
    opt = build_optimizer(model, OptimConfig(lr=1e-3))
    lr_factor = lr_multiplier(step, OptimConfig(), progress=0.3)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import torch
from torch import nn

from slmkit.config import check, opt


@dataclass
class OptimConfig:
    name: Literal["adamw", "muon"] = opt("adamw", "optimizer: adamw, or muon for hidden matrices + adamw for the rest")
    lr: float = opt(1e-3, "peak learning rate (AdamW parameters)")
    min_lr_ratio: float = opt(0.1, "final learning rate as a fraction of the peak")
    weight_decay: float = opt(0.1, "decoupled weight decay, applied to matrices only")
    beta1: float = opt(0.9, "AdamW beta1")
    beta2: float = opt(0.95, "AdamW beta2")
    eps: float = opt(1e-8, "AdamW epsilon")
    grad_clip: float = opt(1.0, "clip the global gradient norm to this (0 = off)")
    schedule: Literal["cosine", "wsd", "constant"] = opt(
        "cosine", "cosine: warmup then cosine decay; wsd: warmup-stable-decay; constant: warmup then flat"
    )
    warmup_steps: int = opt(100, "linear warmup steps")
    decay_fraction: float = opt(0.2, "wsd only: fraction of training spent in the final linear decay")
    muon_lr: float = opt(0.02, "muon only: learning rate of the orthogonalized matrix updates")
    muon_momentum: float = opt(0.95, "muon only: Nesterov momentum")

    def __post_init__(self):
        check(self.lr > 0, "lr", self.lr, "a positive learning rate")
        check(0 <= self.min_lr_ratio <= 1, "min_lr_ratio", self.min_lr_ratio, "a fraction in [0, 1]")
        check(self.weight_decay >= 0, "weight_decay", self.weight_decay, ">= 0")
        check(0 <= self.beta1 < 1 and 0 <= self.beta2 < 1, "beta1/beta2", (self.beta1, self.beta2), "values in [0, 1)")
        check(self.grad_clip >= 0, "grad_clip", self.grad_clip, ">= 0 (0 disables clipping)")
        check(self.warmup_steps >= 0, "warmup_steps", self.warmup_steps, ">= 0")
        check(0 < self.decay_fraction <= 1, "decay_fraction", self.decay_fraction, "a fraction in (0, 1]")


def lr_multiplier(step: int, cfg: OptimConfig, progress: float) -> float:
    """Schedule factor in [min_lr_ratio, 1]: linear warmup over `warmup_steps`, then decay by `progress`, the
    fraction of the training budget used (steps, tokens or minutes, whichever is furthest along).

    Example: `lr_multiplier(500, cfg, progress=0.5)`
    """
    if cfg.warmup_steps and step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    if cfg.schedule == "constant":
        return 1.0
    progress = min(1.0, max(0.0, progress))
    floor = cfg.min_lr_ratio
    if cfg.schedule == "cosine":
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))
    decay_start = 1.0 - cfg.decay_fraction  # wsd: flat, then linear decay over the last decay_fraction
    if progress < decay_start:
        return 1.0
    return floor + (1 - floor) * (1 - (progress - decay_start) / cfg.decay_fraction)


def _split_params(model: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter], list[nn.Parameter]]:
    """(hidden matrices, embedding/head matrices, vectors) among trainable parameters, deduplicated (tied weights)."""
    hidden, embed, vectors, seen = [], [], [], set()
    for name, p in model.named_parameters():
        if not p.requires_grad or id(p) in seen:
            continue
        seen.add(id(p))
        if p.dim() < 2:
            vectors.append(p)
        elif "emb" in name or "lm_head" in name or "wte" in name or "wpe" in name:
            embed.append(p)
        else:
            hidden.append(p)
    return hidden, embed, vectors


def build_optimizer(model: nn.Module, cfg: OptimConfig, device_type: str = "cpu") -> torch.optim.Optimizer:
    """AdamW (decay on matrices only), or Muon+AdamW. Each group remembers its peak lr in `initial_lr`."""
    hidden, embed, vectors = _split_params(model)
    betas = (cfg.beta1, cfg.beta2)
    # one fused kernel per step instead of foreach's chains of ops: on CPU 2.4x faster (8 vs 20 ms per step for the
    # 12M-parameter benchmark model, docs/benchmarks.md "Training throughput")
    fused = device_type in ("cuda", "cpu")
    if cfg.name == "muon":
        adam_groups = [
            {"params": embed, "weight_decay": cfg.weight_decay, "initial_lr": cfg.lr},
            {"params": vectors, "weight_decay": 0.0, "initial_lr": cfg.lr},
        ]
        adam = torch.optim.AdamW(adam_groups, lr=cfg.lr, betas=betas, eps=cfg.eps, fused=fused)
        muon = Muon(hidden, lr=cfg.muon_lr, momentum=cfg.muon_momentum, weight_decay=cfg.weight_decay)
        return CombinedOptimizer([adam, muon])
    groups = [
        {"params": hidden + embed, "weight_decay": cfg.weight_decay, "initial_lr": cfg.lr},
        {"params": vectors, "weight_decay": 0.0, "initial_lr": cfg.lr},
    ]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=betas, eps=cfg.eps, fused=fused)


def set_lr(optimizer: torch.optim.Optimizer, multiplier: float) -> None:
    """Scale every group's peak lr (`initial_lr`) by the schedule multiplier."""
    for group in optimizer.param_groups:
        group["lr"] = group["initial_lr"] * multiplier


@torch.no_grad()
def orthogonalize(g: torch.Tensor, steps: int = 5) -> torch.Tensor:
    """Approximate U V^T of g = U S V^T by a quintic Newton-Schulz iteration (Keller Jordan's coefficients)."""
    a, b, c = 3.4445, -4.7750, 2.0315
    x = g / (g.norm() + 1e-7)
    transposed = x.size(0) > x.size(1)
    if transposed:
        x = x.T
    for _ in range(steps):
        gram = x @ x.T
        x = a * x + (b * gram + c * gram @ gram) @ x
    return x.T if transposed else x


class Muon(torch.optim.Optimizer):
    """Momentum SGD whose update for each matrix is orthogonalized; for hidden 2-D weights only."""

    def __init__(self, params, lr: float = 0.02, momentum: float = 0.95, weight_decay: float = 0.0):
        super().__init__(params, {"lr": lr, "momentum": momentum, "weight_decay": weight_decay, "initial_lr": lr})

    @torch.no_grad()
    def step(self, closure=None):
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if "momentum_buffer" not in state:
                    state["momentum_buffer"] = torch.zeros_like(p)
                buf = state["momentum_buffer"]
                buf.mul_(group["momentum"]).add_(p.grad)
                update = orthogonalize(p.grad.add(buf, alpha=group["momentum"]))  # Nesterov
                scale = max(1.0, p.size(0) / p.size(1)) ** 0.5
                if group["weight_decay"]:
                    p.mul_(1 - group["lr"] * group["weight_decay"])
                p.add_(update, alpha=-group["lr"] * scale)


class CombinedOptimizer(torch.optim.Optimizer):
    """Several optimizers stepped together, exposing their param groups and state as one optimizer."""

    def __init__(self, optimizers: list[torch.optim.Optimizer]):
        self.optimizers = optimizers
        self.defaults = {}
        self.param_groups = [g for o in optimizers for g in o.param_groups]
        self.state = {}
        for o in optimizers:
            self.state.update(o.state)

    def step(self, closure=None):
        for o in self.optimizers:
            o.step()
        for o in self.optimizers:
            self.state.update(o.state)

    def zero_grad(self, set_to_none: bool = True):
        for o in self.optimizers:
            o.zero_grad(set_to_none=set_to_none)

    def state_dict(self):
        return {"optimizers": [o.state_dict() for o in self.optimizers]}

    def load_state_dict(self, state_dict):
        for o, s in zip(self.optimizers, state_dict["optimizers"]):
            o.load_state_dict(s)
        self.state = {}
        for o in self.optimizers:
            self.state.update(o.state)
