"""Rewards: each function on hand cases, spec parsing with weights and user functions, and the judge reward over
real HTTP (the official `openai` client against a judge server on 127.0.0.1) with its cache."""

from __future__ import annotations

import json

import pytest

from slmkit.common.errors import ConfigError, InputError
from slmkit.data.synth import generate_stories
from slmkit.eval.instruct_checks import check_story, parse_instruction
from slmkit.rewards import verifiable as v
from slmkit.rewards.judged import JudgeReward, JudgeSettings
from slmkit.rewards.registry import BUILTIN, describe_rewards, parse_rewards, parse_term
from tests.fake_chat import FakeChat, chat_completion

PROMPT = "Features: Dialogue\nWords: kite, jump, happy\nSummary: Luna flies a kite with Tom.\nStory:"


def test_instruction_rewards_by_hand():
    story = 'Luna had a red kite. "Look!" she said. She was happy and jumped high.'
    assert v.words_used(PROMPT, story, {}) == 1.0  # jumped counts for jump
    assert v.words_used(PROMPT, "Luna had a kite.", {}) == pytest.approx(1 / 3)
    assert v.words_used("Story:", "anything", {}) == 1.0  # nothing required
    assert v.features_present(PROMPT, story, {}) == 1.0
    assert v.features_present(PROMPT, "No quotes here.", {}) == 0.0
    assert v.names_kept(PROMPT, story, {}) == 0.5  # Luna kept, Tom missing
    assert v.names_kept(PROMPT, story + " Tom smiled.", {}) == 1.0
    assert v.length_within("", "one two three", {}, min_words=6) == 0.5
    assert v.length_within("", "one two three four", {}, min_words=1, max_words=2) == 0.5
    assert v.length_within("", " ".join(["w"] * 50), {}) == 1.0
    # the constraints come from the record's instruction when there is one (the prompt may be templated)
    assert v.words_used("Write a story.", "a dog", {"instruction": "Words: dog\nStory:"}) == 1.0
    assert v.words_used("Write a story.", "a cat", {"instruction": "Words: dog\nStory:"}) == 0.0


def test_instruction_rewards_agree_with_check_story_on_synthetic_stories():
    for story in generate_stories(20, seed=3):
        checks = check_story(parse_instruction(story.instruction), story.text)
        assert v.all_constraints(story.instruction, story.text, {}) == float(checks["all"])
        assert (v.words_used(story.instruction, story.text, {}) == 1.0) == checks["words"]
        dense = v.instruction_following(story.instruction, story.text, {})
        assert dense == 1.0 if checks["all"] else dense < 1.0


def test_label_vocabulary_repetition_and_contains():
    assert v.label_correct("Spam?", " Spam. It is.", {"label": "spam"}) == 1.0
    assert v.label_correct("Spam?", "ham", {"label": "spam"}) == 0.0
    assert v.label_correct("Spam?", "spammy", {"label": "spam"}) == 0.0
    assert v.label_correct("Sentiment?", "positive", {"output": "Positive"}) == 1.0
    assert v.easy_vocabulary("", "The dog ran.", {}) == 1.0
    assert v.easy_vocabulary("", "The epistemological quandary persisted.", {}) < 0.5
    assert v.low_repetition("", "a b c d e f", {}) == 1.0
    assert v.low_repetition("", "a b c d a b c d", {}) == pytest.approx(0.8)  # 5 word 4-grams, 1 repeats
    red = v.contains_word("red")
    assert red("", "A Red ball.", {}) == 1.0 and red("", "A reddish ball, bored.", {}) == 0.0


