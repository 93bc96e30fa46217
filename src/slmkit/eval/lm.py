"""Language-model metrics: loss, perplexity, bits per byte.

Bits per byte (bpb) compares models with different tokenizers: total cross-entropy in bits divided by the UTF-8
bytes of the scored text. It is the TinyStories speedrun metric in docs/benchmarks.md.

Example:
    total_nats, n_tokens = score_tokens(model, tokens, seq_len=256)
    bits_per_byte(total_nats, n_bytes)
"""

from __future__ import annotations

import math

import numpy as np
import torch


def sequential_windows(tokens: np.ndarray, seq_len: int, batch_size: int):
    """Non-overlapping windows covering every token once, for evaluation: yields (x, y) of shape (b, <=T).

    The last window may be shorter; every token after the first is scored exactly once.
    Example: `for x, y in sequential_windows(val, 256, 8): ...`
    """
    n = len(tokens) - 1  # number of (input, target) pairs
    starts = list(range(0, n, seq_len))
    full = [s for s in starts if s + seq_len <= n]
    for i in range(0, len(full), batch_size):
        chunk = np.stack([tokens[s : s + seq_len + 1] for s in full[i : i + batch_size]]).astype(np.int64)
        t = torch.from_numpy(chunk)
        yield t[:, :-1], t[:, 1:]
    tail = [s for s in starts if s + seq_len > n]
    for s in tail:
        t = torch.from_numpy(np.asarray(tokens[s : n + 1], dtype=np.int64))[None]
        yield t[:, :-1], t[:, 1:]


def bits_per_byte(total_nats: float, n_bytes: int) -> float:
    """Cross-entropy summed over tokens (nats) -> bits per UTF-8 byte. Example: `bits_per_byte(693.1, 1000)`"""
    return total_nats / (math.log(2) * max(1, n_bytes))


def perplexity(mean_loss: float) -> float:
    """exp(mean loss per token), capped to stay finite. Example: `perplexity(2.0)`"""
    return math.exp(min(mean_loss, 50.0))


@torch.no_grad()
def score_tokens(model, tokens: np.ndarray, seq_len: int, batch_size: int = 8, device="cpu") -> tuple[float, int]:
    """Summed next-token loss (nats) and token count over non-overlapping windows covering every token once.

    Example: `score_tokens(model, np.array([0, 5, 9, 0]), seq_len=256)`
    """
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    try:
        for x, y in sequential_windows(tokens, seq_len, batch_size):
            out = model(x.to(device), y.to(device), return_logits=False, loss_reduction="sum")
            total += float(out.ce_loss)  # cross-entropy only: a mixture of experts adds router losses to .loss
            count += y.numel()
    finally:
        model.train(was_training)
    return total, count


def lm_report(total_nats: float, n_tokens: int, n_bytes: int) -> dict[str, float]:
    """The standard metrics dict. Example: `lm_report(1000.0, 500, 2000)["bits_per_byte"]`"""
    mean = total_nats / max(1, n_tokens)
    return {
        "loss": mean,
        "perplexity": perplexity(mean),
        "bits_per_byte": bits_per_byte(total_nats, n_bytes),
        "tokens": n_tokens,
        "bytes": n_bytes,
    }
