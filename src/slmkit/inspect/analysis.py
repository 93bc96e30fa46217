"""The three analyses behind `slm inspect`: attention maps, the logit lens and activation patching.

All take token ids (1, T) and a Transformer in eval mode and return plain tensors; plots live in `plots.py`.

Example:
    maps = attention_maps(model, ids)                    # list of (n_heads, T, T), one per layer
    lens = logit_lens(model, ids, top_k=3)               # lens.token_ids (n_layers + 1, T, 3)
    patch = activation_patching(model, clean, corrupt, answer_id, wrong_id)  # patch.effect (n_layers + 1, T)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from slmkit.inspect.capture import AttentionCapture, ResidualCapture, ResidualPatch, logits_from_residual


@torch.no_grad()
def attention_maps(model, ids: torch.Tensor) -> list[torch.Tensor]:
    """Attention weights per layer, each (n_heads, T, T): row t is where position t looks (rows sum to 1)."""
    with AttentionCapture(model) as cap:
        model(ids)
    return [w[0] for w in cap.weights]


@dataclass
class LogitLens:
    """Top tokens predicted from the residual stream at each point (0 = embeddings, l + 1 = after block l)."""

    token_ids: torch.Tensor  # (n_layers + 1, T, k)
    probs: torch.Tensor  # (n_layers + 1, T, k) softmax probabilities of those tokens
    logits: torch.Tensor  # (n_layers + 1, T, V) the full lens logits


@torch.no_grad()
def logit_lens(model, ids: torch.Tensor, top_k: int = 5) -> LogitLens:
    """Apply the final norm and LM head to every residual point of a forward over ids (1, T)."""
    with ResidualCapture(model) as cap:
        model(ids)
    logits = torch.stack([logits_from_residual(model, point)[0] for point in cap.points])  # (L+1, T, V)
    probs = torch.softmax(logits.float(), dim=-1)
    top = probs.topk(min(top_k, probs.size(-1)), dim=-1)
    return LogitLens(token_ids=top.indices, probs=top.values, logits=logits)


@dataclass
class PatchingResult:
    """Effect of restoring one residual point/position from the clean run into the corrupted run.

    metric = logit[answer] - logit[wrong] at the last position. effect = (patched - corrupt) / (clean - corrupt):
    1 = that activation alone restores the clean behaviour, 0 = it carries nothing the answer depends on.
    """

    patched_metric: torch.Tensor  # (n_layers + 1, T)
    clean_metric: float
    corrupt_metric: float

    @property
    def effect(self) -> torch.Tensor:
        gap = self.clean_metric - self.corrupt_metric
        if abs(gap) < 1e-9:
            return torch.zeros_like(self.patched_metric)
        return (self.patched_metric - self.corrupt_metric) / gap


@torch.no_grad()
def activation_patching(
    model, clean: torch.Tensor, corrupt: torch.Tensor, answer: int, wrong: int
) -> PatchingResult:
    """Patch each residual point x position of the corrupted run (1, T) with the clean run's (1, T) activation.

    Example: `activation_patching(model, clean_ids, corrupt_ids, answer=tok_id("Tom"), wrong=tok_id("Sue"))`
    """
    if clean.shape != corrupt.shape:
        raise ValueError(f"clean {tuple(clean.shape)} and corrupt {tuple(corrupt.shape)} must have the same tokens")
    metric = lambda logits: float(logits[0, -1, answer] - logits[0, -1, wrong])
    with ResidualCapture(model) as cap:
        clean_metric = metric(model(clean).logits)
    corrupt_metric = metric(model(corrupt).logits)
    n_points, T = len(cap.points), clean.size(1)
    patched = torch.zeros(n_points, T)
    for point in range(n_points):
        for t in range(T):
            with ResidualPatch(model, point, [t], cap.points[point][:, [t]]):
                patched[point, t] = metric(model(corrupt).logits)
    return PatchingResult(patched, clean_metric, corrupt_metric)
