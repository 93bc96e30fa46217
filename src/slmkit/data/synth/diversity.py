"""How varied a set of stories is: distinct-n (unique n-grams over all n-grams) and the unique-story rate.

distinct-n falls as a corpus grows (the same phrases recur), so compare figures over the same number of stories;
`synth_stage` reports them over the first `DIVERSITY_WINDOW` (10k) stories.

Example:
    diversity_stats(["The cat sat.", "The dog ran."])  # {"stories": 2, "distinct_2": 0.75, ...}
"""

from __future__ import annotations

from collections.abc import Iterable

from slmkit.data.segment import words_of

DIVERSITY_WINDOW = 10_000


def diversity_stats(texts: Iterable[str]) -> dict[str, float | int]:
    """distinct-1/2/3 over all stories together, the share of unique stories, and mean words per story.

    Example: `diversity_stats(stories)["distinct_3"]`
    """
    unigrams: set[str] = set()
    bigrams: set[tuple[str, str]] = set()
    trigrams: set[tuple[str, str, str]] = set()
    total_words = total_bi = total_tri = 0
    unique_texts: set[str] = set()
    count = 0
    for text in texts:
        count += 1
        unique_texts.add(text)
        words = words_of(text)
        n = len(words)
        total_words += n
        unigrams.update(words)
        if n >= 2:
            total_bi += n - 1
            bigrams.update(zip(words, words[1:]))
        if n >= 3:
            total_tri += n - 2
            trigrams.update(zip(words, words[1:], words[2:]))
    return {
        "stories": count,
        "distinct_1": round(len(unigrams) / total_words, 4) if total_words else 0.0,
        "distinct_2": round(len(bigrams) / total_bi, 4) if total_bi else 0.0,
        "distinct_3": round(len(trigrams) / total_tri, 4) if total_tri else 0.0,
        "unique_story_rate": round(len(unique_texts) / count, 4) if count else 0.0,
        "vocabulary": len(unigrams),
        "mean_words": round(total_words / count, 1) if count else 0.0,
    }
