"""The LLM judge's score as a reward: each completion is judged with a rubric (eval/judge.py) over any
OpenAI-compatible endpoint; the reward is the mean of the rubric's scores, each scaled to [0, 1] by its range.
Replies are cached on disk (JudgeCache), so a resumed run or a repeated completion costs no request.

The judged item holds the rubric's fields, filled from: the record's own fields, `prompt` / `instruction` (the
prompt), `response` / `continuation` (the completion) and `output` (the record's reference answer, if any).

Example:
    reward = JudgeReward(JudgeSettings(base_url="http://127.0.0.1:11434/v1", model="llama3.1"))
    reward("Write a story about a dog.", "Tom had a dog...", {})  # e.g. 0.7
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slmkit.common.errors import ConfigError
from slmkit.config import opt
from slmkit.data.teacher_client import TeacherClient
from slmkit.eval.judge import Judge, JudgeCache, load_rubric


@dataclass
class JudgeSettings:
    base_url: str | None = opt(None, "judge reward: OpenAI-compatible endpoint, e.g. http://127.0.0.1:11434/v1")
    model: str | None = opt(None, "judge reward: judge model name at the endpoint")
    rubric: str = opt("tinystories", "judge reward: tinystories, instruction, or a rubric .yaml file")
    cache: str | None = opt(None, "judge reward: cache file (default: <run>/judge_reward_cache.jsonl)")
    api_key_env: str = opt("OPENAI_API_KEY", "judge reward: environment variable holding the API key")
    max_tokens: int = opt(256, "judge reward: max tokens per judge reply")


class JudgeReward:
    """`reward(prompt, completion, record) -> float` backed by a cached rubric judge (temperature 0)."""

    def __init__(self, settings: JudgeSettings, default_cache: Path | None = None):
        if not settings.base_url or not settings.model:
            raise ConfigError("judge.base_url", found=settings.base_url,
                              expected="an endpoint and a model (--judge.base-url URL --judge.model NAME)")
        self.rubric = load_rubric(settings.rubric)
        cache_path = Path(settings.cache) if settings.cache else (default_cache or Path("judge_reward_cache.jsonl"))
        client = TeacherClient(settings.base_url, settings.model, os.environ.get(settings.api_key_env, "EMPTY"),
                               temperature=0.0, max_tokens=settings.max_tokens, api_key_env=settings.api_key_env,
                               role="judge", retry_empty=False)
        self.judge = Judge(client, self.rubric, JudgeCache(cache_path), temperature=0.0, seed=0)
        self.failures = 0  # judgements that could not be parsed (they score 0)

    def item(self, prompt: str, completion: str, record: dict[str, Any]) -> dict[str, Any]:
        known = {k: v for k, v in record.items() if isinstance(v, str) and k != "where"}
        known = {"prompt": prompt, "instruction": prompt, "output": "", **known,
                 "response": completion, "continuation": completion}
        return {k: known[k] for k in (*self.rubric.fields, *self.rubric.defaults) if k in known}

    def __call__(self, prompt: str, completion: str, record: dict[str, Any]) -> float:
        entry = self.judge.judge_one(self.item(prompt, completion, record), 0, str(record.get("where", "prompt")))
        if "scores" not in entry:
            self.failures += 1
            return 0.0
        scaled = [(entry["scores"][k] - lo) / (hi - lo) for k, (lo, hi) in self.rubric.scores.items()]
        return sum(scaled) / len(scaled)