def test_spec_parsing_weights_and_combination():
    rewards = parse_rewards("words:3, length,contains:red:0.5")
    assert rewards.names == ["words", "length", "contains:red"]
    assert [t.weight for t in rewards.terms] == [3.0, 1.0, 0.5]
    total, parts = rewards.score("Words: dog\nStory:", "The dog was red.", {})
    assert parts == {"words": 1.0, "length": pytest.approx(4 / 30), "contains:red": 1.0}
    assert total == pytest.approx((3 * 1.0 + 4 / 30 + 0.5 * 1.0) / 4.5)
    assert set(BUILTIN) <= set(describe_rewards().replace(":", " ").split())
    for bad, why in [("nope", "one of"), ("words:x", "numeric weight"), ("words:-1", "> 0"), ("contains", "WORD"),
                     ("words,words", "repeated"), ("", "at least one"), ("words:1:2", "NAME")]:
        with pytest.raises(ConfigError, match=why):
            parse_rewards(bad)


def test_label_reward_names_the_record_without_a_label():
    rewards = parse_rewards("label")
    with pytest.raises(InputError, match="prompts.jsonl:4.*'label' field"):
        rewards.score("Spam?", "spam", {"text": "x", "where": "prompts.jsonl:4"})


def test_user_reward_function_from_a_module(tmp_path, monkeypatch):
    (tmp_path / "my_rewards.py").write_text("def shortness(prompt, completion, record):\n"
                                            "    return 1.0 / (1 + len(completion.split()))\n"
                                            "def broken(prompt, completion, record):\n"
                                            "    return float('nan')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    term = parse_term("my_rewards:shortness:2")
    assert term.name == "my_rewards:shortness" and term.weight == 2.0
    assert term.fn("", "one two three", {}) == 0.25
    with pytest.raises(ConfigError, match="importable module"):
        parse_term("no_such_module.x:fn")
    with pytest.raises(ConfigError, match="function 'missing'"):
        parse_term("my_rewards:missing")
    with pytest.raises(InputError, match="finite"):
        parse_rewards("my_rewards:broken").score("", "x", {})


# ---- the judge's score over HTTP -----------------------------------------------------------------------------------


def score_judge(body: dict) -> tuple[int, dict]:
    """An OpenAI-compatible judge: 90 for responses that mention a dog, 30 otherwise; prose first for 'BROKEN'."""
    if any("BROKEN" in m["content"] for m in body["messages"]):  # the repair turn too
        return 200, chat_completion(body["model"], "I cannot grade this.")
    response = body["messages"][-1]["content"].split("Model response:")[-1]
    return 200, chat_completion(body["model"], json.dumps({"score": 90 if "dog" in response else 30}))


@pytest.fixture
def judge():
    with FakeChat(score_judge) as fake:
        yield fake


def test_judge_reward_scales_scores_and_caches(judge, tmp_path):
    settings = JudgeSettings(base_url=judge.url, model="fake", rubric="instruction", cache=str(tmp_path / "c.jsonl"))
    reward = JudgeReward(settings)
    assert reward("Write about a pet.", "A dog barked.", {"output": "Rex the dog."}) == pytest.approx(0.9)
    assert reward("Write about a pet.", "A cat slept.", {}) == pytest.approx(0.3)
    n = len(judge.requests)
    assert reward("Write about a pet.", "A dog barked.", {"output": "Rex the dog."}) == pytest.approx(0.9)
    assert len(judge.requests) == n  # served from the cache
    again = JudgeReward(settings)  # a new process (a resumed run) reads the cache file
    assert again("Write about a pet.", "A cat slept.", {}) == pytest.approx(0.3) and len(judge.requests) == n
    assert reward("BROKEN prompt", "x", {}) == 0.0 and reward.failures == 1  # unparseable after one repair
    settings = JudgeSettings(base_url=judge.url, model="fake", rubric="instruction")
    combined = parse_rewards("judge,contains:dog", settings, tmp_path / "c2.jsonl")
    total, parts = combined.score("Write about a pet.", "A dog barked.", {})
    assert parts == {"judge": pytest.approx(0.9), "contains:dog": 1.0} and total == pytest.approx(0.95)


def test_judge_reward_needs_an_endpoint():
    with pytest.raises(ConfigError, match="judge.base_url"):
        parse_rewards("judge")
