"""Int8 weight-only quantization for inference: every `nn.Linear` keeps its weight as int8 with one fp32 scale per
output row (symmetric, absmax / 127), and multiplies through PyTorch's int8-weight kernel.

Why: decoding one sequence reads every weight once per token, so at batch 1 the step time is the time to stream the
weights from memory (~48 MB per token in fp32 for the 6 x 384 benchmark model). Int8 weights are a quarter of those
bytes. On CPU `torch._weight_int8pack_mm` (bf16 activations, int8 weights, the kernel gpt-fast and torchao use)
runs the matrix-vector products several times faster than fp32 `F.linear`; elsewhere the weight is dequantized on
the fly. Per-row int8 moves a matmul's output by ~0.7% (relative L2) and bf16 activations add ~0.3%; the quality
cost on a trained model is measured in docs/benchmarks.md ("Decoding", bits-per-byte with and without).

Every `nn.Linear` is converted (attention and MLP projections, MoE experts and router, the LM head; a tied head gets
its own int8 copy); embeddings and norms stay fp32. The quantized model is for inference only (no gradients).

Example:
    model = quantize_int8(load_checkpoint("runs/quickstart").model)   # every nn.Linear -> Int8Linear
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Literal, get_args

import torch
import torch.nn.functional as F
from torch import nn

Quantize = Literal["none", "int8"]  # the type of the `quantize` config fields: the config layer validates it
QUANTIZE_CHOICES = get_args(Quantize)
_ACTIVATION_DTYPE = torch.bfloat16  # the CPU kernel's fast path; fp16 and fp32 activations run a slow fallback
_HAS_INT8_KERNEL = hasattr(torch, "_weight_int8pack_mm")


def quantize_rows_int8(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Symmetric per-row int8: weight (N, K) -> (int8 (N, K), fp32 scales (N,)) with weight ~= q * scales[:, None].

    Example: `q, scales = quantize_rows_int8(torch.randn(8, 4))`
    """
    w = weight.detach().float()
    scales = w.abs().amax(dim=1).clamp_min(1e-12) / 127.0  # (N,): an all-zero row keeps a finite scale
    q = torch.round(w / scales[:, None]).clamp_(-127, 127).to(torch.int8)
    return q.contiguous(), scales.contiguous()


def int8_linear(x: torch.Tensor, q: torch.Tensor, scales: torch.Tensor, bias: torch.Tensor | None = None):
    """x (..., K) @ dequant(q (N, K), scales (N,)).T (+ bias) -> (..., N) in x's dtype. Scales in bf16 save a
    conversion per call on CPU."""
    if x.device.type == "cpu" and _HAS_INT8_KERNEL:
        flat = x.reshape(-1, x.size(-1)).to(_ACTIVATION_DTYPE)  # (M, K)
        y = torch._weight_int8pack_mm(flat, q, scales.to(_ACTIVATION_DTYPE)).to(x.dtype)  # (M, N)
        y = y.view(*x.shape[:-1], q.size(0))
    else:  # other devices: dequantize, then an ordinary matmul in x's dtype
        y = F.linear(x, q.to(x.dtype) * scales.to(x.dtype)[:, None])
    return y if bias is None else y + bias.to(y.dtype)


class Int8Linear(nn.Module):
    """A drop-in inference replacement for `nn.Linear` holding int8 weights and per-row scales.

    Example: `layer = Int8Linear.from_linear(nn.Linear(64, 32)); y = layer(torch.randn(2, 64))  # (2, 32)`
    """

    def __init__(self, q: torch.Tensor, scales: torch.Tensor, bias: torch.Tensor | None = None):
        super().__init__()
        self.in_features, self.out_features = q.size(1), q.size(0)
        self.register_buffer("qweight", q)  # (N, K) int8
        self.register_buffer("scales", scales)  # (N,) fp32
        self.register_buffer("kernel_scales", scales.to(_ACTIVATION_DTYPE), persistent=False)  # what the kernel takes
        self.register_buffer("bias", None if bias is None else bias.detach().clone())

    @classmethod
    def from_linear(cls, linear: nn.Linear) -> Int8Linear:
        q, scales = quantize_rows_int8(linear.weight)
        return cls(q, scales, linear.bias)

    @property
    def weight(self) -> torch.Tensor:
        """The dequantized weight (N, K), for code that needs the matrix itself (e.g. the fused LM-head loss)."""
        return self.qweight.float() * self.scales[:, None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return int8_linear(x, **self.kernel_inputs(x.device))

    def kernel_inputs(self, device: torch.device) -> dict[str, torch.Tensor | None]:
        """The `int8_linear` arguments besides x for inputs on `device` (bf16 scales where the CPU kernel runs)."""
        on_kernel = device.type == "cpu" and _HAS_INT8_KERNEL
        return {"q": self.qweight, "scales": self.kernel_scales if on_kernel else self.scales, "bias": self.bias}

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, int8 per-row"


def quantize_int8(model: nn.Module) -> nn.Module:
    """Replace every `nn.Linear` in `model` (in place) by an `Int8Linear`; returns the model, in eval mode.

    Example: `quantize_int8(model); model(idx)  # same interface, a quarter of the linear weights' bytes`
    """
    for parent in list(model.modules()):
        for name, child in list(parent.named_children()):
            if type(child) is nn.Linear:
                setattr(parent, name, Int8Linear.from_linear(child).to(child.weight.device))
    return model.eval()


def apply_quantization(model: nn.Module, method: str) -> nn.Module:
    """`method` is one of QUANTIZE_CHOICES. Example: `apply_quantization(model, "int8")`"""
    if method == "none":
        return model
    if method == "int8":
        device = next(model.parameters()).device
        if device.type != "cpu" or not _HAS_INT8_KERNEL:
            warnings.warn(f"int8 weights on {device.type}: no int8 kernel there, so each matmul dequantizes its weight "
                          "first (less memory, not faster); the speed-up is for CPU inference", stacklevel=2)
        return quantize_int8(model)
    raise ValueError(f"quantize must be one of {QUANTIZE_CHOICES}, got {method!r}")


def linear_function(layer: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """A bare function x -> layer(x) without the module-call overhead (for the batch-1 decode loop).

    Example: `f = linear_function(model.lm_head); logits = f(h)`
    """
    if isinstance(layer, Int8Linear):
        return functools.partial(int8_linear, **layer.kernel_inputs(layer.qweight.device))
    return functools.partial(F.linear, weight=layer.weight, bias=layer.bias)
