"""LoRA: low-rank adapters on chosen `nn.Linear` layers (Hu et al., 2021), and merging them back for export.

A wrapped layer computes `base(x) + (alpha / rank) * dropout(x) @ A.T @ B.T` with A (rank, in) ~ Kaiming-uniform
and B (out, rank) = 0, so a freshly wrapped model computes exactly what the base model did. Only A and B train;
`merge_lora` folds `(alpha / rank) * B @ A` into the base weight and puts plain `nn.Linear` layers back, so the
merged model is an ordinary `Transformer` that `infer.load.load_checkpoint` loads.

Example:
    names = apply_lora(model, LoRAConfig(rank=8, targets=["*.attn.qkv", "*.attn.proj"]))
    ...train...;  merge_lora(model)   # back to plain nn.Linear layers
"""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass

import torch
from torch import nn

from slmkit.common.errors import ConfigError
from slmkit.config import check, opt


@dataclass
class LoRAConfig:
    """Which layers get adapters and how big they are. Example: `LoRAConfig(rank=16, alpha=32)`"""

    rank: int = opt(8, "rank r of the low-rank update B @ A")
    alpha: float = opt(16.0, "scale: the update is multiplied by alpha / rank")
    dropout: float = opt(0.0, "dropout on the adapter's input (0 = off)")
    targets: list[str] = opt(
        factory=lambda: ["*.attn.qkv", "*.attn.proj", "*.mlp.*"],
        help="glob patterns on module names (e.g. blocks.3.attn.qkv) of the nn.Linear layers to adapt",
    )

    def __post_init__(self):
        check(self.rank >= 1, "lora.rank", self.rank, ">= 1")
        check(self.alpha > 0, "lora.alpha", self.alpha, "> 0")
        check(0.0 <= self.dropout < 1.0, "lora.dropout", self.dropout, "a number in [0, 1)")
        check(len(self.targets) > 0, "lora.targets", self.targets, "at least one module-name pattern")


class LoRALinear(nn.Module):
    """An `nn.Linear` plus a trainable low-rank update. Example: `LoRALinear(nn.Linear(8, 4), rank=2, alpha=4)`"""

    def __init__(self, base: nn.Linear, rank: int, alpha: float, dropout: float = 0.0):
        super().__init__()
        self.base = base
        self.rank, self.alpha = rank, alpha
        self.scale = alpha / rank
        self.lora_a = nn.Parameter(torch.empty(rank, base.in_features, device=base.weight.device))
        self.lora_b = nn.Parameter(torch.zeros(base.out_features, rank, device=base.weight.device))
        nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))  # as nn.Linear initialises its weight
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()

    @property
    def weight(self) -> torch.Tensor:  # code that reads `.weight` (e.g. tied heads) sees the base weight
        return self.base.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        update = self.dropout(x) @ self.lora_a.t() @ self.lora_b.t()  # (..., in) -> (..., rank) -> (..., out)
        return self.base(x) + self.scale * update

    @torch.no_grad()
    def merged(self) -> nn.Linear:
        """A plain nn.Linear whose weight includes the update."""
        out = nn.Linear(self.base.in_features, self.base.out_features, bias=self.base.bias is not None)
        out = out.to(device=self.base.weight.device, dtype=self.base.weight.dtype)
        out.weight.copy_(self.base.weight + self.scale * (self.lora_b @ self.lora_a).to(self.base.weight.dtype))
        if self.base.bias is not None:
            out.bias.copy_(self.base.bias)
        return out


def _set_child(model: nn.Module, name: str, module: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    setattr(model.get_submodule(parent_name) if parent_name else model, child, module)


def matching_linears(model: nn.Module, patterns: list[str]) -> list[str]:
    """Names of the nn.Linear modules whose qualified name matches one of the glob patterns."""
    return [
        name
        for name, module in model.named_modules()
        if isinstance(module, nn.Linear) and any(fnmatch.fnmatchcase(name, p) for p in patterns)
    ]


def apply_lora(model: nn.Module, cfg: LoRAConfig) -> list[str]:
    """Freeze every parameter of `model`, wrap the matching nn.Linear layers with adapters; returns their names.

    Tied layers (e.g. an LM head sharing the embedding matrix) are skipped: their update could not be merged into
    one matrix. Example: `apply_lora(model, LoRAConfig(targets=["*.attn.*"]))`
    """
    owners: dict[int, int] = {}
    for module in model.modules():
        for p in module.parameters(recurse=False):
            owners[id(p)] = owners.get(id(p), 0) + 1
    names = [n for n in matching_linears(model, cfg.targets) if owners[id(model.get_submodule(n).weight)] == 1]
    if not names:
        raise ConfigError(
            "lora.targets", found=cfg.targets, expected="patterns matching at least one untied nn.Linear module name"
        )
    for p in model.parameters():
        p.requires_grad_(False)
    for name in names:
        _set_child(model, name, LoRALinear(model.get_submodule(name), cfg.rank, cfg.alpha, cfg.dropout))
    return names


def merge_lora(model: nn.Module) -> nn.Module:
    """Replace every LoRALinear in `model` (in place) by the equivalent plain nn.Linear; returns `model`."""
    for name, module in list(model.named_modules()):
        if isinstance(module, LoRALinear):
            _set_child(model, name, module.merged())
    return model


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts, a shared tensor counted once. Example: `count_parameters(model)`"""
    params = list(model.parameters())
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)
