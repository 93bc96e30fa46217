import math

import pytest
import torch
import torch.nn.functional as F

from slmkit.common.errors import InputError
from slmkit.model import ModelConfig, Transformer

TINY = dict(vocab_size=97, context_length=32, n_layers=2, n_heads=4, d_model=32)
VARIANTS = {
    "llama": ModelConfig(**TINY),
    "gqa": ModelConfig(**TINY, n_kv_heads=2),
    "gpt2": ModelConfig(**TINY, pos_emb="learned", norm="layernorm", mlp="gelu", bias=True, tie_embeddings=False),
    "moe": ModelConfig(**TINY, n_experts=4, moe_top_k=2),
}


@pytest.mark.parametrize("name", VARIANTS)
def test_shapes_and_loss(name):
    model = Transformer(VARIANTS[name])
    idx = torch.randint(0, 97, (3, 10))
    out = model(idx, targets=torch.randint(0, 97, (3, 10)))
    assert out.logits.shape == (3, 10, 97)
    assert out.loss.ndim == 0 and math.isfinite(out.loss.item())
    # at init the model is close to uniform over the vocabulary
    assert abs(out.ce_loss.item() - math.log(97)) < 0.5
    assert (out.aux_loss is not None) == (name == "moe")
    assert model(idx).loss is None


@pytest.mark.parametrize("name", VARIANTS)
def test_causal(name):
    model = Transformer(VARIANTS[name]).eval()
    idx = torch.randint(0, 97, (2, 12))
    changed = idx.clone()
    changed[:, 7:] = torch.randint(0, 97, (2, 5))
    a, b = model(idx).logits, model(changed).logits
    torch.testing.assert_close(a[:, :7], b[:, :7])
    assert not torch.allclose(a[:, 7:], b[:, 7:])


def test_gqa_equals_mha_with_repeated_kv_heads():
    gqa = Transformer(VARIANTS["gqa"]).eval()
    mha = Transformer(VARIANTS["llama"]).eval()
    state = gqa.state_dict()
    nh, nkv, hs, d = 4, 2, 8, 32
    for i in range(2):
        w = state[f"blocks.{i}.attn.qkv.weight"].view(nh + 2 * nkv, hs, d)
        q, k, v = w[:nh], w[nh : nh + nkv], w[nh + nkv :]
        group = nh // nkv  # query head h reads kv head h // group
        k, v = k.repeat_interleave(group, 0), v.repeat_interleave(group, 0)
        state[f"blocks.{i}.attn.qkv.weight"] = torch.cat([q, k, v]).reshape(-1, d)
    mha.load_state_dict(state)
    idx = torch.randint(0, 97, (2, 9))
    torch.testing.assert_close(mha(idx).logits, gqa(idx).logits, atol=1e-5, rtol=1e-5)


def test_tied_and_untied_embeddings():
    tied = Transformer(VARIANTS["llama"])
    assert tied.lm_head.weight is tied.wte.weight
    untied = Transformer(ModelConfig(**TINY, tie_embeddings=False))
    assert untied.lm_head.weight is not untied.wte.weight
    assert untied.num_params() - tied.num_params() == 97 * 32  # the separate head
    assert untied.num_params(non_embedding=True) == tied.num_params(non_embedding=True)
    # a tied head's gradient reaches the embedding table from both uses
    idx = torch.randint(0, 97, (1, 6))
    tied(idx, idx.roll(-1, 1)).loss.backward()
    assert tied.wte.weight.grad is not None and tied.wte.weight.grad.abs().sum() > 0


def test_learned_positions_layernorm_gelu_variant():
    model = Transformer(VARIANTS["gpt2"])
    assert model.wpe is not None and model.rope is None
    assert isinstance(model.blocks[0].norm_attn, torch.nn.LayerNorm)
    assert model.blocks[0].attn.qkv.bias is not None
    assert type(model.blocks[0].mlp).__name__ == "GeluMLP"
    # positions matter: the same token at two positions gets different logits
    logits = model(torch.full((1, 4), 5)).logits
    assert not torch.allclose(logits[0, 1], logits[0, 2])


