"""Interpretability tools on hand-built tiny models whose information flow is known, plus the CLI on a trained one.

Model "no mixing": every attention output projection is zero, so each position sees only its own token.
Model "first token": block 0 attends uniformly (zero query/key weights), block 1 does not mix positions; the clean
and corrupted prompts differ only at position 0, so the answer flows through position 0 at the embeddings and
through the last position from block 0 on.
"""

from __future__ import annotations

import json

import pytest
import torch

from slmkit.cli import main
from slmkit.inspect.analysis import activation_patching, attention_maps, logit_lens
from slmkit.inspect.capture import ResidualCapture, ResidualPatch
from slmkit.model.config import ModelConfig
from slmkit.model.transformer import Transformer

CLEAN = torch.tensor([[5, 7, 8, 9, 10, 11]])
CORRUPT = torch.tensor([[6, 7, 8, 9, 10, 11]])  # differs from CLEAN at position 0 only


def tiny_model(**overrides) -> Transformer:
    torch.manual_seed(0)
    cfg = ModelConfig(**{"vocab_size": 40, "context_length": 16, "n_layers": 2, "n_heads": 2, "d_model": 16,
                         "init_std": 0.3, "multiple_of": 16, **overrides})
    return Transformer(cfg).eval()


def answer_tokens(model) -> tuple[int, int]:
    with torch.no_grad():
        clean, corrupt = model(CLEAN).logits[0, -1], model(CORRUPT).logits[0, -1]
    answer = int(clean.argmax())
    wrong = int((corrupt - clean).argmax())  # the token the corruption favours most relative to the answer
    return answer, wrong


@pytest.fixture
def first_token_model() -> Transformer:
    model = tiny_model()
    with torch.no_grad():
        attn0 = model.blocks[0].attn
        attn0.qkv.weight[: 2 * attn0.n_heads * attn0.head_dim] = 0  # q and k rows: scores 0, uniform attention
        model.blocks[1].attn.proj.weight.zero_()  # block 1 never moves information between positions
    return model


@pytest.mark.parametrize("overrides", [{}, {"n_kv_heads": 1}, {"pos_emb": "learned", "norm": "layernorm"}])
def test_attention_maps_are_causal_distributions_that_reproduce_the_layer_output(overrides):
    model = tiny_model(**overrides)
    maps = attention_maps(model, CLEAN)
    assert len(maps) == 2 and maps[0].shape == (2, 6, 6)
    for w in maps:
        torch.testing.assert_close(w.sum(-1), torch.ones(2, 6))
        assert torch.all(w.triu(diagonal=1) == 0)
    # weights @ values, through the output projection, is what the attention module returned
    attn, seen = model.blocks[1].attn, {}
    handle = attn.register_forward_hook(lambda m, args, out: seen.update(x=args[0], y=out))
    with torch.no_grad():
        model(CLEAN)
        handle.remove()
        nh, nkv, hs = attn.n_heads, attn.n_kv_heads, attn.head_dim
        v = attn.qkv(seen["x"]).view(1, 6, nh + 2 * nkv, hs)[:, :, nh + nkv :].transpose(1, 2)  # (1, nkv, T, hs)
        v = v.repeat_interleave(nh // nkv, dim=1)
        y = attn.proj((maps[1][None] @ v).transpose(1, 2).reshape(1, 6, nh * hs))
    torch.testing.assert_close(y, seen["y"], atol=1e-5, rtol=1e-4)


def test_logit_lens_at_the_last_point_is_the_model_output():
    model = tiny_model()
    lens = logit_lens(model, CLEAN, top_k=3)
    with torch.no_grad():
        logits = model(CLEAN).logits[0]
    assert lens.logits.shape == (3, 6, 40) and lens.token_ids.shape == (3, 6, 3)
    torch.testing.assert_close(lens.logits[-1], logits)
    assert torch.equal(lens.token_ids[-1, :, 0], logits.argmax(-1))
    assert torch.all(lens.probs[:, :, 0] >= lens.probs[:, :, 1])


def test_patching_the_whole_last_point_restores_the_clean_logits_exactly():
    model = tiny_model()
    with ResidualCapture(model) as cap, torch.no_grad():
        clean_logits = model(CLEAN).logits
    with ResidualPatch(model, 2, list(range(6)), cap.points[2]), torch.no_grad():
        patched = model(CORRUPT).logits
    torch.testing.assert_close(patched, clean_logits, atol=0, rtol=0)


def test_without_mixing_only_the_last_position_matters():
    model = tiny_model()
    with torch.no_grad():
        for block in model.blocks:
            block.attn.proj.weight.zero_()
    clean = CLEAN
    corrupt = torch.tensor([[6, 3, 2, 9, 1, 12]])  # differs at the last position too
    with torch.no_grad():
        answer = int(model(clean).logits[0, -1].argmax())
        wrong = int(model(corrupt).logits[0, -1].argmax())
    assert answer != wrong
    result = activation_patching(model, clean, corrupt, answer, wrong)
    expected = torch.zeros(3, 6)
    expected[:, -1] = 1.0
    torch.testing.assert_close(result.effect, expected, atol=1e-5, rtol=0)


def test_patching_follows_the_answer_from_position_zero_to_the_last_position(first_token_model):
    answer, wrong = answer_tokens(first_token_model)
    result = activation_patching(first_token_model, CLEAN, CORRUPT, answer, wrong)
    assert abs(result.clean_metric - result.corrupt_metric) > 1e-3  # the corruption changes the answer's margin
    expected = torch.zeros(3, 6)
    expected[0, 0] = 1.0  # embeddings: the only differing token
    expected[1:, -1] = 1.0  # after block 0 the difference has been averaged into the last position
    torch.testing.assert_close(result.effect, expected, atol=1e-4, rtol=0)


def test_inspect_commands_write_pictures_and_tables(micro_checkpoint, tmp_path):
    out = tmp_path / "inspect"
    ckpt = str(micro_checkpoint)
    assert main(["inspect", "attention", "--ckpt", ckpt, "--prompt", "Tom had a dog", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.glob("attention_layer*.png")) == ["attention_layer0.png", "attention_layer1.png"]
    assert main(["inspect", "lens", "--ckpt", ckpt, "--prompt", "Tom had a dog", "--out", str(out)]) == 0
    table = (out / "lens.md").read_text()
    assert table.count("\n") == 2 + 3 and "block 1" in table  # header, rule, embed + 2 blocks
    assert (out / "lens.png").stat().st_size > 1000
    args = ["inspect", "patch", "--ckpt", ckpt, "--clean", "Tom had a dog. Tom", "--corrupt", "Ben had a dog. Ben",
            "--out", str(out)]
    assert main(args) == 0
    data = json.loads((out / "patch.json").read_text())
    assert len(data["effect"]) == 3 and (out / "patch.png").stat().st_size > 1000
    assert main([*args[:-4], "--corrupt", "Lily had a dog. Lily", "--out", str(out)]) != 0  # token counts differ
