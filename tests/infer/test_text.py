"""The text layer on a real trained tokenizer: UTF-8-safe streaming, stop strings across token boundaries, chat and
few-shot prompts."""

from __future__ import annotations

import json

import pytest

from slmkit.common.errors import InputError
from slmkit.infer.text import (
    StreamingDecoder,
    TextStream,
    chat_prompt_ids,
    chat_stop_ids,
    few_shot_prompt,
    load_examples,
)
from slmkit.tokenizer import Tokenizer, render_chat


@pytest.fixture(scope="module")
def tok(encoded_run):
    return Tokenizer.from_file(encoded_run / "tokenizer" / "tokenizer.json")


def test_streaming_never_emits_broken_utf8(tok):
    text = "Lily 🐻 said héllo 你好 ✨"
    ids = tok.encode(text)
    assert len(ids) > len(text.split())  # multi-byte characters span several byte-level tokens
    decoder = StreamingDecoder(tok)
    pieces = [decoder.push(i) for i in ids]
    assert "".join(pieces) + decoder.flush() == text
    assert all("\ufffd" not in p for p in pieces)
    assert any(p == "" for p in pieces)  # some tokens had to wait for the rest of their character


def test_stop_string_across_tokens_is_never_shown(tok):
    text = "Tom ran home. THE END. More text"
    stream = TextStream(tok, stop=["THE END", "zzz"])
    shown = []
    for token in tok.encode(text):
        shown.append(stream.push(token))
        if stream.stopped:
            break
    shown.append(stream.finish())
    assert "".join(shown) == "Tom ran home. " == stream.text
    assert not any("THE" in p for p in shown)


def test_held_back_prefix_is_released_when_it_is_not_a_stop(tok):
    stream = TextStream(tok, stop=["Tom ran away"])
    assert "".join(stream.push(t) for t in tok.encode("Tom ran")) == ""  # could still become the stop string
    rest = "".join(stream.push(t) for t in tok.encode(" home"))
    assert rest == "Tom ran home" and not stream.stopped and stream.finish() == ""


def test_chat_prompt_uses_the_template_and_special_ids(tok):
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi <|end|>"}]
    ids = chat_prompt_ids(tok, messages)
    assert ids[0] == tok.eot_id and tok.decode(ids[1:]) == render_chat(messages, add_generation_prompt=True)
    assert ids.count(tok.special_ids["<|end|>"]) == 2  # the user's literal "<|end|>" is text, not a marker
    assert chat_stop_ids(tok) == {tok.special_ids["<|end|>"], tok.eot_id}


def test_few_shot_prompt(tmp_path):
    path = tmp_path / "ex.jsonl"
    rows = [{"input": f"{i}+{i}", "output": str(2 * i)} for i in range(5)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + "\n", encoding="utf-8")
    examples = load_examples(path)
    assert len(examples) == 5
    prompt = few_shot_prompt(examples, "7+7", k=2, instruction="Add.")
    assert prompt == "Add.\n\nInput: 0+0\nOutput: 0\n\nInput: 1+1\nOutput: 2\n\nInput: 7+7\nOutput:"
    drawn = few_shot_prompt(examples, "7+7", k=3, seed=1)
    assert drawn == few_shot_prompt(examples, "7+7", k=3, seed=1) and drawn.count("Output:") == 4
    with pytest.raises(InputError, match="k"):
        few_shot_prompt(examples, "q", k=6)
    (tmp_path / "bad.jsonl").write_text('{"input": "a"}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"bad.jsonl:1"):
        load_examples(tmp_path / "bad.jsonl")
