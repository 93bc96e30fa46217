"""Read and overwrite a Transformer's internals with PyTorch forward hooks (the model code is left untouched).

The residual stream is read at `n_layers + 1` points: point 0 is the input of block 0 (token + position
embeddings), point l + 1 the output of block l. Attention weights are recomputed from the input each attention
module receives (its own `qkv` projection and the model's RoPE tables), because the model uses fused
`scaled_dot_product_attention`, which never materialises them.

Example:
    with ResidualCapture(model) as cap:
        logits = model(ids).logits
    cap.points[0].shape  # (B, T, d_model)
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from slmkit.model.layers import apply_rope


class _Hooks:
    """Registered hook handles, removed on exit."""

    def __init__(self):
        self.handles = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for handle in self.handles:
            handle.remove()
        self.handles.clear()


class ResidualCapture(_Hooks):
    """Record the residual stream at every point (see module docstring) during a forward."""

    def __init__(self, model):
        super().__init__()
        self.points: list[torch.Tensor | None] = [None] * (len(model.blocks) + 1)

        def save_input(module, args):
            self.points[0] = args[0].detach()

        def save_output(index):
            def hook(module, args, output):
                self.points[index] = output[0].detach()

            return hook

        self.handles.append(model.blocks[0].register_forward_pre_hook(save_input))
        for i, block in enumerate(model.blocks):
            self.handles.append(block.register_forward_hook(save_output(i + 1)))


class ResidualPatch(_Hooks):
    """Overwrite the residual stream at `point`, positions `positions`, with `values` (B, len(positions), d)."""

    def __init__(self, model, point: int, positions: list[int], values: torch.Tensor):
        super().__init__()
        if not 0 <= point <= len(model.blocks):
            raise ValueError(f"point {point} outside 0..{len(model.blocks)}")

        def patched(x: torch.Tensor) -> torch.Tensor:
            x = x.clone()
            x[:, positions] = values.to(x.dtype)
            return x

        if point == 0:
            self.handles.append(
                model.blocks[0].register_forward_pre_hook(lambda module, args: (patched(args[0]), *args[1:]))
            )
        else:
            self.handles.append(
                model.blocks[point - 1].register_forward_hook(
                    lambda module, args, output: (patched(output[0]), *output[1:])
                )
            )


class AttentionCapture(_Hooks):
    """Record every layer's attention weights (B, n_heads, T, T) during a full-sequence forward (no KV cache)."""

    def __init__(self, model):
        super().__init__()
        self.model = model
        self.weights: list[torch.Tensor | None] = [None] * len(model.blocks)

        def save(index):
            def hook(module, args):
                self.weights[index] = attention_weights(module, args[0].detach(), model.rope)

            return hook

        for i, block in enumerate(model.blocks):
            self.handles.append(block.attn.register_forward_pre_hook(save(i)))


def attention_weights(attn, x: torch.Tensor, rope=None) -> torch.Tensor:
    """Softmax attention weights (B, n_heads, T, T) that `attn` (a CausalSelfAttention) computes for input x (B, T, d)
    at positions 0..T-1. Example: `attention_weights(model.blocks[0].attn, model.blocks[0].norm_attn(h), model.rope)`"""
    B, T, _ = x.shape
    nh, nkv, hs = attn.n_heads, attn.n_kv_heads, attn.head_dim
    qkv = attn.qkv(x).view(B, T, nh + 2 * nkv, hs)  # (B, T, nh+2*nkv, hs)
    q, k = qkv[:, :, :nh], qkv[:, :, nh : nh + nkv]  # (B, T, nh|nkv, hs)
    if rope is not None:
        cos, sin = rope.get(0, T)  # (T, hs/2) each
        q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
    q, k = q.transpose(1, 2), k.transpose(1, 2)  # (B, nh|nkv, T, hs)
    if nkv != nh:
        k = k.repeat_interleave(nh // nkv, dim=1)  # (B, nh, T, hs): each kv head serves nh/nkv query heads
    scores = (q @ k.transpose(-1, -2)) * hs**-0.5  # (B, nh, T, T)
    causal = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
    scores = scores.masked_fill(~causal, float("-inf"))
    return F.softmax(scores.float(), dim=-1)


def logits_from_residual(model, residual: torch.Tensor) -> torch.Tensor:
    """The logit lens: final norm + LM head applied to a residual stream (B, T, d) -> (B, T, V)."""
    return model.lm_head(model.norm_f(residual))
