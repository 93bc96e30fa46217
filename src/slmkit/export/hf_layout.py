"""How a slmkit model maps onto Hugging Face `transformers` architectures, both ways (export and import).

Three architectures represent our configs exactly:
- `llama` (LlamaForCausalLM): RoPE + RMSNorm + SwiGLU (biases -> `attention_bias`/`mlp_bias`), any GQA.
- `gpt2` (GPT2LMHeadModel): learned positions + LayerNorm + GELU(tanh) MLP, no GQA. GPT-2 always has biases, so a
  bias-free model exports zero biases (the same function).
- `mixtral` (MixtralForCausalLM): the llama layout with top-k routed SwiGLU experts (softmax, top-k, renormalised
  over the k: the routing of `slmkit.model.moe` in eval mode, where no token is dropped). No biases.
Anything else (e.g. RoPE with LayerNorm) raises a one-line `ConfigError` naming the field.

Our weights are already in HF's layouts (see `slmkit.model.layers`): fused rows `[q | k | v]` and `[gate | up]` are
row slices, RoPE is rotate-half. MoE experts are written in the classic Hub layout (`block_sparse_moe.experts.E.w1`
= gate, `w3` = up, `w2` = down), which transformers 5 fuses on load and vLLM / llama.cpp's converter read as-is.

Example:
    arch = hf_architecture(cfg); tensors = to_hf_state(model.state_dict(), cfg, arch)
"""

from __future__ import annotations

from typing import Any, Literal

import torch

from slmkit.common.errors import ConfigError
from slmkit.model.config import ModelConfig

HFArch = Literal["llama", "gpt2", "mixtral"]
HF_CLASS = {"llama": "LlamaForCausalLM", "gpt2": "GPT2LMHeadModel", "mixtral": "MixtralForCausalLM"}
GELU_TANH = ("gelu_new", "gelu_pytorch_tanh", "gelu_fast")  # HF names of the tanh-approximated GELU


def hf_architecture(cfg: ModelConfig) -> HFArch:
    """The HF architecture that computes exactly what `cfg` computes, or a ConfigError naming the field that none
    can represent. Example: `hf_architecture(preset("tiny")) == "llama"`"""
    if cfg.pos_emb == "rope":
        if cfg.norm != "rmsnorm":
            raise ConfigError("model.norm", found=cfg.norm, expected="rmsnorm for a RoPE model (Llama/Mixtral "
                              "layout); layernorm exports only with pos_emb=learned and mlp=gelu (GPT-2)")
        if cfg.mlp != "swiglu":
            raise ConfigError("model.mlp", found=cfg.mlp, expected="swiglu for a RoPE model (Llama/Mixtral layout); "
                              "gelu exports only with pos_emb=learned and norm=layernorm (GPT-2)")
        if cfg.is_moe:
            if cfg.bias:
                raise ConfigError("model.bias", found=True, expected="False for a mixture of experts "
                                  "(MixtralForCausalLM has no biases)")
            return "mixtral"
        return "llama"
    # learned absolute positions: GPT-2
    if cfg.norm != "layernorm":
        raise ConfigError("model.norm", found=cfg.norm, expected="layernorm for pos_emb=learned (GPT-2 layout)")
    if cfg.mlp != "gelu":
        raise ConfigError("model.mlp", found=cfg.mlp, expected="gelu for pos_emb=learned (GPT-2 layout)")
    if cfg.is_moe:
        raise ConfigError("model.n_experts", found=cfg.n_experts, expected="0 for pos_emb=learned (GPT-2 has no "
                          "mixture of experts; use pos_emb=rope for Mixtral)")
    if cfg.kv_heads != cfg.n_heads:
        raise ConfigError("model.n_kv_heads", found=cfg.n_kv_heads, expected=f"None or n_heads={cfg.n_heads} "
                          "(GPT-2 has no grouped-query attention)")
    return "gpt2"


