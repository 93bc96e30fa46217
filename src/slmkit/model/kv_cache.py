"""A preallocated key/value cache for incremental decoding.

The cache holds keys and values of every layer for positions `0..pos-1`. `Transformer.forward(idx, kv_cache=c)`
treats `idx` as positions `c.pos..c.pos+T-1`, has each attention layer write its new keys/values with `update`, and
then advances `c.pos` by T. Keys are stored after RoPE, so cached entries never need re-rotating.

Example:
    cache = KVCache(cfg, batch_size=1, max_len=64, device="cpu", dtype=torch.float32)
    logits = model(prompt, kv_cache=cache).logits      # prefill; cache.pos == prompt.size(1)
    logits = model(next_id, kv_cache=cache).logits     # one decode step
"""

from __future__ import annotations

import torch

from slmkit.common.errors import ConfigError, InputError
from slmkit.model.config import ModelConfig


class KVCache:
    """Keys and values `(n_layers, B, n_kv_heads, max_len, head_dim)` plus the number of filled positions `pos`."""

    def __init__(self, cfg: ModelConfig, batch_size: int, max_len: int, device, dtype=torch.float32):
        if not 0 < max_len <= cfg.context_length:
            raise ConfigError("kv_cache.max_len", max_len, f"between 1 and model.context_length={cfg.context_length}")
        if batch_size <= 0:
            raise ConfigError("kv_cache.batch_size", batch_size, "a positive integer")
        shape = (cfg.n_layers, batch_size, cfg.kv_heads, max_len, cfg.head_dim)
        self.k = torch.zeros(shape, device=device, dtype=dtype)
        self.v = torch.zeros(shape, device=device, dtype=dtype)
        self.batch_size, self.max_len = batch_size, max_len
        self.pos = 0

    def reset(self) -> None:
        """Forget everything (the buffers are reused). Example: `cache.reset(); cache.pos == 0`"""
        self.pos = 0

    def check_room(self, batch_size: int, length: int) -> None:
        """Raise InputError unless `length` more positions of a batch of `batch_size` fit."""
        if batch_size != self.batch_size:
            raise InputError("kv_cache", f"batch size {batch_size}", f"the cache's batch size {self.batch_size}")
        if self.pos + length > self.max_len:
            raise InputError(
                "kv_cache",
                f"sequence length {self.pos + length} ({self.pos} cached + {length} new)",
                f"at most the cache's max_len={self.max_len}",
            )

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store k, v (B, nkv, T, hs) at positions pos..pos+T-1 of `layer`; return views (B, nkv, pos+T, hs)."""
        end = self.pos + k.size(2)
        self.k[layer, :, :, self.pos : end] = k
        self.v[layer, :, :, self.pos : end] = v
        return self.k[layer, :, :, :end], self.v[layer, :, :, :end]

    def advance(self, length: int) -> None:
        """Mark `length` more positions as filled (called by the model once every layer has written)."""
        self.pos += length
