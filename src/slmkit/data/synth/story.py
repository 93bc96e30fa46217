"""Compose one story from a cast, a plot and sampled TinyStories features, with all of its annotations.

Example:
    story = generate_story(random.Random(0), index=0); print(story.instruction + story.text)
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from slmkit.data.synth.french import translation_pairs
from slmkit.data.synth.plots import OPENING, PLOTS, THEME_MORALS
from slmkit.data.synth.vocab import FORM_INDEX
from slmkit.data.synth.world import sample_cast

# TinyStories-Instruct feature names, with how often each is drawn.
FEATURE_RATES = {"Dialogue": 0.5, "BadEnding": 0.25, "MoralValue": 0.3, "Twist": 0.3, "Foreshadowing": 0.2,
                 "Conflict": 0.3}
FEATURES = tuple(FEATURE_RATES)
MAX_FEATURES = 3
MIN_SENTENCES, MAX_SENTENCES = 3, 12
ENDOFTEXT = "<|endoftext|>"

# Words too common to be a story's "required" word: they would make the Words line say nothing.
_PLAIN_WORDS = frozenset((
    "day", "time", "friend", "mom", "dad", "way", "home", "thing", "say", "go", "see", "look", "like", "love", "want",
    "come", "get", "make", "tell", "know", "think", "feel", "play", "little", "big", "happy", "sad", "new", "good",
))


@dataclass
class Story:
    """One generated story and its annotations (the `stories.jsonl` record is `to_record()`)."""

    id: str
    text: str
    features: list[str]
    words: list[str]  # [verb, noun, adjective] as in TinyStories-Instruct, each used in `text`
    summary: str
    label: dict[str, str]  # {"ending": "happy"|"sad", "theme": "sharing"|...}
    translations: list[dict[str, str]]  # [{"en": "The dog is happy.", "fr": "Le chien est content."}]
    instruction: str  # the TinyStories-Instruct header that precedes `text`
    plot: str
    characters: dict[str, str]  # hero/friend names, kinds and pronouns ("she"/"he")
    sentences: list[str] = field(repr=False)
    parts: list[str] = field(repr=False)  # template blocks used, in order: "intro", "problem", "twist", ...

    def to_record(self) -> dict:
        """The JSON-lines record. Example: `json.dumps(story.to_record())`"""
        return {"id": self.id, "text": self.text, "features": self.features, "words": self.words,
                "summary": self.summary, "label": self.label, "translations": self.translations,
                "instruction": self.instruction, "plot": self.plot, "characters": self.characters,
                "num_sentences": len(self.sentences)}

    def instruct_text(self) -> str:
        """The story in TinyStories-Instruct format, ending with the <|endoftext|> line."""
        return f"{self.instruction}{self.text}\n{ENDOFTEXT}\n"


# ------------------------------------------------------------------------------------------------ templates
@dataclass(frozen=True)
class _Template:
    tags: frozenset[str]
    sentences: tuple[str, ...]
    payoff: tuple[str, ...] = ()  # foreshadowing: the later sentence that pays the hint off


def _parse(raw: str) -> _Template:
    tags: frozenset[str] = frozenset()
    if raw.startswith("["):
        tag_text, _, raw = raw[1:].partition("] ")
        tags = frozenset(tag_text)
    hint, _, payoff = raw.partition(" || ")
    return _Template(tags, tuple(hint.split(" | ")), tuple(payoff.split(" | ")) if payoff else ())


_PARSED: dict[str, dict[str, list[_Template]]] = {
    name: {key: [_parse(t) for t in templates] for key, templates in plot.items() if key not in ("themes",)}
    for name, plot in {**PLOTS, "_opening": OPENING}.items()
}
_MORALS = {theme: [_parse(t) for t in templates] for theme, templates in THEME_MORALS.items()}
_FILTERED: dict[tuple[int, frozenset[str]], list[_Template]] = {}


def _usable(options: list[_Template], flags: frozenset[str]) -> list[_Template]:
    """Templates whose tags the cast satisfies (cached: the same few flag sets recur)."""
    key = (id(options), flags)
    found = _FILTERED.get(key)
    if found is None:
        found = _FILTERED[key] = [t for t in options if t.tags <= flags] or options
    return found


def _cast_flags(cast: dict[str, str]) -> frozenset[str]:
    flags = {"H" if cast["human"] else "A", "O" if cast["outdoor"] else "I"}
    if cast["has_sound"]:
        flags.add("S")
    return frozenset(flags)


@dataclass
class _Block:
    name: str
    options: list[_Template]
    choice: _Template
    optional: bool = False
    paragraph: int = 1


# ------------------------------------------------------------------------------------------------ assembly
def _sample_features(rng: random.Random) -> list[str]:
    chosen = [f for f in FEATURES if rng.random() < FEATURE_RATES[f]]
    if not chosen:
        chosen = [rng.choice(FEATURES)]
    while len(chosen) > MAX_FEATURES:
        chosen.pop(rng.randrange(len(chosen)))
    return chosen


def _blocks(rng: random.Random, plot: str, features: list[str], flags: frozenset[str], theme: str) -> list[_Block]:
    """The story's parts in reading order, each with a chosen template."""
    opening, parts = _PARSED["_opening"], _PARSED[plot]
    dialogue = "Dialogue" in features
    ending = "sad" if "BadEnding" in features else "happy"
    blocks: list[_Block] = []

    def add(name: str, options: list[_Template], optional: bool = False, paragraph: int = 1) -> _Block:
        usable = _usable(options, flags)
        block = _Block(name, usable, rng.choice(usable), optional, paragraph)
        blocks.append(block)
        return block

    def spoken(key: str, rate: float) -> list[_Template]:
        return parts[f"{key}_d"] if dialogue and f"{key}_d" in parts and rng.random() < rate else parts[key]

    add("intro", opening["intro"])
    if rng.random() < 0.7:
        add("like", opening["like"], optional=True)
    if rng.random() < 0.4:
        add("extra", opening["extra"], optional=True)
    if plot in ("lost", "sharing") and rng.random() < 0.8:
        add("has_obj", opening["has_obj"], optional=True)
    add("setup", parts["setup"], paragraph=2)
    foreshadow = add("foreshadow", parts["foreshadow"], paragraph=2) if "Foreshadowing" in features else None
    add("problem", spoken("problem", 1.0), paragraph=2)
    if foreshadow is not None:
        blocks.append(_Block("payoff", [], _Template(frozenset(), foreshadow.choice.payoff), paragraph=2))
    if "middle" in parts and rng.random() < 0.6:
        add("middle", parts["middle"], optional=True, paragraph=2)
    if "Conflict" in features:
        add("conflict", spoken("conflict", 0.6), paragraph=2)
    if "Twist" in features:
        add("twist", parts[f"twist_{ending}"], paragraph=2)
        add("resolution", parts[f"after_twist_{ending}"], paragraph=3)
    else:
        add("resolution", spoken(ending, 0.5), paragraph=3)
    if "MoralValue" in features:
        add("moral", _MORALS[theme], paragraph=3)
    return blocks