def hf_config(cfg: ModelConfig, arch: HFArch, bos_id: int, eos_id: int, pad_id: int) -> dict[str, Any]:
    """config.json for `transformers` (classic keys, which transformers 4.x and 5.x, vLLM and llama.cpp's
    converter all read). Example: `hf_config(cfg, "llama", 0, 0, 1)["model_type"] == "llama"`"""
    common = {
        "architectures": [HF_CLASS[arch]],
        "model_type": arch,
        "vocab_size": cfg.vocab_size,
        "bos_token_id": bos_id,
        "eos_token_id": eos_id,
        "pad_token_id": pad_id,
        "tie_word_embeddings": cfg.tie_embeddings,
        "torch_dtype": "float32",
        "use_cache": True,
    }
    if arch == "gpt2":
        return common | {
            "n_positions": cfg.context_length,
            "n_embd": cfg.d_model,
            "n_layer": cfg.n_layers,
            "n_head": cfg.n_heads,
            "n_inner": cfg.ffn_dim,
            "activation_function": "gelu_new",
            "layer_norm_epsilon": cfg.norm_eps,
            "resid_pdrop": 0.0,
            "embd_pdrop": 0.0,
            "attn_pdrop": 0.0,
            "scale_attn_weights": True,
            "scale_attn_by_inverse_layer_idx": False,
            "reorder_and_upcast_attn": False,
        }
    out = common | {
        "hidden_size": cfg.d_model,
        "intermediate_size": cfg.ffn_dim,
        "num_hidden_layers": cfg.n_layers,
        "num_attention_heads": cfg.n_heads,
        "num_key_value_heads": cfg.kv_heads,
        "head_dim": cfg.head_dim,
        "max_position_embeddings": cfg.context_length,
        "hidden_act": "silu",
        "rms_norm_eps": cfg.norm_eps,
        "rope_theta": cfg.rope_theta,
        "rope_scaling": None,
        "attention_dropout": 0.0,
    }
    if arch == "llama":
        return out | {"attention_bias": cfg.bias, "mlp_bias": cfg.bias, "pretraining_tp": 1}
    return out | {
        "num_local_experts": cfg.n_experts,
        "num_experts_per_tok": cfg.moe_top_k,
        "router_aux_loss_coef": cfg.moe_aux_loss_coef,
        "output_router_logits": False,
        "sliding_window": None,
    }


# ------------------------------------------------------------------------------------------------ export
def to_hf_state(state: dict[str, torch.Tensor], cfg: ModelConfig, arch: HFArch) -> dict[str, torch.Tensor]:
    """Our `model.state_dict()` renamed/sliced into `arch`'s tensor names (contiguous copies).

    Example: `to_hf_state(model.state_dict(), cfg, "llama")["model.norm.weight"]`
    """
    out = _gpt2_from_ours(state, cfg) if arch == "gpt2" else _llama_from_ours(state, cfg, arch)
    return {name: t.detach().contiguous().clone() for name, t in out.items()}


def _qkv_rows(cfg: ModelConfig) -> tuple[int, int]:
    return cfg.n_heads * cfg.head_dim, cfg.kv_heads * cfg.head_dim


