"""Speculative decoding: greedy output equals the target's own greedy decoding whatever the draft, caches roll back
correctly (a perfect draft is always accepted), and the sampling rule reproduces the target distribution."""

from __future__ import annotations

import shutil

import pytest
import torch

from slmkit.cli import main
from slmkit.common.errors import ConfigError
from slmkit.config import build_config
from slmkit.infer.engine import generate
from slmkit.infer.load import load_checkpoint
from slmkit.infer.sampling import SamplingParams, filter_logits
from slmkit.infer.speculative import SpeculativeDecoder
from slmkit.model.transformer import Transformer
from slmkit.train.pretrain import PretrainConfig, pretrain_stage

GREEDY = SamplingParams(temperature=0)


@pytest.fixture(scope="module")
def draft_run(encoded_run, tmp_path_factory):
    """A smaller model (1 layer, d_model 16) trained briefly on the same data and tokenizer as `micro_checkpoint`."""
    run = tmp_path_factory.mktemp("draft") / "run"
    shutil.copytree(encoded_run, run)
    opts = {"model.n_layers": 1, "model.n_heads": 2, "model.d_model": 16, "model.context_length": 64, "run": str(run),
            "max_steps": 60, "batch_size": 8, "seq_len": 48, "progress": False, "sample_prompt": "",
            "eval_interval": 60, "ckpt_interval": 60, "optim.lr": 1e-2}
    pretrain_stage(build_config(PretrainConfig, {}, opts))
    return run


@pytest.fixture(scope="module")
def models(micro_checkpoint, draft_run):
    target = load_checkpoint(micro_checkpoint)
    draft = load_checkpoint(draft_run)
    return target.model, draft.model, target.tokenizer


def prompts(tok):
    return [[tok.eot_id] + tok.encode(text) for text in ("Once upon a time", "Tom had a dog", "The sun", "She")]


@pytest.mark.parametrize("k", [1, 3, 6])
def test_greedy_speculative_equals_target_greedy(models, k):
    target, draft, tok = models
    for prompt in prompts(tok):
        expected = generate(target, [prompt], 40, GREEDY)[0]
        tokens, stats = SpeculativeDecoder(target, draft, k=k).generate(prompt, 40)
        assert tokens == expected
        assert stats.new_tokens == 40 and 0 <= stats.accepted <= stats.proposed


def test_any_draft_leaves_the_greedy_output_unchanged(models):
    """An untrained draft (tied embeddings: it mostly repeats its input token) proposes other tokens than the
    trained one; the output is the target's either way."""
    target, draft, tok = models
    torch.manual_seed(0)
    untrained = Transformer(draft.cfg).eval()
    proposals = {}
    for name, candidate in (("trained", draft), ("untrained", untrained)):
        decoder = SpeculativeDecoder(target, candidate, k=4)
        for prompt in prompts(tok):
            tokens, stats = decoder.generate(prompt, 40)
            assert tokens == generate(target, [prompt], 40, GREEDY)[0]
            assert stats.proposed >= 40 // 5 and 0 <= stats.accepted <= stats.proposed
        proposals[name] = SpeculativeDecoder(target, candidate, k=4).generate(prompts(tok)[0], 40)[1].accepted
    assert proposals["trained"] != proposals["untrained"]  # the two drafts really differ


def test_target_as_its_own_draft_accepts_everything(models):
    target, _, tok = models
    prompt = prompts(tok)[0]
    tokens, stats = SpeculativeDecoder(target, target, k=4).generate(prompt, 30)
    assert tokens == generate(target, [prompt], 30, GREEDY)[0]
    assert stats.acceptance_rate == 1.0
    # prefill + one verify per 5 tokens (4 accepted + 1 bonus); the first token comes from the prefill
    assert stats.target_forwards == 1 + -(-(30 - 1) // 5)


def test_stop_ids_and_budget_match_plain_decoding(models):
    target, draft, tok = models
    prompt = prompts(tok)[1]
    plain = generate(target, [prompt], 30, GREEDY)[0]
    stop = plain[7]  # a token the target emits: generation must end right before its first occurrence
    expected = plain[: plain.index(stop)]
    tokens, _ = SpeculativeDecoder(target, draft, k=5).generate(prompt, 30, stop_ids={stop})
    assert tokens == expected
    tokens, _ = SpeculativeDecoder(target, draft, k=5).generate(prompt, 3)
    assert tokens == plain[:3]


def test_long_prompt_stops_at_the_context_length(models):
    target, draft, tok = models
    prompt = (prompts(tok)[0] * 20)[:60]  # context_length 64: only 4 new tokens fit
    tokens, _ = SpeculativeDecoder(target, draft, k=6).generate(prompt, 20)
    assert tokens == generate(target, [prompt], 20, GREEDY)[0]
    assert len(tokens) == 4


def test_accept_reject_rule_reproduces_the_target_distribution():
    """Proposals drawn from q, verified against p: the first emitted token is distributed as p."""
    gen = torch.Generator().manual_seed(0)
    params = SamplingParams(temperature=1.0)
    target_logits = torch.tensor([[2.0, 0.5, -1.0, 1.0], [0.0, 0.0, 0.0, 0.0]])  # (k + 1, V) with k = 1
    q = torch.softmax(torch.tensor([0.0, 2.0, 1.0, -1.0]), dim=-1)
    p = filter_logits(target_logits[:1], params)[0]
    counts = torch.zeros(4)
    n = 20000
    pick = lambda logits: int(torch.multinomial(filter_logits(logits[None], params)[0], 1, generator=gen))
    for _ in range(n):
        proposal = int(torch.multinomial(q, 1, generator=gen))
        accepted, token = SpeculativeDecoder._verify([proposal], [q], target_logits, pick, gen, params)
        counts[proposal if accepted else token] += 1
    assert torch.allclose(counts / n, p, atol=0.015)


def test_sampling_is_seeded_and_penalties_are_refused(models):
    target, draft, tok = models
    decoder = SpeculativeDecoder(target, draft, k=3)
    params = SamplingParams(temperature=0.8, top_k=20)
    first, _ = decoder.generate(prompts(tok)[0], 25, params, seed=3)
    again, _ = decoder.generate(prompts(tok)[0], 25, params, seed=3)
    assert first == again and len(first) == 25
    with pytest.raises(ConfigError):
        decoder.generate(prompts(tok)[0], 5, SamplingParams(temperature=0.8, repetition_penalty=1.3))


def test_generate_command_with_a_draft_prints_the_greedy_text(micro_checkpoint, draft_run, capsys):
    base = ["generate", "--ckpt", str(micro_checkpoint), "--prompt", "Once", "--max-tokens", "20", "--temperature", "0"]
    assert main(base) == 0
    plain = capsys.readouterr().out
    assert main([*base, "--draft", str(draft_run), "--draft-k", "3"]) == 0
    captured = capsys.readouterr()
    assert captured.out == plain
    assert "acceptance" in captured.err
