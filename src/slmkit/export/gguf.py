"""`slm export gguf`: a checkpoint as one GGUF file that llama.cpp (llama-cli, llama-server, Ollama) runs.

Architectures (the same ones `hf_layout` accepts): Llama layouts, dense or mixture of experts, become llama.cpp's
`llama` architecture (Mixtral is `llama` with `ffn_*_exps` expert tensors); GPT-2 layouts become `gpt2`.

Layouts follow llama.cpp's own converter (convert_hf_to_gguf.py):
- llama.cpp's `llama` RoPE rotates adjacent pairs (2i, 2i+1) while our (and HF's) heads rotate i with i+hs/2, so the
  rows of Q and K (weights and biases) are permuted per head: `permute_rotary_rows` (the converter's
  `LlamaModel.permute`). V, O and everything else keep their rows.
- GGUF stores shapes fastest-dimension first, so a (rows, cols) numpy matrix is a {cols, rows} ggml tensor: the
  same memory as our nn.Linear (out, in) weights. Expert weights are stacked to (n_experts, rows, cols).
- GPT-2's llama.cpp graph requires biases and LayerNorm biases: a bias-free model gets zeros (the same function).

Tokenizer: byte-level BPE (`tokenizer.ggml.model = gpt2`) with pre-tokenizer `gpt-2` (our ByteLevel pre-tokenizer
uses GPT-2's split regex), the token strings and merges of tokenizer.json, special tokens typed CONTROL, padding rows
beyond the tokenizer typed UNUSED, bos = eos = `<|endoftext|>` (added in front of prompts, as in training), eot =
`<|end|>` (end of a chat turn), pad = `<|pad|>`, and the chat template.

Example:
    slm export gguf --ckpt runs/quickstart/ckpt/pretrain --out exports/quickstart.gguf --dtype q8_0
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from slmkit.common.atomic import atomic_path
from slmkit.common.log import print0
from slmkit.config import check, opt
from slmkit.export.hf_layout import hf_architecture
from slmkit.infer.load import load_checkpoint
from slmkit.model.config import ModelConfig
from slmkit.tokenizer import CHAT_TEMPLATE, Tokenizer
from slmkit.tokenizer.special import END, SPECIAL_TOKENS

GGUFDtype = Literal["f32", "f16", "q8_0"]
Q8_BLOCK = 32  # q8_0 quantizes rows in blocks of 32 values


@dataclass
class ExportGGUFConfig:
    ckpt: str = opt(None, "checkpoint folder, ckpt/<stage> folder or run directory")
    out: str = opt(None, "output .gguf file (replaced when it exists)")
    dtype: GGUFDtype = opt("f32", "weight type of the matrices: f32, f16 or q8_0 (norms and biases stay f32)")
    name: str | None = opt(None, "general.name in the file (default: the output file's stem)")

    def __post_init__(self):
        check(self.ckpt is not None, "ckpt", self.ckpt, "a checkpoint (--ckpt DIR)")
        check(self.out is not None, "out", self.out, "an output file (--out FILE.gguf)")
        check(self.dtype in ("f32", "f16", "q8_0"), "dtype", self.dtype, "f32, f16 or q8_0")


def gguf_arch(cfg: ModelConfig) -> str:
    """llama.cpp architecture name for `cfg` (ConfigError when none fits). Example: `gguf_arch(preset("tiny"))`"""
    return "gpt2" if hf_architecture(cfg) == "gpt2" else "llama"


def permute_rotary_rows(w: torch.Tensor, n_heads: int) -> torch.Tensor:
    """Rows of a Q or K projection (weight (n_heads*hs, d) or bias (n_heads*hs,)) from rotate-half order (i pairs
    with i+hs/2) to llama.cpp's interleaved order (2i pairs with 2i+1). Example: `permute_rotary_rows(wq, 4)`"""
    rest = w.shape[1:]
    return w.reshape(n_heads, 2, w.shape[0] // n_heads // 2, *rest).transpose(1, 2).reshape(w.shape)


def unpermute_rotary_rows(w: torch.Tensor, n_heads: int) -> torch.Tensor:
    """Inverse of `permute_rotary_rows`. Example: `unpermute_rotary_rows(permute_rotary_rows(w, 4), 4) == w`"""
    rest = w.shape[1:]
    return w.reshape(n_heads, w.shape[0] // n_heads // 2, 2, *rest).transpose(1, 2).reshape(w.shape)


# ------------------------------------------------------------------------------------------------ tensors
def gguf_tensors(state: dict[str, torch.Tensor], cfg: ModelConfig) -> dict[str, torch.Tensor]:
    """Our state dict as llama.cpp tensor names and layouts (fp32). Example: `gguf_tensors(model.state_dict(), cfg)`"""
    state = {k: v.detach().float() for k, v in state.items()}
    return _gpt2_tensors(state, cfg) if gguf_arch(cfg) == "gpt2" else _llama_tensors(state, cfg)


def _llama_tensors(state: dict[str, torch.Tensor], cfg: ModelConfig) -> dict[str, torch.Tensor]:
    q_rows, kv_rows, ff = cfg.n_heads * cfg.head_dim, cfg.kv_heads * cfg.head_dim, cfg.ffn_dim
    out = {"token_embd.weight": state["wte.weight"], "output_norm.weight": state["norm_f.weight"]}
    if not cfg.tie_embeddings:
        out["output.weight"] = state["lm_head.weight"]  # absent: llama.cpp reuses token_embd
    for i in range(cfg.n_layers):
        ours, blk = f"blocks.{i}.", f"blk.{i}."
        out[blk + "attn_norm.weight"] = state[ours + "norm_attn.weight"]
        out[blk + "ffn_norm.weight"] = state[ours + "norm_mlp.weight"]
        for kind in ("weight", "bias") if cfg.bias else ("weight",):
            qkv = state[f"{ours}attn.qkv.{kind}"]  # rows [q | k | v]
            out[f"{blk}attn_q.{kind}"] = permute_rotary_rows(qkv[:q_rows], cfg.n_heads)
            out[f"{blk}attn_k.{kind}"] = permute_rotary_rows(qkv[q_rows : q_rows + kv_rows], cfg.kv_heads)
            out[f"{blk}attn_v.{kind}"] = qkv[q_rows + kv_rows :]
            out[f"{blk}attn_output.{kind}"] = state[f"{ours}attn.proj.{kind}"]
            if not cfg.is_moe:
                gate_up = state[f"{ours}mlp.gate_up.{kind}"]  # rows [gate | up]
                out[f"{blk}ffn_gate.{kind}"] = gate_up[:ff]
                out[f"{blk}ffn_up.{kind}"] = gate_up[ff:]
                out[f"{blk}ffn_down.{kind}"] = state[f"{ours}mlp.down.{kind}"]
        if cfg.is_moe:
            experts = range(cfg.n_experts)
            gate_up = [state[f"{ours}mlp.experts.{e}.gate_up.weight"] for e in experts]
            out[blk + "ffn_gate_inp.weight"] = state[ours + "mlp.router.weight"]  # (E, d)
            out[blk + "ffn_gate_exps.weight"] = torch.stack([w[:ff] for w in gate_up])  # (E, ff, d)
            out[blk + "ffn_up_exps.weight"] = torch.stack([w[ff:] for w in gate_up])  # (E, ff, d)
            out[blk + "ffn_down_exps.weight"] = torch.stack(
                [state[f"{ours}mlp.experts.{e}.down.weight"] for e in experts]
            )  # (E, d, ff)
    return out


def _gpt2_tensors(state: dict[str, torch.Tensor], cfg: ModelConfig) -> dict[str, torch.Tensor]:
    def bias(name: str, size: int) -> torch.Tensor:
        return state.get(name, torch.zeros(size))

    d = cfg.d_model
    out = {
        "token_embd.weight": state["wte.weight"],
        "position_embd.weight": state["wpe.weight"],
        "output_norm.weight": state["norm_f.weight"],
        "output_norm.bias": bias("norm_f.bias", d),
    }
    if not cfg.tie_embeddings:
        out["output.weight"] = state["lm_head.weight"]
    for i in range(cfg.n_layers):
        ours, blk = f"blocks.{i}.", f"blk.{i}."
        for gguf_name, our_name, size in (
            ("attn_norm", "norm_attn", d),
            ("attn_qkv", "attn.qkv", 3 * d),
            ("attn_output", "attn.proj", d),
            ("ffn_norm", "norm_mlp", d),
            ("ffn_up", "mlp.fc", cfg.ffn_dim),
            ("ffn_down", "mlp.proj", d),
        ):
            out[f"{blk}{gguf_name}.weight"] = state[f"{ours}{our_name}.weight"]
            out[f"{blk}{gguf_name}.bias"] = bias(f"{ours}{our_name}.bias", size)
    return out


def _encode_tensor(gguf, array: np.ndarray, dtype: GGUFDtype) -> tuple[np.ndarray, Any]:
    """(data, raw ggml type or None) for one tensor: vectors stay f32 (as llama.cpp's converter keeps them);
    q8_0 falls back to f16 for rows that are not a multiple of 32 values."""
    if array.ndim == 1 or dtype == "f32":
        return array.astype(np.float32), None
    if dtype == "q8_0" and array.shape[-1] % Q8_BLOCK == 0:
        qtype = gguf.GGMLQuantizationType.Q8_0
        return gguf.quants.quantize(array.astype(np.float32), qtype), qtype
    return array.astype(np.float16), None


# ------------------------------------------------------------------------------------------------ tokenizer
def tokenizer_vocab(tokenizer: Tokenizer, n_vocab: int) -> tuple[list[str], list[int], list[str]]:
    """Token strings (byte-level form), token types and merges ("a b") for GGUF; ids beyond the tokenizer up to the
    model's vocab_size become UNUSED `[PAD<i>]` tokens (llama.cpp needs one token per embedding row)."""
    import gguf

    spec = json.loads(tokenizer.json_text)
    by_id = {i: t for t, i in tokenizer.hf_tokenizer.get_vocab(with_added_tokens=True).items()}
    tokens, types = [], []
    for i in range(n_vocab):
        if i in by_id:
            tokens.append(by_id[i])
            special = by_id[i] in SPECIAL_TOKENS
            types.append(int(gguf.TokenType.CONTROL if special else gguf.TokenType.NORMAL))
        else:
            tokens.append(f"[PAD{i}]")
            types.append(int(gguf.TokenType.UNUSED))
    merges = [m if isinstance(m, str) else " ".join(m) for m in spec["model"].get("merges", [])]
    return tokens, types, merges


# ------------------------------------------------------------------------------------------------ writer
def write_gguf(path: Path, model, tokenizer: Tokenizer, dtype: GGUFDtype = "f32", name: str = "slmkit") -> int:
    """Write `model` + `tokenizer` as a GGUF file atomically; returns the number of tensors. Example: see module."""
    import gguf

    cfg: ModelConfig = model.cfg
    arch = gguf_arch(cfg)  # a one-line ConfigError before anything is written
    tensors = gguf_tensors(model.state_dict(), cfg)
    file_type = {"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16,
                 "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0}[dtype]
    with atomic_path(path) as tmp:
        writer = gguf.GGUFWriter(str(tmp), arch)
        writer.add_name(name)
        writer.add_file_type(int(file_type))
        writer.add_context_length(cfg.context_length)
        writer.add_embedding_length(cfg.d_model)
        writer.add_block_count(cfg.n_layers)
        writer.add_feed_forward_length(cfg.ffn_dim)
        writer.add_head_count(cfg.n_heads)
        writer.add_head_count_kv(cfg.kv_heads)
        writer.add_vocab_size(cfg.vocab_size)
        if arch == "gpt2":
            writer.add_layer_norm_eps(cfg.norm_eps)
        else:
            writer.add_layer_norm_rms_eps(cfg.norm_eps)
            writer.add_rope_freq_base(cfg.rope_theta)
            writer.add_rope_dimension_count(cfg.head_dim)
            if cfg.is_moe:
                writer.add_expert_count(cfg.n_experts)
                writer.add_expert_used_count(cfg.moe_top_k)
        tokens, types, merges = tokenizer_vocab(tokenizer, cfg.vocab_size)
        writer.add_tokenizer_model("gpt2")
        writer.add_tokenizer_pre("gpt-2")  # GPT-2's split regex, which our ByteLevel(use_regex=True) applies
        writer.add_token_list(tokens)
        writer.add_token_types(types)
        writer.add_token_merges(merges)
        writer.add_bos_token_id(tokenizer.eot_id)
        writer.add_eos_token_id(tokenizer.eot_id)
        writer.add_eot_token_id(tokenizer.special_ids[END])
        writer.add_pad_token_id(tokenizer.pad_id)
        writer.add_add_bos_token(True)  # prompts start with <|endoftext|>, as every training document does
        writer.add_add_eos_token(False)
        writer.add_chat_template(CHAT_TEMPLATE)
        for tensor_name, tensor in tensors.items():
            data, raw_dtype = _encode_tensor(gguf, tensor.contiguous().numpy(), dtype)
            writer.add_tensor(tensor_name, data, raw_dtype=raw_dtype)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()
    return len(tensors)


def export_gguf_stage(cfg: ExportGGUFConfig) -> dict[str, Any]:
    """Export a checkpoint to GGUF. Example: `export_gguf_stage(ExportGGUFConfig(ckpt=c, out="m.gguf"))`"""
    loaded = load_checkpoint(cfg.ckpt)
    out = Path(cfg.out)
    arch = gguf_arch(loaded.model.cfg)
    n = write_gguf(out, loaded.model, loaded.tokenizer, cfg.dtype, cfg.name or out.stem)
    size = out.stat().st_size
    print0(f"export gguf: {loaded.path} -> {out} ({arch}, {cfg.dtype}, {n} tensors, {size / 1e6:.1f} MB)")
    return {"out": str(out), "architecture": arch, "dtype": cfg.dtype, "tensors": n, "bytes": size}
