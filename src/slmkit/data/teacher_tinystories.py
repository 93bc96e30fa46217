"""The TinyStories recipe (Eldan & Li, 2023): prompts a teacher model for a story a 3-5 year old understands.

Each prompt names a random noun, verb and adjective from a simple vocabulary (the synthetic story generator's,
`slmkit.data.synth.vocab`) and a random subset of story features, which is what makes the stories diverse.
Prompt `index` with seed `seed` is always the same prompt, so a resumed run asks what the first run would have.

Example:
    request = tinystories_request(index=0, seed=0)
    request.prompt  # 'Write a short story (3-5 paragraphs) ... the verb "jump", the noun "kite" ...'
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import lru_cache

# feature name -> the sentence fragment the prompt uses (wording after the TinyStories paper)
FEATURES: dict[str, str] = {
    "dialogue": "the story should contain at least one dialogue",
    "plot twist": "something unexpected happens / there is a plot twist",
    "bad ending": "the story has a bad ending",
    "moral value": "the story has a moral value",
    "foreshadowing": "the narrative uses foreshadowing or setup and payoff",
    "conflict": "the story has some form of conflict in it",
}


@dataclass(frozen=True)
class StoryRequest:
    """One TinyStories prompt and the choices behind it."""

    prompt: str
    words: dict[str, str]  # {"noun": ..., "verb": ..., "adjective": ...}
    features: list[str]


@lru_cache(maxsize=1)
def story_vocabulary() -> dict[str, list[str]]:
    """Single-word nouns, verbs and adjectives a young child knows (from the synthetic generator's vocabulary).

    Example: `"dog" in story_vocabulary()["noun"]`
    """
    from slmkit.data.synth.vocab import vocabulary

    return {pos: [w for w in words if " " not in w] for pos, words in vocabulary().items()}


def tinystories_request(index: int, seed: int) -> StoryRequest:
    """The prompt for story number `index` (deterministic in `index` and `seed`).

    Example: `tinystories_request(3, seed=0).words["verb"]`
    """
    rng = random.Random(f"tinystories:{seed}:{index}")
    vocab = story_vocabulary()
    words = {pos: rng.choice(vocab[pos]) for pos in ("noun", "verb", "adjective")}
    features = sorted(rng.sample(list(FEATURES), k=rng.randint(0, 3)), key=list(FEATURES).index)
    prompt = (
        "Write a short story (3-5 paragraphs) which only uses very simple words that a 3 year old child would "
        f'likely understand. The story should use the verb "{words["verb"]}", the noun "{words["noun"]}" and the '
        f'adjective "{words["adjective"]}".'
    )
    if features:
        prompt += " The story should have the following features: " + ", ".join(FEATURES[f] for f in features) + "."
    prompt += " Remember to only use simple words! Reply with the story only."
    return StoryRequest(prompt=prompt, words=words, features=features)


def story_from_reply(reply: str) -> str:
    """The story text of a reply: whitespace trimmed, a leading "Title: ..." line and "Story:" label removed.

    Example: `story_from_reply("Title: Tom\n\nStory: Once upon a time...")  # -> "Once upon a time..."`
    """
    text = reply.strip()
    first, _, rest = text.partition("\n")
    if first.lower().startswith("title:") and rest.strip():
        text = rest.strip()
    if text.lower().startswith("story:"):
        text = text[len("story:"):].strip()
    return text