def _count(blocks: list[_Block]) -> int:
    return sum(len(b.choice.sentences) for b in blocks)


def _fit(blocks: list[_Block]) -> list[_Block]:
    """Keep a story within MAX_SENTENCES: drop optional parts, then use the shortest template of each part."""
    for name in ("extra", "like", "middle", "has_obj"):
        if _count(blocks) <= MAX_SENTENCES:
            return blocks
        blocks = [b for b in blocks if b.name != name]
    for block in blocks:
        if _count(blocks) <= MAX_SENTENCES:
            break
        if block.options:
            block.choice = min(block.options, key=lambda t: len(t.sentences))
    return blocks


_TOKEN = re.compile(r"[a-z]+(?:-[a-z]+)*")


def _required_words(rng: random.Random, tokens: set[str]) -> list[str]:
    """[verb, noun, adjective]: vocabulary words the text uses, preferring the less common ones."""
    by_pos: dict[str, set[str]] = {"verb": set(), "noun": set(), "adjective": set()}
    for token in tokens:
        for pos, base in FORM_INDEX.get(token, ()):
            by_pos[pos].add(base)
    words = []
    for pos in ("verb", "noun", "adjective"):
        found = sorted(by_pos[pos])  # sorted: set order changes between processes, the choice must not
        rare = [w for w in found if w not in _PLAIN_WORDS and " " not in w]
        words.append(rng.choice(rare or found))
    return words


