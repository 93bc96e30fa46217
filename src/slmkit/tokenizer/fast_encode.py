"""A `tiktoken` encoder built from our own tokenizer.json, used only once it is shown to give identical ids.

Why: tiktoken encodes the same byte-level BPE several times faster than Hugging Face `tokenizers`. The two do
not run the same algorithm, so identity has to be established, not assumed:

- Pre-tokenization: HF's ByteLevel pre-tokenizer splits text with GPT-2's regex (`GPT2_SPLIT_PATTERN`, copied
  from tokenizers' byte_level.rs); tiktoken gets the same pattern as `pat_str`.
- BPE: HF repeatedly applies the adjacent pair with the lowest *merge* rank; tiktoken merges the adjacent pair
  whose concatenation has the lowest *token* rank (ranks = our ids, which follow merge order). tiktoken may
  therefore join a pair (u, v) that is not the merge that created token uv. That happens on some input exactly
  when HF cannot rebuild some vocabulary token t from t's own bytes: if both engines agree up to a state holding
  such a pair, HF's steps inside the span of t are the ones it takes on t alone, so HF(t) == [u, v] != [t].
  `unreachable_tokens` checks every token for this, which proves the BPE stages equal for any input.
- What the proof does not cover (the regex engines: Oniguruma in HF, fancy-regex in tiktoken, and their Unicode
  tables) is checked by comparing ids on `VERIFY_SAMPLE` (scripts, whitespace runs, contractions, emoji) and,
  by the corpus encoder, on the first chunk of real data. Any mismatch means: fall back to `tokenizers`.

Example:
    fast, reasons = build_fast_encoder(json.loads(text), hf_tokenizer)   # (None, [...]) when not provable
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import tiktoken
import tokenizers

# tokenizers/src/pre_tokenizers/byte_level.rs (ByteLevel with use_regex=true): GPT-2's split pattern.
GPT2_SPLIT_PATTERN = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"

# Text on which both engines must agree before the fast path is trusted (beyond the BPE proof above).
VERIFY_SAMPLE: tuple[str, ...] = (
    "Once upon a time, there was a little girl named Lily. She loved to play outside!",
    "\"Mom, I found this needle,\" she said.\n\nThey're happy; it's 3:45pm & we'll see—isn't it? I'd say so.",
    "Tabs\tand  double  spaces   and trailing spaces   \n\n\n  leading\r\nCRLF \x0b\x0c\x1c\x1d\x1e\x1f\x85 end ",
    "Numbers 1234567890 ١٢٣ ½ ² x²+y³ 3.14159 -42 1e10 0x1F",
    "Ünïcödé façade naïve coöperate São Paulo Zürich ÆØÅ ß ŉ ǅ",
    "Ελληνικά Русский текст עברית العربية हिन्दी ไทย 中文字符 日本語のテキスト 한국어",
    "Emoji 👋🏽 👨‍👩‍👧 🇫🇷 ❤️ and symbols ©®™ € £ ¥ §¶ • … ‰ ← → ∑ ∞ ≠",
    "Combining: e\u0301 a\u0308 n\u0303; zero-width: a\u200bb\u200dc\ufeffd; nbsp:\u00a0\u2009\u3000.",
    "Quotes ' '' 's 't 're 've 'm 'll 'd 'S 'T ’s «guillemets» „low“ and <|endoftext|> <|user|> as plain text",
    "\x00\x01\x07 control \x7f\x80\x9f chars ￼ \U0001d54f \U00010000 \U0010fffd",
    "",
)


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's byte -> printable character map that ByteLevel uses to spell tokens. Example: `bytes_to_unicode()[32]`"""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars = list(printable)
    shifted = 0
    for byte in range(256):
        if byte not in printable:
            printable.append(byte)
            chars.append(256 + shifted)
            shifted += 1
    return {byte: chr(char) for byte, char in zip(printable, chars)}


_CHAR_TO_BYTE = {char: byte for byte, char in bytes_to_unicode().items()}


def token_text_to_bytes(token: str) -> bytes:
    """The raw bytes a ByteLevel vocabulary entry stands for. Example: `token_text_to_bytes("Ġthe") == b" the"`"""
    return bytes(_CHAR_TO_BYTE[char] for char in token)


def fast_path_blockers(spec: dict[str, Any]) -> list[str]:
    """Reasons why tokenizer.json `spec` is not a plain byte-level BPE that tiktoken can reproduce ([] if none)."""
    reasons = []
    model = spec.get("model") or {}
    pre = spec.get("pre_tokenizer") or {}
    if model.get("type") != "BPE":
        reasons.append(f"model type {model.get('type')!r} is not BPE")
    if spec.get("normalizer") is not None:
        reasons.append("a normalizer is set")
    if pre.get("type") != "ByteLevel" or pre.get("add_prefix_space") or not pre.get("use_regex", True):
        reasons.append(f"pre-tokenizer {pre!r} is not ByteLevel(add_prefix_space=False, use_regex=True)")
    for key in ("dropout", "continuing_subword_prefix", "end_of_word_suffix"):
        if model.get(key):
            reasons.append(f"BPE option {key}={model[key]!r}")
    for key in ("byte_fallback", "ignore_merges"):
        if model.get(key):
            reasons.append(f"BPE option {key}=true")
    return reasons


