"""The Tokenizer wrapper: loading, special tokens, lossless round trips, hashing, transformers compatibility."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slmkit.common.errors import InputError, MissingFileError
from slmkit.tokenizer import SPECIAL_TOKENS, Tokenizer
from slmkit.tokenizer.train import train_tokenizer
from tests.tokenizer.corpus import SMALL_CORPUS, STORIES, small_tokenizer


def test_special_tokens_take_the_first_ids():
    tok = small_tokenizer()
    assert [tok.special_ids[t] for t in SPECIAL_TOKENS] == list(range(len(SPECIAL_TOKENS)))
    assert tok.eot_id == 0 and tok.pad_id == 1
    assert tok.token_bytes(tok.eot_id) == b"<|endoftext|>"
    assert tok.vocab_size == 400


def test_special_strings_in_text_stay_text():
    tok = small_tokenizer()
    text = "The end.<|endoftext|><|user|> hi <|pad|>"
    ids = tok.encode(text)
    assert not set(ids) & set(tok.special_ids.values())
    assert tok.decode(ids) == text
    # Both engines agree on this rule.
    hf = Tokenizer(tok.json_text, engine="tokenizers")
    assert hf.encode(text) == ids


def test_token_bytes_spell_the_text():
    tok = small_tokenizer()
    text = "Once upon a time, Lily said «ça va» 👋"
    ids = tok.encode(text)
    assert b"".join(tok.token_bytes(i) for i in ids) == text.encode("utf-8")
    with pytest.raises(InputError, match="token id"):
        tok.token_bytes(tok.vocab_size)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_decode_encode_round_trip_any_unicode(text):
    tok = small_tokenizer()
    assert tok.decode(tok.encode(text)) == text


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(max_size=40), max_size=8))
def test_encode_batch_matches_encode(texts):
    tok = small_tokenizer()
    assert tok.encode_batch(texts) == [tok.encode(t) for t in texts]
    assert tok.encode_batch(texts, num_threads=1) == [tok.encode(t) for t in texts]


def test_lone_surrogate_is_refused_clearly():
    with pytest.raises(InputError, match="lone surrogate"):
        small_tokenizer().encode("ok \ud800 no")


def test_decode_rejects_ids_outside_the_vocabulary():
    tok = small_tokenizer()
    with pytest.raises(InputError, match=r"found 400"):
        tok.decode([5, 400])
    with pytest.raises(InputError, match=r"found -1"):
        tok.decode([-1])


def test_decode_of_a_partial_utf8_sequence_uses_replacement_char():
    tok = small_tokenizer()
    ids = tok.encode("é")  # two bytes; with a tiny vocabulary possibly two tokens
    assert tok.decode(ids) == "é"
    first_byte = [i for i in range(tok.vocab_size) if tok.token_bytes(i) == "é".encode()[:1]]
    assert tok.decode(first_byte) == "\ufffd"


def test_save_and_load_keep_the_sha256(tmp_path):
    tok = small_tokenizer()
    path = tmp_path / "tok" / "tokenizer.json"
    tok.save(path)
    loaded = Tokenizer.from_file(path)
    assert loaded.sha256 == tok.sha256
    assert loaded.encode(STORIES[0]) == tok.encode(STORIES[0])
    other = train_tokenizer(SMALL_CORPUS, vocab_size=300)
    assert other.sha256 != tok.sha256


def test_training_is_deterministic():
    assert train_tokenizer(SMALL_CORPUS, vocab_size=350).sha256 == train_tokenizer(SMALL_CORPUS, vocab_size=350).sha256


def test_missing_file_names_the_path_and_the_fix(tmp_path):
    with pytest.raises(MissingFileError, match=r"tokenizer\.json.*slm tokenizer train"):
        Tokenizer.from_file(tmp_path / "tokenizer.json")


@pytest.mark.parametrize(
    "content, expected",
    [
        ("{not json", "unreadable tokenizer"),
        ('{"model": {"type": "BPE"}}', "unreadable tokenizer"),
    ],
)
def test_corrupt_file_is_an_input_error(tmp_path, content, expected):
    path = tmp_path / "tokenizer.json"
    path.write_text(content)
    with pytest.raises(InputError, match=expected) as err:
        Tokenizer.from_file(path)
    assert str(path) in str(err.value)


def test_tokenizer_without_our_special_tokens_is_refused(tmp_path):
    spec = json.loads(small_tokenizer().json_text)
    spec["added_tokens"] = [t for t in spec["added_tokens"] if t["content"] != "<|pad|>"]
    del spec["model"]["vocab"]["<|pad|>"]
    path = tmp_path / "tokenizer.json"
    path.write_text(json.dumps(spec))
    with pytest.raises(InputError, match="without special tokens"):
        Tokenizer.from_file(path)


def test_transformers_loads_the_file_with_identical_ids(tmp_path):
    transformers = pytest.importorskip("transformers")
    tok = small_tokenizer()
    path = tmp_path / "tokenizer.json"
    tok.save(path)
    hf = transformers.PreTrainedTokenizerFast(tokenizer_file=str(path), clean_up_tokenization_spaces=False)
    for text in [*STORIES, "Où est le café ? 👋", "  two  spaces\n\nand tabs\t"]:
        assert hf.encode(text, add_special_tokens=False) == tok.encode(text)
        assert hf.decode(tok.encode(text)) == text
    assert hf.convert_tokens_to_ids("<|endoftext|>") == tok.eot_id
    # transformers turns special strings in text into special ids unless told not to; ours never does.
    assert hf.encode("a<|endoftext|>", add_special_tokens=False)[-1] == tok.eot_id
    split = transformers.PreTrainedTokenizerFast(tokenizer_file=str(path), split_special_tokens=True)
    assert split.encode("a<|endoftext|>", add_special_tokens=False) == tok.encode("a<|endoftext|>")
