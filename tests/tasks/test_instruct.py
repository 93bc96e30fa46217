"""Instruction tuning: loss on responses only, for the Alpaca prompt and the chat template."""

import pytest

from slmkit.common.errors import InputError
from slmkit.model.loss import IGNORE_INDEX
from slmkit.tasks.base import lm_collate
from slmkit.tasks.instruct import InstructOptions, InstructTask, alpaca_prompt
from slmkit.tokenizer.special import END


def _targets(ex, tokenizer):
    _, y = lm_collate([ex], tokenizer.pad_id)
    return [int(t) for t in y[0] if t != IGNORE_INDEX]


def test_alpaca_prompt_and_response_only_loss(tokenizer):
    task = InstructTask(InstructOptions(), tokenizer, max_len=128)
    record = {"instruction": "Name a pet.", "input": "", "output": "A dog.", "where": "f[0]"}
    (ex,) = task.encode_all([record], "train")
    assert tokenizer.decode(ex.tokens[1 : ex.prompt_len]) == alpaca_prompt("Name a pet.")
    assert "### Input" not in alpaca_prompt("Name a pet.") and "### Input" in alpaca_prompt("x", "y")
    assert _targets(ex, tokenizer) == tokenizer.encode("A dog.") + [tokenizer.eot_id]
    assert task.checkpoint_record()["format"] == "alpaca"


def test_chat_loss_only_on_assistant_turns(tokenizer):
    task = InstructTask(InstructOptions(), tokenizer, max_len=128)
    messages = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
        {"role": "assistant", "content": "Hello."},
        {"role": "user", "content": "Bye"},
        {"role": "assistant", "content": "Bye now."},
    ]
    (ex,) = task.encode_all([{"messages": messages, "where": "c:1"}], "train")
    assert ex.tokens[1:] == tokenizer.encode_chat(messages)  # exactly the chat template
    end = tokenizer.special_ids[END]
    expected = tokenizer.encode("Hello.") + [end] + tokenizer.encode("Bye now.") + [end]
    assert _targets(ex, tokenizer) == expected
    assert task.checkpoint_record()["format"] == "chat"


def test_alpaca_records_rendered_as_chat_and_bad_records(tokenizer):
    task = InstructTask(InstructOptions(format="chat"), tokenizer, max_len=128)
    (ex,) = task.encode_all([{"instruction": "Add.", "input": "1+1", "output": "2", "where": "f[0]"}], "train")
    msgs = [{"role": "user", "content": "Add.\n\n1+1"}, {"role": "assistant", "content": "2"}]
    assert ex.tokens[1:] == tokenizer.encode_chat(msgs)
    with pytest.raises(InputError, match=r"f\[1\]: field 'output'"):
        task.encode_all([{"instruction": "x", "where": "f[1]"}], "train")
    with pytest.raises(InputError, match="c:2"):
        task.encode_all([{"messages": [{"role": "robot", "content": "x"}], "where": "c:2"}], "train")
    with pytest.raises(InputError, match="no assistant turn"):
        task.encode_all([{"messages": [{"role": "user", "content": "x"}], "where": "c:3"}], "train")


def test_overlong_alpaca_keeps_response_header_and_response(tokenizer):
    record = {"instruction": "Repeat.", "input": "the dog ran " * 100, "output": "ok", "where": "f[2]"}
    (ex,) = InstructTask(InstructOptions(), tokenizer, max_len=160).encode_all([record], "train")
    assert len(ex.tokens) == 160
    assert tokenizer.decode(ex.tokens[: ex.prompt_len]).endswith("### Response:\n")
    with pytest.raises(InputError, match=r"f\[2\]: found '\d+ tokens', expected at most 160"):
        InstructTask(InstructOptions(), tokenizer, 160, overflow="error").encode_all([record], "train")
