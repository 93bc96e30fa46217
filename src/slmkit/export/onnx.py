"""`slm export onnx`: the forward pass (token ids -> logits, no KV cache) as an ONNX graph for onnxruntime.

The graph takes `input_ids` (int64, batch x sequence, both dynamic) and returns `logits` (float32, batch x sequence
x vocab). It is traced with torch's TorchScript-based exporter from a copy of the model whose attention blocks are
swapped for `TraceableAttention`: the same weights and math, written without the in-place RoPE kernels (ONNX has no
aliasing, so writes through views would be lost) and with key/value heads repeated for grouped-query attention (the
exporter has no GQA attention). Mixtures of experts route tokens with data-dependent shapes that a trace would freeze,
so they are refused.

Example:
    slm export onnx --ckpt runs/quickstart/ckpt/pretrain --out exports/quickstart.onnx
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from slmkit.common.atomic import atomic_path
from slmkit.common.errors import ConfigError
from slmkit.common.log import print0
from slmkit.config import check, opt
from slmkit.infer.load import load_checkpoint

OPSET = 17


@dataclass
class ExportONNXConfig:
    ckpt: str = opt(None, "checkpoint folder, ckpt/<stage> folder or run directory")
    out: str = opt(None, "output .onnx file (replaced when it exists)")
    check: bool = opt(True, "run the graph in onnxruntime and compare its logits with slmkit's")

    def __post_init__(self):
        check(self.ckpt is not None, "ckpt", self.ckpt, "a checkpoint (--ckpt DIR)")
        check(self.out is not None, "out", self.out, "an output file (--out FILE.onnx)")


def _rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotate-half RoPE, out of place: x (B, H, T, hs), cos/sin (T, hs/2)."""
    x1, x2 = x.chunk(2, dim=-1)  # (B, H, T, hs/2) each
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1)


class TraceableAttention(nn.Module):
    """`CausalSelfAttention`'s inference forward (no cache) in traceable ops, sharing its weights."""

    def __init__(self, attn: nn.Module):
        super().__init__()
        self.qkv, self.proj = attn.qkv, attn.proj
        self.n_heads, self.n_kv_heads, self.head_dim = attn.n_heads, attn.n_kv_heads, attn.head_dim

    def forward(self, x: torch.Tensor, rope=None, kv_cache=None) -> torch.Tensor:
        B, T, _ = x.shape
        nh, nkv, hs = self.n_heads, self.n_kv_heads, self.head_dim
        qkv = self.qkv(x).view(B, T, nh + 2 * nkv, hs).transpose(1, 2)  # (B, nh+2*nkv, T, hs)
        q, k, v = qkv.split((nh, nkv, nkv), dim=1)
        if rope is not None:
            cos, sin = rope  # (T, hs/2) each
            q, k = _rotate(q, cos, sin), _rotate(k, cos, sin)
        if nkv != nh:  # query head h reads key/value head h // (nh/nkv), as SDPA's enable_gqa does
            k = k.repeat_interleave(nh // nkv, dim=1)
            v = v.repeat_interleave(nh // nkv, dim=1)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, nh, T, hs)
        return self.proj(y.transpose(1, 2).reshape(B, T, nh * hs))


class LogitsOnly(nn.Module):
    """input_ids (B, T) -> logits (B, T, V): the signature of the exported graph."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids).logits


def traceable_copy(model: nn.Module) -> nn.Module:
    """A copy of `model` (fp32, eval) whose attention is `TraceableAttention`. Example: `traceable_copy(m)(idx)`"""
    if model.cfg.is_moe:
        raise ConfigError("model.n_experts", found=model.cfg.n_experts, expected="0: ONNX export supports dense "
                          "models (expert routing has data-dependent shapes; use export hf or gguf for MoE)")
    copied = copy.deepcopy(model).float().eval()
    for block in copied.blocks:
        block.attn = TraceableAttention(block.attn)
    return copied


def write_onnx(path: Path, model: nn.Module) -> None:
    """Trace `model`'s forward to an ONNX file (atomically). Example: `write_onnx(Path("m.onnx"), model)`"""
    wrapped = LogitsOnly(traceable_copy(model))
    example = torch.zeros(1, min(8, model.cfg.context_length), dtype=torch.long)
    with atomic_path(path) as tmp, torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about Python ints in shapes: checked by `check_onnx`
        torch.onnx.export(
            wrapped, (example,), str(tmp), input_names=["input_ids"], output_names=["logits"],
            dynamic_axes={"input_ids": {0: "batch", 1: "sequence"}, "logits": {0: "batch", 1: "sequence"}},
            opset_version=OPSET, dynamo=False,
        )


def check_onnx(path: Path, model: nn.Module, seed: int = 0) -> float:
    """Largest |logit difference| between onnxruntime and slmkit on random ids (two shapes, not the traced one).

    Example: `assert check_onnx(Path("m.onnx"), model) < 1e-4`
    """
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    generator = torch.Generator().manual_seed(seed)
    worst = 0.0
    for batch, length in ((2, min(13, model.cfg.context_length)), (1, model.cfg.context_length)):
        idx = torch.randint(0, model.cfg.vocab_size, (batch, length), generator=generator)
        theirs = torch.from_numpy(session.run(["logits"], {"input_ids": idx.numpy()})[0])
        with torch.no_grad():
            ours = model.float().eval()(idx).logits
        worst = max(worst, (theirs - ours).abs().max().item())
    return worst


def export_onnx_stage(cfg: ExportONNXConfig) -> dict[str, Any]:
    """Export a checkpoint's forward pass to ONNX. Example: `export_onnx_stage(ExportONNXConfig(ckpt=c, out=o))`"""
    loaded = load_checkpoint(cfg.ckpt)
    out = Path(cfg.out)
    write_onnx(out, loaded.model)
    result: dict[str, Any] = {"out": str(out), "bytes": out.stat().st_size}
    message = f"export onnx: {loaded.path} -> {out} ({result['bytes'] / 1e6:.1f} MB)"
    if cfg.check:
        result["max_abs_logit_diff"] = check_onnx(out, loaded.model)
        message += f"; onnxruntime vs slmkit max |logit diff| {result['max_abs_logit_diff']:.2e}"
    print0(message)
    return result
