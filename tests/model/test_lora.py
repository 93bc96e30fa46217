"""LoRA: a fresh adapter changes nothing, merged == unmerged outputs, only adapters train, clear errors."""

import pytest
import torch

from slmkit.common.errors import ConfigError
from slmkit.model.config import ModelConfig
from slmkit.model.lora import LoRAConfig, LoRALinear, apply_lora, count_parameters, merge_lora
from slmkit.model.transformer import Transformer

CFG = ModelConfig(vocab_size=64, context_length=16, n_layers=2, n_heads=2, d_model=32)


def _model(seed=0):
    torch.manual_seed(seed)
    return Transformer(CFG).eval()


def test_fresh_adapters_leave_outputs_unchanged_and_train_only_adapters():
    model = _model()
    idx = torch.randint(0, 64, (2, 10))
    before = model(idx).logits
    names = apply_lora(model, LoRAConfig(rank=4, alpha=8, targets=["*.attn.qkv", "*.attn.proj"]))
    assert names == ["blocks.0.attn.qkv", "blocks.0.attn.proj", "blocks.1.attn.qkv", "blocks.1.attn.proj"]
    torch.testing.assert_close(model(idx).logits, before)
    trainable, total = count_parameters(model)
    # qkv: A (4, 32) + B (96, 4); proj: A (4, 32) + B (32, 4); two blocks
    assert trainable == 2 * ((4 * 32 + 96 * 4) + (4 * 32 + 32 * 4))
    assert total == sum(p.numel() for p in _model().parameters()) + trainable
    assert all(("lora_" in n) == p.requires_grad for n, p in model.named_parameters())


def test_merged_equals_unmerged_after_training_the_adapters():
    model = _model()
    apply_lora(model, LoRAConfig(rank=4, alpha=16, targets=["*"]))
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, LoRALinear):
                module.lora_b.normal_(0, 0.05)  # as if trained: B is no longer zero
    idx = torch.randint(0, 64, (3, 12))
    unmerged = model(idx).logits
    assert not torch.allclose(unmerged, _model()(idx).logits)
    merge_lora(model)
    assert not any(isinstance(m, LoRALinear) for m in model.modules())
    assert set(model.state_dict()) == set(_model().state_dict())  # an ordinary Transformer again
    torch.testing.assert_close(model(idx).logits, unmerged, atol=1e-5, rtol=1e-5)


def test_gradients_reach_adapters_only():
    model = _model().train()
    apply_lora(model, LoRAConfig(rank=2, targets=["*.mlp.*"]))
    idx = torch.randint(0, 64, (2, 8))
    model(idx, idx).loss.backward()
    grads = {n: p.grad for n, p in model.named_parameters()}
    assert all(g is not None for n, g in grads.items() if "lora_a" in n)
    assert all(g is None for n, g in grads.items() if "lora_" not in n)


def test_tied_head_is_skipped_and_bad_patterns_fail_clearly():
    model = _model()
    with pytest.raises(ConfigError, match="lora.targets"):
        apply_lora(model, LoRAConfig(targets=["lm_head"]))  # tied to the embedding: cannot be merged
    with pytest.raises(ConfigError, match="lora.targets"):
        apply_lora(_model(), LoRAConfig(targets=["no.such.module"]))
    with pytest.raises(ConfigError, match="lora.rank"):
        LoRAConfig(rank=0)
