"""Story metrics in the spirit of the TinyStories evaluation: age appropriateness, creativity, consistency, grammar.

Pure text functions (no model): `slm eval stories` (eval/story_eval.py) generates the stories and calls these.

- **Age appropriateness**: share of words on the Dale–Chall list of ~3,000 words familiar to 4th-graders (regular
  inflections of a listed word count, as in the Dale–Chall rules); Flesch–Kincaid grade with a rule-based syllable
  counter (below); mean age of acquisition when the user supplies norms (Kuperman et al. 2012 CSV).
- **Creativity / diversity**: distinct-n over all stories; self-BLEU (each story scored against all the others: high
  means the stories repeat each other); novelty as the longest word n-gram shared with the training data (the
  TinyStories paper's memorization check).
- **Consistency**: named characters of the prompt that come back in the continuation, names that appear from nowhere,
  and repetition within a story (share of repeated 4-grams).
- **Grammar, offline proxy**: share of the story's word bigrams attested in a reference corpus (the training data).
  Ungrammatical output ("the the", "she go ran") produces bigrams no fluent text contains; fluent but novel text keeps
  a high share because children's-story bigrams are few. The LLM judge (eval/judge.py) gives the real grammar score.

Example:
    flesch_kincaid_grade("The cat sat. The dog ran.")  # -> -2.62 (very easy text)
"""

from __future__ import annotations

import csv
import importlib.util
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from slmkit.common.errors import InputError, MissingFileError, SlmkitError
from slmkit.data.segment import sentences, words_of

_CAPITALIZED = re.compile(r"\b[A-Z][a-z]+\b")


# ---- age appropriateness ------------------------------------------------------------------------------------------


def count_syllables(word: str) -> int:
    """Syllables by vowel groups (y is a vowel except as the first letter), minus a silent final "e"
    ("make"), keeping "-le" after a consonant ("lit-tle") and "-ed"/"-es" only after t/d or sibilants. At least 1.

    Example: `count_syllables("beautiful") == 3`
    """
    w = re.sub(r"[^a-z]", "", word.lower())
    if not w:
        return 0
    groups = len(re.findall(r"[aeiouy]+", "x" + w[1:] if w[0] == "y" else w))
    if w.endswith("e") and not w.endswith(("le", "ee", "ye")) and groups > 1:
        groups -= 1  # silent e: make, stone
    elif w.endswith("le") and len(w) > 2 and w[-3] in "aeiouy" and groups > 1:
        groups -= 1  # "ale", "ole" as in whale, hole: one vowel sound
    if re.search(r"[^aeiouytd]ed$", w) and groups > 1:
        groups -= 1  # jumped, played: -ed is not a syllable unless after t/d
    elif re.search(r"[^aeiouyszxh]es$", w) and not w.endswith(("ches", "shes", "ges", "ces")) and groups > 1:
        groups -= 1  # likes, makes: -es not a syllable unless after a sibilant
    return max(1, groups)


def flesch_kincaid_grade(text: str) -> float:
    """0.39 * words/sentence + 11.8 * syllables/word - 15.59 (US school grade; may be negative for very easy text).

    Example: `flesch_kincaid_grade("The cat sat.")`
    """
    words = words_of(text)
    if not words:
        return 0.0
    n_sentences = max(1, len(sentences(text)))
    syllables = sum(count_syllables(w) for w in words)
    return 0.39 * len(words) / n_sentences + 11.8 * syllables / len(words) - 15.59


def load_easy_words(path: str | Path | None = None) -> frozenset[str]:
    """The Dale–Chall easy-word list: from `path` (one word per line), else the copy that the `textstat` package
    ships (read as a file: importing textstat >= 0.7.4 would try to download cmudict).

    Example: `"dog" in load_easy_words()`
    """
    if path is None:
        spec = importlib.util.find_spec("textstat")
        if spec is None or not spec.submodule_search_locations:
            raise SlmkitError("easy-word list: the textstat package is not installed; pip install 'slmkit[eval]' "
                              "or pass a word list file (--easy-words FILE)")
        path = Path(next(iter(spec.submodule_search_locations))) / "resources" / "en" / "easy_words.txt"
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(path, expected="a word list, one word per line")
    return frozenset(w.strip().lower() for w in path.read_text(encoding="utf-8").split() if w.strip())


