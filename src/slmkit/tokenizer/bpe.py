"""`Tokenizer`: our byte-level BPE (a Hugging Face tokenizer.json) with a proven-identical fast encoder.

Ordinary text never yields special ids: `encode("<|endoftext|>")` spells the string with byte-level tokens,
exactly like tiktoken's `encode_ordinary`. Special ids enter a sequence only on purpose: the corpus encoder
appends `eot_id` after each document, `encode_chat` puts the role markers around each turn. So a document that
happens to contain "<|endoftext|>" cannot cut itself in two, and a chat user cannot forge an assistant turn.
Any Unicode string round-trips: `decode(encode(s)) == s` (lone surrogates, which UTF-8 cannot hold, are refused).

Example:
    tok = Tokenizer.from_file("runs/x/tokenizer/tokenizer.json")
    ids = tok.encode("Once upon a time"); assert tok.decode(ids) == "Once upon a time"
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Literal

import tokenizers

from slmkit.common.atomic import atomic_write_text
from slmkit.common.errors import InputError, MissingFileError
from slmkit.tokenizer import fast_encode
from slmkit.tokenizer.special import END, EOT, PAD, SPECIAL_TOKENS, chat_turns

Engine = Literal["auto", "tiktoken", "tokenizers"]


def _default_threads() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # macOS has no sched_getaffinity
        return os.cpu_count() or 1


class Tokenizer:
    """A trained byte-level BPE tokenizer. Build with `Tokenizer.from_file(path)` or `train_tokenizer(...)`.

    `engine` picks the encoder: "auto" (tiktoken when proven identical, else tokenizers), or one forced engine
    ("tiktoken" skips the identity proof: only for benchmarks and tests).
    """

    def __init__(self, json_text: str, source: str = "tokenizer.json", engine: Engine = "auto"):
        self.source = source
        self._json_text = json_text
        try:
            self._spec = json.loads(json_text)
            self._hf = tokenizers.Tokenizer.from_str(json_text)
        except Exception as exc:  # json.JSONDecodeError or the Rust deserializer's Exception
            raise InputError(source, found=f"an unreadable tokenizer ({str(exc)[:80]})",
                             expected="a tokenizer.json written by `slm tokenizer train`") from None
        # Special-token strings inside ordinary text are text (see module docstring).
        self._hf.encode_special_tokens = True
        self.special_ids: dict[str, int] = {t: self._hf.token_to_id(t) for t in SPECIAL_TOKENS}
        missing = [t for t, i in self.special_ids.items() if i is None]
        if missing:
            raise InputError(source, found=f"a tokenizer without special tokens {missing}",
                             expected="a tokenizer.json written by `slm tokenizer train`")
        self.vocab_size: int = self._hf.get_vocab_size(with_added_tokens=True)
        self._token_bytes = self._build_token_bytes()
        self.sha256 = hashlib.sha256(json_text.encode("utf-8")).hexdigest()
        self._fast, self.fast_blockers = self._pick_engine(engine)

    # ------------------------------------------------------------------------------------------ construction
    @classmethod
    def from_file(cls, path: Path | str, engine: Engine = "auto") -> Tokenizer:
        """Load a tokenizer.json. Example: `Tokenizer.from_file(RunDir("runs/x").tokenizer_file)`"""
        path = Path(path)
        if not path.is_file():
            raise MissingFileError(path, expected="a tokenizer.json", hint="run `slm tokenizer train --run R` first")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise InputError(str(path), found="bytes that are not UTF-8", expected="a tokenizer.json") from None
        return cls(text, source=str(path), engine=engine)

    def save(self, path: Path | str) -> None:
        """Write tokenizer.json atomically (byte-identical, so `sha256` is kept). Example: `tok.save(p)`"""
        atomic_write_text(path, self._json_text)

    def _build_token_bytes(self) -> list[bytes]:
        table = [b""] * self.vocab_size
        for text, token_id in self._hf.get_vocab(with_added_tokens=True).items():
            special = text in self.special_ids
            table[token_id] = text.encode("utf-8") if special else fast_encode.token_text_to_bytes(text)
        return table

    def _pick_engine(self, engine: Engine):
        if engine not in ("auto", "tiktoken", "tokenizers"):
            raise InputError("engine", found=engine, expected="auto, tiktoken or tokenizers")
        if engine == "tokenizers":
            return None, ["engine='tokenizers' was asked for"]
        if engine == "tiktoken":
            return fast_encode.build_tiktoken(self._spec), []
        return fast_encode.build_fast_encoder(self._spec, self._hf, self.sha256)

    # ------------------------------------------------------------------------------------------ properties
    @property
    def engine(self) -> str:
        """"tiktoken" when the fast encoder is in use, else "tokenizers"."""
        return "tokenizers" if self._fast is None else "tiktoken"

    @property
    def eot_id(self) -> int:
        """Id of `<|endoftext|>`: document separator and BOS."""
        return self.special_ids[EOT]

    @property
    def pad_id(self) -> int:
        return self.special_ids[PAD]

    @property
    def json_text(self) -> str:
        """The tokenizer.json text (what `sha256` hashes)."""
        return self._json_text

    @property
    def hf_tokenizer(self) -> tokenizers.Tokenizer:
        """The underlying `tokenizers.Tokenizer` (special-token strings in text encode as text)."""
        return self._hf

    def token_bytes(self, token_id: int) -> bytes:
        """The bytes token `token_id` stands for (special tokens: their UTF-8 text). Example: `tok.token_bytes(0)`"""
        if not 0 <= token_id < self.vocab_size:
            raise InputError("token id", found=token_id, expected=f"an id in [0, {self.vocab_size})")
        return self._token_bytes[token_id]

    def confirm_fast_engine(self, texts: Sequence[str]) -> bool:
        """Compare the fast encoder with `tokenizers` on `texts` (e.g. the first chunk of a corpus); on any
        difference switch to `tokenizers` for good and return False. Example: `tok.confirm_fast_engine(docs[:500])`
        """
        if self._fast is None:
            return False
        mismatch = fast_encode.first_mismatch(self._hf, self._fast, list(texts))
        if mismatch is not None:
            self._fast = None
            self.fast_blockers = [f"tiktoken and tokenizers differ on {mismatch[:40]!r}"]
            fast_encode.refuse_fast_encoder(self.sha256, self.fast_blockers)  # later loads in this process too
        return self._fast is not None

    # ------------------------------------------------------------------------------------------ encode / decode
    def encode(self, text: str) -> list[int]:
        """Token ids of ordinary text (no special ids). Example: `tok.encode("Hi there")`"""
        _check_encodable(text)
        if self._fast is not None:
            return self._fast.encode_ordinary(text)
        return self._hf.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts: Sequence[str], num_threads: int | None = None) -> list[list[int]]:
        """`encode` of many texts, on `num_threads` threads (default: all cores). Example: `tok.encode_batch(["a"])`"""
        texts = list(texts)
        for text in texts:
            _check_encodable(text)
        if self._fast is None:
            return [e.ids for e in self._hf.encode_batch(texts, add_special_tokens=False)]
        threads = num_threads or _default_threads()
        if threads == 1:
            return [self._fast.encode_ordinary(text) for text in texts]
        return self._fast.encode_ordinary_batch(texts, num_threads=threads)

    def decode(self, ids: Iterable[int]) -> str:
        """Text of token ids (invalid UTF-8 from partial sequences becomes U+FFFD). Example: `tok.decode([0])`"""
        ids = [int(i) for i in ids]
        if ids and (min(ids) < 0 or max(ids) >= self.vocab_size):
            bad = next(i for i in ids if not 0 <= i < self.vocab_size)
            raise InputError("token id", found=bad, expected=f"an id in [0, {self.vocab_size})")
        raw = b"".join([self._token_bytes[i] for i in ids])
        return raw.decode("utf-8", errors="replace")

    def encode_chat(self, messages: Iterable[Mapping[str, str]], add_generation_prompt: bool = False) -> list[int]:
        """Ids of `render_chat(messages, ...)` with real special ids for the markers and plain text for content.

        Example: `tok.encode_chat([{"role": "user", "content": "Hi"}], add_generation_prompt=True)`
        """
        newline = self.encode("\n")
        ids: list[int] = []
        for role, content in chat_turns(messages):
            ids += [self.special_ids[role], *newline, *self.encode(content), self.special_ids[END], *newline]
        if add_generation_prompt:
            ids += [self.special_ids["<|assistant|>"], *newline]
        return ids

    def __repr__(self) -> str:
        return f"Tokenizer(vocab_size={self.vocab_size}, engine={self.engine!r}, sha256={self.sha256[:12]})"


def _check_encodable(text: str) -> None:
    if not isinstance(text, str):
        raise InputError("text", found=type(text).__name__, expected="a str")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise InputError(f"text[{exc.start}]", found=text[exc.start:exc.end],
                             expected="valid Unicode (a lone surrogate cannot be stored as UTF-8)") from None
