"""Near-duplicate detection: MinHash estimates, LSH recall, ordering semantics, speed."""

from __future__ import annotations

import random
import time

import numpy as np
import pytest

from slmkit.common.errors import ConfigError
from slmkit.data.dedup import MinHasher, NearDuplicateFinder, find_near_duplicates, jaccard, lsh_bands

WORDS = [
    "the", "cat", "dog", "sat", "ran", "on", "a", "mat", "big", "small", "red", "blue", "happy", "sad",
    "tree", "park", "ball", "home", "sun", "moon",
]


def random_text(rng: random.Random, n_words: int = 120) -> str:
    return " ".join(rng.choice(WORDS) + str(rng.randint(0, 50)) for _ in range(n_words))


def edit(rng: random.Random, text: str, fraction: float) -> str:
    words = text.split()
    for i in range(len(words)):
        if rng.random() < fraction:
            words[i] = f"edit{i}"
    return " ".join(words)


def test_signature_estimates_jaccard():
    rng = random.Random(0)
    hasher = MinHasher(num_perm=256)
    errors = []
    for _ in range(30):
        a = random_text(rng)
        b = edit(rng, a, rng.uniform(0.0, 0.1))
        sig = hasher.signatures([a, b])
        errors.append(float(np.mean(sig[0] == sig[1])) - jaccard(a, b))
    assert abs(np.mean(errors)) < 0.02 and np.std(errors) < 0.05


def test_signatures_do_not_depend_on_batching():
    rng = random.Random(1)
    docs = [random_text(rng, rng.randint(1, 50)) for _ in range(50)]
    hasher = MinHasher()
    together = hasher.signatures(docs, chunk_shingles=64)
    alone = np.concatenate([hasher.signatures([d]) for d in docs])
    assert np.array_equal(together, alone)


def test_word_order_matters_and_short_texts_work():
    hasher = MinHasher(ngram=2)
    s = hasher.signatures(["a b c", "c b a", "word"])
    assert not np.array_equal(s[0], s[1])
    assert jaccard("hi", "hi") == 1.0


def test_finder_flags_near_copies_of_the_first_kept_document():
    rng = random.Random(2)
    original = random_text(rng)
    near = edit(rng, original, 0.01)  # Jaccard ~0.95
    different = random_text(rng)
    assert jaccard(original, near) > 0.9
    finder = NearDuplicateFinder(threshold=0.8)
    assert finder.add_batch([original, different, near]) == [None, None, 0]
    assert finder.add(original + " end") == 0  # later copies match the first kept copy, not the dropped one


def test_recall_above_threshold_and_precision_below():
    rng = random.Random(3)
    found_high, found_low = [], []
    for _ in range(40):
        a = random_text(rng, 200)
        b = edit(rng, a, 0.005)  # Jaccard around 0.97
        c = edit(rng, a, 0.12)  # Jaccard around 0.4
        high = find_near_duplicates([a, b], threshold=0.8)
        low = find_near_duplicates([a, c], threshold=0.8)
        found_high.append(high == [(1, 0)])
        found_low.append(bool(low))
    assert sum(found_high) >= 39 and sum(found_low) == 0


def test_lsh_bands_choice():
    bands, rows = lsh_bands(0.8, 128)
    assert bands * rows <= 128
    assert 1 - (1 - 0.8**rows) ** bands >= 0.9
    assert lsh_bands(1.0, 64) == (1, 64)


def test_bad_threshold_is_a_config_error():
    with pytest.raises(ConfigError, match="near_dup_threshold"):
        NearDuplicateFinder(threshold=1.5)


def test_twenty_thousand_documents_in_a_few_seconds():
    rng = random.Random(4)
    base = [random_text(rng, 150) for _ in range(200)]
    docs = [f"{text} variant {i}" for i in range(100) for text in base]  # 20k docs, many near duplicates
    start = time.perf_counter()
    pairs = find_near_duplicates(docs, threshold=0.8)
    elapsed = time.perf_counter() - start
    assert len(pairs) > 19_000
    assert elapsed < 15, f"20k documents took {elapsed:.1f} s"  # ~3 s on one shared core