def _llama_from_ours(state: dict[str, torch.Tensor], cfg: ModelConfig, arch: HFArch) -> dict[str, torch.Tensor]:
    q_rows, kv_rows = _qkv_rows(cfg)
    ff = cfg.ffn_dim
    out = {"model.embed_tokens.weight": state["wte.weight"], "model.norm.weight": state["norm_f.weight"]}
    if not cfg.tie_embeddings:
        out["lm_head.weight"] = state["lm_head.weight"]
    for i in range(cfg.n_layers):
        ours, hf = f"blocks.{i}.", f"model.layers.{i}."
        out[hf + "input_layernorm.weight"] = state[ours + "norm_attn.weight"]
        out[hf + "post_attention_layernorm.weight"] = state[ours + "norm_mlp.weight"]
        kinds = ("weight", "bias") if cfg.bias else ("weight",)
        for kind in kinds:
            qkv = state[f"{ours}attn.qkv.{kind}"]  # rows [q | k | v]
            out[f"{hf}self_attn.q_proj.{kind}"] = qkv[:q_rows]
            out[f"{hf}self_attn.k_proj.{kind}"] = qkv[q_rows : q_rows + kv_rows]
            out[f"{hf}self_attn.v_proj.{kind}"] = qkv[q_rows + kv_rows :]
            out[f"{hf}self_attn.o_proj.{kind}"] = state[f"{ours}attn.proj.{kind}"]
        if arch == "mixtral":
            moe = hf + "block_sparse_moe."
            out[moe + "gate.weight"] = state[ours + "mlp.router.weight"]
            for e in range(cfg.n_experts):
                gate_up = state[f"{ours}mlp.experts.{e}.gate_up.weight"]  # rows [gate | up]
                out[f"{moe}experts.{e}.w1.weight"] = gate_up[:ff]
                out[f"{moe}experts.{e}.w3.weight"] = gate_up[ff:]
                out[f"{moe}experts.{e}.w2.weight"] = state[f"{ours}mlp.experts.{e}.down.weight"]
            continue
        for kind in kinds:
            gate_up = state[f"{ours}mlp.gate_up.{kind}"]
            out[f"{hf}mlp.gate_proj.{kind}"] = gate_up[:ff]
            out[f"{hf}mlp.up_proj.{kind}"] = gate_up[ff:]
            out[f"{hf}mlp.down_proj.{kind}"] = state[f"{ours}mlp.down.{kind}"]
    return out


def _bias_or_zeros(state: dict[str, torch.Tensor], name: str, size: int, like: torch.Tensor) -> torch.Tensor:
    """GPT-2 always has biases: a bias-free layer is the same function with zero biases."""
    return state[name] if name in state else torch.zeros(size, dtype=like.dtype)


def _gpt2_from_ours(state: dict[str, torch.Tensor], cfg: ModelConfig) -> dict[str, torch.Tensor]:
    wte = state["wte.weight"]
    d = cfg.d_model
    out = {
        "transformer.wte.weight": wte,
        "transformer.wpe.weight": state["wpe.weight"],
        "transformer.ln_f.weight": state["norm_f.weight"],
        "transformer.ln_f.bias": _bias_or_zeros(state, "norm_f.bias", d, wte),
    }
    if not cfg.tie_embeddings:
        out["lm_head.weight"] = state["lm_head.weight"]
    qkv_out = 3 * d
    for i in range(cfg.n_layers):
        ours, hf = f"blocks.{i}.", f"transformer.h.{i}."
        # GPT-2's Conv1D stores weights as (in, out): the transpose of nn.Linear's (out, in).
        pairs = {
            "ln_1": ("norm_attn", d, False),
            "attn.c_attn": ("attn.qkv", qkv_out, True),
            "attn.c_proj": ("attn.proj", d, True),
            "ln_2": ("norm_mlp", d, False),
            "mlp.c_fc": ("mlp.fc", cfg.ffn_dim, True),
            "mlp.c_proj": ("mlp.proj", d, True),
        }
        for hf_name, (our_name, size, conv1d) in pairs.items():
            weight = state[f"{ours}{our_name}.weight"]
            out[f"{hf}{hf_name}.weight"] = weight.t() if conv1d else weight
            out[f"{hf}{hf_name}.bias"] = _bias_or_zeros(state, f"{ours}{our_name}.bias", size, wte)
    return out


