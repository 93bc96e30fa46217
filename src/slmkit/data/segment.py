"""Splitting text into sentences and words, the way every story metric and check counts them.

Example:
    sentences("Hi. Bye!") == ["Hi.", "Bye!"]; words_of("Hi, Tom!") == ["hi", "tom"]
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-z]+(?:['-][a-z]+)*")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+")


def words_of(text: str) -> list[str]:
    """Lower-case words without punctuation. Example: `words_of("Hi, Tom!") == ["hi", "tom"]`"""
    return _WORD.findall(text.lower())


def sentences(text: str) -> list[str]:
    """Sentences split after . ! ? (and any closing quote). Example: `sentences("Hi. Bye!") == ["Hi.", "Bye!"]`"""
    return [s for s in (part.strip() for part in _SENTENCE_END.split(text.strip())) if s]
