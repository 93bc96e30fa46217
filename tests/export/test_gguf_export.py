"""`slm export gguf`: the file read back with gguf's reader holds llama.cpp's metadata, our tokenizer, and our
weights (Q/K rows un-permuted from llama.cpp's interleaved RoPE order back to rotate-half), for every architecture."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from slmkit.export.gguf import ExportGGUFConfig, export_gguf_stage, permute_rotary_rows, unpermute_rotary_rows
from slmkit.tokenizer import CHAT_TEMPLATE

gguf = pytest.importorskip("gguf")


def read(path):
    reader = gguf.GGUFReader(str(path))
    meta = {name: field.contents() for name, field in reader.fields.items()}
    tensors = {}
    for t in reader.tensors:
        data = np.asarray(t.data)
        if t.tensor_type not in (gguf.GGMLQuantizationType.F32, gguf.GGMLQuantizationType.F16):
            data = gguf.quants.dequantize(data, t.tensor_type)
        tensors[t.name] = (torch.from_numpy(data.astype(np.float32).copy()), t.tensor_type)
    return meta, tensors


def expected_tensors(model) -> dict[str, torch.Tensor]:
    """Our weights under llama.cpp's names, in our own (rotate-half) row order; written independently of the
    exporter so that the test checks its mapping."""
    cfg, sd = model.cfg, {k: v.detach() for k, v in model.state_dict().items()}
    q, kv, ff, d = cfg.n_heads * cfg.head_dim, cfg.kv_heads * cfg.head_dim, cfg.ffn_dim, cfg.d_model
    out = {"token_embd.weight": sd["wte.weight"], "output_norm.weight": sd["norm_f.weight"]}
    if not cfg.tie_embeddings:
        out["output.weight"] = sd["lm_head.weight"]
    if cfg.pos_emb == "learned":
        out["position_embd.weight"] = sd["wpe.weight"]
        out["output_norm.bias"] = sd.get("norm_f.bias", torch.zeros(d))
        names = {"attn_norm": "norm_attn", "attn_qkv": "attn.qkv", "attn_output": "attn.proj",
                 "ffn_norm": "norm_mlp", "ffn_up": "mlp.fc", "ffn_down": "mlp.proj"}
        for i in range(cfg.n_layers):
            for g, o in names.items():
                w = sd[f"blocks.{i}.{o}.weight"]
                out[f"blk.{i}.{g}.weight"] = w
                out[f"blk.{i}.{g}.bias"] = sd.get(f"blocks.{i}.{o}.bias", torch.zeros(w.shape[0]))
        return out
    for i in range(cfg.n_layers):
        b, p = f"blk.{i}.", f"blocks.{i}."
        out[b + "attn_norm.weight"] = sd[p + "norm_attn.weight"]
        out[b + "ffn_norm.weight"] = sd[p + "norm_mlp.weight"]
        for kind in ("weight", "bias") if cfg.bias else ("weight",):
            qkv = sd[f"{p}attn.qkv.{kind}"]
            out[f"{b}attn_q.{kind}"], out[f"{b}attn_k.{kind}"], out[f"{b}attn_v.{kind}"] = qkv.split([q, kv, kv])
            out[f"{b}attn_output.{kind}"] = sd[f"{p}attn.proj.{kind}"]
            if not cfg.is_moe:
                out[f"{b}ffn_gate.{kind}"], out[f"{b}ffn_up.{kind}"] = sd[f"{p}mlp.gate_up.{kind}"].split([ff, ff])
                out[f"{b}ffn_down.{kind}"] = sd[f"{p}mlp.down.{kind}"]
        if cfg.is_moe:
            out[b + "ffn_gate_inp.weight"] = sd[p + "mlp.router.weight"]
            experts = [sd[f"{p}mlp.experts.{e}.gate_up.weight"].split([ff, ff]) for e in range(cfg.n_experts)]
            out[b + "ffn_gate_exps.weight"] = torch.stack([g for g, _ in experts])
            out[b + "ffn_up_exps.weight"] = torch.stack([u for _, u in experts])
            out[b + "ffn_down_exps.weight"] = torch.stack(
                [sd[f"{p}mlp.experts.{e}.down.weight"] for e in range(cfg.n_experts)])
    return out


def test_rotary_permutation_is_llama_cpp_interleaving():
    # head_dim 4, one head: rotate-half pairs (0,2) and (1,3) must become adjacent rows (0,1) and (2,3)
    rows = torch.tensor([[0.0], [1.0], [2.0], [3.0]])
    assert permute_rotary_rows(rows, 1).flatten().tolist() == [0.0, 2.0, 1.0, 3.0]
    w = torch.randn(3 * 8, 5)
    assert torch.equal(unpermute_rotary_rows(permute_rotary_rows(w, 3), 3), w)


@pytest.mark.parametrize("arch", ["llama", "llama-bias-untied", "gpt2-nobias", "mixtral"])
def test_gguf_round_trip(arch, make_ckpt, tmp_path, story_tokenizer):
    ckpt, model = make_ckpt(arch)
    cfg, tok = model.cfg, story_tokenizer
    out = tmp_path / "m.gguf"
    export_gguf_stage(ExportGGUFConfig(ckpt=str(ckpt), out=str(out), name="tiny"))
    meta, tensors = read(out)

    g = "gpt2" if cfg.pos_emb == "learned" else "llama"
    assert meta["general.architecture"] == g and meta["general.name"] == "tiny"
    assert meta[f"{g}.context_length"] == cfg.context_length and meta[f"{g}.block_count"] == cfg.n_layers
    assert meta[f"{g}.embedding_length"] == cfg.d_model and meta[f"{g}.feed_forward_length"] == cfg.ffn_dim
    assert meta[f"{g}.attention.head_count"] == cfg.n_heads
    assert meta[f"{g}.attention.head_count_kv"] == cfg.kv_heads
    if g == "llama":
        assert meta["llama.rope.freq_base"] == cfg.rope_theta
        assert meta["llama.rope.dimension_count"] == cfg.head_dim
        assert meta["llama.attention.layer_norm_rms_epsilon"] == pytest.approx(cfg.norm_eps)
        if cfg.is_moe:
            assert meta["llama.expert_count"] == cfg.n_experts
            assert meta["llama.expert_used_count"] == cfg.moe_top_k
    else:
        assert meta["gpt2.attention.layer_norm_epsilon"] == pytest.approx(cfg.norm_eps)

    assert meta["tokenizer.ggml.model"] == "gpt2" and meta["tokenizer.ggml.pre"] == "gpt-2"
    tokens, types = meta["tokenizer.ggml.tokens"], meta["tokenizer.ggml.token_type"]
    assert len(tokens) == cfg.vocab_size
    for i in range(tok.vocab_size):  # token strings are byte-level BPE symbols: check their bytes
        if i >= 6:
            assert tok.hf_tokenizer.id_to_token(i) == tokens[i]
    assert tokens[:6] == ["<|endoftext|>", "<|pad|>", "<|system|>", "<|user|>", "<|assistant|>", "<|end|>"]
    assert types[:6] == [3] * 6 and set(types[6 : tok.vocab_size]) == {1} and set(types[tok.vocab_size :]) == {5}
    assert len(meta["tokenizer.ggml.merges"]) == tok.vocab_size - 256 - 6
    assert meta["tokenizer.ggml.bos_token_id"] == tok.eot_id == meta["tokenizer.ggml.eos_token_id"]
    assert meta["tokenizer.ggml.padding_token_id"] == tok.pad_id and meta["tokenizer.ggml.eot_token_id"] == 5
    assert meta["tokenizer.chat_template"] == CHAT_TEMPLATE

    expected = expected_tensors(model)
    assert set(tensors) == set(expected)
    for name, (data, _) in tensors.items():
        if g == "llama" and (".attn_q." in name or ".attn_k." in name):
            data = unpermute_rotary_rows(data, cfg.n_heads if ".attn_q." in name else cfg.kv_heads)
        torch.testing.assert_close(data, expected[name].float(), atol=0, rtol=0, msg=name)


@pytest.mark.parametrize("dtype", ["f16", "q8_0"])
def test_gguf_low_precision(dtype, make_ckpt, tmp_path):
    ckpt, model = make_ckpt("llama", d_model=64, d_ff=128)  # rows of 64 and 128: q8_0 blocks of 32 fit
    out = tmp_path / "m.gguf"
    export_gguf_stage(ExportGGUFConfig(ckpt=str(ckpt), out=str(out), dtype=dtype))
    meta, tensors = read(out)
    assert meta["general.file_type"] == {"f16": 1, "q8_0": 7}[dtype]
    expected = expected_tensors(model)
    qtype = {"f16": gguf.GGMLQuantizationType.F16, "q8_0": gguf.GGMLQuantizationType.Q8_0}[dtype]
    for name, (data, ttype) in tensors.items():
        want = expected[name].float()
        if ".attn_q." in name or ".attn_k." in name:
            data = unpermute_rotary_rows(data, 4 if ".attn_q." in name else 2)
        if want.ndim == 1:
            assert ttype == gguf.GGMLQuantizationType.F32
            torch.testing.assert_close(data, want, atol=0, rtol=0)
        else:
            assert ttype == qtype, name
            # q8_0: one scale per 32 values, error at most half a step of max|w|/127
            tol = want.abs().max().item() / 127 if dtype == "q8_0" else 1e-3 * want.abs().max().item()
            torch.testing.assert_close(data, want, atol=tol, rtol=0, msg=name)


def test_cli_refuses_unrepresentable_config_in_one_line(tmp_path, story_tokenizer, capsys):
    from slmkit.cli import main
    from slmkit.export.ckpt_folder import write_checkpoint_folder
    from slmkit.model import ModelConfig
    from tests.export.conftest import random_model

    model = random_model(ModelConfig(vocab_size=320, d_model=32, n_heads=4, n_layers=1, mlp="gelu"))
    ckpt = write_checkpoint_folder(tmp_path / "ckpt", model, story_tokenizer)
    assert main(["export", "gguf", "--ckpt", str(ckpt), "--out", str(tmp_path / "m.gguf")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("error: model.mlp")
    assert not (tmp_path / "m.gguf").exists()
