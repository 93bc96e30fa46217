"""Group Relative Policy Optimization (Shao et al., 2024, DeepSeekMath): reinforcement learning from rewards
without a value model.

For each prompt the policy samples a group of G completions; each is scored by the rewards, and its advantage is
its reward normalized within the group:

    A_i = (r_i - mean(r_group)) / (std(r_group) + eps)        (std: the unbiased estimate, as torch.std)

The loss, on completion tokens only (each sequence's tokens averaged, then the sequences), is the PPO-style clipped
policy-ratio objective against the policy that sampled (`old`), with a KL penalty to a frozen reference model:

    ratio = exp(logp - logp_old)
    loss  = -[ min(ratio * A, clip(ratio, 1 - eps, 1 + eps) * A) - beta * KL ]
    KL    = exp(logp_ref - logp) - (logp_ref - logp) - 1        (the k3 estimator: unbiased, always >= 0)

Several optimizer steps (`mu`) reuse one batch of rollouts; the ratio is what keeps them from moving too far.
Sampling and the rollout cache live in tasks/grpo_rollouts.py; this module holds the math and the model wrapper.

Example:
    adv = group_advantages(torch.tensor([1., 0., 0., 0.]), group_size=4)  # [1.5, -0.5, -0.5, -0.5] (about)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn

from slmkit.config import check, opt
from slmkit.model.loss import IGNORE_INDEX
from slmkit.tasks.base import frozen_copy


@dataclass
class GRPOOptions:
    group_size: int = opt(4, "completions sampled per prompt (G); advantages are normalized within each group")
    mu: int = opt(2, "optimizer steps on each batch of rollouts (mu)")
    clip_eps: float = opt(0.2, "PPO clip range epsilon of the policy ratio")
    beta: float = opt(0.04, "weight of the KL penalty to the frozen reference model (0 = none)")
    adv_eps: float = opt(1e-4, "added to the group's std when normalizing advantages")
    temperature: float = opt(1.0, "sampling temperature of the rollouts (> 0)")
    top_k: int | None = opt(None, "rollout sampling: keep the k most likely tokens")
    top_p: float | None = opt(None, "rollout sampling: nucleus mass")
    max_new_tokens: int = opt(64, "completion budget in tokens")
    format: Literal["alpaca", "chat", "text"] = opt(
        "alpaca", "prompt format (the one the starting model was tuned on; text = the prompt as plain text after "
        "<|endoftext|>, for models pre-trained on instruction-prefixed stories such as TinyStories-Instruct)")
    eval_temperature: float = opt(0.0, "sampling temperature of the validation completions (0 = greedy)")
    n_samples: int = opt(3, "validation completions printed and logged per evaluation")
    rollout_batch: int = opt(32, "sequences decoded together by the inference engine")

    def __post_init__(self):
        check(self.group_size >= 2, "grpo.group_size", self.group_size, ">= 2 (advantages compare within a group)")
        check(self.mu >= 1, "grpo.mu", self.mu, ">= 1")
        check(self.clip_eps > 0, "grpo.clip_eps", self.clip_eps, "> 0")
        check(self.beta >= 0, "grpo.beta", self.beta, ">= 0")
        check(self.temperature > 0, "grpo.temperature", self.temperature, "> 0 (a group needs different samples)")
        check(self.max_new_tokens >= 1, "grpo.max_new_tokens", self.max_new_tokens, ">= 1")
        check(self.rollout_batch >= 1, "grpo.rollout_batch", self.rollout_batch, ">= 1")


def group_advantages(rewards: torch.Tensor, group_size: int, eps: float = 1e-4) -> torch.Tensor:
    """Rewards (P*G,) of P consecutive groups -> advantages (P*G,), normalized within each group.

    A group whose rewards are all equal gets zero advantages (nothing to learn from it).
    Example: `group_advantages(torch.tensor([1., 0., 0., 0.]), 4)`
    """
    groups = rewards.float().view(-1, group_size)  # (P, G)
    mean = groups.mean(dim=1, keepdim=True)
    std = groups.std(dim=1, keepdim=True)  # unbiased, as in DeepSeekMath's reference implementations
    return ((groups - mean) / (std + eps)).view(-1)


def token_logprobs(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """log p(target) per position: logits (B, T, V), targets (B, T) -> (B, T), 0 where the target is ignored."""
    mask = targets != IGNORE_INDEX  # (B, T)
    safe = targets.masked_fill(~mask, 0)
    logp = torch.log_softmax(logits.float(), dim=-1).gather(-1, safe.unsqueeze(-1)).squeeze(-1)  # (B, T)
    return logp * mask


def clipped_surrogate(logp: torch.Tensor, old_logp: torch.Tensor, advantages: torch.Tensor,
                      clip_eps: float) -> tuple[torch.Tensor, torch.Tensor]:
    """PPO's clipped objective per token (to maximize) and whether the clip was active there; (B, T) each.

    advantages (B,) broadcast over the tokens of their sequence.
    Example: `clipped_surrogate(torch.tensor([[0.]]), torch.tensor([[-1.]]), torch.tensor([1.]), 0.2)  # 1.2`
    """
    ratio = torch.exp(logp - old_logp)  # (B, T)
    adv = advantages.unsqueeze(-1)  # (B, 1)
    unclipped = ratio * adv
    clipped = ratio.clamp(1 - clip_eps, 1 + clip_eps) * adv
    return torch.minimum(unclipped, clipped), clipped < unclipped


def k3_kl(logp: torch.Tensor, ref_logp: torch.Tensor) -> torch.Tensor:
    """Per-token KL(policy || reference) estimate k3 = exp(ref - logp) - (ref - logp) - 1 (>= 0); (B, T).

    Example: `k3_kl(torch.tensor([0.]), torch.tensor([-1.]))  # e^-1 + 1 - 1 = 0.3679`
    """
    diff = ref_logp - logp
    return torch.exp(diff) - diff - 1


def sequence_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean over each row's masked-in positions: (B, T) -> (B,)."""
    return (values * mask).sum(dim=-1) / mask.sum(dim=-1).clamp(min=1)


