"""Seeded random-offset batches from a memmapped token shard, with exact resume.

Batch number `i` (counted over the whole run, across ranks) is a pure function of (seed, i): a run resumed at
step s draws exactly the batches an uninterrupted run would, and `torchrun` ranks draw disjoint batch numbers.

Example:
    loader = TokenBatchLoader(tokens, batch_size=16, seq_len=256, seed=0)
    x, y = loader.batch(0)  # (16, 256) int64 each; y is x shifted left by one
"""

from __future__ import annotations

import numpy as np
import torch

from slmkit.common.errors import InputError


class TokenBatchLoader:
    """Random windows of `seq_len + 1` tokens from a 1-D token array (uint16/uint32 memmap)."""

    def __init__(self, tokens: np.ndarray, batch_size: int, seq_len: int, seed: int = 0, name: str = "shard"):
        if len(tokens) < seq_len + 1:
            raise InputError(
                name, found=f"{len(tokens)} tokens", expected=f"at least seq_len + 1 = {seq_len + 1} tokens"
            )
        self.tokens = tokens
        self.batch_size = batch_size
        self.seq_len = seq_len
        self.seed = seed

    def offsets(self, index: int) -> np.ndarray:
        """Start offsets of batch number `index` (deterministic)."""
        rng = np.random.default_rng([self.seed, index])
        return rng.integers(0, len(self.tokens) - self.seq_len - 1, size=self.batch_size, endpoint=True)

    def batch(self, index: int, device: torch.device | str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
        """Inputs and next-token targets of batch number `index`: two (B, T) int64 tensors."""
        starts = self.offsets(index)
        windows = np.stack([self.tokens[s : s + self.seq_len + 1] for s in starts]).astype(np.int64)  # (B, T+1)
        data = torch.from_numpy(windows)
        x, y = data[:, :-1], data[:, 1:]
        if torch.device(device).type == "cuda":
            return x.pin_memory().to(device, non_blocking=True), y.pin_memory().to(device, non_blocking=True)
        return x.to(device), y.to(device)
