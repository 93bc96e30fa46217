"""Task metrics: accuracy / macro-F1 / confusion matrix for classification, ROUGE for summaries, BLEU/chrF for
translations. ROUGE comes from `rouge-score` and BLEU/chrF from `sacrebleu` (the `eval` extra), imported on use.

Example:
    classification_report([0, 1, 1], [0, 1, 0], ["ham", "spam"])["accuracy"]   # 0.666...
    rouge([\"the cat sat\"], [\"a cat sat\"])["rougeL"]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def confusion_matrix(truth: Sequence[int], predicted: Sequence[int], n_classes: int) -> list[list[int]]:
    """matrix[i][j] = examples of true class i predicted as class j. Example: `confusion_matrix([0], [1], 2)`"""
    matrix = [[0] * n_classes for _ in range(n_classes)]
    for t, p in zip(truth, predicted, strict=True):
        matrix[t][p] += 1
    return matrix


def accuracy(truth: Sequence[int], predicted: Sequence[int]) -> float:
    """Fraction predicted right. Example: `accuracy([0, 1], [0, 0]) == 0.5`"""
    if not truth:
        return 0.0
    return sum(int(t == p) for t, p in zip(truth, predicted, strict=True)) / len(truth)


def macro_f1(matrix: list[list[int]]) -> float:
    """Unweighted mean of per-class F1 over classes that occur in truth or predictions (sklearn's convention).

    Example: `macro_f1([[1, 0], [0, 1]]) == 1.0`
    """
    n = len(matrix)
    scores = []
    for c in range(n):
        tp = matrix[c][c]
        fn = sum(matrix[c]) - tp
        fp = sum(matrix[r][c] for r in range(n)) - tp
        if tp + fn + fp == 0:
            continue  # class absent from truth and predictions
        scores.append(2 * tp / (2 * tp + fp + fn))
    return sum(scores) / len(scores) if scores else 0.0


def classification_report(truth: Sequence[int], predicted: Sequence[int], labels: Sequence[str]) -> dict[str, Any]:
    """accuracy, macro_f1, confusion (rows = truth, columns = predictions) and the label names."""
    matrix = confusion_matrix(truth, predicted, len(labels))
    return {
        "accuracy": accuracy(truth, predicted),
        "macro_f1": macro_f1(matrix),
        "confusion": matrix,
        "labels": list(labels),
        "n": len(truth),
    }


def rouge(predictions: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """Mean ROUGE-1/2/L F-measures (x100) with the Porter stemmer, as in the summarization papers.

    Example: `rouge(["a cat sat"], ["the cat sat"])["rougeL"]`
    """
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    totals = {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
    for pred, ref in zip(predictions, references, strict=True):
        scores = scorer.score(ref, pred)
        for key in totals:
            totals[key] += scores[key].fmeasure
    n = max(1, len(predictions))
    return {key: 100 * value / n for key, value in totals.items()}


def bleu_chrf(predictions: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """Corpus BLEU and chrF (sacrebleu defaults, one reference per sentence).

    Example: `bleu_chrf(["le chat"], ["le chat"])["chrf"] == 100.0`
    """
    import sacrebleu

    refs = [list(references)]
    return {
        "bleu": sacrebleu.corpus_bleu(list(predictions), refs).score,
        "chrf": sacrebleu.corpus_chrf(list(predictions), refs).score,
    }


def first_sentence(text: str) -> str:
    """The first sentence (or first line of a dialogue): the trivial summarization baseline.

    Example: `first_sentence("Hi. Bye.") == "Hi."`
    """
    line = text.strip().split("\n", 1)[0]
    for i, ch in enumerate(line):
        if ch in ".!?" and (i + 1 == len(line) or line[i + 1] == " "):
            return line[: i + 1]
    return line
