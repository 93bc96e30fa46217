"""Mixture of experts: a top-k routed replacement for the dense MLP of each block.

Routing. A linear router scores each token against `n_experts` experts (in fp32). Each token goes to its `top_k`
highest-scoring experts; their softmax probabilities, renormalised over the chosen k (Mixtral), weight the expert
outputs. Tokens are gathered per expert, so each expert runs only on the tokens routed to it.

Auxiliary losses (returned per layer; the model averages them over MoE layers and adds them to the LM loss):
- load balance (Switch Transformer / Mixtral): `n_experts * sum_e f_e * P_e`, where `f_e` is the fraction of the
  `tokens*top_k` routing assignments that went to expert e and `P_e` the mean router probability of e over tokens.
  It is 1.0 for perfectly uniform routing and grows as routing concentrates; `f_e` has no gradient, `P_e` does.
- router z-loss (ST-MoE): `mean_tokens(logsumexp(router_logits)**2)`, keeping router logits small and stable.
  The layer's aux loss is `moe_aux_loss_coef * load_balance + moe_z_loss_coef * z_loss`.

Capacity. By default (`moe_capacity_factor=None`) no token is ever dropped. With a capacity factor f, while
training each expert accepts at most `ceil(f * tokens * top_k / n_experts)` assignments, first come first served in
token order (position in the flattened batch); an assignment over capacity is dropped, i.e. contributes nothing, so
a token whose every assignment was dropped passes through the block unchanged via the residual connection. In eval
mode nothing is dropped, so results never depend on what else is in the batch (and cached decoding matches).

Example:
    moe = MoEMLP(ModelConfig(n_experts=4)); y, aux = moe(x)   # x, y: (B, T, d_model); aux: scalar
"""

from __future__ import annotations

import math

import torch
from torch import nn

from slmkit.model.config import ModelConfig
from slmkit.model.layers import build_mlp


def load_balance_loss(router_probs: torch.Tensor, expert_idx: torch.Tensor, n_experts: int) -> torch.Tensor:
    """Switch-style balance loss from probs (N, E) and chosen experts (N, k). Example: uniform routing -> 1.0"""
    counts = torch.bincount(expert_idx.reshape(-1), minlength=n_experts).to(router_probs.dtype)  # (E,)
    fraction_routed = counts / expert_idx.numel()  # f_e, sums to 1
    mean_prob = router_probs.mean(dim=0)  # P_e, sums to 1
    return n_experts * (fraction_routed * mean_prob).sum()


def router_z_loss(router_logits: torch.Tensor) -> torch.Tensor:
    """ST-MoE z-loss: mean over tokens of logsumexp(logits)^2 for logits (N, E). Example: zeros(N, 4) -> log(4)^2"""
    return torch.logsumexp(router_logits, dim=-1).square().mean()


class MoEMLP(nn.Module):
    """Top-k routed expert MLPs; forward returns (output, aux_loss). Example: `y, aux = MoEMLP(cfg)(x)`"""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.n_experts, self.top_k = cfg.n_experts, cfg.moe_top_k
        self.capacity_factor = cfg.moe_capacity_factor
        self.aux_coef, self.z_coef = cfg.moe_aux_loss_coef, cfg.moe_z_loss_coef
        self.router = nn.Linear(cfg.d_model, cfg.n_experts, bias=False)
        self.experts = nn.ModuleList(build_mlp(cfg) for _ in range(cfg.n_experts))

    def route(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Router logits and probs (N, E), top-k weights (N, k) renormalised over the k, expert ids (N, k)."""
        logits = self.router(x).float()  # (N, E): fp32 so softmax/logsumexp stay stable under autocast
        probs = logits.softmax(dim=-1)  # (N, E)
        top_probs, top_idx = probs.topk(self.top_k, dim=-1)  # (N, k)
        weights = top_probs / top_probs.sum(dim=-1, keepdim=True)  # (N, k)
        return logits, probs, weights, top_idx

    def capacity(self, n_tokens: int) -> int | None:
        """Max assignments per expert for a batch of n_tokens, or None when nothing is dropped."""
        if self.capacity_factor is None or not self.training:
            return None
        return math.ceil(self.capacity_factor * n_tokens * self.top_k / self.n_experts)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        shape = x.shape
        x = x.reshape(-1, shape[-1])  # (N, d)
        n_tokens = x.size(0)
        logits, probs, weights, top_idx = self.route(x)

        # Sort the N*k assignments by expert; the stable sort keeps token order inside each expert's group.
        flat_expert = top_idx.reshape(-1)  # (N*k,)
        order = torch.argsort(flat_expert, stable=True)  # (N*k,)
        counts = torch.bincount(flat_expert, minlength=self.n_experts)  # (E,)
        token_of = order // self.top_k  # (N*k,): the token each sorted assignment belongs to
        weight_of = weights.reshape(-1)[order]  # (N*k,)

        capacity = self.capacity(n_tokens)
        if capacity is not None:
            group_start = torch.cumsum(counts, 0) - counts  # (E,)
            rank_in_group = torch.arange(order.numel(), device=x.device) - group_start[flat_expert[order]]
            keep = rank_in_group < capacity  # (N*k,): first `capacity` tokens of each expert
            token_of, weight_of = token_of[keep], weight_of[keep]
            counts = counts.clamp(max=capacity)

        expert_in = x[token_of]  # (M, d): every kept assignment's token, grouped by expert
        chunks = expert_in.split(counts.tolist())
        outs = [expert(chunk) for expert, chunk in zip(self.experts, chunks) if chunk.numel() > 0]
        out = torch.zeros_like(x)  # (N, d): dropped assignments add nothing (the residual carries the token)
        if outs:
            expert_out = torch.cat(outs) * weight_of[:, None].to(x.dtype)  # (M, d)
            out.index_add_(0, token_of, expert_out)

        aux = self.aux_coef * load_balance_loss(probs, top_idx, self.n_experts) + self.z_coef * router_z_loss(logits)
        return out.view(shape), aux