def grpo_loss(logp: torch.Tensor, old_logp: torch.Tensor, ref_logp: torch.Tensor | None, advantages: torch.Tensor,
              mask: torch.Tensor, clip_eps: float, beta: float) -> tuple[torch.Tensor, dict[str, float]]:
    """The GRPO loss of the module docstring (mean over sequences of each one's token mean) and its statistics.

    logp/old_logp/ref_logp/mask (B, T) over completion tokens, advantages (B,).
    """
    mask = mask.float()
    surrogate, clipped = clipped_surrogate(logp, old_logp, advantages, clip_eps)  # (B, T)
    per_token = -surrogate
    kl = torch.zeros_like(logp) if ref_logp is None else k3_kl(logp, ref_logp)
    if beta > 0:
        per_token = per_token + beta * kl
    loss = sequence_mean(per_token, mask).mean()
    n = mask.sum().clamp(min=1)
    stats = {"kl": float((kl.detach() * mask).sum() / n), "clip_fraction": float((clipped.float() * mask).sum() / n)}
    return loss, stats


@dataclass
class RolloutChunk:
    """The targets half of a GRPO micro-batch (the inputs are the token tensor): what the loss needs per token."""

    targets: torch.Tensor  # (B, T) completion tokens, IGNORE_INDEX elsewhere
    old_logp: torch.Tensor  # (B, T) log-probabilities under the policy that sampled
    ref_logp: torch.Tensor | None  # (B, T) under the frozen reference (None when beta = 0)
    advantages: torch.Tensor  # (B,)


@dataclass
class GRPOOutput:
    loss: torch.Tensor
    stats: dict[str, float] = field(default_factory=dict)
    ce_loss: None = None


class GRPOModel(nn.Module):
    """The policy LM and its frozen reference (used for rollouts' reference log-probabilities); `forward(x, chunk)`
    returns the GRPO loss of one micro-batch. Statistics of each forward are appended to `stats`."""

    def __init__(self, policy: nn.Module, opts: GRPOOptions):
        super().__init__()
        self.policy = policy
        self.reference = frozen_copy(policy)
        self.opts = opts
        self.stats: list[dict[str, float]] = []

    def train(self, mode: bool = True):
        super().train(mode)
        self.reference.eval()  # no dropout in the reference, ever
        return self

    def forward(self, x: torch.Tensor, chunk: RolloutChunk, return_logits: bool = False,
                loss_reduction: str = "mean") -> GRPOOutput:
        logp = token_logprobs(self.policy(x).logits, chunk.targets)  # (B, T)
        mask = chunk.targets != IGNORE_INDEX
        loss, stats = grpo_loss(logp, chunk.old_logp, chunk.ref_logp, chunk.advantages, mask,
                                self.opts.clip_eps, self.opts.beta)
        self.stats.append(stats)
        return GRPOOutput(loss, stats)
