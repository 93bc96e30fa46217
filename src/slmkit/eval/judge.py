"""`slm judge`: LLM-as-judge over any OpenAI-compatible endpoint (Ollama, vLLM, llama.cpp server, OpenAI, slm serve).

A rubric (YAML, editable: see eval/rubrics/) names the item fields its prompt template needs, the numeric scores with
their ranges and the categorical labels. The judge asks for JSON (`response_format` with a JSON schema, falling back
to plain JSON mode and then to the prompt alone when a server refuses the option), parses the reply robustly (the first
`{...}` block; numbers given as strings are accepted; values out of range are errors), and on a reply it cannot parse
asks once more with the reason. Each item is judged `samples` times (seeds differ); per item and over all items it
reports the mean and a 95% confidence interval (Student's t). Replies are cached on disk keyed by
(model, rubric, item, sample), so a rerun after an interruption asks only for what is missing.

Example:
    slm judge --base-url http://127.0.0.1:11434/v1 --model llama3.1 --items runs/q/eval/stories_samples.jsonl
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from slmkit.common.atomic import atomic_write_json, atomic_write_text
from slmkit.common.errors import ConfigError, InputError, MissingFileError, SlmkitError
from slmkit.common.log import print0
from slmkit.config import check, opt
from slmkit.data.teacher_client import EndpointError, TeacherClient
from slmkit.eval.documents import read_json_records

RUBRICS_DIR = Path(__file__).parent / "rubrics"
# two-sided 95% Student's t critical values by degrees of freedom; 1.96 beyond the table
_T95 = {1: 12.706, 2: 4.303, 3: 3.182, 4: 2.776, 5: 2.571, 6: 2.447, 7: 2.365, 8: 2.306, 9: 2.262, 10: 2.228,
        12: 2.179, 15: 2.131, 20: 2.086, 25: 2.060, 30: 2.042, 40: 2.021, 60: 2.000, 120: 1.980}


@dataclass(frozen=True)
class Rubric:
    name: str
    system: str
    template: str
    fields: tuple[str, ...]
    scores: dict[str, tuple[float, float]]
    labels: dict[str, tuple[str, ...]]
    defaults: dict[str, str]
    text: str  # the file's content: part of the cache key, so editing a rubric re-judges

    def prompt(self, item: dict[str, Any], where: str) -> str:
        missing = [f for f in self.fields if f not in item]
        if missing:
            raise InputError(where, found=f"fields {sorted(item)}", expected=f"the rubric's fields {list(self.fields)}")
        return self.template.format(**{**self.defaults, **item})

    def json_schema(self) -> dict[str, Any]:
        props: dict[str, Any] = {k: {"type": "number", "minimum": lo, "maximum": hi}
                                 for k, (lo, hi) in self.scores.items()}
        props.update({k: {"type": "string", "enum": list(v)} for k, v in self.labels.items()})
        return {"type": "object", "properties": props, "required": list(props), "additionalProperties": False}


def load_rubric(name_or_path: str) -> Rubric:
    """A built-in rubric by name (tinystories, instruction) or a YAML file. Example: `load_rubric("tinystories")`"""
    path = Path(name_or_path)
    if not path.suffix:
        path = RUBRICS_DIR / f"{name_or_path}.yaml"
        if not path.is_file():
            known = sorted(p.stem for p in RUBRICS_DIR.glob("*.yaml"))
            raise ConfigError("rubric", name_or_path, f"one of {known} or a .yaml file")
    if not path.is_file():
        raise MissingFileError(path, expected="a rubric YAML file")
    text = path.read_text(encoding="utf-8")
    raw = yaml.safe_load(text) or {}
    for key in ("template", "fields"):
        if key not in raw:
            raise InputError(str(path), found=f"keys {sorted(raw)}", expected=f"a '{key}' key")
    if not raw.get("scores") and not raw.get("labels"):
        raise InputError(str(path), found="no scores or labels", expected="at least one of 'scores', 'labels'")
    return Rubric(
        name=str(raw.get("name", path.stem)), system=str(raw.get("system", "")), template=str(raw["template"]),
        fields=tuple(raw["fields"]),
        scores={k: (float(v[0]), float(v[1])) for k, v in (raw.get("scores") or {}).items()},
        labels={k: tuple(str(x) for x in v) for k, v in (raw.get("labels") or {}).items()},
        defaults={k: str(v) for k, v in (raw.get("defaults") or {}).items()}, text=text,
    )


def parse_judgement(reply: str, rubric: Rubric) -> dict[str, Any]:
    """Scores and labels from a judge's reply, or ValueError saying what is wrong.

    Example: `parse_judgement('Sure! {"score": "85"}', load_rubric("instruction")) == {"score": 85.0}`
    """
    start, end = reply.find("{"), reply.rfind("}")
    if start < 0 or end <= start:
        raise ValueError("no JSON object in the reply")
    try:
        data = json.loads(reply[start : end + 1])
    except json.JSONDecodeError as exc:
        raise ValueError(f"invalid JSON ({exc.msg})") from None
    if not isinstance(data, dict):
        raise ValueError("the JSON is not an object")
    result: dict[str, Any] = {}
    for key, (lo, hi) in rubric.scores.items():
        try:
            value = float(data[key])
        except KeyError:
            raise ValueError(f"missing '{key}'") from None
        except (TypeError, ValueError):
            raise ValueError(f"'{key}' is {data[key]!r}, not a number") from None
        if not lo <= value <= hi:
            raise ValueError(f"'{key}' is {value:g}, outside {lo:g}..{hi:g}")
        result[key] = value
    for key, allowed in rubric.labels.items():
        value = str(data.get(key, "")).strip()
        match = next((a for a in allowed if a.lower() == value.lower()), None)
        if match is None:
            raise ValueError(f"'{key}' is {value!r}, expected one of {list(allowed)}")
        result[key] = match
    return result


def mean_ci95(values: list[float]) -> tuple[float, float | None]:
    """Mean and the half-width of its 95% confidence interval (None for a single value).

    Example: `mean_ci95([1.0, 2.0, 3.0]) == (2.0, 2.484...)`  # 4.303 * 1 / sqrt(3)
    """
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, None
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    df = n - 1  # between table rows take the smaller df (a slightly wider, conservative interval)
    t = _T95[max(d for d in _T95 if d <= df)] if df <= 120 else 1.96
    return mean, t * sd / math.sqrt(n)


class JudgeCache:
    """Append-only JSONL of judged replies keyed by sha256(model, rubric, item, sample, temperature)."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        self._entries: dict[str, dict[str, Any]] = {}
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    entry = json.loads(line)
                    self._entries[entry["key"]] = entry
                except (json.JSONDecodeError, KeyError, TypeError):
                    continue  # a line cut by an interruption: that item is judged again

    @staticmethod
    def key(model: str, rubric: Rubric, item: dict, sample: int, temperature: float) -> str:
        blob = json.dumps([model, rubric.text, item, sample, temperature], sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()

    def get(self, key: str) -> dict[str, Any] | None:
        return self._entries.get(key)

    def put(self, key: str, entry: dict[str, Any]) -> None:
        entry = {"key": key, **entry}
        with self._lock:
            self._entries[key] = entry
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(entry, ensure_ascii=False) + "\n")


