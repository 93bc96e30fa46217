"""Analytic parameter and FLOP counts, for scaling-law bookkeeping and MFU.

FLOPs follow PaLM (appendix B) / nanoGPT: a matmul with N weights costs 2N FLOPs per token forward and 4N backward,
so training costs 6N per token, where N counts every matmul weight a token passes through, including the LM head
(even when tied to the embedding: the lookup is free, the head matmul is not) and, for MoE, the router and the
`top_k` active experts only. Attention scores and the weighted sum add 2*2*n_heads*head_dim*T per layer forward
(T = sequence length; the causal half is not subtracted, as in PaLM), i.e. 12*n_layers*d_attn*T for training.
Norms, biases, activations and softmax are ignored (well under 1% at these sizes).

Example:
    mfu = flops_per_token(cfg, seq_len=256) * tokens_per_second / peak_flops
"""

from __future__ import annotations

from slmkit.model.config import ModelConfig


def _mlp_params(cfg: ModelConfig) -> tuple[int, int]:
    """(matmul weights, biases) of one dense MLP / one expert."""
    d, ff = cfg.d_model, cfg.ffn_dim
    if cfg.mlp == "swiglu":
        return 3 * d * ff, (2 * ff + d if cfg.bias else 0)
    return 2 * d * ff, (ff + d if cfg.bias else 0)


def _attention_params(cfg: ModelConfig) -> tuple[int, int]:
    """(matmul weights, biases) of one attention layer."""
    d, hs, nh, nkv = cfg.d_model, cfg.head_dim, cfg.n_heads, cfg.kv_heads
    qkv_out = (nh + 2 * nkv) * hs
    weights = d * qkv_out + nh * hs * d
    return weights, (qkv_out + d if cfg.bias else 0)


def _norm_params(cfg: ModelConfig) -> int:
    return 2 * cfg.d_model if (cfg.norm == "layernorm" and cfg.bias) else cfg.d_model


def param_counts(cfg: ModelConfig) -> dict[str, int]:
    """Parameter counts computed from the config alone (equal to `Transformer(cfg).num_params(...)`).

    Example: `param_counts(preset("gpt2-124m"))["total"] == 124_439_808`
    """
    attn_w, attn_b = _attention_params(cfg)
    mlp_w, mlp_b = _mlp_params(cfg)
    mlp = mlp_w + mlp_b
    if cfg.is_moe:
        mlp = cfg.d_model * cfg.n_experts + cfg.n_experts * mlp
    per_block = attn_w + attn_b + mlp + 2 * _norm_params(cfg)
    non_embedding = cfg.n_layers * per_block + _norm_params(cfg)
    embedding = cfg.vocab_size * cfg.d_model
    if cfg.pos_emb == "learned":
        embedding += cfg.context_length * cfg.d_model
    if not cfg.tie_embeddings:
        embedding += cfg.vocab_size * cfg.d_model
    return {"embedding": embedding, "non_embedding": non_embedding, "total": embedding + non_embedding}


def matmul_params_per_token(cfg: ModelConfig) -> int:
    """Matmul weights one token passes through (active experts only, LM head included). Example: see flops_per_token"""
    attn_w, _ = _attention_params(cfg)
    mlp_w, _ = _mlp_params(cfg)
    if cfg.is_moe:
        mlp_w = cfg.d_model * cfg.n_experts + cfg.moe_top_k * mlp_w
    return cfg.n_layers * (attn_w + mlp_w) + cfg.d_model * cfg.vocab_size


def flops_per_token(cfg: ModelConfig, seq_len: int | None = None, training: bool = True) -> float:
    """FLOPs per token of a training step (forward+backward) or, with training=False, of a forward pass.

    seq_len defaults to cfg.context_length. Example: `flops_per_token(preset("tiny"), seq_len=256)`
    """
    seq_len = cfg.context_length if seq_len is None else seq_len
    forward = 2 * matmul_params_per_token(cfg) + 4 * cfg.n_layers * cfg.n_heads * cfg.head_dim * seq_len
    return float(3 * forward if training else forward)
