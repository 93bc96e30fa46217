import math

import pytest
import torch
from torch import nn

from slmkit.common.errors import ConfigError
from slmkit.config import build_config
from slmkit.train.checkpoint import load_state_tree, save_state_tree
from slmkit.train.optim import OptimConfig, build_optimizer, lr_multiplier, orthogonalize


class Toy(nn.Module):
    def __init__(self):
        super().__init__()
        self.tok_emb = nn.Embedding(10, 8)
        self.proj = nn.Linear(8, 8, bias=True)
        self.norm = nn.LayerNorm(8)


def test_weight_decay_only_on_matrices():
    opt = build_optimizer(Toy(), OptimConfig(weight_decay=0.1))
    decayed = [p for g in opt.param_groups if g["weight_decay"] > 0 for p in g["params"]]
    plain = [p for g in opt.param_groups if g["weight_decay"] == 0 for p in g["params"]]
    assert all(p.dim() == 2 for p in decayed) and len(decayed) == 2
    assert all(p.dim() == 1 for p in plain) and len(plain) == 3


def test_schedules():
    cfg = OptimConfig(warmup_steps=10, min_lr_ratio=0.1, schedule="cosine")
    assert lr_multiplier(0, cfg, 0.0) == pytest.approx(0.1)
    assert lr_multiplier(9, cfg, 0.0) == pytest.approx(1.0)
    assert lr_multiplier(50, cfg, 0.5) == pytest.approx(0.1 + 0.9 * 0.5)
    assert lr_multiplier(99, cfg, 1.0) == pytest.approx(0.1)
    wsd = OptimConfig(warmup_steps=0, schedule="wsd", decay_fraction=0.2, min_lr_ratio=0.0)
    assert lr_multiplier(10, wsd, 0.5) == 1.0
    assert lr_multiplier(10, wsd, 0.9) == pytest.approx(0.5)
    assert lr_multiplier(10, wsd, 1.0) == pytest.approx(0.0)


def test_invalid_optim_config():
    with pytest.raises(ConfigError, match="lr: found -1.0"):
        build_config(OptimConfig, {"lr": -1})


def test_orthogonalize_gives_near_orthogonal_rows():
    g = torch.randn(16, 32)
    o = orthogonalize(g, steps=10)
    sv = torch.linalg.svdvals(o)
    assert sv.max() < 1.3 and sv.min() > 0.5  # Newton-Schulz pushes singular values towards 1


def test_muon_trains_and_its_state_round_trips(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))
    opt = build_optimizer(model, OptimConfig(name="muon", lr=1e-2, muon_lr=0.02))
    x, y = torch.randn(64, 8), torch.randn(64, 1)
    first = None
    for _ in range(30):
        loss = nn.functional.mse_loss(model(x), y)
        first = first if first is not None else loss.item()
        loss.backward()
        opt.step()
        opt.zero_grad()
    assert loss.item() < first
    save_state_tree(opt.state_dict(), tmp_path / "o.safetensors", tmp_path / "o.json")
    restored = load_state_tree(tmp_path / "o.safetensors", tmp_path / "o.json")
    fresh = build_optimizer(model, OptimConfig(name="muon"))
    fresh.load_state_dict(restored)
    a, b = opt.state_dict()["optimizers"][1]["state"], fresh.state_dict()["optimizers"][1]["state"]
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k]["momentum_buffer"], b[k]["momentum_buffer"])
    assert not math.isnan(loss.item())