def _base_forms(word: str) -> Iterable[str]:
    """The word and the stems it may be a regular inflection of (plural, past, -ing, comparative)."""
    yield word
    for suffix, replacements in (("ies", ("y",)), ("es", ("", "e")), ("s", ("",)), ("ied", ("y",)), ("ed", ("", "e")),
                                 ("ing", ("", "e")), ("er", ("", "e")), ("est", ("", "e"))):
        if word.endswith(suffix) and len(word) > len(suffix) + 1:
            stem = word[: -len(suffix)]
            for r in replacements:
                yield stem + r
            if len(stem) > 2 and stem[-1] == stem[-2]:  # doubled consonant: running -> run
                yield stem[:-1]


def easy_word_share(text: str, easy_words: frozenset[str]) -> float:
    """Share of words that are on the easy list or regular inflections of a listed word.

    Example: `easy_word_share("The dogs jumped.", load_easy_words()) == 1.0`
    """
    words = words_of(text)
    if not words:
        return 0.0
    return sum(any(f in easy_words for f in _base_forms(w)) for w in words) / len(words)


def load_aoa_norms(path: str | Path) -> dict[str, float]:
    """word -> age of acquisition in years from a Kuperman-style CSV (columns `Word` and `AoA_Kup` or
    `AoA_Kup_lem`; the lemma value fills gaps). Example: `load_aoa_norms("AoA_51715_words.csv")["dog"] == 2.8`
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(path, expected="an age-of-acquisition CSV (Kuperman et al. 2012)")
    with path.open(encoding="utf-8-sig", newline="") as f:
        reader = csv.DictReader(f)
        columns = reader.fieldnames or []
        if "Word" not in columns or not {"AoA_Kup", "AoA_Kup_lem"} & set(columns):
            raise InputError(str(path), found=f"columns {columns[:6]}", expected="columns Word and AoA_Kup/AoA_Kup_lem")
        norms: dict[str, float] = {}
        for row in reader:
            for column in ("AoA_Kup", "AoA_Kup_lem"):
                value = (row.get(column) or "").strip()
                if value and value.upper() != "NA":
                    try:
                        norms[row["Word"].strip().lower()] = float(value)
                        break
                    except ValueError:
                        continue
    return norms


def age_of_acquisition(texts: Sequence[str], norms: dict[str, float], young_age: float = 6.0) -> dict[str, float]:
    """Mean AoA of the words that have a norm, their coverage, and the share learned by `young_age` years.

    Example: `age_of_acquisition(["The dog ran."], {"dog": 2.8, "ran": 4.0, "the": 3.0})["mean_aoa"] == 3.2666...`
    """
    ages = [norms[w] for t in texts for w in words_of(t) if w in norms]
    total = sum(len(words_of(t)) for t in texts)
    if not ages:
        return {"mean_aoa": float("nan"), "aoa_coverage": 0.0, f"share_aoa_le_{young_age:g}": 0.0}
    return {"mean_aoa": float(np.mean(ages)), "aoa_coverage": len(ages) / total,
            f"share_aoa_le_{young_age:g}": float(np.mean([a <= young_age for a in ages]))}


# ---- creativity / diversity ---------------------------------------------------------------------------------------


def _ngrams(words: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(words[i : i + n]) for i in range(len(words) - n + 1)]


def distinct_n(texts: Sequence[str], n: int) -> float:
    """Unique n-grams / all n-grams over all texts together (Li et al. 2016).

    Example: `distinct_n(["a b a b"], 2) == 2/3`
    """
    grams = [g for t in texts for g in _ngrams(words_of(t), n)]
    return len(set(grams)) / len(grams) if grams else 0.0


def self_bleu(texts: Sequence[str]) -> float:
    """Mean sentence BLEU (0–100, sacrebleu) of each text against all the others as references; lower = more varied.

    Example: `self_bleu(["the cat sat on the mat", "the cat sat on the mat"]) == 100.0`
    """
    if len(texts) < 2:
        return 0.0
    from sacrebleu.metrics import BLEU

    bleu = BLEU(effective_order=True)
    scores = [bleu.sentence_score(t, [o for j, o in enumerate(texts) if j != i]).score for i, t in enumerate(texts)]
    return float(np.mean(scores))


class NgramIndex:
    """Which word n-grams occur in a reference corpus, for any n, with sorted 64-bit rolling hashes per n.

    Example:
        index = NgramIndex(["the cat sat on the mat"]); index.longest_overlap("a cat sat on a rug")  # -> 3
    """

    _PRIME = np.uint64(1_000_003)

    def __init__(self, corpus: Iterable[str]):
        self._vocab: dict[str, int] = {}
        ids: list[int] = []
        for text in corpus:
            ids.extend(self._vocab.setdefault(w, len(self._vocab) + 1) for w in words_of(text))
            ids.append(0)  # document separator: no query n-gram contains id 0, so none spans two documents
        self._ids = np.asarray(ids, dtype=np.uint64)
        self._unknown = np.uint64(len(self._vocab) + 1)  # a query word the corpus never has
        self._hashes: dict[int, np.ndarray] = {}
        self.n_words = int(len(ids) - ids.count(0)) if ids else 0

    def _rolling(self, ids: np.ndarray, n: int) -> np.ndarray:
        """Hash of every window of n ids: ((id0 * P + id1) * P + ...) mod 2**64, vectorised over windows."""
        if len(ids) < n:
            return np.empty(0, dtype=np.uint64)
        windows = len(ids) - n + 1
        h = np.zeros(windows, dtype=np.uint64)
        with np.errstate(over="ignore"):
            for j in range(n):
                h = h * self._PRIME + ids[j : j + windows]
        return h

    def _corpus_hashes(self, n: int) -> np.ndarray:
        if n not in self._hashes:
            self._hashes[n] = np.unique(self._rolling(self._ids, n))
        return self._hashes[n]

    def _query_ids(self, text: str) -> np.ndarray:
        return np.asarray([self._vocab.get(w, int(self._unknown)) for w in words_of(text)], dtype=np.uint64)

    def attested(self, text: str, n: int) -> np.ndarray:
        """Boolean per n-gram of `text`: does the corpus contain it?"""
        query = self._rolling(self._query_ids(text), n)
        corpus = self._corpus_hashes(n)
        if not len(query) or not len(corpus):
            return np.zeros(len(query), dtype=bool)
        pos = np.clip(np.searchsorted(corpus, query), 0, len(corpus) - 1)
        return corpus[pos] == query

    def longest_overlap(self, text: str, max_n: int = 64) -> int:
        """Length in words of the longest word n-gram of `text` that occurs in the corpus (binary search on n:
        if an n-gram is shared, so are its (n-1)-grams)."""
        lo, hi = 0, min(max_n, len(words_of(text)))
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.attested(text, mid).any():
                lo = mid
            else:
                hi = mid - 1
        return lo


def novelty(texts: Sequence[str], index: NgramIndex, memorized_at: int = 12) -> dict[str, float]:
    """Longest n-gram overlap with the training data: mean, max, and the share of stories with an overlap of at
    least `memorized_at` words (copied passages rather than recombined phrases)."""
    overlaps = np.asarray([index.longest_overlap(t) for t in texts] or [0])
    return {"overlap_mean": float(overlaps.mean()), "overlap_max": int(overlaps.max()),
            f"share_overlap_ge_{memorized_at}": float((overlaps >= memorized_at).mean())}


# ---- consistency and grammar --------------------------------------------------------------------------------------


def character_names(text: str) -> set[str]:
    """Capitalised words that are not the first word of a sentence (names such as Lily, Tom, Mom).

    Example: `character_names("Once there was a girl named Lily. Lily had a dog called Max.") == {"Lily", "Max"}`
    """
    names: set[str] = set()
    for sentence in sentences(text):
        names.update(_CAPITALIZED.findall(sentence.split(" ", 1)[1] if " " in sentence else ""))
    return names - {"I"}


def consistency(prompt: str, continuation: str) -> dict[str, float]:
    """Named characters of the prompt mentioned again (`names_kept`, a share; NaN when the prompt names nobody) and
    names in the continuation that neither the prompt nor the continuation introduced first (`new_names`)."""
    before = character_names(prompt)
    mentioned = set(_CAPITALIZED.findall(continuation))
    after = character_names(continuation)
    kept = len(before & mentioned) / len(before) if before else float("nan")
    return {"names_kept": kept, "new_names": float(len(after - before))}


def repetition_rate(text: str, n: int = 4) -> float:
    """Share of the text's word n-grams that repeat an earlier one. Example: `repetition_rate("a b c d a b c d", 2)`"""
    grams = _ngrams(words_of(text), n)
    return 1.0 - len(set(grams)) / len(grams) if grams else 0.0


def attested_bigram_share(text: str, index: NgramIndex) -> float:
    """The offline grammar proxy: share of the text's word bigrams found in the reference corpus."""
    hits = index.attested(text, 2)
    return float(hits.mean()) if len(hits) else 0.0
