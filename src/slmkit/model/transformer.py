"""The decoder-only transformer: embeddings -> pre-norm blocks -> final norm -> LM head, with loss and KV cache.

Init follows GPT-2/nanoGPT: every Linear and Embedding ~ N(0, init_std), biases 0, norm gains 1, and the residual
output projections (attention `proj`, MLP `down`/`proj`, expert outputs) ~ N(0, init_std/sqrt(2*n_layers)) so the
residual stream's variance does not grow with depth.

Example:
    model = Transformer(preset("tiny")); out = model(idx, targets=idx); out.loss.backward()
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from slmkit.common.errors import InputError
from slmkit.model.config import ModelConfig
from slmkit.model.kv_cache import KVCache
from slmkit.model.layers import CausalSelfAttention, RMSNorm, RotaryEmbedding, build_mlp, build_norm
from slmkit.model.loss import IGNORE_INDEX, linear_cross_entropy
from slmkit.model.moe import MoEMLP


@dataclass
class ModelOutput:
    """What `Transformer.forward` returns.

    logits: (B, T, vocab) or None when `return_logits=False`.
    loss: cross-entropy over targets != -100 (reduced as asked), plus the MoE aux loss for MoE models; None without
        targets. With "sum", the aux loss is added once per counted token; with "none", to each counted token, so
        that `sum/n_counted` equals the "mean" loss in every case.
    aux_loss: the MoE load-balance + z-loss (mean over MoE layers, already inside `loss`); None for dense models.
    ce_loss: the cross-entropy part of `loss` alone (same reduction), e.g. for perplexity; None without targets.
    """

    logits: torch.Tensor | None
    loss: torch.Tensor | None
    aux_loss: torch.Tensor | None
    ce_loss: torch.Tensor | None = None


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(norm(x)), then x + mlp(norm(x)). Returns (x, moe aux loss or None)."""

    def __init__(self, cfg: ModelConfig, layer_idx: int):
        super().__init__()
        self.norm_attn = build_norm(cfg)
        self.attn = CausalSelfAttention(cfg, layer_idx)
        self.norm_mlp = build_norm(cfg)
        self.mlp = MoEMLP(cfg) if cfg.is_moe else build_mlp(cfg)
        self.dropout = cfg.dropout

    def forward(self, x: torch.Tensor, rope=None, kv_cache: KVCache | None = None):
        h = self.attn(self.norm_attn(x), rope, kv_cache)  # (B, T, d)
        if self.dropout and self.training:
            h = F.dropout(h, self.dropout, training=True)
        x = x + h
        aux = None
        if isinstance(self.mlp, MoEMLP):
            h, aux = self.mlp(self.norm_mlp(x))
        else:
            h = self.mlp(self.norm_mlp(x))  # (B, T, d)
        if self.dropout and self.training:
            h = F.dropout(h, self.dropout, training=True)
        return x + h, aux


