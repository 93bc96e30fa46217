"""Token-level generation with a preallocated KV cache. Knows nothing about text: token ids in, token ids out.

Example:
    out = generate(model, [[0, 12, 99]], max_new_tokens=50, params=SamplingParams(temperature=0.0), stop_ids={0})
"""

from __future__ import annotations

from collections.abc import Iterator

import torch

from slmkit.infer.sampling import SamplingParams, sample_next_token
from slmkit.model.kv_cache import KVCache


@torch.no_grad()
def stream_tokens(
    model,
    prompt: list[int],
    max_new_tokens: int,
    params: SamplingParams = SamplingParams(),
    seed: int | None = None,
    stop_ids: set[int] | frozenset[int] = frozenset(),
) -> Iterator[int]:
    """Yield new token ids one at a time for a single prompt (prefill once, then decode with the cache)."""
    cfg = model.cfg
    device = next(model.parameters()).device
    if not prompt:
        raise ValueError("prompt must hold at least one token id")
    prompt = prompt[-(cfg.context_length - 1):]  # keep the most recent context when the prompt is too long
    budget = min(max_new_tokens, cfg.context_length - len(prompt))
    generator = torch.Generator(device=device)
    generator.manual_seed(0 if seed is None else seed)
    dtype = next(model.parameters()).dtype
    cache = KVCache(cfg, batch_size=1, max_len=len(prompt) + budget, device=device, dtype=dtype)
    idx = torch.tensor([prompt], dtype=torch.long, device=device)  # (1, T)
    for _ in range(budget):
        logits = model(idx, kv_cache=cache).logits[:, -1, :]  # (1, V)
        next_id = sample_next_token(logits, generator, params)  # (1,)
        token = int(next_id.item())
        if token in stop_ids:
            return
        yield token
        idx = next_id.view(1, 1)


def generate(
    model,
    prompts: list[list[int]],
    max_new_tokens: int,
    params: SamplingParams = SamplingParams(),
    seed: int | None = None,
    stop_ids: set[int] | frozenset[int] = frozenset(),
) -> list[list[int]]:
    """New token ids for each prompt (run one after another; batched decoding comes with the serving engine)."""
    was_training = model.training
    model.eval()
    try:
        return [
            list(stream_tokens(model, p, max_new_tokens, params, None if seed is None else seed + i, stop_ids))
            for i, p in enumerate(prompts)
        ]
    finally:
        model.train(was_training)
