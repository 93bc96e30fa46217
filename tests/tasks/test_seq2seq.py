"""Summarize/translate: the loss never touches prompt tokens; truncation keeps the template and the target."""

import pytest

from slmkit.common.errors import InputError
from slmkit.model.loss import IGNORE_INDEX
from slmkit.tasks.base import lm_collate
from slmkit.tasks.seq2seq import Seq2SeqOptions, Seq2SeqTask


def test_loss_only_on_target_tokens(tokenizer):
    task = Seq2SeqTask("translate", Seq2SeqOptions(), tokenizer, max_len=64)
    (ex,) = task.encode_all([{"source": "the cat", "target": "le chat", "where": "f:1"}], "train")
    prompt = tokenizer.encode("Translate English to French.\nEnglish: ") + tokenizer.encode("the cat")
    target = tokenizer.encode(" le chat") + [tokenizer.eot_id]
    assert ex.tokens[ex.prompt_len:] == target
    assert ex.tokens[1 : 1 + len(prompt)] == prompt
    x, y = lm_collate([ex], tokenizer.pad_id)
    counted = [int(t) for t in y[0] if t != IGNORE_INDEX]
    assert counted == target  # every target token, and nothing of the prompt
    assert (y[0, : ex.prompt_len - 1] == IGNORE_INDEX).all()


def test_fields_from_dialogsum_and_tab_pairs(tokenizer):
    task = Seq2SeqTask("summarize", Seq2SeqOptions(), tokenizer, max_len=64)
    (ex,) = task.encode_all([{"dialogue": "A: hi\nB: bye", "summary": "They part.", "where": "d[0]"}], "train")
    assert ex.reference == "They part." and ex.meta["source"] == "A: hi\nB: bye"
    with pytest.raises(InputError, match=r"d\[1\]: found .*expected a target field"):
        task.encode_all([{"dialogue": "x", "where": "d[1]"}], "train")


def test_truncation_policy_cuts_the_source_end(tokenizer):
    long_source = " ".join(["the dog ran to the park"] * 30)
    record = {"source": long_source, "target": "a dog", "where": "f:7"}
    task = Seq2SeqTask("summarize", Seq2SeqOptions(), tokenizer, max_len=40)
    (ex,) = task.encode_all([record], "train")
    assert len(ex.tokens) == 40
    assert ex.tokens[ex.prompt_len:] == tokenizer.encode(" a dog") + [tokenizer.eot_id]  # target whole
    assert tokenizer.decode(ex.tokens[: ex.prompt_len]).endswith("\n\nSummary:")  # template whole
    with pytest.raises(InputError, match=r"f:7: found '\d+ tokens', expected at most 40"):
        Seq2SeqTask("summarize", Seq2SeqOptions(), tokenizer, 40, overflow="error").encode_all([record], "train")
    assert Seq2SeqTask("summarize", Seq2SeqOptions(), tokenizer, 40, overflow="drop").encode_all([record], "x") == []


def test_speaker_anonymization_round_trip(tokenizer):
    from slmkit.tasks.seq2seq import replace_names, speaker_tags

    dialogue = "Ann: Hi Bob.\nBob: Hello Ann, Annie says hi.\nAnn: Bye."
    tags = speaker_tags(dialogue)
    assert tags == {"Ann": "#Person1#", "Bob": "#Person2#"}
    hidden = replace_names(dialogue, tags)
    assert hidden == "#Person1#: Hi #Person2#.\n#Person2#: Hello #Person1#, Annie says hi.\n#Person1#: Bye."
    assert replace_names(hidden, {t: n for n, t in tags.items()}) == dialogue
    opts = Seq2SeqOptions(anonymize_speakers=True)
    (ex,) = Seq2SeqTask("summarize", opts, tokenizer, 128).encode_all(
        [{"dialogue": dialogue, "summary": "Ann greets Bob.", "where": "d[0]"}], "train")
    assert tokenizer.decode(ex.tokens[ex.prompt_len:-1]) == " #Person1# greets #Person2#."
    assert ex.reference == "Ann greets Bob." and ex.meta["source"] == dialogue  # scored on the real names
