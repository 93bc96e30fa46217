"""English -> French sentence pairs drawn from a story's world, from a small bilingual lexicon.

French needs gender and number agreement: every noun carries its gender and plural, every adjective its four forms
and whether it goes before the noun ("un petit chien") or after ("une balle rouge"); articles elide before a vowel
("l'arbre") except before an aspirated h ("le hibou").

Example:
    translation_pairs(random.Random(0), cast)  # [{"en": "The dog is happy.", "fr": "Le chien est content."}, ...]
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from slmkit.data.synth.grammar import with_article

_VOWELS = "aeiouyéèêâîôûœh"
_ASPIRATED_H = {"hibou", "hérisson"}


@dataclass(frozen=True)
class FrNoun:
    word: str
    gender: str  # "m" or "f"
    plural: str

    @property
    def elides(self) -> bool:
        return self.word[0] in _VOWELS and self.word not in _ASPIRATED_H

    def definite(self) -> str:
        """le chien, la balle, l'arbre"""
        return f"l'{self.word}" if self.elides else f"{'le' if self.gender == 'm' else 'la'} {self.word}"


@dataclass(frozen=True)
class FrAdjective:
    forms: tuple[str, str, str, str]  # masculine, feminine, masculine plural, feminine plural
    before: bool = False  # petit, grand, joli go before the noun

    def agree(self, gender: str, plural: bool = False) -> str:
        return self.forms[(1 if gender == "f" else 0) + (2 if plural else 0)]


def _noun(word: str, gender: str, plural: str = "") -> FrNoun:
    return FrNoun(word, gender, plural or (word if word[-1] in "sxz" else word + "s"))


def _adj(masculine: str, feminine: str = "", before: bool = False, invariable: bool = False) -> FrAdjective:
    feminine = feminine or masculine
    if invariable:
        return FrAdjective((masculine, feminine, masculine, feminine), before)
    m_plural = masculine if masculine[-1] in "sx" else masculine + "s"
    return FrAdjective((masculine, feminine, m_plural, feminine + "s"), before)


_M, _F = "m", "f"
ANIMALS = {
    "dog": _noun("chien", _M), "cat": _noun("chat", _M), "bird": _noun("oiseau", _M, "oiseaux"),
    "bunny": _noun("lapin", _M), "rabbit": _noun("lapin", _M), "duck": _noun("canard", _M),
    "frog": _noun("grenouille", _F), "bear": _noun("ours", _M), "mouse": _noun("souris", _F),
    "fish": _noun("poisson", _M), "horse": _noun("cheval", _M, "chevaux"), "cow": _noun("vache", _F),
    "pig": _noun("cochon", _M), "sheep": _noun("mouton", _M), "owl": _noun("hibou", _M, "hiboux"),
    "fox": _noun("renard", _M), "squirrel": _noun("écureuil", _M), "turtle": _noun("tortue", _F),
    "butterfly": _noun("papillon", _M), "bee": _noun("abeille", _F), "puppy": _noun("chiot", _M),
    "kitten": _noun("chaton", _M), "lamb": _noun("agneau", _M, "agneaux"), "hen": _noun("poule", _F),
    "elephant": _noun("éléphant", _M), "monkey": _noun("singe", _M), "lion": _noun("lion", _M),
    "giraffe": _noun("girafe", _F), "snail": _noun("escargot", _M), "ladybug": _noun("coccinelle", _F),
    "hedgehog": _noun("hérisson", _M), "pony": _noun("poney", _M), "duckling": _noun("caneton", _M),
    "chick": _noun("poussin", _M), "goat": _noun("chèvre", _F), "ant": _noun("fourmi", _F),
    "whale": _noun("baleine", _F), "piglet": _noun("porcelet", _M), "raccoon": _noun("raton laveur", _M,
                                                                                          "ratons laveurs"),
}
ANIMALS_PLURAL_EN = {"mouse": "mice", "sheep": "sheep", "fish": "fish", "bunny": "bunnies", "puppy": "puppies",
                     "fox": "foxes", "butterfly": "butterflies", "pony": "ponies", "ladybug": "ladybugs"}