def test_init_scales_residual_projections():
    cfg = ModelConfig(vocab_size=512, context_length=16, n_layers=8, n_heads=4, d_model=256)
    model = Transformer(cfg)
    assert model.blocks[0].attn.qkv.weight.std().item() == pytest.approx(0.02, rel=0.05)
    assert model.blocks[0].attn.proj.weight.std().item() == pytest.approx(0.02 / math.sqrt(16), rel=0.05)
    assert model.blocks[0].mlp.down.weight.std().item() == pytest.approx(0.02 / math.sqrt(16), rel=0.05)
    assert torch.equal(model.norm_f.weight, torch.ones(256))


def test_loss_ignores_minus_100():
    model = Transformer(VARIANTS["llama"])
    idx = torch.randint(0, 97, (2, 8))
    targets = torch.randint(0, 97, (2, 8))
    masked = targets.clone()
    masked[:, :3] = -100
    logits = model(idx).logits
    expected = F.cross_entropy(logits[:, 3:].reshape(-1, 97), targets[:, 3:].reshape(-1))
    torch.testing.assert_close(model(idx, masked).loss, expected)
    # ignored positions' targets do not matter at all
    other = masked.clone()
    other[:, :3] = -100
    torch.testing.assert_close(model(idx, other).loss, model(idx, masked).loss)


@pytest.mark.parametrize("name", ["llama", "moe"])
def test_loss_reductions_agree(name):
    model = Transformer(VARIANTS[name]).eval()
    idx = torch.randint(0, 97, (2, 8))
    targets = idx.clone()
    targets[0, :5] = -100
    counted = (targets != -100).sum()
    mean = model(idx, targets).loss
    total = model(idx, targets, loss_reduction="sum").loss
    per_token = model(idx, targets, loss_reduction="none").loss
    assert per_token.shape == (2, 8)
    assert torch.all(per_token[0, :5] == 0)
    torch.testing.assert_close(total / counted, mean)
    torch.testing.assert_close(per_token.sum(), total)
    with pytest.raises(ValueError, match="loss_reduction"):
        model(idx, targets, loss_reduction="max")


@pytest.mark.parametrize("reduction", ["mean", "sum"])
@pytest.mark.parametrize("name", ["llama", "gpt2"])
def test_fused_training_loss_matches_plain_path(name, reduction):
    """return_logits=False takes the chunked LM-head+CE path: same loss and same gradients."""
    idx = torch.randint(0, 97, (2, 9))
    targets = idx.roll(-1, 1)
    targets[1, :4] = -100
    grads = []
    for return_logits in (True, False):
        torch.manual_seed(1)
        model = Transformer(VARIANTS[name])
        out = model(idx, targets, return_logits=return_logits, loss_reduction=reduction)
        assert (out.logits is None) == (not return_logits)
        out.loss.backward()
        grads.append((out.loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters()}))
    (loss_a, grads_a), (loss_b, grads_b) = grads
    torch.testing.assert_close(loss_a, loss_b)
    for n in grads_a:
        torch.testing.assert_close(grads_a[n], grads_b[n], atol=1e-6, rtol=1e-4, msg=n)


def test_sequence_longer_than_context_is_a_clear_error():
    model = Transformer(VARIANTS["llama"])
    with pytest.raises(InputError, match=r"sequence length 33.*context_length=32"):
        model(torch.zeros(1, 33, dtype=torch.long))


def test_dropout_only_in_training():
    model = Transformer(ModelConfig(**TINY, dropout=0.5))
    idx = torch.randint(0, 97, (1, 6))
    model.eval()
    torch.testing.assert_close(model(idx).logits, model(idx).logits)
    model.train()
    assert not torch.allclose(model(idx).logits, model(idx).logits)


def test_meta_device_build_then_materialise():
    with torch.device("meta"):
        model = Transformer(VARIANTS["llama"])
    assert model.device.type == "meta"
    model.to_empty(device="cpu")
    model.init_weights()
    reference = Transformer(VARIANTS["llama"])
    torch.testing.assert_close(model.rope.cos, reference.rope.cos)
    assert math.isfinite(model(torch.randint(0, 97, (1, 5)), torch.randint(0, 97, (1, 5))).loss.item())
