"""Verifiable checks of a story against a TinyStories-Instruct prompt: required words used, requested features
present, the named character kept, length within bounds. Used by `slm eval tasks instruct` and as rewards.

Prompts look like the synthetic generator's `instruction` (and TinyStories-Instruct's):

    Features: Dialogue, Twist
    Words: remember, forest, high
    Summary: Luna tries to fly a new kite in the forest, and after many tries it flies high.
    Story:

Feature detectors are keyword heuristics over any story (not only synthetic ones): Dialogue = a quoted utterance;
BadEnding = sad words in the last two sentences and no happy ones; MoralValue = a lesson phrase; Twist = a surprise
marker; Foreshadowing = a hint of what is to come; Conflict = a disagreement or anger word. Their recall and false
positive rates on labelled synthetic stories are measured by the tests (tests/eval/test_instruct_checks.py).

Example:
    check_story(parse_instruction(story.instruction), story.text)["all"]  # True when every constraint holds
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from slmkit.data.segment import sentences, words_of

_QUOTE = re.compile(r"[\"“][^\"”]{2,}[\"”]")
_MARKERS = {
    "MoralValue": ("moral", "lesson", "learned that", "learned to", "learned how", "it is important to",
                   "always remember", "never forget", "from that day on", "from then on", "the next time"),
    "Twist": ("suddenly", "but then", "to everyone's surprise", "to their surprise", "surprise", "unexpected",
              "it turned out", "all of a sudden", "out of nowhere", "just then", "just as", "found out",
              "had an idea", "then a big", "then a little", "it was just", "had come back"),
    "Foreshadowing": ("little did", "would soon", "did not know it yet", "had a feeling", "funny feeling",
                      "something strange", "would later", "remembered what", "always said", "had said",
                      "did not notice", "something was about to", "wished he had", "wished she had",
                      "was not really listening", "too excited to listen"),
    "Conflict": ("argue", "argued", "fight", "fought", "angry", "mad", "shouted", "yelled", "would not share",
                 "refused", "did not agree", "could not agree", "disagree", "grabbed", "pushed", "stomped", "upset"),
}
_SAD = ("sad", "cried", "cry", "crying", "lost", "broke", "broken", "never", "gone", "alone", "hurt", "missed",
        "sighed", "tears", "no more", "could not", "died", "sick")
_HAPPY = ("happy", "smiled", "laughed", "glad", "joy", "happily", "cheered", "hugged", "best day", "fun")


@dataclass
class Instruction:
    features: list[str] = field(default_factory=list)
    words: list[str] = field(default_factory=list)
    summary: str = ""
    names: list[str] = field(default_factory=list)  # capitalised names in the summary: the characters to keep


def parse_instruction(prompt: str) -> Instruction:
    """The constraints of a TinyStories-Instruct style prompt (missing lines give empty constraints).

    Example: `parse_instruction("Words: dog, ball\\nStory:").words == ["dog", "ball"]`
    """
    fields: dict[str, str] = {}
    for line in prompt.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() in ("Features", "Words", "Summary"):
            fields[key.strip()] = value.strip()
    split = lambda v: [x.strip() for x in v.split(",") if x.strip()]  # noqa: E731
    summary = fields.get("Summary", "")
    names = sorted({w for w in re.findall(r"\b[A-Z][a-z]+\b", summary) if w not in _NOT_NAMES})
    return Instruction(split(fields.get("Features", "")), [w.lower() for w in split(fields.get("Words", ""))],
                       summary, names)


_NOT_NAMES = frozenset({"The", "A", "An", "One", "When", "Then", "After", "But", "And", "She", "He", "They", "It",
                        "His", "Her", "Their", "In", "On", "At", "With", "Mom", "Dad", "Once"})


@functools.cache
def _irregular_forms() -> dict[str, frozenset[str]]:
    """base word -> every surface form the synthetic vocabulary knows (ran, mice, ...)."""
    from slmkit.data.synth.vocab import FORM_INDEX

    forms: dict[str, set[str]] = {}
    for form, entries in FORM_INDEX.items():
        for _, base in entries:
            forms.setdefault(base, set()).add(form)
    return {base: frozenset(f) for base, f in forms.items()}


def word_used(word: str, text_words: set[str]) -> bool:
    """The word or an inflection of it occurs (remember -> remembered, fly -> flies/flew, run -> running)."""
    stem = word[:-1] if word.endswith("e") else word
    forms = {word, word + "s", word + "es", word + "ed", word + "d", stem + "ing", word + "ing", word + "er",
             word + "est", word + word[-1:] + "ing", word + word[-1:] + "ed"}
    if word.endswith("y"):
        forms |= {word[:-1] + "ies", word[:-1] + "ied"}
    forms |= _irregular_forms().get(word, frozenset())
    return bool(forms & text_words)


def detect_features(text: str) -> set[str]:
    """Features the story shows, by the heuristics of the module docstring."""
    lower = text.lower()
    found = {name for name, markers in _MARKERS.items() if any(_has_phrase(lower, m) for m in markers)}
    if _QUOTE.search(text):
        found.add("Dialogue")
    ending = " ".join(sentences(text)[-2:]).lower()
    if any(_has_phrase(ending, w) for w in _SAD) and not any(_has_phrase(ending, w) for w in _HAPPY):
        found.add("BadEnding")
    return found


def _has_phrase(lower_text: str, phrase: str) -> bool:
    return re.search(r"\b" + re.escape(phrase) + r"\b", lower_text) is not None


def check_story(instruction: Instruction, story: str, min_words: int = 30, max_words: int = 400) -> dict[str, bool]:
    """Each constraint as a boolean, and `all`.

    Example: `check_story(Instruction(words=["dog"]), "The dog ran ...")["words"]`
    """
    words = words_of(story)
    text_words = set(words) | {w.split("'")[0] for w in words if "'" in w}  # let's -> let
    n_words = len(words)
    present = detect_features(story)
    result = {
        "words": all(word_used(w, text_words) for w in instruction.words),
        "features": all(f in present for f in instruction.features),
        "names": all(n in story for n in instruction.names),
        "length": min_words <= n_words <= max_words,
    }
    result["all"] = all(result.values())
    return result