THINGS = {
    "ball": _noun("balle", _F), "doll": _noun("poupée", _F), "kite": _noun("cerf-volant", _M, "cerfs-volants"),
    "truck": _noun("camion", _M), "car": _noun("voiture", _F), "block": _noun("cube", _M),
    "puzzle": _noun("puzzle", _M), "teddy bear": _noun("ours en peluche", _M, "ours en peluche"),
    "robot": _noun("robot", _M), "train": _noun("train", _M), "boat": _noun("bateau", _M, "bateaux"),
    "plane": _noun("avion", _M), "balloon": _noun("ballon", _M), "drum": _noun("tambour", _M),
    "book": _noun("livre", _M), "hat": _noun("chapeau", _M, "chapeaux"), "coat": _noun("manteau", _M, "manteaux"),
    "scarf": _noun("écharpe", _F), "dress": _noun("robe", _F), "box": _noun("boîte", _F), "cup": _noun("tasse", _F),
    "bowl": _noun("bol", _M), "spoon": _noun("cuillère", _F), "blanket": _noun("couverture", _F),
    "pillow": _noun("oreiller", _M), "lamp": _noun("lampe", _F), "clock": _noun("horloge", _F),
    "vase": _noun("vase", _M), "umbrella": _noun("parapluie", _M), "bag": _noun("sac", _M), "key": _noun("clé", _F),
    "crayon": _noun("crayon", _M), "pencil": _noun("crayon", _M), "shell": _noun("coquillage", _M),
    "rock": _noun("caillou", _M, "cailloux"), "stone": _noun("pierre", _F), "leaf": _noun("feuille", _F),
    "flower": _noun("fleur", _F), "stick": _noun("bâton", _M), "feather": _noun("plume", _F),
    "apple": _noun("pomme", _F), "banana": _noun("banane", _F), "cake": _noun("gâteau", _M, "gâteaux"),
    "cookie": _noun("biscuit", _M), "egg": _noun("œuf", _M), "carrot": _noun("carotte", _F),
    "strawberry": _noun("fraise", _F), "cherry": _noun("cerise", _F), "candy": _noun("bonbon", _M),
    "tree": _noun("arbre", _M), "star": _noun("étoile", _F), "cloud": _noun("nuage", _M),
    "bike": _noun("vélo", _M), "bicycle": _noun("vélo", _M), "bell": _noun("cloche", _F),
    "whistle": _noun("sifflet", _M), "puppet": _noun("marionnette", _F), "rocket": _noun("fusée", _F),
    "mirror": _noun("miroir", _M), "plate": _noun("assiette", _F), "teapot": _noun("théière", _F),
    "bucket": _noun("seau", _M, "seaux"), "shovel": _noun("pelle", _F), "marble": _noun("bille", _F),
    "crown": _noun("couronne", _F), "necklace": _noun("collier", _M), "ring": _noun("bague", _F),
    "card": _noun("carte", _F), "letter": _noun("lettre", _F), "present": _noun("cadeau", _M, "cadeaux"),
    "gift": _noun("cadeau", _M, "cadeaux"), "wagon": _noun("chariot", _M), "guitar": _noun("guitare", _F),
    "cupcake": _noun("petit gâteau", _M, "petits gâteaux"), "muffin": _noun("muffin", _M),
    "pear": _noun("poire", _F), "peach": _noun("pêche", _F), "lemon": _noun("citron", _M),
}
_NOT_OWNED = {"tree", "star", "cloud"}
PLACES = {  # where something happens, as a whole phrase (the preposition depends on the place)
    "park": "dans le parc", "garden": "dans le jardin", "beach": "à la plage", "forest": "dans la forêt",
    "farm": "à la ferme", "pond": "près de l'étang", "lake": "au bord du lac", "playground": "à l'aire de jeux",
    "backyard": "dans le jardin", "meadow": "dans le pré", "house": "à la maison", "school": "à l'école",
    "library": "à la bibliothèque", "zoo": "au zoo", "jungle": "dans la jungle", "river": "au bord de la rivière",
    "hill": "sur la colline", "field": "dans le champ",
}
THING_ADJECTIVES = {
    "big": _adj("grand", "grande", before=True), "small": _adj("petit", "petite", before=True),
    "little": _adj("petit", "petite", before=True), "pretty": _adj("joli", "jolie", before=True),
    "red": _adj("rouge"), "blue": _adj("bleu", "bleue"), "green": _adj("vert", "verte"), "yellow": _adj("jaune"),
    "black": _adj("noir", "noire"), "white": _adj("blanc", "blanche"), "brown": _adj("marron", invariable=True),
    "pink": _adj("rose"), "orange": _adj("orange", invariable=True), "purple": _adj("violet", "violette"),
    "gray": _adj("gris", "grise"), "golden": _adj("doré", "dorée"), "soft": _adj("doux", "douce"),
    "new": _adj("neuf", "neuve"), "shiny": _adj("brillant", "brillante"), "round": _adj("rond", "ronde"),
    "huge": _adj("énorme"), "tiny": _adj("minuscule"), "clean": _adj("propre"), "dirty": _adj("sale"),
    "wet": _adj("mouillé", "mouillée"), "heavy": _adj("lourd", "lourde"), "colorful": _adj("coloré", "colorée"),
    "magic": _adj("magique"), "favorite": _adj("préféré", "préférée"), "wooden": _adj("en bois", invariable=True),
    "strange": _adj("bizarre"), "funny": _adj("drôle"), "warm": _adj("chaud", "chaude"),
    "cold": _adj("froid", "froide"), "sticky": _adj("collant", "collante"),
}
FEELING_ADJECTIVES = {
    "happy": _adj("content", "contente"), "sad": _adj("triste"), "tired": _adj("fatigué", "fatiguée"),
    "proud": _adj("fier", "fière"), "kind": _adj("gentil", "gentille"), "brave": _adj("courageux", "courageuse"),
    "curious": _adj("curieux", "curieuse"), "shy": _adj("timide"), "funny": _adj("drôle"),
    "excited": _adj("excité", "excitée"), "calm": _adj("calme"), "angry": _adj("fâché", "fâchée"),
    "glad": _adj("content", "contente"), "silly": _adj("bête"), "polite": _adj("poli", "polie"),
    "clever": _adj("malin", "maligne"), "gentle": _adj("doux", "douce"), "lonely": _adj("seul", "seule"),
}
FEELING_IDIOMS = {"scared": "a peur", "hungry": "a faim", "thirsty": "a soif", "sleepy": "a sommeil"}
ACTIONS = {  # English 3rd person, French 3rd person singular and plural
    "play": ("plays", "joue", "jouent"), "run": ("runs", "court", "courent"), "sing": ("sings", "chante", "chantent"),
    "dance": ("dances", "danse", "dansent"), "jump": ("jumps", "saute", "sautent"),
    "walk": ("walks", "se promène", "se promènent"), "read": ("reads", "lit", "lisent"),
}


