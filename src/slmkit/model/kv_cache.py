"""A preallocated key/value cache for incremental decoding, with one length per row (batch slot).

The cache holds keys and values of every layer for `B` rows; row `b` has `lengths[b]` filled positions.
`Transformer.forward(idx, kv_cache=c)` feeds `idx` (n, T) to the rows `c.rows` (all rows unless `select` narrowed
them): row b's tokens take positions `lengths[b]..lengths[b]+T-1`, each attention layer writes its new keys/values
with `update`, and `advance` then grows those rows' lengths by T. Keys are stored after RoPE, so cached entries never
need re-rotating.

Rows may hold sequences of different lengths (continuous batching): the forward then uses per-row RoPE positions
and an attention mask that hides each row's unfilled tail. When all selected rows have the same length (batch-1
decoding, a prefill) everything is a plain slice and no mask is built.

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
    """Keys and values `(n_layers, B, n_kv_heads, max_len, head_dim)` plus the filled length of every row."""

    def __init__(self, cfg: ModelConfig, batch_size: int, max_len: int, device, dtype=torch.float32):
        if not 0 < max_len <= cfg.context_length:
            raise ConfigError("kv_cache.max_len", max_len, f"between 1 and model.context_length={cfg.context_length}")
        if batch_size <= 0:
            raise ConfigError("kv_cache.batch_size", batch_size, "a positive integer")
        shape = (cfg.n_layers, batch_size, cfg.kv_heads, max_len, cfg.head_dim)
        self.k = torch.zeros(shape, device=device, dtype=dtype)
        self.v = torch.zeros(shape, device=device, dtype=dtype)
        self.batch_size, self.max_len = batch_size, max_len
        self.lengths = [0] * batch_size  # filled positions per row (Python ints: no device sync to read them)
        self.rows = slice(0, batch_size)  # the rows the next forward reads and writes
        self._key_positions = torch.arange(max_len, device=device)  # (max_len,) for masks
        self._step: _Step | None = None

    # ------------------------------------------------------------------------------------------ row bookkeeping
    @property
    def pos(self) -> int:
        """The common length of the selected rows (the single-sequence view). Example: `cache.pos == 5`"""
        lengths = set(self.lengths[self.rows])
        if len(lengths) != 1:
            raise ValueError(f"rows {self.rows} have different lengths {sorted(lengths)}: use `lengths`")
        return lengths.pop()

    def reset(self) -> None:
        """Forget everything (the buffers are reused). Example: `cache.reset(); cache.pos == 0`"""
        self.lengths = [0] * self.batch_size
        self.rows = slice(0, self.batch_size)

    def select(self, start: int, stop: int) -> KVCache:
        """Make the next forwards read and write rows start..stop-1 only (a view, no copy); returns self.

        Example: `model(ids, kv_cache=cache.select(3, 4))  # prefill row 3 alone`
        """
        if not 0 <= start < stop <= self.batch_size:
            raise ValueError(f"rows {start}:{stop} outside the cache's {self.batch_size} rows")
        self.rows = slice(start, stop)
        return self

    def clear_row(self, row: int) -> None:
        """Free row `row` for a new sequence. Example: `cache.clear_row(2)`"""
        self.lengths[row] = 0

    def move_row(self, src: int, dst: int) -> None:
        """Copy row src's filled keys/values and length into row dst (to keep active rows contiguous)."""
        n = self.lengths[src]
        self.k[:, dst, :, :n] = self.k[:, src, :, :n]
        self.v[:, dst, :, :n] = self.v[:, src, :, :n]
        self.lengths[dst] = n

    # ------------------------------------------------------------------------------------------ forward protocol
    def check_room(self, batch_size: int, length: int) -> None:
        """Raise InputError unless `length` more positions fit in each of the `batch_size` selected rows."""
        n_rows = self.rows.stop - self.rows.start
        if batch_size != n_rows:
            raise InputError("kv_cache", f"batch size {batch_size}", f"the cache's batch size {n_rows}")
        longest = max(self.lengths[self.rows])
        if longest + length > self.max_len:
            raise InputError(
                "kv_cache",
                f"sequence length {longest + length} ({longest} cached + {length} new)",
                f"at most the cache's max_len={self.max_len}",
            )

    def begin(self, length: int, device) -> int | torch.Tensor:
        """Prepare a forward of `length` new tokens per selected row; return where they start: an int when all rows
        have the same length, else per-row positions (n, length). Called once per forward by the model."""
        lengths = self.lengths[self.rows]
        first = lengths[0]
        if all(n == first for n in lengths):
            self._step = _Step(first, length, None, None)
            return first
        starts = torch.tensor(lengths, device=device)  # (n,)
        positions = starts[:, None] + torch.arange(length, device=device)  # (n, T)
        key_len = max(lengths) + length
        # row b, query t (at positions[b, t]) sees keys 0..positions[b, t]; the unfilled tail of a short row stays
        # hidden even though its (stale) slots are read.
        mask = self._key_positions[:key_len] <= positions[:, :, None]  # (n, T, key_len)
        self._step = _Step(None, length, positions, mask[:, None])  # mask (n, 1, T, key_len): broadcast over heads
        return positions

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor):
        """Store k, v (n, nkv, T, hs) of the selected rows at their next positions.

        Returns keys and values to attend to, each (n, nkv, L, hs), the attention mask (or None) and whether the
        plain causal mask applies (`is_causal`). Example: `k, v, mask, is_causal = cache.update(0, k, v)`
        """
        step = self._step
        T = step.length
        if step.start is not None:
            start, end = step.start, step.start + T
            self.k[layer, self.rows, :, start:end] = k
            self.v[layer, self.rows, :, start:end] = v
            mask = None
            if start > 0 and T > 1:
                # Chunked prefill after a prefix: query i sits at absolute position start+i and may see keys
                # 0..start+i. (SDPA's is_causal aligns the mask top-left, which would be wrong here.)
                if step.mask is None:
                    q_pos = torch.arange(start, end, device=k.device)[:, None]  # (T, 1)
                    step.mask = self._key_positions[:end][None, :] <= q_pos  # (T, end)
                mask = step.mask
            return self.k[layer, self.rows, :, :end], self.v[layer, self.rows, :, :end], mask, start == 0
        rows = torch.arange(self.rows.start, self.rows.stop, device=k.device)  # (n,)
        for t in range(T):  # T is 1 when decoding; each write is one indexed copy over all rows
            self.k[layer, rows, :, step.positions[:, t]] = k[:, :, t]
            self.v[layer, rows, :, step.positions[:, t]] = v[:, :, t]
        key_len = step.mask.size(-1)
        return self.k[layer, self.rows, :, :key_len], self.v[layer, self.rows, :, :key_len], step.mask, False

    def advance(self, length: int) -> None:
        """Mark `length` more positions of every selected row as filled (called once every layer has written)."""
        for b in range(self.rows.start, self.rows.stop):
            self.lengths[b] += length
        self._step = None


class _Step:
    """What one forward needs across layers: the common start (or per-row positions) and the mask."""

    __slots__ = ("start", "length", "positions", "mask")

    def __init__(self, start, length, positions, mask):
        self.start, self.length, self.positions, self.mask = start, length, positions, mask
