"""Distillation loss against hand-computed values, and the tokenizer check."""

import math

import pytest
import torch

from slmkit.common.errors import InputError
from slmkit.model.loss import IGNORE_INDEX
from slmkit.tasks.distill import check_same_vocabulary, distillation_loss


def _kl(p, q):
    return sum(pi * (math.log(pi) - math.log(qi)) for pi, qi in zip(p, q))


def _softmax(xs, t):
    e = [math.exp(x / t) for x in xs]
    return [v / sum(e) for v in e]


def test_loss_matches_hand_computation():
    student = torch.tensor([[1.0, 0.0, -1.0], [0.5, 0.5, 0.0]])
    teacher = torch.tensor([[2.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    targets = torch.tensor([0, IGNORE_INDEX])  # the second position does not count
    total, kl, ce = distillation_loss(student, teacher, targets, temperature=2.0, alpha=0.25)
    hand_kl = 4.0 * _kl(_softmax([2.0, 0.0, 0.0], 2.0), _softmax([1.0, 0.0, -1.0], 2.0))
    hand_ce = -math.log(_softmax([1.0, 0.0, -1.0], 1.0)[0])
    assert kl.item() == pytest.approx(hand_kl, rel=1e-5)
    assert ce.item() == pytest.approx(hand_ce, rel=1e-5)
    assert total.item() == pytest.approx(0.25 * hand_kl + 0.75 * hand_ce, rel=1e-5)


def test_identical_logits_give_zero_kl_and_alpha_zero_is_plain_ce():
    logits = torch.randn(5, 7)
    targets = torch.randint(0, 7, (5,))
    total, kl, ce = distillation_loss(logits, logits.clone(), targets, temperature=3.0, alpha=0.0)
    assert kl.item() == pytest.approx(0.0, abs=1e-6)
    assert total.item() == pytest.approx(torch.nn.functional.cross_entropy(logits, targets).item())


def test_different_tokenizers_are_refused(tokenizer):
    vocab = tokenizer.hf_tokenizer.get_vocab()
    check_same_vocabulary(tokenizer, dict(vocab), "teacher/tokenizer.json")  # same: fine
    swapped = dict(vocab)
    a, b = list(vocab)[10], list(vocab)[11]
    swapped[a], swapped[b] = vocab[b], vocab[a]
    with pytest.raises(InputError, match=r"teacher/tokenizer.json: found .*differ from the student's on 2 of"):
        check_same_vocabulary(tokenizer, swapped, "teacher/tokenizer.json")