class Transformer(nn.Module):
    """A GPT/LLaMA-style decoder-only language model. Example: `Transformer(ModelConfig())(idx).logits.shape`"""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.wte = nn.Embedding(cfg.vocab_size, cfg.d_model)
        self.wpe = nn.Embedding(cfg.context_length, cfg.d_model) if cfg.pos_emb == "learned" else None
        self.rope = RotaryEmbedding(cfg) if cfg.pos_emb == "rope" else None
        self.blocks = nn.ModuleList(Block(cfg, i) for i in range(cfg.n_layers))
        self.norm_f = build_norm(cfg)
        self.lm_head = nn.Linear(cfg.d_model, cfg.vocab_size, bias=False)
        if cfg.tie_embeddings:
            self.lm_head.weight = self.wte.weight
        self.init_weights()

    @torch.no_grad()
    def init_weights(self) -> None:
        """GPT-2 init (see module docstring) and fresh RoPE tables; also call it after `to_empty()` from meta."""
        std = self.cfg.init_std
        residual_std = std / math.sqrt(2 * self.cfg.n_layers)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                scaled = getattr(module, "is_residual_projection", False)
                nn.init.normal_(module.weight, 0.0, residual_std if scaled else std)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.Embedding):
                nn.init.normal_(module.weight, 0.0, std)
            elif isinstance(module, (nn.LayerNorm, RMSNorm)):
                nn.init.ones_(module.weight)
                if getattr(module, "bias", None) is not None:
                    nn.init.zeros_(module.bias)
        if self.rope is not None:
            self.rope.reset_tables()

    @property
    def device(self) -> torch.device:
        """The device of the parameters. Example: `idx.to(model.device)`"""
        return self.wte.weight.device

    def num_params(self, non_embedding: bool = False) -> int:
        """Parameter count (a tied LM head counted once).

        Embedding params are the token and learned-position tables plus an untied LM head; `non_embedding=True`
        counts the rest (blocks and final norm), the N of scaling laws. Example: `model.num_params(True)`
        """
        total = sum(p.numel() for p in self.parameters())  # parameters() yields a shared tensor once
        if not non_embedding:
            return total
        embedding = self.wte.weight.numel()
        if self.wpe is not None:
            embedding += self.wpe.weight.numel()
        if not self.cfg.tie_embeddings:
            embedding += self.lm_head.weight.numel()
        return total - embedding

    def forward(
        self,
        idx: torch.Tensor,
        targets: torch.Tensor | None = None,
        kv_cache: KVCache | None = None,
        *,
        return_logits: bool = True,
        loss_reduction: str = "mean",
    ) -> ModelOutput:
        """Logits for token ids idx (B, T) and, given targets (B, T) (-100 = ignore), the loss.

        With `kv_cache`, idx row b holds positions kv_cache.lengths[b].. of the selected rows, which advance by T.
        Training should pass `return_logits=False`: with targets and a "mean"/"sum" reduction, the LM head and the
        cross-entropy then run fused in row chunks (`slmkit.model.loss`), never storing the (B, T, V) logits.
        Example: `out = model(idx, targets, loss_reduction="none")  # out.loss: (B, T)`
        """
        B, T = idx.shape
        longest = max(kv_cache.lengths[kv_cache.rows]) if kv_cache is not None else 0  # cached positions
        if longest + T > self.cfg.context_length:
            raise InputError(
                "model input",
                f"sequence length {longest + T}" + (f" ({longest} cached + {T} new)" if longest else ""),
                f"at most model.context_length={self.cfg.context_length}",
            )
        start = 0
        if kv_cache is not None:
            kv_cache.check_room(B, T)
            start = kv_cache.begin(T, idx.device)  # int, or per-row positions (B, T) for rows of different lengths
        if loss_reduction not in ("mean", "sum", "none"):
            raise ValueError(f"loss_reduction must be 'mean', 'sum' or 'none', got {loss_reduction!r}")

        x = self.wte(idx)  # (B, T, d)
        if isinstance(start, int):
            positions = None
            rope = self.rope.get(start, T) if self.rope is not None else None  # (T, hs/2) cos, sin
        else:
            positions = start  # (B, T)
            rope = self.rope.at(positions) if self.rope is not None else None  # (B, T, hs/2) cos, sin
        if self.wpe is not None:
            if positions is None:
                x = x + self.wpe(torch.arange(start, start + T, device=idx.device))  # (T, d) broadcast over B
            else:
                x = x + self.wpe(positions)  # (B, T, d)
        if self.cfg.dropout and self.training:
            x = F.dropout(x, self.cfg.dropout, training=True)

        aux_losses = []
        for block in self.blocks:
            x, aux = block(x, rope, kv_cache)
            if aux is not None:
                aux_losses.append(aux)
        if kv_cache is not None:
            kv_cache.advance(T)
        x = self.norm_f(x)  # (B, T, d)
        aux_loss = torch.stack(aux_losses).mean() if aux_losses else None

        logits = loss = ce_loss = None
        fusable = type(self.lm_head) is nn.Linear  # not an inference-only quantized head (slmkit.model.quantize)
        if targets is not None and not return_logits and loss_reduction != "none" and fusable:
            # Training fast path: head matmul + cross-entropy fused in chunks, the (B*T, V) logits never stored.
            ce_loss = linear_cross_entropy(x.view(B * T, -1), self.lm_head.weight, targets.reshape(-1), loss_reduction)
        else:
            logits = self.lm_head(x)  # (B, T, V)
            if targets is not None:
                ce_loss = F.cross_entropy(
                    logits.view(B * T, -1), targets.reshape(-1), ignore_index=IGNORE_INDEX, reduction=loss_reduction
                )
                if loss_reduction == "none":
                    ce_loss = ce_loss.view(B, T)
        loss = ce_loss
        if ce_loss is not None and aux_loss is not None:
            # Added so that loss summed over counted tokens / their number == the "mean" loss, whatever the reduction.
            if loss_reduction == "mean":
                loss = ce_loss + aux_loss
            elif loss_reduction == "sum":
                loss = ce_loss + aux_loss * (targets != IGNORE_INDEX).sum()
            else:
                loss = ce_loss + aux_loss * (targets != IGNORE_INDEX)
        return ModelOutput(logits=logits if return_logits else None, loss=loss, aux_loss=aux_loss, ce_loss=ce_loss)
