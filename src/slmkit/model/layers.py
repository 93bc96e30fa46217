"""Transformer building blocks: norms, rotary position embeddings, causal self-attention, MLPs.

Weight layouts are chosen for speed and for a trivial export to `transformers`' Llama:
- `CausalSelfAttention.qkv` is one fused projection whose output rows are `[q heads | k heads | v heads]`
  (`n_heads*head_dim`, then `n_kv_heads*head_dim` twice), so `q_proj/k_proj/v_proj` are row slices.
- RoPE uses the "rotate-half" layout of HF Llama: in each head, dimension `i` pairs with `i + head_dim/2` and both
  use frequency `theta**(-2i/head_dim)`. (Meta's original checkpoints pair `2i` with `2i+1` instead; HF permutes
  those on import. Our weights are already in HF's layout, so export needs no permutation.)
- `SwiGLU.gate_up` is one fused projection with rows `[gate | up]`, so `gate_proj/up_proj` are row slices.

Example:
    attn = CausalSelfAttention(cfg); y = attn(x, rope=RotaryEmbedding(cfg).get(0, x.size(1)))
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from slmkit.model.config import ModelConfig


# ----------------------------------------------------------------------------------------------- norms
class _RMSNormFunction(torch.autograd.Function):
    """RMSNorm with a hand-written backward: ~2x faster than the composite `F.rms_norm` on CPU (fewer passes)."""

    @staticmethod
    def forward(ctx, x, weight, eps: float):
        rstd = torch.rsqrt(x.pow(2).mean(-1, keepdim=True).add_(eps))  # (..., 1)
        x_hat = x * rstd  # (..., d)
        ctx.save_for_backward(x_hat, rstd, weight)
        return x_hat * weight

    @staticmethod
    def backward(ctx, grad_out):
        x_hat, rstd, weight = ctx.saved_tensors
        grad_weight = (grad_out * x_hat).reshape(-1, x_hat.size(-1)).sum(0)  # (d,)
        grad_x_hat = grad_out * weight  # (..., d)
        # d/dx of x*rstd: rstd * (g - x_hat * mean(g * x_hat))
        proj = (grad_x_hat * x_hat).mean(-1, keepdim=True)  # (..., 1)
        grad_x = grad_x_hat.addcmul_(x_hat, proj, value=-1.0).mul_(rstd)
        return grad_x, grad_weight, None


class RMSNorm(nn.Module):
    """Root-mean-square norm with a learned gain (no mean subtraction, no bias). Example: `RMSNorm(128)(x)`"""

    def __init__(self, dim: int, eps: float = 1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.onnx.is_in_onnx_export():  # ONNX opset 17 has no RMSNormalization: spell the formula out
            return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight
        if x.dtype != torch.float32 or not torch.is_grad_enabled():
            # low precision: leave the numerics to the reference op; inference: no autograd.Function overhead
            return F.rms_norm(x, (x.size(-1),), self.weight, self.eps)
        return _RMSNormFunction.apply(x, self.weight, self.eps)


def build_norm(cfg: ModelConfig) -> nn.Module:
    """The configured normalisation layer over `d_model`. Example: `build_norm(ModelConfig(norm="layernorm"))`"""
    if cfg.norm == "rmsnorm":
        return RMSNorm(cfg.d_model, cfg.norm_eps)
    return nn.LayerNorm(cfg.d_model, eps=cfg.norm_eps, bias=cfg.bias)


# ----------------------------------------------------------------------------------------------- RoPE
class RotaryEmbedding(nn.Module):
    """Precomputed RoPE tables for positions 0..context_length-1: cos and sin of `p * f_i`, each (max_len, hs/2),
    for frequencies `f_i = theta**(-2i/head_dim)`. (HF Llama stores the same values duplicated to width hs.)

    Example: `cos, sin = RotaryEmbedding(cfg).get(start=0, length=T)  # each (T, head_dim/2)`
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.head_dim, self.theta, self.max_len = cfg.head_dim, cfg.rope_theta, cfg.context_length
        # Not persistent: derived from the config, so never stored in checkpoints (and rebuilt by `reset_tables`).
        self.register_buffer("cos", torch.empty(self.max_len, self.head_dim // 2), persistent=False)
        self.register_buffer("sin", torch.empty(self.max_len, self.head_dim // 2), persistent=False)
        self.reset_tables()

    @torch.no_grad()
    def reset_tables(self) -> None:
        """(Re)compute the cos/sin tables in fp64 then cast (also after `to_empty()` from the meta device)."""
        if self.cos.device.type == "meta":
            return
        inv_freq = self.theta ** (-torch.arange(0, self.head_dim, 2, dtype=torch.float64) / self.head_dim)
        angles = torch.outer(torch.arange(self.max_len, dtype=torch.float64), inv_freq)  # (max_len, hs/2)
        self.cos.copy_(angles.cos())
        self.sin.copy_(angles.sin())

    def get(self, start: int, length: int) -> tuple[torch.Tensor, torch.Tensor]:
        """cos and sin for positions start..start+length-1, each (length, head_dim/2)."""
        return self.cos[start : start + length], self.sin[start : start + length]

    def at(self, positions: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """cos and sin at per-row positions (B, T), each (B, T, head_dim/2). Example: `rope.at(torch.tensor([[3]]))`"""
        return self.cos[positions], self.sin[positions]


def apply_rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate-half RoPE on x (B, T, H, hs) with half tables (T, hs/2) or (B, T, hs/2): HF Llama's
    `x*cos + rotate_half(x)*sin`.

    Example: `q = apply_rope(q, *rope.get(0, T))`
    """
    out = torch.empty_like(x)
    _rope_into(out, x, cos, sin)
    return out


def _rope_into(out: torch.Tensor, x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, sign: float = 1.0):
    """out = RoPE(x) written in place (x, out: (B, T, H, hs), any strides); sign=-1 rotates backwards (the inverse,
    which is also the transpose: RoPE's backward)."""
    # (T, 1, hs/2) or per-row (B, T, 1, hs/2): broadcast over heads
    cos, sin = cos.to(x.dtype).unsqueeze(-2), sin.to(x.dtype).unsqueeze(-2)
    x1, x2 = x.chunk(2, dim=-1)  # (B, T, H, hs/2) each
    out1, out2 = out.chunk(2, dim=-1)
    torch.mul(x1, cos, out=out1).addcmul_(x2, sin, value=-sign)  # x1*cos - x2*sin
    torch.mul(x2, cos, out=out2).addcmul_(x1, sin, value=sign)  # x2*cos + x1*sin


def _split_heads_rope(qkv: torch.Tensor, cos, sin, n_heads: int, n_kv_heads: int):
    """qkv (B, T, nh+2*nkv, hs) -> q (B, nh, T, hs), k (B, nkv, T, hs) rotated, v (B, nkv, T, hs)."""
    qk = torch.empty_like(qkv[:, :, : n_heads + n_kv_heads])  # (B, T, nh+nkv, hs)
    _rope_into(qk, qkv[:, :, : n_heads + n_kv_heads], cos, sin)
    q, k = qk.split((n_heads, n_kv_heads), dim=2)
    v = qkv[:, :, n_heads + n_kv_heads :]
    return q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)


class _SplitHeadsRope(torch.autograd.Function):
    """qkv (B, T, nh+2*nkv, hs) -> q (B, nh, T, hs), k (B, nkv, T, hs) rotated, v (B, nkv, T, hs).

    One Function instead of split/rope/transpose autograd ops: its backward writes the three head gradients (q and
    k rotated back) straight into one (B, T, nh+2*nkv, hs) buffer instead of concatenating copies (3 cats per layer).
    """

    @staticmethod
    def forward(ctx, qkv, cos, sin, n_heads: int, n_kv_heads: int):
        ctx.save_for_backward(cos, sin)
        ctx.n_heads, ctx.n_kv_heads = n_heads, n_kv_heads
        return _split_heads_rope(qkv, cos, sin, n_heads, n_kv_heads)

    @staticmethod
    def backward(ctx, grad_q, grad_k, grad_v):
        cos, sin = ctx.saved_tensors
        nh, nkv = ctx.n_heads, ctx.n_kv_heads
        B, _, T, hs = grad_q.shape
        grad = grad_q.new_empty(B, T, nh + 2 * nkv, hs)
        for g, heads in ((grad_q, slice(0, nh)), (grad_k, slice(nh, nh + nkv))):
            if g is None:
                grad[:, :, heads].zero_()
            else:
                _rope_into(grad[:, :, heads], g.transpose(1, 2), cos, sin, sign=-1.0)
        if grad_v is None:
            grad[:, :, nh + nkv :].zero_()
        else:
            grad[:, :, nh + nkv :].copy_(grad_v.transpose(1, 2))
        return grad, None, None, None, None


# ----------------------------------------------------------------------------------------------- attention
class CausalSelfAttention(nn.Module):
    """Multi-head / grouped-query causal self-attention via `F.scaled_dot_product_attention`.

    Example: `y = CausalSelfAttention(cfg)(x, rope=(cos, sin))  # x, y: (B, T, d_model)`
    """

    def __init__(self, cfg: ModelConfig, layer_idx: int = 0):
        super().__init__()
        self.layer_idx = layer_idx
        self.n_heads, self.n_kv_heads, self.head_dim = cfg.n_heads, cfg.kv_heads, cfg.head_dim
        self.dropout = cfg.dropout
        qkv_out = (self.n_heads + 2 * self.n_kv_heads) * self.head_dim
        self.qkv = nn.Linear(cfg.d_model, qkv_out, bias=cfg.bias)  # rows: [q | k | v]
        self.proj = nn.Linear(self.n_heads * self.head_dim, cfg.d_model, bias=cfg.bias)
        self.proj.is_residual_projection = True  # scaled init (see Transformer.init_weights)

    def forward(self, x: torch.Tensor, rope: tuple[torch.Tensor, torch.Tensor] | None = None, kv_cache=None):
        B, T, _ = x.shape
        nh, nkv, hs = self.n_heads, self.n_kv_heads, self.head_dim
        qkv = self.qkv(x).view(B, T, nh + 2 * nkv, hs)  # (B, T, nh+2*nkv, hs)
        if rope is not None and not torch.is_grad_enabled():  # inference: the same ops without autograd
            q, k, v = _split_heads_rope(qkv, *rope, nh, nkv)  # (B, nh|nkv, T, hs); q, k rotated
        elif rope is not None:
            q, k, v = _SplitHeadsRope.apply(qkv, *rope, nh, nkv)
        else:
            # split (not slicing): its backward concatenates the grads instead of zero-filling and copying per slice
            q, k, v = qkv.split((nh, nkv, nkv), dim=2)
            q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)  # (B, nh|nkv, T, hs): views

        is_causal, mask = True, None
        if kv_cache is not None:
            # keys/values of the prefix plus this chunk (B, nkv, L, hs), and how to mask them
            k, v, mask, is_causal = kv_cache.update(self.layer_idx, k, v)
            if T == 1:
                y = _decode_attention(q, k, v, mask)  # (B, nh, 1, hs)
                return self.proj(y.transpose(1, 2).reshape(B, T, nh * hs))
        y = F.scaled_dot_product_attention(
            q,
            k,
            v,
            attn_mask=mask,
            dropout_p=self.dropout if self.training else 0.0,
            is_causal=is_causal,
            enable_gqa=nkv != nh,
        )  # (B, nh, T, hs)
        y = y.transpose(1, 2).reshape(B, T, nh * hs)  # (B, T, nh*hs)
        return self.proj(y)


def _decode_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Attention of one new query per row over the cached keys: q (B, nh, 1, hs), k/v (B, nkv, L, hs), mask None or
    bool (B, 1, 1, L). Two small matmuls: CPU SDPA's flash kernel costs milliseconds per call for a single query."""
    B, nh, _, hs = q.shape
    nkv = k.size(1)
    q = q.view(B, nkv, nh // nkv, hs)  # (B, nkv, g, hs): the g query heads sharing one kv head
    scores = torch.matmul(q, k.transpose(-1, -2)).mul_(hs**-0.5)  # (B, nkv, g, L)
    if mask is not None:
        scores.masked_fill_(~mask, float("-inf"))  # mask (B, 1, 1, L) broadcasts over kv heads and groups
    weights = torch.softmax(scores, dim=-1)
    return torch.matmul(weights, v).view(B, nh, 1, hs)  # (B, nkv, g, hs) -> (B, nh, 1, hs)


# ----------------------------------------------------------------------------------------------- MLPs
class _SwiGLUActivation(torch.autograd.Function):
    """silu(gate) * up on the fused (..., 2*d_ff) projection output. The backward writes d_gate and d_up straight
    into the two halves of one gradient buffer (autograd's chunk backward would concatenate copies)."""

    @staticmethod
    def forward(ctx, gate_up):
        gate, up = gate_up.chunk(2, dim=-1)  # (..., d_ff) each
        silu_gate = F.silu(gate)
        ctx.save_for_backward(gate_up, silu_gate)
        return silu_gate * up

    @staticmethod
    def backward(ctx, grad_out):
        gate_up, silu_gate = ctx.saved_tensors
        gate, up = gate_up.chunk(2, dim=-1)
        grad = torch.empty_like(gate_up)  # (..., 2*d_ff): [d gate | d up]
        grad_gate, grad_up = grad.chunk(2, dim=-1)
        torch.mul(grad_out, silu_gate, out=grad_up)
        torch.ops.aten.silu_backward.grad_input(grad_out * up, gate, grad_input=grad_gate)
        return grad


class SwiGLU(nn.Module):
    """LLaMA MLP: down(silu(gate(x)) * up(x)) with gate and up fused into one matmul. Example: `SwiGLU(128, 384)(x)`"""

    def __init__(self, d_model: int, d_ff: int, bias: bool = False):
        super().__init__()
        self.gate_up = nn.Linear(d_model, 2 * d_ff, bias=bias)  # rows: [gate | up]
        self.down = nn.Linear(d_ff, d_model, bias=bias)
        self.down.is_residual_projection = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate_up = self.gate_up(x)  # (..., 2*d_ff)
        if torch.is_grad_enabled():
            return self.down(_SwiGLUActivation.apply(gate_up))  # (..., d_model)
        gate, up = gate_up.chunk(2, dim=-1)  # inference: no autograd.Function overhead
        return self.down(F.silu(gate).mul_(up))


class GeluMLP(nn.Module):
    """GPT-2 MLP: proj(gelu_tanh(fc(x))). Example: `GeluMLP(128, 512)(x)`"""

    def __init__(self, d_model: int, d_ff: int, bias: bool = False):
        super().__init__()
        self.fc = nn.Linear(d_model, d_ff, bias=bias)
        self.proj = nn.Linear(d_ff, d_model, bias=bias)
        self.proj.is_residual_projection = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # tanh approximation: what GPT-2 ("gelu_new") used, so GPT-2 weights behave identically.
        return self.proj(F.gelu(self.fc(x), approximate="tanh"))


def build_mlp(cfg: ModelConfig) -> nn.Module:
    """A dense MLP of the configured type and width. Example: `build_mlp(ModelConfig(mlp="gelu"))`"""
    cls = SwiGLU if cfg.mlp == "swiglu" else GeluMLP
    return cls(cfg.d_model, cfg.ffn_dim, bias=cfg.bias)
