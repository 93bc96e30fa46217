"""Task metrics against hand-computed values."""

import pytest

from slmkit.eval.metrics import (
    accuracy,
    bleu_chrf,
    classification_report,
    confusion_matrix,
    first_sentence,
    macro_f1,
    rouge,
)


def test_accuracy_confusion_and_macro_f1_by_hand():
    truth = [0, 0, 0, 1, 1, 2]
    pred = [0, 0, 1, 1, 2, 2]
    assert accuracy(truth, pred) == pytest.approx(4 / 6)
    matrix = confusion_matrix(truth, pred, 3)
    assert matrix == [[2, 1, 0], [0, 1, 1], [0, 0, 1]]
    # F1: class 0: 2tp, 1fn, 0fp -> 4/5; class 1: 1tp, 1fn, 1fp -> 2/4; class 2: 1tp, 0fn, 1fp -> 2/3
    assert macro_f1(matrix) == pytest.approx((0.8 + 0.5 + 2 / 3) / 3)
    report = classification_report(truth, pred, ["a", "b", "c"])
    assert report["labels"] == ["a", "b", "c"] and report["n"] == 6


def test_macro_f1_skips_classes_absent_from_truth_and_predictions():
    assert macro_f1([[3, 0], [0, 0]]) == 1.0


def test_rouge_and_bleu_chrf_agree_with_identity_and_disjoint_texts():
    same = rouge(["the cat sat on the mat"], ["the cat sat on the mat"])
    assert same["rouge1"] == pytest.approx(100.0) and same["rougeL"] == pytest.approx(100.0)
    assert rouge(["dogs bark"], ["the cat sat"])["rouge1"] == 0.0
    assert bleu_chrf(["le chat est noir"], ["le chat est noir"])["chrf"] == pytest.approx(100.0)
    assert bleu_chrf(["xyz"], ["le chat est noir"])["bleu"] == pytest.approx(0.0)


def test_first_sentence_baseline():
    assert first_sentence("Hi there. How are you?") == "Hi there."
    assert first_sentence("#Person1#: Hello!\n#Person2#: Hi.") == "#Person1#: Hello!"
    assert first_sentence("no stop") == "no stop"
