"""Choosing the next token from logits: a pure function with an explicit `torch.Generator`.

Example:
    gen = torch.Generator().manual_seed(0)
    next_ids = sample_next_token(logits[:, -1], gen, SamplingParams(temperature=0.8, top_k=50))  # (B,)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class SamplingParams:
    temperature: float = 1.0  # 0 => greedy (deterministic)
    top_k: int | None = None
    top_p: float | None = None
    min_p: float | None = None


def sample_next_token(logits: torch.Tensor, generator: torch.Generator | None, params: SamplingParams) -> torch.Tensor:
    """Next token ids (B,) from last-position logits (B, V)."""
    logits = logits.float()
    if params.temperature <= 0:
        return logits.argmax(dim=-1)
    logits = logits / params.temperature
    if params.top_k is not None and params.top_k < logits.size(-1):
        kth = torch.topk(logits, params.top_k, dim=-1).values[:, -1:]  # (B, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1)
    if params.min_p is not None:
        floor = params.min_p * probs.max(dim=-1, keepdim=True).values
        probs = probs.masked_fill(probs < floor, 0.0)
    if params.top_p is not None and params.top_p < 1.0:
        sorted_p, order = probs.sort(dim=-1, descending=True)
        before = sorted_p.cumsum(dim=-1) - sorted_p  # mass strictly before each token
        sorted_p = sorted_p.masked_fill(before >= params.top_p, 0.0)  # always keeps the top token
        probs = torch.zeros_like(probs).scatter(-1, order, sorted_p)
    return torch.multinomial(probs / probs.sum(-1, keepdim=True), 1, generator=generator).squeeze(-1)