class Judge:
    """Judges items with a rubric through one OpenAI-compatible client; thread-safe."""

    def __init__(self, client: TeacherClient, rubric: Rubric, cache: JudgeCache, temperature: float, seed: int):
        self.client, self.rubric, self.cache = client, rubric, cache
        self.temperature, self.seed = temperature, seed
        self._formats = [  # tried in order; a server answering 400 to one moves everyone to the next
            {"type": "json_schema", "json_schema": {"name": rubric.name, "schema": rubric.json_schema()}},
            {"type": "json_object"},
            None,
        ]
        self._lock = threading.Lock()
        self.repairs = 0

    def _ask(self, messages: list[dict[str, str]], sample: int) -> str:
        while True:
            response_format = self._formats[0]
            options = {"temperature": self.temperature, "seed": self.seed + sample}
            if response_format is not None:
                options["response_format"] = response_format
            try:
                return self.client.chat(messages, **options).text
            except EndpointError as exc:
                with self._lock:
                    if exc.status != 400 or response_format is None:
                        raise
                    if self._formats and self._formats[0] is response_format:
                        self._formats.pop(0)

    def judge_one(self, item: dict[str, Any], sample: int, where: str) -> dict[str, Any]:
        """One judgement: {"scores": {...}} or {"error": why}, with the raw replies; cached."""
        key = JudgeCache.key(self.client.model, self.rubric, item, sample, self.temperature)
        cached = self.cache.get(key)
        if cached is not None:
            return cached
        messages = [{"role": "user", "content": self.rubric.prompt(item, where)}]
        if self.rubric.system:
            messages.insert(0, {"role": "system", "content": self.rubric.system})
        reply = self._ask(messages, sample)
        replies = [reply]
        try:
            entry: dict[str, Any] = {"scores": parse_judgement(reply, self.rubric)}
        except ValueError as first_error:  # one repair round: say what was wrong and ask for the JSON only
            with self._lock:
                self.repairs += 1
            example = json.dumps({k: v[1] for k, v in self.rubric.scores.items()}
                                 | {k: v[0] for k, v in self.rubric.labels.items()})
            messages += [{"role": "assistant", "content": reply},
                         {"role": "user", "content": f"Your reply could not be used: {first_error}. Reply with only "
                                                     f"a JSON object with the same keys as {example}."}]
            try:
                reply = self._ask(messages, sample)
            except EndpointError as exc:  # the first request worked, so this refusal (say, too long) is the item's
                if exc.status != 400:
                    raise
                entry = {"error": f"the repair request was refused: {exc}"}
            else:
                replies.append(reply)
                try:
                    entry = {"scores": parse_judgement(reply, self.rubric)}
                except ValueError as second_error:
                    entry = {"error": str(second_error)}
        entry["replies"] = replies
        self.cache.put(key, entry)
        return entry


