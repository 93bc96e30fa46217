"""The parsed vocabulary: every word of `words.py` with its forms, tagged noun/verb/adjective.

Example:
    VERB["run"].past, NOUN["mouse"].plural, "fluffy" in ADJECTIVE_GROUPS["animal_color"]  # ran, mice, True
"""

from __future__ import annotations

from dataclasses import dataclass

from slmkit.data.synth import grammar
from slmkit.data.synth.words import ADJECTIVE_GROUPS as _RAW_ADJECTIVES
from slmkit.data.synth.words import NOUN_GROUPS as _RAW_NOUNS
from slmkit.data.synth.words import VERB_GROUPS as _RAW_VERBS


@dataclass(frozen=True)
class Noun:
    """A noun with its plural; `mass` nouns take "some" and no plural ("some milk")."""

    word: str
    plural: str
    group: str
    mass: bool = False
    used_in_plural: bool = False  # boots, mittens: "her red boots"

    @property
    def phrase(self) -> str:
        """How the word appears by default: `boots` for pair nouns, else the singular."""
        return self.plural if self.used_in_plural else self.word


@dataclass(frozen=True)
class Verb:
    """A verb with the forms a story needs. Example: `Verb("swim", "swam", "swimming", "swims", "activity")`"""

    base: str
    past: str
    ing: str
    third: str
    group: str

    @property
    def forms(self) -> tuple[str, ...]:
        return (self.base, self.past, self.ing, self.third)


def _parse_noun(token: str, group: str) -> Noun:
    mass = token.endswith("~")
    used_in_plural = token.endswith("!")
    token = token.rstrip("~!").replace("_", " ")
    word, _, irregular = token.partition("/")
    plural_form = irregular or (word if mass else grammar.plural(word))
    return Noun(word, plural_form, group, mass, used_in_plural)


def _parse_verb(token: str, group: str) -> Verb:
    parts = token.replace("_", " ").split("/")
    base = parts[0]
    past = parts[1] if len(parts) > 1 else grammar.past(base)
    ing = parts[2] if len(parts) > 2 else grammar.ing(base)
    return Verb(base, past, ing, grammar.third_person(base), group)


def _parse_groups(raw: dict[str, str], parse):
    groups: dict[str, tuple] = {}
    for group, text in raw.items():
        seen: dict[str, object] = {}
        for token in text.split():
            item = parse(token, group)
            seen.setdefault(getattr(item, "word", None) or item.base, item)
        groups[group] = tuple(seen.values())
    return groups


NOUN_GROUPS: dict[str, tuple[Noun, ...]] = _parse_groups(_RAW_NOUNS, _parse_noun)
VERB_GROUPS: dict[str, tuple[Verb, ...]] = _parse_groups(_RAW_VERBS, _parse_verb)
ADJECTIVE_GROUPS: dict[str, tuple[str, ...]] = {
    group: tuple(dict.fromkeys(text.split())) for group, text in _RAW_ADJECTIVES.items()
}

# first entry wins when a word sits in two groups (e.g. "pie" is baked and a meal)
NOUN: dict[str, Noun] = {}
for _nouns in NOUN_GROUPS.values():
    for _noun in _nouns:
        NOUN.setdefault(_noun.word, _noun)
VERB: dict[str, Verb] = {}
for _verbs in VERB_GROUPS.values():
    for _verb in _verbs:
        VERB.setdefault(_verb.base, _verb)
ADJECTIVES: frozenset[str] = frozenset(a for group in ADJECTIVE_GROUPS.values() for a in group)


def verb(base: str) -> Verb:
    """The vocabulary entry of a verb; unknown verbs are a bug in the templates. Example: `verb("run").past`"""
    return VERB[base]


def vocabulary() -> dict[str, list[str]]:
    """Every word by part of speech, sorted. Example: `len(vocabulary()["noun"])`"""
    return {"noun": sorted(NOUN), "verb": sorted(VERB), "adjective": sorted(ADJECTIVES)}


def vocabulary_size() -> int:
    """How many (part of speech, word) entries the vocabulary has. Example: `vocabulary_size() > 1000`"""
    return sum(len(words) for words in vocabulary().values())


def _build_form_index() -> dict[str, list[tuple[str, str]]]:
    """Surface form -> [(part of speech, base word)], to see which vocabulary words a text uses."""
    index: dict[str, list[tuple[str, str]]] = {}
    for noun in NOUN.values():
        for form in {noun.word, noun.plural}:
            index.setdefault(form, []).append(("noun", noun.word))
    for v in VERB.values():
        for form in set(v.forms):
            index.setdefault(form, []).append(("verb", v.base))
    for adjective in ADJECTIVES:
        index.setdefault(adjective, []).append(("adjective", adjective))
    return index


FORM_INDEX: dict[str, list[tuple[str, str]]] = _build_form_index()


def forms_of(pos: str, word: str) -> set[str]:
    """Every surface form of a vocabulary word. Example: `forms_of("verb", "run") == {"run", "ran", ...}`"""
    if pos == "noun":
        return {NOUN[word].word, NOUN[word].plural}
    if pos == "verb":
        return set(VERB[word].forms)
    return {word}
