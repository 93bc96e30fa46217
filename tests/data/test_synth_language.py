"""English inflection, the vocabulary and the French pairs of the story generator."""

from __future__ import annotations

import pytest

from slmkit.data.synth import generate_stories
from slmkit.data.synth.french import ANIMALS, FEELING_ADJECTIVES, THING_ADJECTIVES, THINGS, _noun_phrase
from slmkit.data.synth.grammar import article, ing, past, plural, third_person, with_article
from slmkit.data.synth.vocab import ADJECTIVE_GROUPS, NOUN, NOUN_GROUPS, VERB, vocabulary, vocabulary_size


@pytest.mark.parametrize("word, expected", [("box", "boxes"), ("puppy", "puppies"), ("toy", "toys"),
                                            ("bus", "buses"), ("dish", "dishes"), ("cat", "cats")])
def test_plural(word, expected):
    assert plural(word) == expected


@pytest.mark.parametrize("verb, past_form, ing_form", [
    ("hop", "hopped", "hopping"), ("dance", "danced", "dancing"), ("cry", "cried", "crying"),
    ("play", "played", "playing"), ("visit", "visited", "visiting"), ("pick up", "picked up", "picking up"),
    ("tie", "tied", "tying"), ("agree", "agreed", "agreeing"),
])
def test_regular_verb_forms(verb, past_form, ing_form):
    assert (past(verb), ing(verb)) == (past_form, ing_form)


def test_third_person_and_articles():
    assert [third_person(v) for v in ("fly", "go", "watch", "look at")] == ["flies", "goes", "watches", "looks at"]
    assert [article(w) for w in ("orange", "unicorn", "hour", "ball", "umbrella")] == ["an", "a", "an", "a", "an"]
    assert with_article("egg") == "an egg"


def test_vocabulary_is_about_1500_tagged_words_with_forms():
    words = vocabulary()
    assert 1300 <= vocabulary_size() <= 1700
    assert len(words["noun"]) > 600 and len(words["verb"]) > 250 and len(words["adjective"]) > 200
    assert (VERB["run"].past, VERB["swim"].ing, VERB["catch"].past) == ("ran", "swimming", "caught")
    assert (NOUN["mouse"].plural, NOUN["leaf"].plural, NOUN["milk"].mass) == ("mice", "leaves", True)
    assert NOUN["boot"].phrase == "boots"
    assert {"animal", "toy", "food" if "food" in NOUN_GROUPS else "fruit", "place"} <= set(NOUN_GROUPS)
    assert "fluffy" in ADJECTIVE_GROUPS["animal_color"]


def test_french_agreement_and_elision():
    assert _noun_phrase(THINGS["ball"], THING_ADJECTIVES["red"], "indefinite") == "une balle rouge"
    assert _noun_phrase(ANIMALS["dog"], THING_ADJECTIVES["little"], "indefinite") == "un petit chien"
    assert _noun_phrase(THINGS["tree"], None, "definite") == "l'arbre"
    assert _noun_phrase(ANIMALS["owl"], None, "definite") == "le hibou"  # aspirated h: no elision
    assert _noun_phrase(ANIMALS["cat"], THING_ADJECTIVES["white"], "definite", plural=True) == "les chats blancs"
    assert _noun_phrase(THINGS["cake"], None, "definite", plural=True) == "les gâteaux"
    assert _noun_phrase(THINGS["doll"], THING_ADJECTIVES["brown"], "indefinite") == "une poupée marron"
    assert FEELING_ADJECTIVES["happy"].agree("f") == "contente"


def test_french_feelings_agree_with_the_heros_gender():
    checked = 0
    for story in generate_stories(400, seed=8):
        hero, gender = story.characters["hero"], "f" if story.characters["hero_pronoun"] == "she" else "m"
        for pair in story.translations:
            prefix = f"{hero} is "
            feeling = pair["en"][len(prefix):-1]
            if pair["en"].startswith(prefix) and feeling in FEELING_ADJECTIVES:
                assert pair["fr"] == f"{hero} est {FEELING_ADJECTIVES[feeling].agree(gender)}.", pair
                checked += 1
    assert checked > 20


def test_opening_uses_only_the_heros_pronouns():
    wrong = {"she": {"he", "him", "his", "himself"}, "he": {"she", "her", "hers", "herself"}}
    for story in generate_stories(400, seed=12):
        opening = story.text.split("\n\n")[0].lower()
        words = set(opening.replace(".", " ").replace(",", " ").replace("!", " ").split())
        assert not words & wrong[story.characters["hero_pronoun"]], opening
