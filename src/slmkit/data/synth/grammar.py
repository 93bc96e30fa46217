"""English inflection for the story generator: plurals, verb forms and the a/an article.

The rules cover the regular cases; irregular words carry their forms explicitly in `words.py`
(`mouse/mice`, `run/ran`), so these functions only ever see words that follow the rules.

Example:
    past("hop"), ing("dance"), plural("box"), with_article("orange ball")  # hopped, dancing, boxes, an orange ball
"""

from __future__ import annotations

VOWELS = "aeiou"

# Words that start with a vowel letter but a consonant sound ("a unicorn"), or the reverse ("an hour").
_CONSONANT_SOUND_PREFIXES = ("uni", "use", "usu", "eu", "one", "once", "ukulele")
_VOWEL_SOUND_WORDS = ("hour", "honest", "honor", "heir")


def _vowel_groups(word: str) -> int:
    groups, previous_vowel = 0, False
    for ch in word:
        is_vowel = ch in VOWELS or (ch == "y" and groups > 0)
        if is_vowel and not previous_vowel:
            groups += 1
        previous_vowel = is_vowel
    return groups


def _doubles_final_consonant(word: str) -> bool:
    """One-syllable consonant-vowel-consonant words double the last letter: hop -> hopped, run -> running."""
    if len(word) < 3 or _vowel_groups(word) != 1:
        return False
    a, b, c = word[-3], word[-2], word[-1]
    return a not in VOWELS and b in VOWELS and c not in VOWELS and c not in "wxy"


def plural(noun: str) -> str:
    """Regular English plural. Example: `plural("bus") == "buses"`, `plural("puppy") == "puppies"`"""
    if noun.endswith(("s", "sh", "ch", "x", "z")):
        return noun + "es"
    if noun.endswith("y") and len(noun) > 1 and noun[-2] not in VOWELS:
        return noun[:-1] + "ies"
    return noun + "s"


def third_person(verb: str) -> str:
    """Present tense, third person singular. Example: `third_person("fly") == "flies"`"""
    head, _, rest = verb.partition(" ")
    if head in ("have", "be", "do", "go"):
        head = {"have": "has", "be": "is", "do": "does", "go": "goes"}[head]
    else:
        head = plural(head)
    return f"{head} {rest}" if rest else head


def past(verb: str) -> str:
    """Regular past tense (first word of a phrasal verb). Example: `past("pick up") == "picked up"`"""
    head, _, rest = verb.partition(" ")
    if head.endswith("e"):
        head += "d"
    elif head.endswith("y") and head[-2] not in VOWELS:
        head = head[:-1] + "ied"
    elif _doubles_final_consonant(head):
        head += head[-1] + "ed"
    else:
        head += "ed"
    return f"{head} {rest}" if rest else head


def ing(verb: str) -> str:
    """Present participle (first word of a phrasal verb). Example: `ing("swim") == "swimming"`"""
    head, _, rest = verb.partition(" ")
    if head.endswith("ie"):
        head = head[:-2] + "ying"
    elif head.endswith("e") and not head.endswith(("ee", "ye", "oe")) and head != "be":
        head = head[:-1] + "ing"
    elif _doubles_final_consonant(head):
        head += head[-1] + "ing"
    else:
        head += "ing"
    return f"{head} {rest}" if rest else head


def article(phrase: str) -> str:
    """'a' or 'an' for the first word of `phrase`. Example: `article("orange ball") == "an"`"""
    word = phrase.lower()
    if word.startswith(_VOWEL_SOUND_WORDS):
        return "an"
    if word.startswith(_CONSONANT_SOUND_PREFIXES):
        return "a"
    return "an" if word[:1] in VOWELS else "a"


def with_article(phrase: str) -> str:
    """The phrase with its indefinite article. Example: `with_article("egg") == "an egg"`"""
    return f"{article(phrase)} {phrase}"


def capitalize(sentence: str) -> str:
    """Upper-case the first letter only (str.capitalize would lower-case names). Example: `capitalize("lily ran")`"""
    return sentence[:1].upper() + sentence[1:]
