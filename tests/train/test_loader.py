import numpy as np
import pytest
import torch

from slmkit.common.errors import InputError
from slmkit.data.loader import TokenBatchLoader
from slmkit.eval.lm import sequential_windows


def test_batches_are_a_pure_function_of_seed_and_index():
    tokens = np.arange(1000, dtype=np.uint16)
    a = TokenBatchLoader(tokens, 4, 16, seed=1)
    b = TokenBatchLoader(tokens, 4, 16, seed=1)
    x1, y1 = a.batch(5)
    x2, y2 = b.batch(5)
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert torch.equal(y1[:, :-1], x1[:, 1:])  # targets are inputs shifted by one
    assert x1.dtype == torch.int64 and x1.shape == (4, 16)
    assert not torch.equal(a.batch(6)[0], x1)


def test_too_short_shard_is_a_clear_error():
    with pytest.raises(InputError, match="val.bin: found '10 tokens', expected at least seq_len"):
        TokenBatchLoader(np.arange(10), 2, 16, name="val.bin")


def test_sequential_windows_score_every_token_once():
    tokens = np.arange(103)
    targets = np.concatenate([y.numpy().ravel() for _, y in sequential_windows(tokens, 10, 3)])
    assert targets.tolist() == list(range(1, 103))