def generate_story(rng: random.Random, index: int) -> Story:
    """One story with annotations, fully determined by the state of `rng`.

    Example: `generate_story(random.Random(7), 0).text.startswith(("Once", "There", "Long", "In", ...))`
    """
    cast = sample_cast(rng)
    plots = [p for p in PLOTS if cast["human"] or "humans_only" not in PLOTS[p]]
    plot = rng.choice(plots)
    theme = rng.choice(PLOTS[plot]["themes"])
    features = _sample_features(rng)
    flags = _cast_flags(cast)
    blocks = _fit(_blocks(rng, plot, features, flags, theme))
    while _count(blocks) > MAX_SENTENCES:  # rare: three long features; drop one that adds sentences
        droppable = [f for f in features if f in ("Foreshadowing", "Conflict", "Twist", "MoralValue")]
        features.remove(droppable[-1])
        blocks = _fit(_blocks(rng, plot, features, flags, theme))

    sentences: list[str] = []
    paragraphs: dict[int, list[str]] = {}
    for block in blocks:
        for template in block.choice.sentences:
            sentence = template.format_map(cast)
            sentence = sentence[:1].upper() + sentence[1:]
            sentences.append(sentence)
            paragraphs.setdefault(block.paragraph, []).append(sentence)
    text = "\n\n".join(" ".join(p) for _, p in sorted(paragraphs.items()))

    ending = "sad" if "BadEnding" in features else "happy"
    summary = rng.choice(_usable(_PARSED[plot][f"summary_{ending}"], flags)).sentences[0].format_map(cast)
    summary = summary[:1].upper() + summary[1:]
    # names are not words of the story ("Honey" the bear is not the noun honey)
    tokens = set(_TOKEN.findall(text.lower())) - {cast["name"].lower(), cast["fname"].lower()}
    words = _required_words(rng, tokens)
    instruction = (f"Features: {', '.join(features)}\nWords: {', '.join(words)}\nSummary: {summary}\n"
                   f"Story: \n\n")
    return Story(
        id=f"synth-{index:07d}", text=text, features=features, words=words, summary=summary,
        label={"ending": ending, "theme": theme}, translations=translation_pairs(rng, cast, tokens),
        instruction=instruction, plot=plot, sentences=sentences, parts=[b.name for b in blocks],
        characters={"hero": cast["name"], "hero_kind": cast["kind"], "hero_pronoun": cast["he"],
                    "friend": cast["fname"], "friend_kind": cast["fkind"], "friend_pronoun": cast["fhe"]},
    )


def story_rng(seed: int, index: int) -> random.Random:
    """The generator of story `index` under `seed`: each story has its own, so stories do not depend on n.

    Example: `generate_story(story_rng(0, 5), 5)` is the 6th story of `generate_stories(10, seed=0)`
    """
    return random.Random(f"slmkit-synth:{seed}:{index}")


def generate_stories(n: int, seed: int = 0, start: int = 0) -> Iterator[Story]:
    """Stories `start .. start+n-1` for `seed`; the same (seed, index) always gives the same story.

    Example: `[s.text for s in generate_stories(3, seed=1)]`
    """
    for index in range(start, start + n):
        yield generate_story(story_rng(seed, index), index)
