import math

import pytest
import torch

from slmkit.model import ModelConfig, Transformer
from slmkit.model.moe import MoEMLP, load_balance_loss, router_z_loss

SMALL = dict(vocab_size=50, context_length=16, n_layers=1, n_heads=2, d_model=8)


def _moe(**kw) -> MoEMLP:
    return MoEMLP(ModelConfig(**SMALL, **{"n_experts": 4, "moe_top_k": 2, **kw}))


def test_load_balance_loss_hand_built():
    # two tokens, both sent to expert 0 (top-1): f = [1, 0, 0, 0], P = mean probs = [0.55, 0.2, 0.15, 0.1]
    probs = torch.tensor([[0.7, 0.1, 0.1, 0.1], [0.4, 0.3, 0.2, 0.1]])
    loss = load_balance_loss(probs, torch.tensor([[0], [0]]), n_experts=4)
    assert loss.item() == pytest.approx(4 * 0.55)
    # perfectly uniform routing (top-2 covering all experts once each) gives exactly 1
    uniform = torch.full((2, 4), 0.25)
    assert load_balance_loss(uniform, torch.tensor([[0, 1], [2, 3]]), 4).item() == pytest.approx(1.0)


def test_router_z_loss_hand_built():
    assert router_z_loss(torch.zeros(3, 4)).item() == pytest.approx(math.log(4) ** 2)
    logits = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    expected = math.log(sum(math.exp(v) for v in (1, 2, 3, 4))) ** 2
    assert router_z_loss(logits).item() == pytest.approx(expected, rel=1e-6)


def test_layer_aux_loss_combines_coefficients():
    moe = _moe(moe_aux_loss_coef=0.5, moe_z_loss_coef=0.25)
    x = torch.randn(2, 3, 8)
    _, aux = moe(x)
    logits, probs, _, idx = moe.route(x.view(-1, 8))
    expected = 0.5 * load_balance_loss(probs, idx, 4) + 0.25 * router_z_loss(logits)
    torch.testing.assert_close(aux, expected)


def test_top_k_routing_selects_the_highest_scoring_experts():
    moe = _moe()
    x = torch.randn(5, 8)
    logits, probs, weights, idx = moe.route(x)
    manual = x @ moe.router.weight.t()
    assert torch.equal(idx, manual.topk(2, dim=-1).indices)
    top = manual.softmax(-1).gather(1, idx)
    torch.testing.assert_close(weights, top / top.sum(-1, keepdim=True))
    # the layer output is exactly the weighted sum of the chosen experts
    out, _ = moe(x)
    reference = torch.stack(
        [sum(weights[n, j] * moe.experts[int(idx[n, j])](x[n]) for j in range(2)) for n in range(5)]
    )
    torch.testing.assert_close(out, reference, atol=1e-6, rtol=1e-5)


def test_experts_only_see_their_own_tokens():
    moe = _moe()
    rows = []
    for expert in moe.experts:
        expert.register_forward_hook(lambda mod, inp, out: rows.append(inp[0].shape[0]))
    moe(torch.randn(3, 7, 8))
    assert sum(rows) == 3 * 7 * 2  # N tokens * top_k, not N * n_experts


def test_gradient_reaches_router_and_experts():
    model = Transformer(ModelConfig(**SMALL, n_experts=4, moe_top_k=2))
    idx = torch.randint(0, 50, (2, 8))
    out = model(idx, targets=idx.roll(-1, 1))
    out.loss.backward()
    moe = model.blocks[0].mlp
    assert moe.router.weight.grad is not None and moe.router.weight.grad.abs().sum() > 0
    used = [e for e in moe.experts if e.gate_up.weight.grad is not None]
    assert used and all(e.gate_up.weight.grad.abs().sum() > 0 for e in used)
    # the aux loss alone also trains the router (load balance through P_e, z-loss through the logits)
    model.zero_grad()
    model(idx).aux_loss.backward()
    assert moe.router.weight.grad.abs().sum() > 0


def test_capacity_drops_overflow_tokens_only_in_training():
    moe = _moe(moe_top_k=1, moe_capacity_factor=1.0)
    with torch.no_grad():
        moe.router.weight.zero_()
        moe.router.weight[0].fill_(1.0)  # positive inputs => every token prefers expert 0
    x = torch.rand(8, 8) + 0.1
    assert moe.capacity(8) == 2  # ceil(1.0 * 8 tokens * top-1 / 4 experts)
    moe.train()
    out, _ = moe(x)
    torch.testing.assert_close(out[:2], moe.experts[0](x[:2]))  # first come, first served
    assert torch.all(out[2:] == 0)  # dropped: the block's residual carries these tokens unchanged
    moe.eval()
    out, _ = moe(x)
    torch.testing.assert_close(out, moe.experts[0](x))  # no dropping at inference


def test_no_capacity_factor_never_drops():
    moe = _moe(moe_top_k=1)
    with torch.no_grad():
        moe.router.weight.zero_()
        moe.router.weight[0].fill_(1.0)
    x = torch.rand(8, 8) + 0.1
    assert moe.capacity(8) is None
    out, _ = moe.train()(x)
    torch.testing.assert_close(out, moe.experts[0](x))


def test_moe_tiny_preset_trains_a_few_steps():
    from slmkit.model import preset

    model = Transformer(preset("moe-tiny", vocab_size=64, context_length=16, n_layers=2))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    idx = torch.randint(0, 64, (4, 16))
    losses = []
    for _ in range(8):
        loss = model(idx[:, :-1], targets=idx[:, 1:], return_logits=False).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