def _noun_phrase(noun: FrNoun, adjective: FrAdjective | None, article: str, plural: bool = False) -> str:
    """'un petit chien', 'la balle rouge', 'l'arbre', 'les chats noirs'."""
    adj = adjective.agree(noun.gender, plural) if adjective else ""
    body = noun.plural if plural else noun.word
    if adjective and adjective.before:
        body = f"{adj} {body}"
    elif adjective:
        body = f"{body} {adj}"
    if article == "indefinite":
        return f"{'des' if plural else ('un' if noun.gender == 'm' else 'une')} {body}"
    if plural:
        return f"les {body}"
    if not (adjective and adjective.before) and noun.elides:
        return f"l'{body}"
    return f"{'le' if noun.gender == 'm' else 'la'} {body}"


def _pick_known(rng: random.Random, candidates: list[str], table: dict, story_words: set[str]) -> str:
    """The first candidate in the lexicon that the story mentions, else any in the lexicon, else a random entry."""
    known = [c for c in candidates if c in table]
    mentioned = [c for c in known if c in story_words]
    return (mentioned or known or [rng.choice(sorted(table))])[0]


def translation_pairs(
    rng: random.Random, cast: dict[str, str], story_words: set[str] = frozenset(), count: int | None = None
) -> list[dict[str, str]]:
    """2-4 English/French sentence pairs about the story's hero, friend, thing, animal and place.

    Things and animals that the story itself mentions (`story_words`, its lower-case words) come first.
    Example: `translation_pairs(random.Random(0), sample_cast(random.Random(0)))[0]["fr"]`
    """
    in_story = sorted(story_words)
    name, fname = cast["name"], cast["fname"]
    gender = "f" if cast["he"] == "she" else "m"
    fgender = "f" if cast["fhe"] == "she" else "m"
    thing_en = _pick_known(rng, [cast["obj"], *(w for w in in_story if w in THINGS)], THINGS, story_words)
    animal_en = _pick_known(rng, [cast["critter"], cast["kind"], cast["fkind"], cast["seen_word"],
                                  *(w for w in in_story if w in ANIMALS)], ANIMALS, story_words)
    animal = ANIMALS[animal_en]
    if thing_en in _NOT_OWNED:  # "Lily has a tree" is odd; she has a toy
        thing_en = "ball"
    thing = THINGS[thing_en]
    # the story's own adjective only for the story's own thing: "a purple lemon" would come from another object
    own = thing_en == cast["obj"] and cast["obj_adj"] in THING_ADJECTIVES
    adj_en = cast["obj_adj"] if own else rng.choice(("big", "small", "little", "pretty", "new"))
    adjective = THING_ADJECTIVES[adj_en]
    feeling_en = rng.choice(sorted(FEELING_ADJECTIVES) + sorted(FEELING_IDIOMS))
    place_en = cast["place"] if cast["place"] in PLACES else "park"
    at_place = cast["at_place"] if cast["place"] in PLACES else "in the park"
    action_en = rng.choice(sorted(ACTIONS))
    third, fr_one, fr_many = ACTIONS[action_en]
    animal_adj_en = rng.choice(("happy", "sad", "tired", "kind", "brave", "curious", "shy", "calm", "lonely"))
    animal_adj = FEELING_ADJECTIVES[animal_adj_en]
    colors = ("black", "white", "brown", "gray")  # colors that animals come in
    plural_color_en = rng.choice(colors)

    if feeling_en in FEELING_IDIOMS:
        feeling = (f"{name} is {feeling_en}.", f"{name} {FEELING_IDIOMS[feeling_en]}.")
    else:
        feeling = (f"{name} is {feeling_en}.", f"{name} est {FEELING_ADJECTIVES[feeling_en].agree(gender)}.")
    both_girls = gender == "f" and fgender == "f"
    makers = [
        lambda: feeling,
        lambda: (f"{name} has {with_article(f'{adj_en} {thing_en}')}.",
                 f"{name} a {_noun_phrase(thing, adjective, 'indefinite')}."),
        lambda: (f"The {animal_en} is {animal_adj_en}.",
                 f"{_noun_phrase(animal, None, 'definite').capitalize()} est {animal_adj.agree(animal.gender)}."),
        lambda: (f"{name} {third} {at_place}.", f"{name} {fr_one} {PLACES[place_en]}."),
        lambda: (f"{name} and {fname} are friends.", f"{name} et {fname} sont {'amies' if both_girls else 'amis'}."),
        lambda: (f"{name} and {fname} {action_en} {at_place}.", f"{name} et {fname} {fr_many} {PLACES[place_en]}."),
        lambda: (f"{name} likes the {thing_en}.", f"{name} aime {_noun_phrase(thing, None, 'definite')}."),
        lambda: (f"The {ANIMALS_PLURAL_EN.get(animal_en, animal_en + 's')} are {plural_color_en}.",
                 f"Les {animal.plural} sont {THING_ADJECTIVES[plural_color_en].agree(animal.gender, plural=True)}."),
    ]
    chosen = rng.sample(makers, count or rng.randint(2, 4))
    return [{"en": en, "fr": fr} for en, fr in (make() for make in chosen)]

