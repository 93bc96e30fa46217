"""The tiktoken fast path: identical ids to `tokenizers`, and the fallback when identity cannot be shown."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st
from tokenizers import pre_tokenizers

from slmkit.tokenizer import Tokenizer
from slmkit.tokenizer.corpus import iter_txt_texts
from slmkit.tokenizer.fast_encode import (
    VERIFY_SAMPLE,
    build_fast_encoder,
    bytes_to_unicode,
    first_mismatch,
    unreachable_tokens,
)
from slmkit.tokenizer.train import train_tokenizer
from tests.conftest import shared_data
from tests.tokenizer.corpus import small_tokenizer


def engines(tok: Tokenizer) -> tuple[Tokenizer, Tokenizer]:
    return Tokenizer(tok.json_text, engine="tiktoken"), Tokenizer(tok.json_text, engine="tokenizers")


def test_byte_map_is_the_one_bytelevel_uses():
    assert sorted(bytes_to_unicode().values()) == sorted(pre_tokenizers.ByteLevel.alphabet())
    assert bytes_to_unicode()[ord(" ")] == "Ġ"


def test_trained_tokenizer_uses_the_fast_engine():
    tok = small_tokenizer()
    assert tok.engine == "tiktoken" and tok.fast_blockers == []
    assert unreachable_tokens(tok.hf_tokenizer, json.loads(tok.json_text)) == []


@settings(max_examples=400, deadline=None)
@given(st.text())
def test_identical_ids_on_random_unicode(text):
    fast, slow = engines(small_tokenizer())
    assert fast.encode(text) == slow.encode(text)


TRICKY_CHARS = list(" \t\n\r\x0b\x0c\x85\u00a0\u2028\u3000'sdtmlrevaAé1٣!.,-👋")


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.sampled_from(TRICKY_CHARS), max_size=60))
def test_identical_ids_on_whitespace_and_contraction_heavy_text(text):
    # The regex alternatives (contractions, ` ?\p{L}+`, `\s+(?!\S)`) meet most often in text like this.
    fast, slow = engines(small_tokenizer())
    assert fast.encode(text) == slow.encode(text)


def test_identical_ids_on_real_tinystories():
    path = shared_data("tinystories-v1-train-sample", "tinystories_sample.txt")
    docs = list(iter_txt_texts(path))
    tok = train_tokenizer(docs[:1500], vocab_size=2048)
    fast, slow = engines(tok)
    assert tok.engine == "tiktoken"
    assert fast.encode_batch(docs) == slow.encode_batch(docs)
    assert all(fast.decode(ids) == doc for ids, doc in zip(fast.encode_batch(docs[:200]), docs))


def differing_tokenizer_json() -> str:
    """A BPE whose merges cannot rebuild one of its own tokens: merges (b,c), (a,b), (ab,c).

    On "abc" HF applies (b,c) first and is stuck at [a, bc] (no merge (a, bc)); tiktoken, ranking by token,
    joins a+bc into "abc". Same vocabulary, different ids.
    """
    spec = json.loads(small_tokenizer().json_text)
    vocab = {t["content"]: t["id"] for t in spec["added_tokens"]}
    for char in sorted(bytes_to_unicode().values()):
        vocab[char] = len(vocab)
    for token in ("bc", "ab", "abc"):
        vocab[token] = len(vocab)
    spec["model"]["vocab"] = vocab
    spec["model"]["merges"] = [["b", "c"], ["a", "b"], ["ab", "c"]]
    return json.dumps(spec)


def test_fallback_engages_on_a_tokenizer_built_to_differ():
    text = differing_tokenizer_json()
    forced_fast, slow = Tokenizer(text, engine="tiktoken"), Tokenizer(text, engine="tokenizers")
    abc, bc = slow.hf_tokenizer.token_to_id("abc"), slow.hf_tokenizer.token_to_id("bc")
    assert forced_fast.encode("abc") == [abc]
    assert slow.encode("abc") == [slow.hf_tokenizer.token_to_id("a"), bc]  # the engines really differ

    auto = Tokenizer(text)
    assert auto.engine == "tokenizers"
    assert "abc" in " ".join(auto.fast_blockers)
    assert auto.encode("xabc abc") == slow.encode("xabc abc")


def test_confirm_on_real_text_falls_back_on_a_mismatch():
    # Skip the load-time proof (engine="tiktoken") to show the second line of defence: checking real text.
    tok = Tokenizer(differing_tokenizer_json(), engine="tiktoken")
    assert tok.confirm_fast_engine(["no trouble here"]) is True
    assert tok.engine == "tiktoken"
    assert tok.confirm_fast_engine(["the abc book"]) is False
    assert tok.engine == "tokenizers" and "abc" in tok.fast_blockers[0]
    assert tok.encode("abc") == Tokenizer(tok.json_text, engine="tokenizers").encode("abc")


def test_verification_helpers_report_the_differing_text():
    spec = json.loads(differing_tokenizer_json())
    slow = Tokenizer(json.dumps(spec), engine="tokenizers")
    fast, reasons = build_fast_encoder(spec, slow.hf_tokenizer)
    assert fast is None and reasons
    assert unreachable_tokens(slow.hf_tokenizer, spec) == ["abc"]
    forced = Tokenizer(json.dumps(spec), engine="tiktoken")
    assert first_mismatch(slow.hf_tokenizer, forced._fast, [*VERIFY_SAMPLE, "abc"]) == "abc"


def test_merges_out_of_id_order_block_the_fast_path():
    spec = json.loads(small_tokenizer().json_text)
    spec["model"]["merges"][0], spec["model"]["merges"][1] = spec["model"]["merges"][1], spec["model"]["merges"][0]
    tok = Tokenizer(json.dumps(spec))
    assert tok.engine == "tokenizers"
    assert "id order" in " ".join(tok.fast_blockers)
