import torch

from slmkit.infer.sampling import SamplingParams, sample_next_token


def test_greedy_is_argmax_and_deterministic():
    logits = torch.tensor([[0.1, 2.0, -1.0], [3.0, 0.0, 0.0]])
    out = sample_next_token(logits, None, SamplingParams(temperature=0))
    assert out.tolist() == [1, 0]


def test_top_k_and_top_p_restrict_support():
    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    gen = torch.Generator().manual_seed(0)
    seen_k = {int(sample_next_token(logits, gen, SamplingParams(top_k=2)).item()) for _ in range(200)}
    assert seen_k == {0, 1}
    seen_p = {int(sample_next_token(logits, gen, SamplingParams(top_p=0.7)).item()) for _ in range(200)}
    assert seen_p == {0, 1}  # 0.5 < 0.7 so the second token is needed; 0.8 >= 0.7 stops there
    seen_min = {int(sample_next_token(logits, gen, SamplingParams(min_p=0.5)).item()) for _ in range(200)}
    assert seen_min == {0, 1}  # 0.3 >= 0.5 * 0.5


def test_same_seed_same_samples():
    logits = torch.randn(4, 50)
    a = sample_next_token(logits, torch.Generator().manual_seed(3), SamplingParams())
    b = sample_next_token(logits, torch.Generator().manual_seed(3), SamplingParams())
    assert torch.equal(a, b)


def test_filter_masks_are_exact():
    from slmkit.infer.sampling import filter_logits

    logits = torch.log(torch.tensor([[0.5, 0.3, 0.15, 0.05]]))
    top_k = filter_logits(logits, SamplingParams(temperature=1.0, top_k=2))
    torch.testing.assert_close(top_k, torch.tensor([[0.625, 0.375, 0.0, 0.0]]))
    top_p = filter_logits(logits, SamplingParams(temperature=1.0, top_p=0.9))
    torch.testing.assert_close(top_p, torch.tensor([[0.5, 0.3, 0.15, 0.0]]) / 0.95)
    min_p = filter_logits(logits, SamplingParams(temperature=1.0, min_p=0.3))  # floor 0.15 keeps 0.15
    torch.testing.assert_close(min_p, torch.tensor([[0.5, 0.3, 0.15, 0.0]]) / 0.95)
    hot = filter_logits(logits, SamplingParams(temperature=2.0))
    torch.testing.assert_close(hot, torch.softmax(logits / 2, -1))


def test_penalties():
    from slmkit.infer.sampling import apply_penalties

    logits = torch.tensor([[2.0, -1.0, 0.5, 1.0]])
    counts = torch.tensor([[2.0, 0.0, 1.0, 0.0]])
    seen = torch.tensor([[True, True, False, False]])
    rep = apply_penalties(logits, SamplingParams(repetition_penalty=2.0), counts, seen)
    torch.testing.assert_close(rep, torch.tensor([[1.0, -2.0, 0.5, 1.0]]))  # positive halved, negative doubled
    freq = apply_penalties(logits, SamplingParams(frequency_penalty=0.5), counts, seen)
    torch.testing.assert_close(freq, torch.tensor([[1.0, -1.0, 0.0, 1.0]]))  # minus 0.5 x count
    pres = apply_penalties(logits, SamplingParams(presence_penalty=0.25), counts, seen)
    torch.testing.assert_close(pres, torch.tensor([[1.75, -1.0, 0.25, 1.0]]))  # minus 0.25 once
    assert torch.equal(logits, torch.tensor([[2.0, -1.0, 0.5, 1.0]]))  # pure: the input is untouched
    # greedy applies penalties before the argmax
    greedy = SamplingParams(temperature=0, frequency_penalty=0.6)
    assert sample_next_token(logits, None, greedy, counts, seen).tolist() == [3]


def test_invalid_params_name_the_field():
    import pytest

    from slmkit.common.errors import ConfigError

    for kwargs, name in [({"temperature": -1}, "temperature"), ({"top_p": 0}, "top_p"), ({"top_k": 0}, "top_k"),
                         ({"presence_penalty": 3}, "presence_penalty"), ({"repetition_penalty": 0}, "repetition")]:
        with pytest.raises(ConfigError, match=name):
            SamplingParams(**kwargs)
