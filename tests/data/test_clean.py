"""Text normalization, exact-duplicate keys and the split hash."""

from __future__ import annotations

import unicodedata

from hypothesis import given
from hypothesis import strategies as st

from slmkit.data.clean import normalize_text, split_score, text_key


def test_normalize_line_endings_trailing_space_blank_runs_and_strip():
    raw = "  Once upon a time.  \r\nThe end.\t\r\n\r\n\r\n\r\nNext\rpart \n\n"
    assert normalize_text(raw) == "Once upon a time.\nThe end.\n\nNext\npart"


def test_single_blank_line_is_kept_and_inner_spaces_untouched():
    assert normalize_text("a  b\n\nc") == "a  b\n\nc"


def test_nfc_makes_decomposed_and_composed_text_equal():
    composed, decomposed = "caf\u00e9", "cafe\u0301"
    assert composed != decomposed
    assert normalize_text(decomposed) == composed
    assert text_key(normalize_text(decomposed)) == text_key(normalize_text(composed))


@given(st.text())
def test_normalize_is_idempotent_and_nfc(text):
    once = normalize_text(text)
    assert normalize_text(once) == once
    assert unicodedata.is_normalized("NFC", once)
    assert "\r" not in once and "\n\n\n" not in once


def test_split_score_is_stable_and_seed_dependent():
    assert split_score("a story", 0) == split_score("a story", 0)
    assert split_score("a story", 0) != split_score("a story", 1)
    scores = [split_score(f"doc {i}", 0) for i in range(2000)]
    assert all(0 <= s < 1 for s in scores)
    assert 0.03 < sum(s < 0.05 for s in scores) / len(scores) < 0.07  # roughly uniform
