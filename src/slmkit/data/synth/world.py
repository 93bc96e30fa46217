"""The story world: characters, places and things, sampled into one `Cast` per story.

A `Cast` is a flat dict of ready-to-print phrases (`name`, `he`, `his`, `a_obj`, `at_place`, ...) that the plot
templates fill with `str.format_map`; every phrase is chosen once, so names, pronouns and the story's object stay
the same from the first sentence to the last.

Example:
    cast = sample_cast(random.Random(0)); "{name} loved {his} {obj}.".format_map(cast)
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from slmkit.data.synth import vocab
from slmkit.data.synth.grammar import capitalize, with_article
from slmkit.data.synth.vocab import ADJECTIVE_GROUPS, NOUN, NOUN_GROUPS, VERB


def _words(text: str) -> list[str]:
    return text.split()


def _phrases(text: str) -> tuple[str, ...]:
    return tuple(phrase.strip() for phrase in text.split(","))


GIRL_NAMES = _words("""
    Lily Mia Sue Amy Anna Emma Lucy Sara Kate Molly Zoe Ella Grace Ruby Rosie Daisy Lola Jenny Katie Ellie
    Maya Nora Chloe Sophie Tina Jill Ann Beth Ivy Hannah Julia Clara Hazel Stella Alice Poppy Millie Penny Holly Bella
    Ava Lena Nina Rosa Lisa Mary Jane Abby Susie Peggy Wendy Luna Maisie Tilly Fiona Jess Kim Dot Ada Iris
    Mila""")
BOY_NAMES = _words("""
    Tom Ben Max Sam Tim Jack Leo Jake Bob Joe Timmy Billy Ollie Finn Noah Luke Alex Danny Eli Henry Jamie
    Kevin Mark Nick Oscar Pete Ryan Theo Toby Will Zack Adam Carl Dan Eddie Fred Gus Harry Jim Kai Liam Matt Ned Owen
    Paul Ray Rex Sid Ted Teddy Bobby Charlie Milo Oliver Jasper Hugo Arlo Rudy Vince""")
PET_NAMES = _words("""
    Buddy Spot Fluffy Whiskers Coco Pip Patch Sunny Peanut Biscuit Pepper Ginger Button Snowy Bubbles Muffin
    Cookie Sparky Dusty Rusty Fuzzy Hoppy Tweety Squeaky Shadow Mittens Pudding Nugget Honey Pebbles Bean Tiny
    Socks Freckles Marble Clover Maple Acorn Twinkle""")


@dataclass(frozen=True)
class Kind:
    """A kind of character: where it lives, how it moves, the sound it makes and where its stories happen."""

    word: str
    home: str
    moves: tuple[str, ...]
    sound: str | None
    places: tuple[str, ...]
    body: tuple[str, ...]


_HUMAN_PLACES = ("park", "garden", "beach", "forest", "farm", "pond", "lake", "playground", "backyard", "meadow",
                 "house", "school", "library", "zoo", "river", "hill", "field")
_HUMAN_BODY = ("knee", "arm", "elbow", "hand", "foot", "leg", "toe", "finger", "nose", "chin")


def _kind(word, home, moves, sound, places, body=("nose", "tail", "ear")) -> Kind:
    return Kind(word, home, tuple(moves.split()), sound, tuple(places.split()), tuple(body))


HUMAN_KINDS = {
    "girl": Kind("girl", "in a small house with her mom and dad", ("walk", "run", "skip", "hurry", "rush", "dash",
                 "wander", "stroll", "tiptoe", "jog"), None, _HUMAN_PLACES, _HUMAN_BODY),
    "boy": Kind("boy", "in a small house with his mom and dad", ("walk", "run", "skip", "hurry", "rush", "dash",
                "wander", "stroll", "tiptoe", "jog", "march"), None, _HUMAN_PLACES, _HUMAN_BODY),
}
ANIMAL_KINDS = {k.word: k for k in (
    _kind("dog", "in a little house with a big yard", "run dash trot", "bark", "park garden backyard farm beach field",
          ("paw", "tail", "nose", "ear")),
    _kind("puppy", "in a cozy house with a kind family", "run dash scamper", "bark", "park garden backyard field",
          ("paw", "tail", "nose")),
    _kind("cat", "in a cozy house on a quiet street", "tiptoe dash run", "meow", "garden backyard house park",
          ("paw", "tail", "whiskers")),
    _kind("kitten", "in a warm house with a kind family", "scamper tiptoe run", "meow", "garden backyard house",
          ("paw", "tail", "whiskers")),
    _kind("bunny", "in a burrow under a big tree", "hop scamper", None, "meadow garden forest field",
          ("paw", "ear", "nose", "tail")),
    _kind("bird", "in a nest high up in a tree", "flutter hop", "chirp", "forest park garden meadow",
          ("wing", "beak", "feathers")),
    _kind("mouse", "in a tiny hole in the wall", "scurry scamper", "squeak", "house field garden",
          ("tail", "paw", "whiskers")),
    _kind("duck", "by a big pond", "waddle", "quack", "pond lake farm park", ("wing", "feathers")),
    _kind("frog", "by a little pond", "hop", "croak", "pond lake garden river", ("leg", "toe")),
    _kind("bear", "in a cave in the woods", "walk stroll wander", "growl", "forest river meadow",
          ("paw", "nose", "ear")),
    _kind("fox", "in a den in the forest", "trot dash scamper", None, "forest meadow field", ("paw", "tail")),
    _kind("owl", "in a hollow tree in the forest", "flutter", "hoot", "forest", ("wing", "feathers")),
    _kind("squirrel", "in a tall oak tree", "scurry scamper", None, "park forest garden", ("tail", "paw")),
    _kind("pig", "on a big farm", "trot run", "oink", "farm field", ("nose", "ear", "tail")),
    _kind("lamb", "on a green farm", "skip trot", "baa", "farm meadow field", ("leg", "ear", "nose")),
    _kind("turtle", "by a quiet lake", "walk wander", None, "lake pond beach river", ("leg", "head")),
    _kind("monkey", "in the jungle", "swing dash scamper", None, "jungle river", ("tail", "hand", "foot")),
    _kind("elephant", "in the jungle near a river", "walk stroll", None, "jungle river", ("trunk", "ear", "foot")),
    _kind("hedgehog", "under a pile of leaves", "scurry wander", None, "forest garden", ("nose", "paw")),
    _kind("pony", "in a red barn on a farm", "trot gallop", "neigh", "farm meadow field", ("mane", "tail", "hoof")),
)}
for _kind_entry in ANIMAL_KINDS.values():  # the animal places must exist, or stories could not be set there
    assert set(_kind_entry.places) <= set(_HUMAN_PLACES) | {"jungle"}, _kind_entry.word


@dataclass(frozen=True)
class Place:
    """A setting: how to say being there and going there, what is there, and what to do there."""

    word: str
    at: str  # "in the park"
    to: str  # "to the park"
    outdoor: bool
    scenery: tuple[str, ...]  # nouns seen there
    spots: tuple[str, ...]  # where a lost thing can be: "under the bench"
    activities: tuple[str, ...]  # verb phrases, first word a vocabulary verb: "fly kites"
    helper: str  # a grown-up who is there


def _place(word, at, outdoor, scenery, spots, activities, helper="neighbor", to=None) -> Place:
    return Place(word, at, to or f"to the {word}", outdoor, tuple(scenery.split()),
                 tuple(s.strip() for s in spots.split(",")), tuple(a.strip() for a in activities.split(",")), helper)


PLACES = {p.word: p for p in (
    _place("park", "in the park", True, "tree flower bench pond swing slide grass",
           "under the bench, behind a big tree, near the pond, in the tall grass, under the slide",
           "play on the swings, go down the slide, fly kites, *feed the ducks, play catch, roll on the grass"),
    _place("garden", "in the garden", True, "flower rose tulip sunflower bush butterfly bee",
           "under a bush, behind the flowerpot, among the roses, near the fence, under a big leaf",
           "pick flowers, water the plants, look for bugs, dig in the dirt, chase butterflies", "gardener"),
    _place("beach", "at the beach", True, "sand shell wave rock sandcastle crab",
           "behind a big rock, in the soft sand, under a towel, near the waves, inside a sandcastle",
           "build sandcastles, look for shells, splash in the waves, dig in the sand, swim in the sea"),
    _place("forest", "in the forest", True, "tree oak pine_tree log mushroom fern stream",
           "behind an old log, under a pine tree, near the stream, under some ferns, inside a hollow tree",
           "explore, look for pinecones, climb trees, collect sticks, follow the path"),
    _place("farm", "on the farm", True, "haystack fence tractor cow pig hen",
           "behind the haystack, in the barn, near the fence, under the tractor, by the pig pen",
           "*feed the chickens, *ride the pony, *collect eggs, *help the farmer, jump in the haystack", "farmer"),
    _place("pond", "by the pond", True, "duck frog lily rock log",
           "behind a rock, under a log, in the reeds, near the water, under a lily pad",
           "*feed the ducks, *watch the frogs, throw stones, *catch tadpoles, splash in the water"),
    _place("lake", "by the lake", True, "boat wave rock duck swan",
           "behind a rock, under the dock, near the boats, by the shore, in the sand",
           "swim, *row a boat, fish, skip stones, splash in the water"),
    _place("playground", "at the playground", True, "swing slide sandbox bench",
           "under the slide, in the sandbox, behind the swings, under a bench, near the gate",
           "play on the swings, go down the slide, play tag, dig in the sandbox, climb the ladder"),
    _place("backyard", "in the backyard", True, "tree fence flower_bed treehouse swing",
           "behind the fence, under the tree, in the treehouse, by the flower bed, under the porch",
           "play in the treehouse, jump in the leaves, play catch, blow bubbles, swing on the swing"),
    _place("meadow", "in the meadow", True, "flower daisy buttercup grass butterfly",
           "in the tall grass, among the daisies, behind a rock, under a bush, near the path",
           "pick daisies, chase butterflies, roll in the grass, make flower crowns, watch the clouds"),
    _place("house", "at home", False, "couch bookshelf rug lamp window",
           "under the bed, behind the couch, in the toy box, under the rug, in the closet",
           "build a pillow fort, play with blocks, draw pictures, read books, bake cookies", "neighbor", "home"),
    _place("school", "at school", False, "desk chair shelf book crayon",
           "under a desk, in the cubby, behind the shelf, by the door, in the art box",
           "paint pictures, sing songs, play with friends, read stories, build towers", "teacher", "to school"),
    _place("library", "at the library", False, "bookshelf book chair table",
           "under a table, behind the bookshelf, by the big chair, near the door, in the story corner",
           "read picture books, listen to stories, look at books, draw pictures, sit on the big rug"),
    _place("zoo", "at the zoo", True, "elephant giraffe lion monkey penguin",
           "near the monkeys, by the gate, under a bench, behind a tree, near the penguins",
           "*see the animals, *watch the monkeys, *feed the goats, *look at the lions, *ride the little train"),
    _place("jungle", "in the jungle", True, "tree vine river flower parrot",
           "behind a big tree, under some leaves, near the river, in the tall grass, under a vine",
           "swing on vines, climb tall trees, splash in the river, play hide and seek, pick fruit"),
    _place("river", "by the river", True, "rock bridge stream fish duck",
           "behind a rock, under the bridge, near the water, by a tree, in the tall grass",
           "throw stones, sail paper boats, look for fish, skip stones, walk on the bridge"),
    _place("hill", "on the hill", True, "grass tree flower cloud",
           "behind a tree, in the tall grass, under a rock, near the top, by a bush",
           "roll down the hill, fly kites, watch the sunset, run up and down, look at the clouds", "neighbor",
           "up the hill"),
    _place("field", "in the field", True, "grass flower haystack butterfly",
           "in the tall grass, behind the haystack, near the fence, under a bush, by a big rock",
           "run in the grass, play ball, fly kites, pick flowers, chase butterflies", "farmer"),
)}
assert all(word in NOUN for word in PLACES), "every place must be a vocabulary noun"

# where a story's adjectives may go: things take size/color/texture/thing words, food takes food words
OBJECT_GROUPS = ("toy", "toy", "toy", "art", "household", "clothes", "nature_small")
_OBJECT_ADJECTIVES = {
    "toy": ("size", "color", "texture", "thing"), "art": ("color", "thing", "size"),
    "household": ("size", "color", "thing"), "clothes": ("color", "thing", "texture"),
    "nature_small": ("size", "color", "texture"),
}
FOOD_ADJECTIVES = {
    "fruit": ("juicy", "ripe", "fresh", "sweet", "sour", "yummy", "tasty", "delicious"),
    "veggie": ("fresh", "crunchy", "yummy", "tasty", "green"),
    "baked": ("warm", "fresh", "yummy", "sweet", "buttery", "homemade", "crispy", "chocolatey", "toasty", "hot"),
    "treat": ("sweet", "sugary", "gooey", "chewy", "yummy", "chocolatey", "fruity", "minty", "creamy", "frozen"),
    "meal": ("hot", "warm", "yummy", "tasty", "cheesy", "spicy", "buttery", "salty", "delicious", "melty"),
}
FOOD_GROUPS = tuple(FOOD_ADJECTIVES)
ROLES_BY_GENDER = {"he": ("king", "prince"), "she": ("queen", "princess")}
ROLES = ("firefighter", "pilot", "doctor", "nurse", "baker", "cook", "farmer",
         "giant", "fairy", "wizard", "pirate", "knight", "clown", "magician", "dancer", "singer", "artist", "painter",
         "vet", "teacher", "police officer", "driver", "gardener")

# a few things have their own way to be played with; the rest are "played with"
PLAY_PHRASES = {
    "ball": ("throw it", "kick it", "bounce it", "roll it"), "bouncy ball": ("bounce it", "throw it"),
    "beach ball": ("throw it", "kick it"), "soccer ball": ("kick it",), "baseball": ("throw it", "catch it"),
    "kite": ("fly it",), "frisbee": ("throw it", "toss it"), "balloon": ("toss it", "hold it"),
    "drum": ("tap it",), "bell": ("shake it",), "whistle": ("blow it",), "car": ("push it", "roll it"),
    "truck": ("push it", "pull it"), "wagon": ("pull it",), "scooter": ("ride it",), "tricycle": ("ride it",),
    "teddy bear": ("hug it", "hold it"), "doll": ("hug it", "dress it"), "puzzle": ("put it together",),
    "block": ("stack it",), "jump rope": ("skip with it",), "yo-yo": ("spin it",), "top": ("spin it",),
    "bubble wand": ("blow bubbles with it",), "boat": ("float it", "sail it"), "paper boat": ("float it",),
}
# how a thing gets spoiled in a quarrel
SPOIL = {"clothes": "tore", "art": "tore", "nature_small": "broke"}
SOFT_THINGS = {"teddy bear", "stuffed bunny", "stuffed dog", "stuffed bear", "stuffed cat", "rag doll", "puppet",
               "kite", "blanket", "pillow", "quilt", "book", "notebook", "picture book", "coloring book", "card",
               "letter", "drawing", "painting", "paper boat", "paper plane"}

CRITTERS = ("kitten", "puppy", "bunny", "duckling", "chick", "hedgehog", "frog", "squirrel", "mouse", "bird",
            "lamb", "turtle", "owl", "fox", "raccoon", "piglet", "calf", "foal")
INDOOR_CRITTERS = ("kitten", "puppy", "mouse", "hamster", "bird")
BREAKABLES = ("vase", "cup", "plate", "bowl", "lamp", "clock", "mirror", "teapot", "jar", "mug", "cookie jar",
              "snow globe", "music box", "flowerpot", "picture frame")
INDOOR_HIDING = ("bed", "couch", "rug", "table", "sofa", "dresser", "bookshelf", "stairs", "cupboard", "armchair")
SNACK_GROUPS = ("baked", "treat", "fruit")
FEELINGS = {
    "sadf": ("sad", "upset", "unhappy", "gloomy", "lonely", "tearful", "disappointed", "sad", "sad"),
    "scaredf": ("scared", "afraid", "frightened", "nervous", "worried", "scared"),
    "angryf": ("angry", "mad", "cross", "grumpy", "cranky", "sulky", "upset"),
    "goodf": ("happy", "glad", "excited", "joyful", "cheerful", "delighted", "pleased", "relieved", "thankful",
              "grateful", "happy", "content"),
    "proudf": ("proud", "happy", "pleased", "excited"),
}

# pastimes for the "liked to" line; "*" marks what only people do
HOBBIES = _phrases("""doodle, scribble with crayons, *hike in the hills, camp under the stars, *juggle,
    wiggle and dance, stomp in puddles, tap on drums, *write little stories, *sew, *knit with grandma, sled down hills,
    *ski, *surf, dive into the water, *row boats, paddle in the water, stretch in the sun, relax in the shade,
    snooze in the sun, cuddle, snuggle under blankets, practice somersaults, hum songs, whistle, twirl around,
    spin in circles, skate, bake, cook, build towers, dig holes, march around, race, hop, skip, climb, swim,
    explore, count the stars, color pictures, pretend, sail boats, float in the water, fish, tumble in the grass,
    bounce on the bed, crawl under things, splash in puddles, clap to music, nap, giggle, laugh, sing, dance, paint,
    draw, read, play, run, jump, slide down slides, swing high""")
CARE_VERBS = ("hold", "carry", "look at", "show", "clean", "polish", "keep", "touch", "wash")
HAPPY_REACTIONS = ("smile", "grin", "giggle", "laugh", "clap", "cheer", "wink", "nod")
SAD_REACTIONS = ("sigh", "frown", "pout", "sniff", "sob", "shiver", "tremble", "sniff")
EATING = ("eat", "munch", "gobble", "nibble", "chew", "crunch", "taste")

PARENTS = (("mom", "she", "her", "her"), ("dad", "he", "him", "his"), ("grandma", "she", "her", "her"),
           ("grandpa", "he", "him", "his"))
PRONOUNS = {"she": ("she", "her", "her", "herself"), "he": ("he", "him", "his", "himself")}


def _pick_adjective(rng: random.Random, groups: tuple[str, ...], noun: str = "") -> str:
    """An adjective from one of `groups` that does not repeat a word of the noun ("bouncy bouncy ball")."""
    while True:
        adjective = rng.choice(ADJECTIVE_GROUPS[rng.choice(groups)])
        if adjective not in noun.split() and adjective != "favorite":  # "his favorite thing was a favorite doll"
            return adjective


def _pick_noun(rng: random.Random, group: str, countable: bool = True) -> vocab.Noun:
    while True:  # few nouns are mass or pair nouns, so this ends after a try or two
        noun = rng.choice(NOUN_GROUPS[group])
        if not countable or not (noun.mass or noun.used_in_plural):
            return noun


def _pronouns(prefix: str, gender: str) -> dict[str, str]:
    subject, obj, possessive, reflexive = PRONOUNS[gender]
    return {f"{prefix}he": subject, f"{prefix}He": subject.capitalize(), f"{prefix}him": obj,
            f"{prefix}his": possessive, f"{prefix}His": possessive.capitalize(), f"{prefix}self": reflexive}


def _character(rng: random.Random, animal_world: bool, avoid: str = "") -> tuple[str, Kind, str]:
    """(name, kind, gender) of a character; animals get a pet name half of the time."""
    kind = rng.choice(list(ANIMAL_KINDS.values())) if animal_world else HUMAN_KINDS[rng.choice(("girl", "boy"))]
    gender = {"girl": "she", "boy": "he"}.get(kind.word) or rng.choice(("she", "he"))
    while True:
        if animal_world and rng.random() < 0.5:
            name = rng.choice(PET_NAMES)
        else:
            name = rng.choice(GIRL_NAMES if gender == "she" else BOY_NAMES)
        if name != avoid:
            return name, kind, gender


_SCENERY_ADJECTIVES = {
    "tall big old green shady": "tree oak pine_tree",
    "pretty colorful bright red yellow pink white beautiful lovely": "flower rose tulip sunflower daisy buttercup "
    "lily flower_bed",
    "long old wooden green": "bench fence bridge", "little quiet blue shady": "pond stream",
    "tall big red blue yellow new": "swing slide", "green soft tall long": "grass fern vine",
    "green round little": "bush", "little quiet blue": "river", "big sandy": "sandbox",
    "tiny colorful yellow busy fuzzy": "butterfly bee",
    "soft warm golden": "sand", "pretty smooth pink white gray shiny": "shell rock",
    "big blue": "wave", "tall big": "sandcastle haystack", "little red tiny": "crab mushroom",
    "old big": "log", "big red green noisy": "tractor", "spotted brown white little": "cow pig hen duck",
    "little green spotty": "frog", "white gentle": "swan", "orange shiny tiny": "fish",
    "colorful green noisy": "parrot", "little red blue wooden": "boat", "soft big": "couch",
    "tall wooden big": "bookshelf", "soft red colorful": "rug", "bright little": "lamp", "big bright": "window",
    "wooden little small": "desk chair table", "colorful new": "book crayon shelf",
    "tall big gray little silly": "giraffe elephant lion monkey penguin", "white fluffy big": "cloud",
    "wooden little": "treehouse", "shaggy spotted": "sheep",
}
SCENERY_ADJECTIVES = {
    noun: tuple(adjs.split()) for adjs, nouns in _SCENERY_ADJECTIVES.items() for noun in nouns.split()
}


def _scenery_phrase(rng: random.Random, noun_word: str) -> str:
    """'tall trees', 'soft sand': a plural (or mass) noun with an adjective that suits it."""
    noun = NOUN[noun_word.replace("_", " ")]
    return f"{rng.choice(SCENERY_ADJECTIVES[noun_word])} {noun.plural}"


def _verb_phrase_forms(phrase: str) -> tuple[str, str, str]:
    """(base, past, -ing) of a verb phrase whose first word is a vocabulary verb: 'fly kites' -> 'flew kites'."""
    head, _, rest = phrase.partition(" ")
    v = VERB[head]
    tail = f" {rest}" if rest else ""
    return phrase, v.past + tail, v.ing + tail


def sample_cast(rng: random.Random) -> dict[str, str]:
    """Choose every character, place and thing of one story as printable phrases.

    Example: `sample_cast(random.Random(1))["name"]`
    """
    animal_world = rng.random() < 0.35
    name, kind, gender = _character(rng, animal_world)
    fname, fkind, fgender = _character(rng, animal_world, avoid=name)
    place = PLACES[rng.choice(kind.places)]
    par, pshe, pher, phis = rng.choice(PARENTS)
    trait = rng.choice(ADJECTIVE_GROUPS["trait"])
    size = rng.choice(("little", "small", "little", "little", "young"))
    looks = rng.choice(ADJECTIVE_GROUPS["animal_color"]) if animal_world else trait
    hero_desc = rng.choice((f"{size} {kind.word}", f"{trait} {size} {kind.word}", f"{looks} {kind.word}",
                            f"{trait} {kind.word}"))

    object_group = rng.choice(OBJECT_GROUPS)
    thing = _pick_noun(rng, object_group)
    obj_adj = _pick_adjective(rng, _OBJECT_ADJECTIVES[object_group], thing.word)
    play_phrase = rng.choice(PLAY_PHRASES.get(thing.word, ("play with it",)))
    spoil = "tore" if thing.word in SOFT_THINGS else SPOIL.get(object_group, "broke")

    food_group = rng.choice(FOOD_GROUPS)
    food = _pick_noun(rng, food_group, countable=False)
    food_adj = rng.choice([a for a in FOOD_ADJECTIVES[food_group] if a not in food.word.split()])
    food_phrase = f"some {food_adj} {food.word if food.mass else food.plural}"
    drink = rng.choice(NOUN_GROUPS["drink"]).word

    # "*" marks what only people do: a duck does not feed the ducks
    activities = place.activities if not animal_world else [a for a in place.activities if not a.startswith("*")]
    act, acted, acting = _verb_phrase_forms(rng.choice(activities).lstrip("*"))
    seen_group = rng.choice(("animal", "animal", "vehicle"))
    seen = _pick_noun(rng, seen_group)
    seen_adj = rng.choice(ADJECTIVE_GROUPS["animal_color" if seen_group == "animal" else "color"])
    scenery = rng.sample(place.scenery, 2)
    spots = rng.sample(place.spots, 3)
    move = VERB[rng.choice(kind.moves)]
    clothes = _pick_noun(rng, "clothes", countable=False)
    role = rng.choice(ROLES + ROLES_BY_GENDER[gender])
    body = rng.choice(kind.body)

    cast = {
        "name": name, "kind": kind.word, "hero_desc": hero_desc, "a_hero": with_article(hero_desc),
        "trait": trait, "a_trait": with_article(trait), "home": kind.home,
        "fname": fname, "fkind": fkind.word, "ftrait": rng.choice(ADJECTIVE_GROUPS["trait"]),
        "par": par, "Par": par.capitalize(), "pshe": pshe, "pShe": pshe.capitalize(), "pher": pher, "phis": phis,
        "place": place.word, "at_place": place.at, "to_place": place.to, "At_place": capitalize(place.at),
        "place_adj": rng.choice(ADJECTIVE_GROUPS["place"]), "weather": rng.choice(ADJECTIVE_GROUPS["weather"]),
        "helper": place.helper if rng.random() < 0.6 else rng.choice(("neighbor", "lady", "man", "helper")),
        "scen1": _scenery_phrase(rng, scenery[0]), "scen2": _scenery_phrase(rng, scenery[1]),
        "spot1": spots[0], "spot2": spots[1], "spot3": spots[2],
        "obj": thing.word, "obj_adj": obj_adj, "a_obj": with_article(f"{obj_adj} {thing.word}"),
        "the_obj": f"the {thing.word}", "The_obj": f"The {thing.word}", "a_plain_obj": with_article(thing.word),
        "play_it": play_phrase, "spoiled": spoil,
        "food": food_phrase, "food_word": food.word, "drink": drink,
        "act": act, "acted": acted, "acting": acting,
        "seen": with_article(f"{seen_adj} {seen.word}"), "seen_word": seen.word,
        "moved": move.past, "moving": move.ing, "sound": VERB[kind.sound].past if kind.sound else "",
        "clothes": f"{rng.choice(ADJECTIVE_GROUPS['color'])} {clothes.phrase}",
        "role": with_article(f"{rng.choice(('brave', 'kind', 'happy', 'clever', 'silly', 'strong'))} {role}"),
        "body": body, "good": rng.choice(ADJECTIVE_GROUPS["feeling_good"]),
        "bad": rng.choice(ADJECTIVE_GROUPS["feeling_bad"]), "mess": rng.choice(("wet", "dirty", "muddy", "sandy",
                                                                                   "sticky", "soggy", "dusty")),
        "animal_world": "yes" if animal_world else "",
        "human": "" if animal_world else "yes",
    }
    cast.update({key: rng.choice(words) for key, words in FEELINGS.items()})
    critter = rng.choice(CRITTERS if place.outdoor else INDOOR_CRITTERS)
    obj2 = _pick_noun(rng, "toy")
    snack_group = rng.choice(SNACK_GROUPS)
    snack = _pick_noun(rng, snack_group)
    fkind_desc = f"{rng.choice(('little', 'new', 'small', 'young', 'quiet'))} {fkind.word}"
    cast.update({
        "critter": critter, "a_critter": with_article(f"{rng.choice(('little', 'tiny', 'small'))} {critter}"),
        "a_obj2": with_article(f"{_pick_adjective(rng, _OBJECT_ADJECTIVES['toy'], obj2.word)} {obj2.word}"),
        "thing2": rng.choice(BREAKABLES), "furn": rng.choice(INDOOR_HIDING),
        "snack": snack.word, "snacks_word": snack.plural,
        "snacks": f"some {rng.choice(FOOD_ADJECTIVES[snack_group])} {snack.plural}",
        "a_fkind": with_article(fkind_desc), "has_sound": "yes" if kind.sound else "",
        "outdoor": "yes" if place.outdoor else "",
    })
    hobbies = HOBBIES if not animal_world else [h for h in HOBBIES if not h.startswith("*")]
    hobby, hobbied, _ = _verb_phrase_forms(rng.choice(hobbies).lstrip("*"))
    care = VERB[rng.choice(CARE_VERBS)]
    cast.update({
        "hobby": hobby, "hobbied": hobbied, "care": care.base, "cared": care.past,
        "smiled": VERB[rng.choice(HAPPY_REACTIONS)].past, "sighed": VERB[rng.choice(SAD_REACTIONS)].past,
        "ate": VERB[rng.choice(EATING)].past, "sounding": VERB[kind.sound].ing if kind.sound else "",
    })
    cast.update(_pronouns("", gender))
    cast.update(_pronouns("f", fgender))
    cast["they_both"] = f"{name} and {fname}"
    return cast
