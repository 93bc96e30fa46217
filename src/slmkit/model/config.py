"""The model's shape: one `ModelConfig` dataclass and a table of named presets.

Fields left as `None` resolve to the conventional value (read the resolved value through `head_dim`, `kv_heads`,
`ffn_dim`), so a saved config stays as short as the user wrote it.

Example:
    cfg = preset("tiny", vocab_size=8192)   # ModelConfig(..., vocab_size=8192)
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

from slmkit.common.errors import ConfigError
from slmkit.config import check, opt


@dataclass
class ModelConfig:
    """A decoder-only transformer. Example: `ModelConfig(d_model=256, n_heads=8)`"""

    vocab_size: int = opt(4096, "number of token ids (the tokenizer's vocabulary size)")
    context_length: int = opt(256, "longest sequence the model accepts (positions 0..context_length-1)")
    n_layers: int = opt(4, "number of transformer blocks")
    n_heads: int = opt(4, "attention (query) heads per block")
    n_kv_heads: int | None = opt(None, "key/value heads (grouped-query attention); None = n_heads; must divide n_heads")
    d_model: int = opt(128, "residual stream width; must be divisible by n_heads")
    d_ff: int | None = opt(None, "MLP hidden width; None = 4*d_model (gelu) or 8/3*d_model rounded up (swiglu)")
    multiple_of: int = opt(64, "the default swiglu d_ff is rounded up to a multiple of this (GEMM-friendly sizes)")
    pos_emb: Literal["rope", "learned"] = opt("rope", "positions: rotary (rope) or learned absolute embeddings")
    norm: Literal["rmsnorm", "layernorm"] = opt("rmsnorm", "normalisation layer used before each sublayer")
    mlp: Literal["swiglu", "gelu"] = opt("swiglu", "MLP type (also the expert type when n_experts > 0)")
    tie_embeddings: bool = opt(True, "share the token embedding matrix with the LM head")
    bias: bool = opt(False, "add biases to linear layers and LayerNorm (GPT-2 style)")
    dropout: float = opt(0.0, "dropout on embeddings, attention weights and residual branches (0 = off)")
    rope_theta: float = opt(10000.0, "RoPE base frequency")
    norm_eps: float = opt(1e-5, "epsilon inside RMSNorm/LayerNorm")
    init_std: float = opt(0.02, "std of the normal init; residual projections get init_std/sqrt(2*n_layers)")
    n_experts: int = opt(0, "0 = dense MLP; >= 2 = mixture of experts with this many expert MLPs per block")
    moe_top_k: int = opt(2, "experts each token is routed to")
    moe_capacity_factor: float | None = opt(
        None, "None = no token dropping; else each expert takes at most ceil(f*tokens*top_k/n_experts) tokens"
    )
    moe_aux_loss_coef: float = opt(0.01, "weight of the load-balancing loss (Switch/Mixtral style)")
    moe_z_loss_coef: float = opt(0.001, "weight of the router z-loss (ST-MoE)")

    def __post_init__(self) -> None:
        for name in ("vocab_size", "context_length", "n_layers", "n_heads", "d_model", "multiple_of"):
            value = getattr(self, name)
            check(isinstance(value, int) and value > 0, f"model.{name}", value, "a positive integer")
        check(
            self.d_model % self.n_heads == 0,
            "model.d_model",
            self.d_model,
            f"a multiple of model.n_heads={self.n_heads}",
        )
        if self.n_kv_heads is not None:
            check(
                self.n_kv_heads > 0 and self.n_heads % self.n_kv_heads == 0,
                "model.n_kv_heads",
                self.n_kv_heads,
                f"a positive divisor of model.n_heads={self.n_heads}",
            )
        if self.pos_emb == "rope":
            check(self.head_dim % 2 == 0, "model.d_model", self.d_model, "d_model/n_heads even (RoPE rotates pairs)")
        if self.d_ff is not None:
            check(self.d_ff > 0, "model.d_ff", self.d_ff, "a positive integer or None")
        check(self.pos_emb in ("rope", "learned"), "model.pos_emb", self.pos_emb, "rope or learned")
        check(self.norm in ("rmsnorm", "layernorm"), "model.norm", self.norm, "rmsnorm or layernorm")
        check(self.mlp in ("swiglu", "gelu"), "model.mlp", self.mlp, "swiglu or gelu")
        check(0.0 <= self.dropout < 1.0, "model.dropout", self.dropout, "a number in [0, 1)")
        check(self.rope_theta > 0, "model.rope_theta", self.rope_theta, "a positive number")
        check(self.norm_eps > 0, "model.norm_eps", self.norm_eps, "a positive number")
        check(self.init_std > 0, "model.init_std", self.init_std, "a positive number")
        check(self.n_experts == 0 or self.n_experts >= 2, "model.n_experts", self.n_experts, "0 (dense) or >= 2")
        if self.n_experts:
            check(
                1 <= self.moe_top_k <= self.n_experts,
                "model.moe_top_k",
                self.moe_top_k,
                f"between 1 and model.n_experts={self.n_experts}",
            )
            if self.moe_capacity_factor is not None:
                check(self.moe_capacity_factor > 0, "model.moe_capacity_factor", self.moe_capacity_factor, "> 0")
        check(self.moe_aux_loss_coef >= 0, "model.moe_aux_loss_coef", self.moe_aux_loss_coef, ">= 0")
        check(self.moe_z_loss_coef >= 0, "model.moe_z_loss_coef", self.moe_z_loss_coef, ">= 0")

    @property
    def head_dim(self) -> int:
        """Width of one attention head. Example: `ModelConfig(d_model=128, n_heads=4).head_dim == 32`"""
        return self.d_model // self.n_heads

    @property
    def kv_heads(self) -> int:
        """Resolved number of key/value heads. Example: `ModelConfig(n_heads=4).kv_heads == 4`"""
        return self.n_kv_heads if self.n_kv_heads is not None else self.n_heads

    @property
    def ffn_dim(self) -> int:
        """Resolved MLP hidden width. Example: `ModelConfig(d_model=384).ffn_dim == 1024`"""
        if self.d_ff is not None:
            return self.d_ff
        if self.mlp == "gelu":
            return 4 * self.d_model
        # SwiGLU has three matrices instead of two: 2/3 of 4*d keeps the parameter count of a GELU MLP (LLaMA).
        hidden = int(8 * self.d_model / 3)
        return -(-hidden // self.multiple_of) * self.multiple_of

    @property
    def is_moe(self) -> bool:
        """True when the MLPs are mixtures of experts."""
        return self.n_experts > 0


PRESETS: dict[str, ModelConfig] = {
    # ~0.85M non-embedding params: a quickstart model that trains in minutes on 2 CPU cores.
    "tiny": ModelConfig(),
    # ~8M non-embedding params, the size class of the TinyStories paper's small models.
    "small": ModelConfig(context_length=512, n_layers=10, n_heads=8, d_model=256),
    # TinyStories-33M's dimensions (GPT-Neo: width 768, 4 layers, 16 heads, vocab 50257, trained on 512 tokens),
    # in this package's default layout (RoPE, RMSNorm, SwiGLU param-matched to its 3072-wide GELU MLP).
    "ts-33m": ModelConfig(vocab_size=50257, context_length=512, n_layers=4, n_heads=16, d_model=768),
    # GPT-2 small, layer for layer: 124,439,808 params with the tied LM head.
    "gpt2-124m": ModelConfig(
        vocab_size=50257,
        context_length=1024,
        n_layers=12,
        n_heads=12,
        d_model=768,
        pos_emb="learned",
        norm="layernorm",
        mlp="gelu",
        tie_embeddings=True,
        bias=True,
    ),
    # llama2.c's stories110M: LLaMA layout, 12 x 768, vocab 32000, shared classifier.
    "llama-110m": ModelConfig(
        vocab_size=32000, context_length=1024, n_layers=12, n_heads=12, d_model=768, multiple_of=32
    ),
    # The tiny model with 4 SwiGLU experts per block, 2 active per token.
    "moe-tiny": ModelConfig(n_experts=4, moe_top_k=2),
}


def preset(name: str, **overrides) -> ModelConfig:
    """A copy of preset `name` with `overrides` applied and validated. Example: `preset("small", dropout=0.1)`"""
    if name not in PRESETS:
        raise ConfigError("model.preset", found=name, expected=f"one of {', '.join(PRESETS)}")
    known = {f.name for f in dataclasses.fields(ModelConfig)}
    for key in overrides:
        if key not in known:
            raise ConfigError(f"model.{key}", found="an unknown option", expected=f"one of {', '.join(sorted(known))}")
    return dataclasses.replace(PRESETS[name], **overrides)