def summarize(results: list[dict[str, Any]], rubric: Rubric) -> dict[str, Any]:
    """Per-criterion mean and 95% CI over items (each item counts by its mean over samples); label counts."""
    summary: dict[str, Any] = {"items": len(results), "judgements": 0, "failed": 0, "scores": {}, "labels": {}}
    per_item: dict[str, list[float]] = {k: [] for k in rubric.scores}
    for result in results:
        summary["judgements"] += len(result["samples"])
        summary["failed"] += sum("error" in s for s in result["samples"])
        for key, stats in result["scores"].items():
            per_item[key].append(stats["mean"])
        for key, value in result["labels"].items():
            counts = summary["labels"].setdefault(key, {})
            counts[value] = counts.get(value, 0) + 1
    for key, values in per_item.items():
        if values:
            mean, ci = mean_ci95(values)
            summary["scores"][key] = {"mean": mean, "ci95": ci, "n": len(values)}
    return summary


def aggregate_item(samples: list[dict[str, Any]], rubric: Rubric) -> tuple[dict[str, Any], dict[str, str]]:
    """Per-item mean and CI of each score over its successful samples, and the majority label."""
    ok = [s["scores"] for s in samples if "scores" in s]
    scores = {}
    for key in rubric.scores:
        if ok:
            mean, ci = mean_ci95([s[key] for s in ok])
            scores[key] = {"mean": mean, "ci95": ci, "n": len(ok)}
    labels = {}
    for key in rubric.labels:
        votes = [s[key] for s in ok]
        if votes:
            labels[key] = max(sorted(set(votes)), key=votes.count)
    return scores, labels


def format_table(summary: dict[str, Any]) -> str:
    """The summary as a fixed-width table for the terminal."""
    lines = [f"{'criterion':<14}{'mean':>8}{'± 95% CI':>11}{'items':>7}"]
    for key, s in summary["scores"].items():
        ci = "" if s["ci95"] is None else f"{s['ci95']:.2f}"
        lines.append(f"{key:<14}{s['mean']:>8.2f}{ci:>11}{s['n']:>7}")
    for key, counts in summary["labels"].items():
        lines.append(f"{key:<14}" + "  ".join(f"{k}:{v}" for k, v in sorted(counts.items())))
    lines.append(f"{summary['judgements']} judgements, {summary['failed']} unparseable after one repair")
    return "\n".join(lines)


