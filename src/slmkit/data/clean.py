"""Text normalization and exact-duplicate keys for the data stage.

Normalization is deliberately conservative: it never rewrites words (no mojibake repair, no lowercasing), it only
makes equal-looking text byte-equal so that exact deduplication and tokenization see one spelling.

Example:
    normalize_text("Once\\r\\nupon  \\n\\n\\n\\na time ")  # -> "Once\\nupon\\n\\na time"
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

_TRAILING_SPACE = re.compile(r"[ \t\f\v]+$", re.MULTILINE)
_MANY_BLANK_LINES = re.compile(r"\n{3,}")  # 2+ blank lines in a row -> one blank line


def normalize_text(text: str) -> str:
    """NFC-normalize, unify line endings, strip trailing spaces per line, collapse runs of blank lines, strip.

    Example: `normalize_text("a \\r\\n\\n\\n\\nb")  # -> "a\\n\\nb"`
    """
    # NFC first: a decomposed "e" + combining accent and the precomposed "é" must hash alike.
    text = unicodedata.normalize("NFC", text)
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _TRAILING_SPACE.sub("", text)
    text = _MANY_BLANK_LINES.sub("\n\n", text)
    return text.strip()


def text_key(text: str) -> bytes:
    """A 16-byte digest identifying a normalized text, for exact-duplicate detection.

    Example: `text_key("hello") == text_key("hello")`
    """
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).digest()


def split_score(text: str, seed: int) -> float:
    """A stable number in [0, 1) derived from the text and a seed: the train/val split compares it to the fraction.

    Stable across runs, machines and input order (unlike Python's salted `hash`), so a document stays in the
    same split when more data is added. Example: `split_score("a story", seed=0) < 0.05`
    """
    digest = hashlib.blake2b(text.encode("utf-8"), digest_size=8, key=str(seed).encode()).digest()
    return int.from_bytes(digest, "big") / 2**64
