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