# ------------------------------------------------------------------------------------------------ import
def model_config_from_hf(hf: dict[str, Any], where: str = "config.json") -> tuple[ModelConfig, HFArch]:
    """The ModelConfig computing what an HF GPT-2 / Llama / Mixtral config.json computes, or a ConfigError naming
    the first field we cannot represent. Example: `cfg, arch = model_config_from_hf(json.load(f))`"""
    model_type = hf.get("model_type")

    def field(name: str, default: Any = None, required: bool = True) -> Any:
        if name not in hf or hf[name] is None:
            if required and default is None:
                raise ConfigError(f"{where}: {name}", found="nothing", expected=f"a value for {model_type}")
            return default
        return hf[name]

    def require(name: str, ok: bool, expected: str) -> None:
        if not ok:
            raise ConfigError(f"{where}: {name}", found=hf.get(name), expected=expected)

    if model_type == "gpt2":
        require("activation_function", hf.get("activation_function", "gelu_new") in GELU_TANH,
                f"one of {', '.join(GELU_TANH)} (slmkit's GELU is the tanh approximation)")
        require("scale_attn_weights", hf.get("scale_attn_weights", True) is True, "true")
        require("scale_attn_by_inverse_layer_idx", not hf.get("scale_attn_by_inverse_layer_idx", False), "false")
        require("reorder_and_upcast_attn", not hf.get("reorder_and_upcast_attn", False), "false")
        d_model = field("n_embd")
        cfg = ModelConfig(
            vocab_size=field("vocab_size"), context_length=field("n_positions"), n_layers=field("n_layer"),
            n_heads=field("n_head"), d_model=d_model, d_ff=field("n_inner", 4 * d_model),
            pos_emb="learned", norm="layernorm", mlp="gelu", bias=True,
            tie_embeddings=hf.get("tie_word_embeddings", True), norm_eps=field("layer_norm_epsilon", 1e-5),
        )
        return cfg, "gpt2"
    if model_type not in ("llama", "mixtral"):
        raise ConfigError(f"{where}: model_type", found=model_type, expected="gpt2, llama or mixtral")
    require("hidden_act", hf.get("hidden_act", "silu") == "silu", "silu (SwiGLU)")
    require("rope_scaling", not hf.get("rope_scaling"), "null (slmkit's RoPE has no scaling)")
    rope = hf.get("rope_parameters") or {}
    require("rope_parameters", rope.get("rope_type", "default") == "default", "rope_type default")
    require("pretraining_tp", hf.get("pretraining_tp", 1) == 1, "1")
    d_model, n_heads = field("hidden_size"), field("num_attention_heads")
    require("head_dim", hf.get("head_dim") in (None, d_model // n_heads), f"hidden_size/num_attention_heads = "
            f"{d_model // n_heads} (slmkit derives the head width)")
    n_kv_heads = hf.get("num_key_value_heads")
    n_kv_heads = None if n_kv_heads in (None, n_heads) else n_kv_heads  # None: plain multi-head attention
    attention_bias, mlp_bias = bool(hf.get("attention_bias", False)), bool(hf.get("mlp_bias", False))
    require("mlp_bias", attention_bias == mlp_bias, f"equal to attention_bias={attention_bias} (slmkit has one "
            "bias switch)")
    kwargs: dict[str, Any] = dict(
        vocab_size=field("vocab_size"), context_length=field("max_position_embeddings"),
        n_layers=field("num_hidden_layers"), n_heads=n_heads, n_kv_heads=n_kv_heads,
        d_model=d_model, d_ff=field("intermediate_size"), pos_emb="rope", norm="rmsnorm", mlp="swiglu",
        bias=attention_bias, tie_embeddings=bool(hf.get("tie_word_embeddings", False)),
        rope_theta=float(rope.get("rope_theta") or hf.get("rope_theta") or 10000.0),
        norm_eps=field("rms_norm_eps", 1e-6),
    )
    if model_type == "mixtral":
        require("sliding_window", not hf.get("sliding_window"), "null (slmkit attends to the whole context)")
        kwargs |= dict(n_experts=field("num_local_experts"), moe_top_k=field("num_experts_per_tok"),
                       moe_aux_loss_coef=float(hf.get("router_aux_loss_coef", 0.01)))
    return ModelConfig(**kwargs), model_type


def from_hf_state(hf: dict[str, torch.Tensor], cfg: ModelConfig, arch: HFArch) -> dict[str, torch.Tensor]:
    """HF tensors (names as `to_hf_state` writes them) back into our state-dict names. Tied models get
    `lm_head.weight` = the embedding. Raises KeyError on a missing tensor (the caller turns it into an InputError).

    Example: `model.load_state_dict(from_hf_state(tensors, cfg, "llama"))`
    """
    out: dict[str, torch.Tensor] = {}
    if arch == "gpt2":
        out |= {"wte.weight": hf["transformer.wte.weight"], "wpe.weight": hf["transformer.wpe.weight"],
                "norm_f.weight": hf["transformer.ln_f.weight"], "norm_f.bias": hf["transformer.ln_f.bias"]}
        for i in range(cfg.n_layers):
            ours, src = f"blocks.{i}.", f"transformer.h.{i}."
            for hf_name, our_name, conv1d in (("ln_1", "norm_attn", False), ("attn.c_attn", "attn.qkv", True),
                                              ("attn.c_proj", "attn.proj", True), ("ln_2", "norm_mlp", False),
                                              ("mlp.c_fc", "mlp.fc", True), ("mlp.c_proj", "mlp.proj", True)):
                weight = hf[f"{src}{hf_name}.weight"]
                out[f"{ours}{our_name}.weight"] = weight.t() if conv1d else weight
                out[f"{ours}{our_name}.bias"] = hf[f"{src}{hf_name}.bias"]
        head = "lm_head.weight" if not cfg.tie_embeddings else "transformer.wte.weight"
    else:
        out |= {"wte.weight": hf["model.embed_tokens.weight"], "norm_f.weight": hf["model.norm.weight"]}
        kinds = ("weight", "bias") if cfg.bias else ("weight",)
        for i in range(cfg.n_layers):
            ours, src = f"blocks.{i}.", f"model.layers.{i}."
            out[ours + "norm_attn.weight"] = hf[src + "input_layernorm.weight"]
            out[ours + "norm_mlp.weight"] = hf[src + "post_attention_layernorm.weight"]
            for kind in kinds:
                attn = src + "self_attn."
                out[f"{ours}attn.qkv.{kind}"] = torch.cat(
                    [hf[f"{attn}q_proj.{kind}"], hf[f"{attn}k_proj.{kind}"], hf[f"{attn}v_proj.{kind}"]]
                )
                out[f"{ours}attn.proj.{kind}"] = hf[f"{attn}o_proj.{kind}"]
            if arch == "mixtral":
                out |= _mixtral_experts_from_hf(hf, cfg, i)
                continue
            for kind in kinds:
                mlp = src + "mlp."
                out[f"{ours}mlp.gate_up.{kind}"] = torch.cat([hf[f"{mlp}gate_proj.{kind}"], hf[f"{mlp}up_proj.{kind}"]])
                out[f"{ours}mlp.down.{kind}"] = hf[f"{mlp}down_proj.{kind}"]
        head = "lm_head.weight" if not cfg.tie_embeddings else "model.embed_tokens.weight"
    out["lm_head.weight"] = hf[head]
    return out


def _mixtral_experts_from_hf(hf: dict[str, torch.Tensor], cfg: ModelConfig, i: int) -> dict[str, torch.Tensor]:
    """Experts of layer i from the classic Hub layout (w1/w2/w3 per expert) or transformers 5's fused one."""
    ours, src = f"blocks.{i}.mlp.", f"model.layers.{i}."
    out = {}
    if f"{src}block_sparse_moe.gate.weight" in hf:
        moe = src + "block_sparse_moe."
        out[ours + "router.weight"] = hf[moe + "gate.weight"]
        for e in range(cfg.n_experts):
            w = f"{moe}experts.{e}."
            out[f"{ours}experts.{e}.gate_up.weight"] = torch.cat([hf[w + "w1.weight"], hf[w + "w3.weight"]])
            out[f"{ours}experts.{e}.down.weight"] = hf[w + "w2.weight"]
        return out
    out[ours + "router.weight"] = hf[src + "mlp.gate.weight"]
    gate_up, down = hf[src + "mlp.experts.gate_up_proj"], hf[src + "mlp.experts.down_proj"]  # (E, 2ff, d), (E, d, ff)
    for e in range(cfg.n_experts):
        out[f"{ours}experts.{e}.gate_up.weight"] = gate_up[e]
        out[f"{ours}experts.{e}.down.weight"] = down[e]
    return out
