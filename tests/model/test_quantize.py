"""Int8 weight-only quantization: per-row rounding within half a step, Int8Linear close to nn.Linear, a quantized
model keeps its greedy output and loss close to fp32, the batch-1 fast path agrees with the module forward, and the
`--quantize` option of `slm generate` / `slm eval lm` (with a one-line error for a bad value)."""

from __future__ import annotations

import json

import pytest
import torch
from torch import nn

from slmkit.cli import main
from slmkit.infer.engine import Engine, TokenRequest, generate
from slmkit.infer.load import load_checkpoint
from slmkit.infer.sampling import SamplingParams
from slmkit.model import ModelConfig, Transformer
from slmkit.model.quantize import Int8Linear, int8_linear, quantize_int8, quantize_rows_int8

GREEDY = SamplingParams(temperature=0)


def relative_error(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


def test_rows_round_to_within_half_a_step():
    torch.manual_seed(0)
    w = torch.randn(16, 40) * torch.logspace(-3, 1, 16)[:, None]  # rows of very different magnitudes
    w[3] = 0.0
    q, scales = quantize_rows_int8(w)
    assert q.dtype == torch.int8 and scales.shape == (16,)
    assert int(q.abs().max()) == 127  # each nonzero row uses the full range
    error = (q.float() * scales[:, None] - w).abs()
    assert bool((error <= scales[:, None] / 2 + 1e-7).all())
    assert bool((q[3] == 0).all())


@pytest.mark.parametrize("bias", [False, True])
def test_int8_linear_is_close_to_the_fp32_layer(bias):
    torch.manual_seed(0)
    linear = nn.Linear(96, 48, bias=bias)
    x = torch.randn(2, 5, 96)
    layer = Int8Linear.from_linear(linear)
    with torch.no_grad():
        ref = linear(x)
        out = layer(x)
        assert out.shape == ref.shape and out.dtype == torch.float32
        assert relative_error(out, ref) < 0.02
        # the kernel and an explicit dequantized matmul agree to bf16 rounding of the activations
        dequant = torch.nn.functional.linear(x, layer.weight, linear.bias)
        assert relative_error(int8_linear(x, layer.qweight, layer.scales, layer.bias), dequant) < 0.01


def test_quantized_model_stays_close_and_fast_path_agrees():
    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=97, context_length=64, n_layers=2, n_heads=4, n_kv_heads=2, d_model=64)
    model = Transformer(cfg).eval()
    idx = torch.randint(0, 97, (2, 20))
    with torch.no_grad():
        ref = model(idx).logits
        quantize_int8(model)
        assert not any(type(m) is nn.Linear for m in model.modules())
        assert model.lm_head.weight.shape == (97, 64)  # dequantized on demand
        out = model(idx).logits
    assert relative_error(out, ref) < 0.03
    runs = {}
    for fast in (True, False):
        engine = Engine(model, max_batch=1, fast_decode=fast)
        assert (engine._fast is not None) == fast
        seq, _ = engine.add(TokenRequest(list(idx[0, :5]), 12, GREEDY, logprobs=0))
        logprobs = []
        while not seq.finished:
            logprobs += [e.logprob for _, e in engine.step()]
        runs[fast] = (seq.output, torch.tensor(logprobs))
    assert runs[True][0] == runs[False][0]
    torch.testing.assert_close(runs[True][1], runs[False][1], atol=2e-2, rtol=0)


def test_quantized_checkpoint_keeps_greedy_text_and_loss(micro_checkpoint, tmp_path, capsys):
    fp32 = load_checkpoint(micro_checkpoint)
    int8 = load_checkpoint(micro_checkpoint, quantize="int8")
    assert isinstance(int8.model.blocks[0].attn.qkv, Int8Linear)
    prompt = [fp32.tokenizer.eot_id] + fp32.tokenizer.encode("Once upon a time")
    a = generate(fp32.model, [prompt], 12, GREEDY)[0]
    b = generate(int8.model, [prompt], 12, GREEDY)[0]
    assert sum(x == y for x, y in zip(a, b)) >= 10  # a trained model's greedy text barely moves

    text = tmp_path / "val.txt"
    text.write_text("Once upon a time there was a little dog. He liked to play in the park.\n", encoding="utf-8")
    reports = []
    for quantize in ("none", "int8"):
        out = tmp_path / f"lm-{quantize}.json"
        args = ["eval", "lm", "--ckpt", str(micro_checkpoint), "--text", str(text), "--out", str(out)]
        assert main([*args, "--quantize", quantize]) == 0
        reports.append(json.loads(out.read_text())["total"])
    assert reports[0]["bits_per_byte"] != reports[1]["bits_per_byte"]
    assert abs(reports[1]["bits_per_byte"] / reports[0]["bits_per_byte"] - 1) < 0.02

    args = ["generate", "--ckpt", str(micro_checkpoint), "--prompt", "Once", "--max-tokens", "8", "--temperature", "0"]
    assert main([*args, "--quantize", "int8"]) == 0
    assert "Once" in capsys.readouterr().out
    assert main([*args, "--quantize", "int4"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "quantize" in err and "int4" in err


def test_quantized_batched_decoding_equals_one_by_one():
    """The int8 kernel computes each row alone, so continuous batching keeps exactly the one-by-one greedy text."""
    torch.manual_seed(0)
    model = quantize_int8(Transformer(ModelConfig(vocab_size=97, context_length=64, n_layers=2, n_heads=4,
                                                  d_model=64)).eval())
    prompts = [list(range(1, n + 1)) for n in (3, 9, 1, 17, 5)]
    batch = generate(model, prompts, 16, GREEDY, max_batch=3)
    assert batch == [generate(model, [p], 16, GREEDY, max_batch=1)[0] for p in prompts]


@pytest.mark.parametrize("variant", [
    {"pos_emb": "learned", "norm": "layernorm", "mlp": "gelu", "bias": True},  # GPT-2 layout, with biases
    {"n_experts": 4, "moe_top_k": 2},  # experts and router are nn.Linear too
])
def test_other_layouts_quantize_and_stay_close(variant):
    torch.manual_seed(0)
    model = Transformer(ModelConfig(vocab_size=97, context_length=64, n_layers=2, n_heads=4, d_model=64,
                                    **variant)).eval()
    idx = torch.randint(0, 97, (2, 16))
    with torch.no_grad():
        ref = model(idx).logits
        quantize_int8(model)
        out = model(idx).logits
    assert not any(type(m) is nn.Linear for m in model.modules())
    assert relative_error(out, ref) < 0.03
