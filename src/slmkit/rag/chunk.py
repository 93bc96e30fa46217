"""Split documents into overlapping word windows, the unit the vector index stores and retrieves.

Windows of `size` words start every `size - overlap` words, so a sentence cut at one window's end appears whole at
the next one's start. Words (not model tokens) keep chunks identical whichever embedder reads them.

Example:
    chunk_text("a b c d e f g", size=4, overlap=2)  # ['a b c d', 'c d e f', 'e f g']
"""

from __future__ import annotations

from slmkit.common.errors import ConfigError


def chunk_text(text: str, size: int = 120, overlap: int = 30) -> list[str]:
    """Overlapping windows of `size` words; a text of at most `size` words is one chunk; empty text gives none."""
    if size < 1:
        raise ConfigError("chunk_words", size, ">= 1")
    if not 0 <= overlap < size:
        raise ConfigError("chunk_overlap", overlap, f"between 0 and chunk_words - 1 = {size - 1}")
    words = text.split()
    chunks, stride = [], size - overlap
    for start in range(0, len(words), stride):
        chunks.append(" ".join(words[start : start + size]))
        if start + size >= len(words):
            break
    return chunks
