import pytest
import torch

from slmkit.model import PRESETS, ModelConfig, Transformer, flops_per_token, param_counts, preset
from slmkit.model.flops import matmul_params_per_token


@pytest.mark.parametrize("name", PRESETS)
def test_analytic_param_counts_equal_the_module(name):
    cfg = PRESETS[name]
    with torch.device("meta"):  # no memory for the 124M-parameter presets
        model = Transformer(cfg)
    counts = param_counts(cfg)
    assert counts["total"] == model.num_params()
    assert counts["non_embedding"] == model.num_params(non_embedding=True)
    assert counts["embedding"] + counts["non_embedding"] == counts["total"]


@pytest.mark.parametrize(
    "cfg",
    [
        ModelConfig(n_kv_heads=2, tie_embeddings=False),
        ModelConfig(pos_emb="learned", norm="layernorm", mlp="gelu", bias=True),
        ModelConfig(norm="layernorm", bias=False, n_experts=3, moe_top_k=1, d_ff=100),
    ],
)
def test_analytic_param_counts_for_variants(cfg):
    with torch.device("meta"):
        model = Transformer(cfg)
    assert param_counts(cfg)["total"] == model.num_params()
    assert param_counts(cfg)["non_embedding"] == model.num_params(non_embedding=True)


def test_known_model_sizes():
    assert param_counts(preset("gpt2-124m"))["total"] == 124_439_808  # GPT-2 small as published by OpenAI/HF
    assert 7.5e6 < param_counts(preset("small"))["non_embedding"] < 8.5e6
    assert 105e6 < param_counts(preset("llama-110m"))["total"] < 112e6


@pytest.mark.parametrize("name", ["tiny", "small", "gpt2-124m", "llama-110m"])
def test_flops_follow_the_6n_rule(name):
    cfg = PRESETS[name]
    seq_len = 256
    n_with_head = param_counts(cfg)["non_embedding"] + cfg.vocab_size * cfg.d_model
    attention = 12 * cfg.n_layers * cfg.d_model * seq_len
    flops = flops_per_token(cfg, seq_len=seq_len)
    # 6N (N incl. the LM head) + attention; norms/biases are left out, so within 1%
    assert flops == pytest.approx(6 * n_with_head + attention, rel=0.01)
    assert flops_per_token(cfg, seq_len=seq_len, training=False) == pytest.approx(flops / 3)
    assert flops_per_token(cfg) == flops_per_token(cfg, seq_len=cfg.context_length)  # default: full context


def test_moe_flops_count_only_active_experts():
    dense = ModelConfig()
    moe = ModelConfig(n_experts=8, moe_top_k=2)
    mlp = 3 * dense.d_model * dense.ffn_dim
    router = dense.d_model * 8
    assert matmul_params_per_token(moe) - matmul_params_per_token(dense) == dense.n_layers * (mlp + router)
    assert param_counts(moe)["total"] - param_counts(dense)["total"] == dense.n_layers * (7 * mlp + router)
