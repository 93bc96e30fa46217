"""Instruction-following checks: prompt parsing, word inflections, and the feature detectors measured against the
synthetic generator's ground-truth feature labels."""

from __future__ import annotations

import pytest

from slmkit.data.synth import FEATURES, generate_stories
from slmkit.eval.instruct_checks import Instruction, check_story, detect_features, parse_instruction, word_used


def test_parse_instruction():
    prompt = ("Features: Dialogue, Twist\nWords: Remember, forest, high\n"
              "Summary: Luna and Tom fly a kite in the forest.\nStory: \n\n")
    parsed = parse_instruction(prompt)
    assert parsed.features == ["Dialogue", "Twist"] and parsed.words == ["remember", "forest", "high"]
    assert parsed.names == ["Luna", "Tom"]
    assert parse_instruction("Story:") == Instruction()


@pytest.mark.parametrize(("word", "text"), [("remember", "remembered"), ("fly", "flies"), ("run", "running"),
                                            ("run", "ran"), ("mouse", "mice"), ("hop", "hopped"), ("let", "let's")])
def test_word_inflections(word, text):
    result = check_story(Instruction(words=[word]), f"The kid {text} in the park.", min_words=1)
    assert result["words"], (word, text)


def test_word_not_used():
    assert not word_used("kite", {"the", "kit", "kites2"})


def test_check_story_constraints():
    story = 'Tom had a red ball. "Look!" said Tom. ' + "He played all day. " * 5 + "Then he was happy."
    instr = Instruction(features=["Dialogue"], words=["ball", "play"], names=["Tom"])
    assert check_story(instr, story) == {"words": True, "features": True, "names": True, "length": True, "all": True}
    missing = check_story(Instruction(features=["BadEnding"], words=["kite"], names=["Sue"]), story, max_words=10)
    assert missing == {"words": False, "features": False, "names": False, "length": False, "all": False}


def test_detectors_against_synthetic_labels():
    """Recall and false-positive rate per feature on 600 labelled synthetic stories (measured: Dialogue 1.00/0.00,
    MoralValue 1.00/0.02, BadEnding 0.74/0.03, Conflict 0.66/0.08, Foreshadowing 0.65/0.03, Twist 0.48/0.22)."""
    stories = list(generate_stories(600, seed=21))
    bounds = {"Dialogue": (0.99, 0.01), "MoralValue": (0.95, 0.05), "BadEnding": (0.65, 0.08),
              "Conflict": (0.55, 0.15), "Foreshadowing": (0.5, 0.08), "Twist": (0.35, 0.3)}
    for feature in FEATURES:
        with_f = [s for s in stories if feature in s.features]
        without = [s for s in stories if feature not in s.features]
        recall = sum(feature in detect_features(s.text) for s in with_f) / len(with_f)
        false_pos = sum(feature in detect_features(s.text) for s in without) / len(without)
        min_recall, max_fp = bounds[feature]
        assert recall >= min_recall and false_pos <= max_fp, (feature, recall, false_pos)
    kept = [check_story(parse_instruction(s.instruction), s.text) for s in stories]
    assert sum(k["words"] for k in kept) / len(kept) > 0.98  # the generator uses its required words
    assert all(k["names"] for k in kept)
