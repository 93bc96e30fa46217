"""Choosing the next token from logits: pure functions with an explicit `torch.Generator`.

Order of operations (the usual one, as in HF/vLLM): penalties on the raw logits -> temperature -> top-k -> softmax
-> min-p -> top-p -> draw. Temperature 0 is greedy: argmax after the penalties, deterministic, no generator used.

Example:
    gen = torch.Generator().manual_seed(0)
    next_ids = sample_next_token(logits[:, -1], gen, SamplingParams(temperature=0.8, top_k=50))  # (B,)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from slmkit.common.errors import ConfigError


@dataclass(frozen=True)
class SamplingParams:
    """How to pick tokens. Example: `SamplingParams(temperature=0.7, top_p=0.9, frequency_penalty=0.5)`"""

    temperature: float = 1.0  # 0 => greedy (deterministic)
    top_k: int | None = None  # keep the k most likely tokens
    top_p: float | None = None  # keep the smallest set of tokens whose probability mass reaches top_p
    min_p: float | None = None  # drop tokens whose probability is below min_p x the top token's
    repetition_penalty: float = 1.0  # CTRL-style: divide positive logits (multiply negative) of tokens already seen
    frequency_penalty: float = 0.0  # OpenAI-style: subtract penalty x (times the token was generated)
    presence_penalty: float = 0.0  # OpenAI-style: subtract penalty once if the token was generated at all

    def __post_init__(self):
        checks = [
            ("temperature", self.temperature >= 0, ">= 0"),
            ("top_k", self.top_k is None or self.top_k >= 1, ">= 1"),
            ("top_p", self.top_p is None or 0 < self.top_p <= 1, "in (0, 1]"),
            ("min_p", self.min_p is None or 0 <= self.min_p <= 1, "in [0, 1]"),
            ("repetition_penalty", self.repetition_penalty > 0, "> 0"),
            ("frequency_penalty", -2 <= self.frequency_penalty <= 2, "in [-2, 2]"),
            ("presence_penalty", -2 <= self.presence_penalty <= 2, "in [-2, 2]"),
        ]
        for name, ok, expected in checks:
            if not ok:
                raise ConfigError(name, getattr(self, name), expected)

    @property
    def has_penalties(self) -> bool:
        return self.repetition_penalty != 1.0 or self.frequency_penalty != 0.0 or self.presence_penalty != 0.0


def apply_penalties(
    logits: torch.Tensor, params: SamplingParams, counts: torch.Tensor | None, seen: torch.Tensor | None
) -> torch.Tensor:
    """Logits (B, V) after repetition/frequency/presence penalties (a new tensor).

    counts (B, V): how often each token was generated so far (frequency and presence penalties);
    seen (B, V) bool: tokens in the prompt or generated so far (repetition penalty).
    Example: `apply_penalties(logits, SamplingParams(presence_penalty=1.0), counts, seen)`
    """
    logits = logits.float().clone()
    if params.repetition_penalty != 1.0 and seen is not None:
        penalized = torch.where(logits > 0, logits / params.repetition_penalty, logits * params.repetition_penalty)
        logits = torch.where(seen, penalized, logits)
    if counts is not None:
        if params.frequency_penalty:
            logits -= params.frequency_penalty * counts
        if params.presence_penalty:
            logits -= params.presence_penalty * (counts > 0).to(logits.dtype)
    return logits


def filter_logits(logits: torch.Tensor, params: SamplingParams) -> torch.Tensor:
    """Probabilities (B, V) after temperature, top-k, min-p and top-p (rows sum to 1). Needs temperature > 0.

    Example: `probs = filter_logits(logits, SamplingParams(temperature=1.0, top_k=2))  # two non-zeros per row`
    """
    logits = logits.float() / params.temperature
    if params.top_k is not None and params.top_k < logits.size(-1):
        kth = torch.topk(logits, params.top_k, dim=-1).values[:, -1:]  # (B, 1)
        logits = logits.masked_fill(logits < kth, float("-inf"))
    probs = torch.softmax(logits, dim=-1)  # (B, V)
    if params.min_p:
        floor = params.min_p * probs.max(dim=-1, keepdim=True).values  # (B, 1)
        probs = probs.masked_fill(probs < floor, 0.0)
    if params.top_p is not None and params.top_p < 1.0:
        sorted_p, order = probs.sort(dim=-1, descending=True)
        before = sorted_p.cumsum(dim=-1) - sorted_p  # mass strictly before each token
        sorted_p = sorted_p.masked_fill(before >= params.top_p * sorted_p.sum(-1, keepdim=True), 0.0)  # keeps top 1
        probs = torch.zeros_like(probs).scatter(-1, order, sorted_p)
    return probs / probs.sum(-1, keepdim=True)


def sample_next_token(
    logits: torch.Tensor,
    generator: torch.Generator | None,
    params: SamplingParams,
    counts: torch.Tensor | None = None,
    seen: torch.Tensor | None = None,
) -> torch.Tensor:
    """Next token ids (B,) from last-position logits (B, V); see `apply_penalties` for counts/seen.

    Example: `sample_next_token(torch.tensor([[0.1, 3.0]]), None, SamplingParams(temperature=0))  # tensor([1])`
    """
    if params.has_penalties:
        logits = apply_penalties(logits, params, counts, seen)
    if params.temperature <= 0:
        return logits.argmax(dim=-1)
    probs = filter_logits(logits, params)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)
