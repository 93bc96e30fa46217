"""Our weight layout maps onto transformers' Llama and GPT-2 by slicing/transposing only (export relies on this)."""

import pytest
import torch

from slmkit.model import ModelConfig, Transformer

transformers = pytest.importorskip("transformers")


def test_llama_layout_matches_transformers():
    cfg = ModelConfig(vocab_size=61, context_length=16, n_layers=2, n_heads=4, n_kv_heads=2, d_model=32)
    ours = Transformer(cfg).eval()
    hf = transformers.LlamaForCausalLM(
        transformers.LlamaConfig(
            vocab_size=61,
            hidden_size=32,
            intermediate_size=cfg.ffn_dim,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            max_position_embeddings=16,
            rms_norm_eps=cfg.norm_eps,
            rope_theta=cfg.rope_theta,
            tie_word_embeddings=True,
            attn_implementation="eager",
        )
    ).eval()
    q_rows, kv_rows, ff = 4 * 8, 2 * 8, cfg.ffn_dim
    state = {"model.embed_tokens.weight": ours.wte.weight, "model.norm.weight": ours.norm_f.weight}
    for i, block in enumerate(ours.blocks):
        p = f"model.layers.{i}."
        qkv = block.attn.qkv.weight
        state |= {
            p + "input_layernorm.weight": block.norm_attn.weight,
            p + "self_attn.q_proj.weight": qkv[:q_rows],
            p + "self_attn.k_proj.weight": qkv[q_rows : q_rows + kv_rows],
            p + "self_attn.v_proj.weight": qkv[q_rows + kv_rows :],
            p + "self_attn.o_proj.weight": block.attn.proj.weight,
            p + "post_attention_layernorm.weight": block.norm_mlp.weight,
            p + "mlp.gate_proj.weight": block.mlp.gate_up.weight[:ff],
            p + "mlp.up_proj.weight": block.mlp.gate_up.weight[ff:],
            p + "mlp.down_proj.weight": block.mlp.down.weight,
        }
    missing, unexpected = hf.load_state_dict(state, strict=False)
    assert not unexpected and set(missing) <= {"lm_head.weight"}
    hf.tie_weights()
    idx = torch.randint(0, 61, (2, 11))
    with torch.no_grad():
        torch.testing.assert_close(ours(idx).logits, hf(idx).logits, atol=1e-5, rtol=1e-4)


def test_gpt2_layout_matches_transformers():
    cfg = ModelConfig(
        vocab_size=61,
        context_length=16,
        n_layers=2,
        n_heads=4,
        d_model=32,
        pos_emb="learned",
        norm="layernorm",
        mlp="gelu",
        bias=True,
        tie_embeddings=True,
    )
    ours = Transformer(cfg)
    with torch.no_grad():  # non-trivial norms and biases so every parameter is checked
        for name, param in ours.named_parameters():
            if "norm" in name or name.endswith("bias"):
                param.add_(torch.randn_like(param) * 0.1)
    ours.eval()
    hf = transformers.GPT2LMHeadModel(
        transformers.GPT2Config(
            vocab_size=61,
            n_positions=16,
            n_embd=32,
            n_layer=2,
            n_head=4,
            activation_function="gelu_new",
            layer_norm_epsilon=cfg.norm_eps,
            resid_pdrop=0.0,
            embd_pdrop=0.0,
            attn_pdrop=0.0,
        )
    ).eval()
    state = {
        "transformer.wte.weight": ours.wte.weight,
        "transformer.wpe.weight": ours.wpe.weight,
        "transformer.ln_f.weight": ours.norm_f.weight,
        "transformer.ln_f.bias": ours.norm_f.bias,
    }
    for i, block in enumerate(ours.blocks):
        p = f"transformer.h.{i}."
        state |= {  # GPT-2's Conv1D stores (in, out): transpose our Linear weights
            p + "ln_1.weight": block.norm_attn.weight,
            p + "ln_1.bias": block.norm_attn.bias,
            p + "attn.c_attn.weight": block.attn.qkv.weight.t(),
            p + "attn.c_attn.bias": block.attn.qkv.bias,
            p + "attn.c_proj.weight": block.attn.proj.weight.t(),
            p + "attn.c_proj.bias": block.attn.proj.bias,
            p + "ln_2.weight": block.norm_mlp.weight,
            p + "ln_2.bias": block.norm_mlp.bias,
            p + "mlp.c_fc.weight": block.mlp.fc.weight.t(),
            p + "mlp.c_fc.bias": block.mlp.fc.bias,
            p + "mlp.c_proj.weight": block.mlp.proj.weight.t(),
            p + "mlp.c_proj.bias": block.mlp.proj.bias,
        }
    missing, unexpected = hf.load_state_dict(state, strict=False)
    assert not unexpected
    assert all(k == "lm_head.weight" or ".attn.bias" in k or "masked_bias" in k for k in missing)
    hf.tie_weights()
    idx = torch.randint(0, 61, (2, 11))
    with torch.no_grad():
        torch.testing.assert_close(ours(idx).logits, hf(idx).logits, atol=1e-5, rtol=1e-4)
