"""Verifiable rewards: functions `reward(prompt, completion, record) -> float` computed from the text alone.

`prompt` is the user's prompt (instruction + input, before any template), `completion` the model's text, `record`
the prompt file's record (extra fields such as `label` feed the rewards that need them). Instruction-following
rewards read the TinyStories-Instruct constraints (Features / Words / Summary lines) from the record's `instruction`
field, else from the prompt (eval/instruct_checks.py). Each is in [0, 1], higher is better.

Example:
    words_used("Words: dog, ball\\nStory:", "The dog had a ball.", {})  # 1.0
"""

from __future__ import annotations

import functools
import re
import string
from typing import Any

from slmkit.data.segment import words_of
from slmkit.eval.instruct_checks import Instruction, detect_features, parse_instruction, word_used
from slmkit.eval.stories import easy_word_share, load_easy_words, repetition_rate

MIN_WORDS, MAX_WORDS = 30, 400  # a story's sane length, as `check_story` uses


def constraints_of(prompt: str, record: dict[str, Any]) -> Instruction:
    """The instruction-following constraints: from the record's `instruction` field, else from the prompt."""
    text = record.get("instruction") if isinstance(record.get("instruction"), str) else prompt
    return parse_instruction(text)


def _text_words(completion: str) -> set[str]:
    words = words_of(completion)
    return set(words) | {w.split("'")[0] for w in words if "'" in w}  # let's -> let


def words_used(prompt: str, completion: str, record: dict[str, Any]) -> float:
    """Fraction of the required words (or their inflections) used; 1.0 when none are required."""
    required = constraints_of(prompt, record).words
    if not required:
        return 1.0
    present = _text_words(completion)
    return sum(word_used(w, present) for w in required) / len(required)


def features_present(prompt: str, completion: str, record: dict[str, Any]) -> float:
    """Fraction of the requested story features (Dialogue, Twist, ...) the completion shows."""
    requested = constraints_of(prompt, record).features
    if not requested:
        return 1.0
    found = detect_features(completion)
    return sum(f in found for f in requested) / len(requested)


def names_kept(prompt: str, completion: str, record: dict[str, Any]) -> float:
    """Fraction of the characters named in the summary that the completion mentions."""
    names = constraints_of(prompt, record).names
    if not names:
        return 1.0
    return sum(n in completion for n in names) / len(names)


def length_within(prompt: str, completion: str, record: dict[str, Any],
                  min_words: int = MIN_WORDS, max_words: int = MAX_WORDS) -> float:
    """1.0 within [min_words, max_words] words, else the ratio to the nearer bound (a gradient towards it).

    Example: `length_within("", "one two three", {}, min_words=6)  # 0.5`
    """
    n = len(words_of(completion))
    if n < min_words:
        return n / min_words
    if n > max_words:
        return max_words / n
    return 1.0


def instruction_following(prompt: str, completion: str, record: dict[str, Any]) -> float:
    """Mean of the four constraint rewards (words, features, names, length): a dense instruction-following score."""
    parts = (words_used, features_present, names_kept, length_within)
    return sum(f(prompt, completion, record) for f in parts) / len(parts)


def all_constraints(prompt: str, completion: str, record: dict[str, Any]) -> float:
    """1.0 when every constraint holds fully (what `slm eval tasks instruct` counts as satisfied), else 0.0."""
    parts = (words_used, features_present, names_kept, length_within)
    return float(all(f(prompt, completion, record) == 1.0 for f in parts))


def _normalized(text: str) -> str:
    return text.strip().lower().strip(string.punctuation + " ")


def label_correct(prompt: str, completion: str, record: dict[str, Any]) -> float:
    """Classification: 1.0 when the completion starts with the record's `label` (or `output`), case-insensitively.

    Example: `label_correct("Spam?", " Spam. It is.", {"label": "spam"})  # 1.0`
    """
    label = record.get("label", record.get("output"))
    if label is None:
        raise KeyError("label")  # the registry turns this into an error naming the record
    expected, answer = _normalized(str(label)), _normalized(completion)
    return float(bool(expected) and (answer == expected or answer.startswith(expected + " ")
                                     or re.match(re.escape(expected) + r"\b", answer) is not None))


@functools.cache
def _easy_words() -> frozenset[str]:
    return load_easy_words()


def easy_vocabulary(prompt: str, completion: str, record: dict[str, Any]) -> float:
    """Age-appropriate vocabulary: the share of words on the easy-word list (eval/stories.py); 0.0 for no words."""
    return easy_word_share(completion, _easy_words())


def low_repetition(prompt: str, completion: str, record: dict[str, Any]) -> float:
    """1 - the share of word 4-grams that repeat an earlier one."""
    return 1.0 - repetition_rate(completion, 4)


def contains_word(word: str):
    """A trivially learnable reward: 1.0 when the completion uses `word` (case-insensitive, as a whole word).

    Example: `contains_word("red")("", "A red ball.", {})  # 1.0`
    """
    target = word.lower()

    def contains(prompt: str, completion: str, record: dict[str, Any]) -> float:
        return float(target in {w.lower() for w in words_of(completion)})

    return contains