def _merge_pairs(model: dict[str, Any]) -> list[tuple[str, str]]:
    # tokenizers >= 0.20 writes merges as [left, right]; older versions as "left right".
    return [tuple(m) if isinstance(m, list) else tuple(m.split(" ", 1)) for m in model.get("merges", [])]


def mergeable_ranks(spec: dict[str, Any]) -> tuple[dict[bytes, int], list[str]]:
    """Token bytes -> id for every non-special token, and the reasons (if any) the ids cannot serve as ranks."""
    model = spec["model"]
    vocab: dict[str, int] = model["vocab"]
    specials = {t["content"] for t in spec.get("added_tokens", [])}
    ranks: dict[bytes, int] = {}
    reasons: list[str] = []
    for text, token_id in vocab.items():
        if text in specials:
            continue
        try:
            ranks[token_text_to_bytes(text)] = token_id
        except KeyError:
            reasons.append(f"token {text!r} is not byte-level")
    if len(ranks) != len(vocab) - len(specials & set(vocab)):
        reasons.append("two vocabulary entries spell the same bytes")
    if len(set(ranks.values())) != len(ranks):
        reasons.append("two tokens share an id")
    missing = [b for b in range(256) if bytes([b]) not in ranks]
    if missing:
        reasons.append(f"{len(missing)} of the 256 single bytes have no token")
    # tiktoken ranks *are* the ids, so the token a merge creates must get a higher id than every earlier merge's.
    previous = -1
    for rank, (left, right) in enumerate(_merge_pairs(model)):
        token_id = vocab.get(left + right)
        if token_id is None or token_id <= previous:
            reasons.append(f"merge {rank} ({left!r}, {right!r}) does not create tokens in id order")
            break
        previous = token_id
    return ranks, reasons


def unreachable_tokens(hf: tokenizers.Tokenizer, spec: dict[str, Any], limit: int = 10) -> list[str]:
    """Tokens that HF's merges do not rebuild from their own bytes (where tiktoken would differ; see module doc)."""
    specials = {t["content"] for t in spec.get("added_tokens", [])}
    bad = []
    for text, token_id in spec["model"]["vocab"].items():
        if text in specials or len(text) < 2:
            continue
        pieces = hf.model.tokenize(text)
        if len(pieces) != 1 or pieces[0].id != token_id:
            bad.append(text)
            if len(bad) >= limit:
                break
    return bad


def first_mismatch(hf: tokenizers.Tokenizer, fast: tiktoken.Encoding, texts: Sequence[str]) -> str | None:
    """The first text on which the two engines give different ids, or None. Example: `first_mismatch(h, f, ["hi"])`"""
    expected = [e.ids for e in hf.encode_batch(list(texts), add_special_tokens=False)]
    for text, ids in zip(texts, expected):
        if fast.encode_ordinary(text) != ids:
            return text
    return None


def build_tiktoken(spec: dict[str, Any], name: str = "slmkit") -> tiktoken.Encoding:
    """The tiktoken Encoding for tokenizer.json `spec` (no identity check). Example: `build_tiktoken(spec)`"""
    ranks, _ = mergeable_ranks(spec)
    specials = {t["content"]: t["id"] for t in spec.get("added_tokens", [])}
    return tiktoken.Encoding(name, pat_str=GPT2_SPLIT_PATTERN, mergeable_ranks=ranks, special_tokens=specials)


def build_fast_encoder(
    spec: dict[str, Any], hf: tokenizers.Tokenizer, sha256: str = ""
) -> tuple[tiktoken.Encoding | None, list[str]]:
    """(tiktoken Encoding, []) when proven identical to `hf` (which must encode special strings as text), else
    (None, reasons). Results are cached per `sha256` when given.

    Example: `fast, why_not = build_fast_encoder(spec, hf, sha)`
    """
    if sha256 and sha256 in _VERDICTS:
        return _VERDICTS[sha256]
    verdict = _build_fast_encoder(spec, hf)
    if sha256:
        _VERDICTS[sha256] = verdict
    return verdict


def refuse_fast_encoder(sha256: str, reasons: list[str]) -> None:
    """Record that the tokenizer with `sha256` must use `tokenizers` (a mismatch was found on real text)."""
    _VERDICTS[sha256] = (None, list(reasons))


# sha256 of tokenizer.json -> verdict, so loading the same tokenizer again (in tests, in workers) costs nothing.
_VERDICTS: dict[str, tuple[tiktoken.Encoding | None, list[str]]] = {}


def _build_fast_encoder(spec: dict[str, Any], hf: tokenizers.Tokenizer) -> tuple[tiktoken.Encoding | None, list[str]]:
    reasons = fast_path_blockers(spec)
    if reasons:
        return None, reasons
    _, reasons = mergeable_ranks(spec)
    if reasons:
        return None, reasons
    unreachable = unreachable_tokens(hf, spec)
    if unreachable:
        return None, [f"HF merges do not rebuild token(s) {unreachable!r} from their own bytes"]
    fast = build_tiktoken(spec)
    mismatch = first_mismatch(hf, fast, VERIFY_SAMPLE)
    if mismatch is not None:
        return None, [f"ids differ on the verification text {mismatch[:40]!r}"]
    return fast, []