@dataclass
class JudgeConfig:
    base_url: str = opt(None, "OpenAI-compatible endpoint, e.g. http://127.0.0.1:11434/v1")
    model: str = opt(None, "judge model name at the endpoint")
    items: str = opt(None, "items to judge: .jsonl or .json (fields named by the rubric)")
    rubric: str = opt("tinystories", "tinystories, instruction, or a rubric .yaml file")
    samples: int = opt(1, "judgements per item (mean and 95% CI over them)")
    temperature: float = opt(0.0, "judge sampling temperature (> 0 when samples > 1)")
    seed: int = opt(0, "seed of the first sample (sample i uses seed + i)")
    concurrency: int = opt(4, "requests in flight")
    max_tokens: int = opt(512, "max tokens per judge reply")
    api_key_env: str = opt("OPENAI_API_KEY", "environment variable holding the API key")
    rpm: float = opt(0.0, "requests per minute limit (0 = none)")
    out: str | None = opt(None, "results .jsonl (default: <items>.judge.jsonl; summary next to it)")
    cache: str | None = opt(None, "cache file (default: <out>.cache.jsonl)")
    progress: bool = opt(True, "show a progress bar")

    def __post_init__(self):
        check(self.base_url is not None, "base_url", self.base_url, "an endpoint URL (--base-url)")
        check(self.model is not None, "model", self.model, "a judge model name (--model)")
        check(self.items is not None, "items", self.items, "an items file (--items FILE)")
        check(self.samples >= 1, "samples", self.samples, ">= 1")
        check(self.samples == 1 or self.temperature > 0, "temperature", self.temperature,
              "> 0 when samples > 1 (otherwise every sample is the same)")
        check(self.concurrency >= 1, "concurrency", self.concurrency, ">= 1")


def judge_stage(cfg: JudgeConfig) -> dict[str, Any]:
    """Judge every item `samples` times; write results, summary JSON and print the table. Returns the summary."""
    rubric = load_rubric(cfg.rubric)
    items_path = Path(cfg.items)
    items = read_json_records(items_path, "items to judge")
    for n, item in enumerate(items, 1):  # check every item before spending a request
        rubric.prompt(item, f"{items_path} item {n}")
    out = Path(cfg.out) if cfg.out else items_path.with_name(items_path.stem + ".judge.jsonl")
    cache = JudgeCache(Path(cfg.cache) if cfg.cache else out.with_name(out.stem + ".cache.jsonl"))
    client = TeacherClient(cfg.base_url, cfg.model, os.environ.get(cfg.api_key_env, "EMPTY"),
                           temperature=cfg.temperature, max_tokens=cfg.max_tokens, rpm=cfg.rpm,
                           api_key_env=cfg.api_key_env, role="judge", retry_empty=False)
    judge = Judge(client, rubric, cache, cfg.temperature, cfg.seed)
    jobs = [(i, s) for i in range(len(items)) for s in range(cfg.samples)]
    done: dict[tuple[int, int], dict[str, Any]] = {}
    from tqdm import tqdm

    with ThreadPoolExecutor(cfg.concurrency) as pool, tqdm(total=len(jobs), disable=not cfg.progress,
                                                           desc="judge") as bar:
        futures = {pool.submit(judge.judge_one, items[i], s, f"{items_path} item {i + 1}"): (i, s) for i, s in jobs}
        try:
            for future, job in futures.items():
                done[job] = future.result()
                bar.update(1)
        except SlmkitError:
            for f in futures:
                f.cancel()
            raise
    results = []
    for i, item in enumerate(items):
        samples = [done[(i, s)] for s in range(cfg.samples)]
        scores, labels = aggregate_item(samples, rubric)
        results.append({"item": item, "scores": scores, "labels": labels,
                        "samples": [{k: v for k, v in s.items() if k != "key"} for s in samples]})
    summary = {"rubric": rubric.name, "model": cfg.model, "samples_per_item": cfg.samples,
               "repairs": judge.repairs, **summarize(results, rubric)}
    atomic_write_text(out, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in results))
    summary_path = out.with_name(out.stem + "_summary.json")
    atomic_write_json(summary_path, summary)
    print0(format_table(summary))
    print0(f"wrote {out} and {summary_path}")
    return summary
