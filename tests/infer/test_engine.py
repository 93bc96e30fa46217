"""The batched engine: greedy is deterministic, batched/continuous decoding equals one-by-one decoding, cached
decoding equals recomputation without a cache, stop ids end a sequence, and seeded sampling is reproducible."""

from __future__ import annotations

import pytest
import torch

from slmkit.infer.engine import Engine, TokenRequest, generate
from slmkit.infer.sampling import SamplingParams
from slmkit.model import ModelConfig, Transformer

GREEDY = SamplingParams(temperature=0)
VARIANTS = {
    "gqa-rope": ModelConfig(vocab_size=97, context_length=64, n_layers=2, n_heads=4, n_kv_heads=2, d_model=32),
    "learned-gelu": ModelConfig(vocab_size=97, context_length=64, n_layers=2, n_heads=4, d_model=32,
                                pos_emb="learned", norm="layernorm", mlp="gelu", bias=True),
}


def model_for(name: str) -> Transformer:
    torch.manual_seed(0)
    return Transformer(VARIANTS[name]).eval()


def prompts(lengths=(3, 9, 1, 17, 5, 12)) -> list[list[int]]:
    gen = torch.Generator().manual_seed(1)
    return [torch.randint(0, 97, (n,), generator=gen).tolist() for n in lengths]


def no_cache_greedy(model, prompt: list[int], n: int) -> list[int]:
    ids = list(prompt)
    with torch.no_grad():
        for _ in range(n):
            ids.append(int(model(torch.tensor([ids])).logits[0, -1].argmax()))
    return ids[len(prompt):]


@pytest.mark.parametrize("name", VARIANTS)
def test_batched_continuous_greedy_equals_one_by_one_and_no_cache(name):
    model = model_for(name)
    batch = generate(model, prompts(), 20, GREEDY, max_batch=3)  # 6 prompts through 3 rows: rows are refilled
    one_by_one = [generate(model, [p], 20, GREEDY, max_batch=1)[0] for p in prompts()]
    assert batch == one_by_one
    assert one_by_one == [no_cache_greedy(model, p, 20) for p in prompts()]


def test_greedy_is_deterministic_and_seeded_sampling_reproducible():
    model = model_for("gqa-rope")
    assert generate(model, prompts(), 12, GREEDY) == generate(model, prompts(), 12, GREEDY)
    params = SamplingParams(temperature=1.0, top_k=20)
    first = generate(model, prompts(), 12, params, seed=5, max_batch=4)
    assert first == generate(model, prompts(), 12, params, seed=5, max_batch=2)  # batching never changes samples
    assert first != generate(model, prompts(), 12, params, seed=6, max_batch=4)


def test_rows_join_and_leave_at_any_step():
    model = model_for("gqa-rope")
    engine = Engine(model, max_batch=3)
    ps = prompts()
    seqs = [engine.add(TokenRequest(ps[0], 15, GREEDY))[0], engine.add(TokenRequest(ps[1], 4, GREEDY))[0]]
    for step in range(20):
        if step == 2:
            seqs.append(engine.add(TokenRequest(ps[2], 10, GREEDY))[0])  # joins mid-flight
        if step == 6:
            seqs.append(engine.add(TokenRequest(ps[3], 8, GREEDY))[0])  # takes the row seqs[1] freed
        engine.step()
    assert all(s.finished for s in seqs) and not engine.step()
    assert [s.output for s in seqs] == [no_cache_greedy(model, p, n) for p, n in zip(ps, (15, 4, 10, 8))]
    assert [s.finish_reason for s in seqs] == ["length"] * 4


def test_stop_ids_end_a_sequence_and_the_context_caps_the_budget():
    model = model_for("gqa-rope")
    free = generate(model, [prompts()[0]], 10, GREEDY)[0]
    stop = free[4]
    stopped = generate(model, [prompts()[0]], 10, GREEDY, stop_ids={stop})[0]
    assert stopped == free[: free.index(stop)]
    engine = Engine(model, max_batch=1)
    seq, _ = engine.add(TokenRequest(list(range(60)), 100, GREEDY))  # context 64: room for 4 new tokens
    while engine.active:
        engine.step()
    assert len(seq.output) == 4 and seq.finish_reason == "length"


def test_logprobs_are_the_model_distribution():
    model = model_for("gqa-rope")
    engine = Engine(model, max_batch=1)
    prompt = prompts()[1]
    _, event = engine.add(TokenRequest(prompt, 3, GREEDY, logprobs=3))
    with torch.no_grad():
        expected = torch.log_softmax(model(torch.tensor([prompt])).logits[0, -1], -1)
    assert event.logprob == pytest.approx(float(expected.max()), abs=1e-5)
    assert [t for t, _ in event.top_logprobs] == expected.topk(3).indices.tolist()


@pytest.mark.parametrize("kv_heads", [None, 2, 1])
def test_fast_batch1_decode_equals_the_module_forward(kv_heads):
    from slmkit.model.fast_decode import FastDecoder

    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=97, context_length=64, n_layers=2, n_heads=4, n_kv_heads=kv_heads, d_model=32)
    model = Transformer(cfg).eval()
    assert FastDecoder.supports(cfg) and not FastDecoder.supports(VARIANTS["learned-gelu"])
    outputs = {}
    for fast in (True, False):
        engine = Engine(model, max_batch=1, fast_decode=fast)
        assert (engine._fast is not None) == fast
        seq, _ = engine.add(TokenRequest(prompts()[3], 30, GREEDY, logprobs=0))
        logprobs = []
        while not seq.finished:
            logprobs += [e.logprob for _, e in engine.step()]
        outputs[fast] = (seq.output, logprobs)
    assert outputs[True][0] == outputs[False][0] == no_cache_greedy(model, prompts()[3], 30)
    torch.testing.assert_close(outputs[True][1], outputs[False][1], atol=1e-5, rtol=0)
