"""A small mixed-script corpus and a tokenizer trained on it in-process (shared by tokenizer and shard tests)."""

from __future__ import annotations

from functools import lru_cache

from slmkit.tokenizer import Tokenizer
from slmkit.tokenizer.fast_encode import VERIFY_SAMPLE
from slmkit.tokenizer.train import train_tokenizer

STORIES = [
    "Once upon a time, there was a little girl named Lily. She loved to play outside in the park.",
    "One day, Tom found a big red ball. \"Can I play?\" asked Sue. \"Yes!\" said Tom, and they laughed.",
    "The cat sat on the mat.\nIt was happy. The dog wasn't, so it barked: woof, woof!",
    "Ben and Mia built a tall tower with 12 blocks. Then it fell down, and they built it again.",
    "Grandma's garden had flowers: roses, tulips and daisies. They're pretty, aren't they?",
]
MULTILINGUAL = [
    "Le petit chat dort près de la fenêtre. Où est le café ? Ça va très bien, merci.",
    "Der kleine Hund läuft über die Straße. Schöne Grüße aus München!",
    "Маленькая девочка читает книгу. Ёжик бежит домой.",
    "小猫在窗边睡觉。今天天气很好。",
    "👋 Hi! 🎉🎉 Party time ❤️ — with emoji and “quotes”.",
]
SMALL_CORPUS = (STORIES * 30) + (MULTILINGUAL * 10) + [t for t in VERIFY_SAMPLE if t] * 3


@lru_cache(maxsize=4)
def small_tokenizer(vocab_size: int = 400) -> Tokenizer:
    """A byte-level BPE trained on SMALL_CORPUS (about 50 ms)."""
    return train_tokenizer(SMALL_CORPUS, vocab_size=vocab_size, min_frequency=2)
