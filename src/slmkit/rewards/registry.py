"""Rewards by name, composed: `--reward words:2,features,length,contains:red,mypkg.rewards:politeness`.

A spec is a comma-separated list of terms `NAME[:ARG][:WEIGHT]`:
- a built-in name (`slm finetune grpo --help` lists them; `contains` takes its word as ARG: `contains:red`),
- or a user function `module.path:function` (importable: on PYTHONPATH or installed) with the same signature
  `reward(prompt: str, completion: str, record: dict) -> float`,
each optionally followed by a weight (`words:2`, `contains:red:0.5`; default 1). The combined reward is the weighted
mean of the terms, so rewards in [0, 1] combine into [0, 1]; each term's value is reported too.

Example:
    rewards = parse_rewards("words:2,length")
    total, parts = rewards.score("Words: dog\\nStory:", "The dog ran.", {})  # parts == {"words": 1.0, "length": 0.1}
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slmkit.common.errors import ConfigError, InputError
from slmkit.rewards import verifiable as v
from slmkit.rewards.judged import JudgeReward, JudgeSettings

RewardFn = Callable[[str, str, dict[str, Any]], float]

BUILTIN: dict[str, tuple[RewardFn, str]] = {
    "words": (v.words_used, "fraction of the prompt's required words used"),
    "features": (v.features_present, "fraction of the requested story features present"),
    "names": (v.names_kept, "fraction of the summary's named characters kept"),
    "length": (v.length_within, f"length within {v.MIN_WORDS}..{v.MAX_WORDS} words (ratio to the bound outside)"),
    "instruct": (v.instruction_following, "mean of words, features, names and length"),
    "all_constraints": (v.all_constraints, "1 when every instruction constraint holds, else 0"),
    "label": (v.label_correct, "classification: the completion starts with the record's label"),
    "easy_words": (v.easy_vocabulary, "age-appropriate vocabulary: share of easy words"),
    "no_repeat": (v.low_repetition, "1 - share of repeated word 4-grams"),
}
WITH_ARGUMENT = {"contains": "contains:WORD: 1 when the completion uses WORD"}
JUDGE = "judge"  # the LLM judge's score (needs --judge.base-url and --judge.model)


def describe_rewards() -> str:
    """One line per built-in reward, for help texts."""
    lines = [f"{name}: {doc}" for name, (_, doc) in BUILTIN.items()] + list(WITH_ARGUMENT.values())
    return "; ".join([*lines, f"{JUDGE}: the LLM judge's rubric score in [0, 1]", "module.path:function: your own"])


@dataclass
class RewardTerm:
    name: str  # as reported in metrics, e.g. "words" or "contains:red"
    weight: float
    fn: RewardFn


class RewardSet:
    """Weighted mean of reward terms. Example: `RewardSet([RewardTerm("length", 1.0, length_within)])`"""

    def __init__(self, terms: list[RewardTerm]):
        if not terms:
            raise ConfigError("reward", found="an empty list", expected="at least one reward name")
        self.terms = terms
        self.total_weight = sum(t.weight for t in terms)

    @property
    def names(self) -> list[str]:
        return [t.name for t in self.terms]

    def score(self, prompt: str, completion: str, record: dict[str, Any]) -> tuple[float, dict[str, float]]:
        """(combined reward, each term's value)."""
        parts = {}
        for term in self.terms:
            where = str(record.get("where", "the prompt record"))
            try:
                value = float(term.fn(prompt, completion, record))
            except KeyError as exc:
                raise InputError(where, found=f"fields {sorted(k for k in record if k != 'where')}",
                                 expected=f"a {exc.args[0]!r} field for the {term.name!r} reward") from None
            if not math.isfinite(value):
                raise InputError(f"reward {term.name!r}", found=value, expected="a finite number")
            parts[term.name] = value
        total = sum(t.weight * parts[t.name] for t in self.terms) / self.total_weight
        return total, parts


def _weight(text: str, spec: str) -> float:
    try:
        weight = float(text)
    except ValueError:
        raise ConfigError("reward", found=spec, expected="NAME[:ARG][:WEIGHT] with a numeric weight") from None
    if not weight > 0:
        raise ConfigError("reward", found=spec, expected="a weight > 0")
    return weight


def _user_function(path: str, spec: str) -> RewardFn:
    module_name, _, attr = path.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError("reward", found=spec, expected=f"an importable module ({exc})") from None
    fn = getattr(module, attr, None)
    if not callable(fn):
        raise ConfigError("reward", found=spec, expected=f"a function {attr!r} in module {module_name}")
    return fn


def parse_term(spec: str, judge: JudgeSettings | None = None, judge_cache: Path | None = None) -> RewardTerm:
    """One term of a reward spec. Example: `parse_term("contains:red:2").weight == 2.0`"""
    parts = spec.strip().split(":")
    name, rest = parts[0], parts[1:]
    if name in BUILTIN:
        fn, label = BUILTIN[name][0], name
    elif name in WITH_ARGUMENT:
        if not rest or not rest[0]:
            raise ConfigError("reward", found=spec, expected=WITH_ARGUMENT[name])
        fn, label, rest = v.contains_word(rest[0]), f"{name}:{rest[0]}", rest[1:]
    elif name == JUDGE:
        fn, label = JudgeReward(judge or JudgeSettings(), judge_cache), name
    elif rest and rest[0].isidentifier():  # module.path:function
        fn, label, rest = _user_function(f"{name}:{rest[0]}", spec), f"{name}:{rest[0]}", rest[1:]
    else:
        raise ConfigError("reward", found=spec,
                          expected=f"one of {sorted([*BUILTIN, *WITH_ARGUMENT, JUDGE])} or module.path:function")
    if len(rest) > 1:
        raise ConfigError("reward", found=spec, expected="NAME[:ARG][:WEIGHT]")
    return RewardTerm(label, _weight(rest[0], spec) if rest else 1.0, fn)


def parse_rewards(spec: str, judge: JudgeSettings | None = None, judge_cache: Path | None = None) -> RewardSet:
    """A RewardSet from a comma-separated spec (see the module docstring)."""
    terms = [parse_term(s, judge, judge_cache) for s in spec.split(",") if s.strip()]
    names = [t.name for t in terms]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ConfigError("reward", found=spec, expected=f"each reward once (repeated: {duplicates}); use a weight")
    return RewardSet(terms)
