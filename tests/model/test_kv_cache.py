import pytest
import torch

from slmkit.common.errors import ConfigError, InputError
from slmkit.model import KVCache, ModelConfig, Transformer

TINY = dict(vocab_size=97, context_length=32, n_layers=2, n_heads=4, d_model=32)
VARIANTS = {
    "mha-rope": ModelConfig(**TINY),
    "gqa-rope": ModelConfig(**TINY, n_kv_heads=2),
    "mqa-rope": ModelConfig(**TINY, n_kv_heads=1),
    "learned-gelu": ModelConfig(**TINY, pos_emb="learned", norm="layernorm", mlp="gelu", bias=True),
    "moe": ModelConfig(**TINY, n_experts=4, moe_top_k=2, moe_capacity_factor=1.0),
}


def _cache(cfg, batch=2, max_len=32):
    return KVCache(cfg, batch_size=batch, max_len=max_len, device="cpu", dtype=torch.float32)


@pytest.mark.parametrize("name", VARIANTS)
def test_prefill_then_token_by_token_matches_full_forward(name):
    cfg = VARIANTS[name]
    model = Transformer(cfg).eval()
    idx = torch.randint(0, 97, (2, 12))
    full = model(idx).logits  # (2, 12, V)
    cache = _cache(cfg)
    steps = [model(idx[:, :5], kv_cache=cache).logits]
    assert cache.pos == 5
    for t in range(5, 12):
        steps.append(model(idx[:, t : t + 1], kv_cache=cache).logits)
    assert cache.pos == 12
    torch.testing.assert_close(torch.cat(steps, dim=1), full, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", ["mha-rope", "gqa-rope", "learned-gelu"])
def test_chunked_prefill_after_a_prefix_keeps_causal_masking(name):
    cfg = VARIANTS[name]
    model = Transformer(cfg).eval()
    idx = torch.randint(0, 97, (2, 15))
    full = model(idx).logits
    cache = _cache(cfg)
    chunks = [model(idx[:, a:b], kv_cache=cache).logits for a, b in ((0, 4), (4, 9), (9, 10), (10, 15))]
    torch.testing.assert_close(torch.cat(chunks, dim=1), full, atol=1e-5, rtol=1e-5)


def test_reset_reuses_the_cache():
    cfg = VARIANTS["gqa-rope"]
    model = Transformer(cfg).eval()
    cache = _cache(cfg, batch=1)
    a = torch.randint(0, 97, (1, 6))
    b = torch.randint(0, 97, (1, 6))
    model(a, kv_cache=cache)
    cache.reset()
    assert cache.pos == 0
    torch.testing.assert_close(model(b, kv_cache=cache).logits, model(b).logits, atol=1e-5, rtol=1e-5)


def test_cache_shape_and_limits():
    cfg = VARIANTS["gqa-rope"]
    cache = _cache(cfg, batch=3, max_len=8)
    assert cache.k.shape == (2, 3, 2, 8, 8) and cache.v.shape == cache.k.shape
    model = Transformer(cfg).eval()
    model(torch.zeros(3, 6, dtype=torch.long), kv_cache=cache)
    with pytest.raises(InputError, match="max_len=8"):
        model(torch.zeros(3, 3, dtype=torch.long), kv_cache=cache)
    with pytest.raises(InputError, match="batch size"):
        model(torch.zeros(2, 1, dtype=torch.long), kv_cache=cache)
    with pytest.raises(ConfigError, match="max_len"):
        _cache(cfg, max_len=33)


def test_cached_positions_count_toward_the_context_limit():
    cfg = VARIANTS["learned-gelu"]
    model = Transformer(cfg).eval()
    cache = _cache(cfg, batch=1)
    model(torch.zeros(1, 30, dtype=torch.long), kv_cache=cache)
    with pytest.raises(InputError, match=r"sequence length 33 \(30 cached \+ 3 new\)"):
        model(torch.zeros(1, 3, dtype=torch.long), kv_cache=cache)


@pytest.mark.parametrize("name", ["gqa-rope", "learned-gelu"])
def test_rows_of_different_lengths_decode_together(name):
    """Continuous batching: rows hold sequences of different lengths; one step feeds each its next token."""
    cfg = VARIANTS[name]
    model = Transformer(cfg).eval()
    lengths = [3, 11, 7]
    seqs = [torch.randint(0, 97, (1, n + 1)) for n in lengths]
    cache = _cache(cfg, batch=3)
    with torch.no_grad():
        for row, seq in enumerate(seqs):  # prefill each row alone
            model(seq[:, :-1], kv_cache=cache.select(row, row + 1))
        assert cache.lengths == lengths
        step = model(torch.cat([s[:, -1:] for s in seqs]), kv_cache=cache.select(0, 3)).logits  # (3, 1, V)
        for row, seq in enumerate(seqs):
            torch.testing.assert_close(step[row, -1], model(seq).logits[0, -1], atol=1e-5, rtol=1e-5)
    assert cache.lengths == [n + 1 for n in lengths]
    cache.move_row(2, 0)  # row 0 finished: the last row moves into it
    assert cache.lengths[0] == lengths[2] + 1
    torch.testing.assert_close(cache.k[:, 0, :, : lengths[2] + 1], cache.k[:, 2, :, : lengths[2] + 1])
