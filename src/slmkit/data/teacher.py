"""`slm data teacher`: generate training data with a teacher LLM behind any OpenAI-compatible endpoint.

Recipes:
  - tinystories: one story per request, prompted with a random noun/verb/adjective and story features;
    records `{"text", "words", "features", "model", "prompt"}` (see teacher_tinystories.py)
  - self-instruct: Alpaca's Self-Instruct; records `{"instruction", "input", "output"}` (see self_instruct.py)

The output jsonl is appended to line by line (flushed), so an interrupt loses at most the line in flight; a
rerun counts the records already there and generates only the rest. Requests run `concurrency` at a time but
are written in request order, so prompts stay a pure function of (seed, record number) across restarts.

Example:
    teacher_stage(TeacherConfig(out="data/stories.jsonl", n=100, base_url="http://127.0.0.1:8000/v1",
                                model="llama3"))
"""

from __future__ import annotations

import json
import os
import random
import time
from collections import Counter, deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from slmkit.common.errors import ConfigError, InputError, SlmkitError
from slmkit.common.log import print0
from slmkit.common.runs import RunDir
from slmkit.config import check, opt, to_dict
from slmkit.data.self_instruct import (
    InstructionPool,
    load_seed_tasks,
    parse_tasks,
    rejection_reason,
    self_instruct_prompt,
)
from slmkit.data.teacher_client import ChatReply, TeacherClient
from slmkit.data.teacher_tinystories import story_from_reply, tinystories_request

_MAX_FRUITLESS_REQUESTS = 20  # self-instruct replies in a row without one new task before we give up


@dataclass
class TeacherConfig:
    out: str = opt(None, "output .jsonl, appended to: a rerun continues where the last one stopped")
    recipe: Literal["tinystories", "self-instruct"] = opt("tinystories", "what to generate")
    n: int = opt(100, "records wanted in --out in total (records already there count)")
    base_url: str = opt("https://api.openai.com/v1", "OpenAI-compatible endpoint (a local server: http://HOST:PORT/v1)")
    model: str = opt("gpt-4o-mini", "teacher model name")
    api_key_env: str = opt("OPENAI_API_KEY", "environment variable holding the API key (local servers need none)")
    temperature: float = opt(1.0, "sampling temperature of the teacher")
    max_tokens: int = opt(1024, "reply length limit in tokens")
    concurrency: int = opt(4, "requests in flight at once")
    rpm: float = opt(0.0, "requests per minute at most (0 = no limit)")
    max_retries: int = opt(5, "retries of a failed request (connection errors, timeouts, HTTP 429 and 5xx)")
    retry_delay: float = opt(1.0, "seconds before the first retry; doubles on each further retry")
    timeout: float = opt(120.0, "seconds to wait for one reply")
    seed: int = opt(0, "seed of the prompt sampling")
    seed_tasks: str | None = opt(None, "self-instruct: seed tasks jsonl (instruction + instances[0].input/output)")
    prompt_examples: int = opt(3, "self-instruct: seed tasks shown in each prompt")
    tasks_per_request: int = opt(20, "self-instruct: tasks each prompt asks for (examples included)")
    rouge_threshold: float = opt(0.7, "self-instruct: drop tasks with ROUGE-L above this vs any known instruction")
    run: str | None = opt(None, "optional run directory whose recipe.yaml records this config")

    def __post_init__(self):
        check(self.out is not None, "out", self.out, "an output .jsonl file (--out FILE)")
        check(self.n >= 1, "n", self.n, ">= 1")
        check(self.concurrency >= 1, "concurrency", self.concurrency, ">= 1")
        check(self.rpm >= 0, "rpm", self.rpm, ">= 0 (0 = no limit)")
        check(self.max_retries >= 0, "max_retries", self.max_retries, ">= 0")
        check(self.retry_delay >= 0, "retry_delay", self.retry_delay, ">= 0")
        check(self.timeout > 0, "timeout", self.timeout, "> 0")
        check(self.max_tokens >= 1, "max_tokens", self.max_tokens, ">= 1")
        if self.recipe == "self-instruct":
            check(self.seed_tasks is not None, "seed_tasks", self.seed_tasks, "a seed-task jsonl for self-instruct")
            check(self.prompt_examples >= 1, "prompt_examples", self.prompt_examples, ">= 1")
            check(self.tasks_per_request > self.prompt_examples, "tasks_per_request", self.tasks_per_request,
                  f"more than prompt_examples={self.prompt_examples}")
            check(0 < self.rouge_threshold <= 1, "rouge_threshold", self.rouge_threshold, "a value in (0, 1]")


@dataclass
class _Request:
    number: int  # request counter within this invocation
    prompt: str
    context: Any = None


class _TinyStoriesRecipe:
    required_field = "text"
    one_record_per_request = True

    def __init__(self, cfg: TeacherConfig, existing: list[dict]):
        self.cfg, self.first_index = cfg, len(existing)

    def request(self, number: int) -> _Request:
        story = tinystories_request(self.first_index + number, self.cfg.seed)
        return _Request(number, story.prompt, story)

    def records(self, request: _Request, reply: ChatReply) -> list[dict]:
        text = story_from_reply(reply.text)
        if not text:
            return []
        story = request.context
        return [{"text": text, "words": story.words, "features": story.features, "model": self.cfg.model,
                 "prompt": request.prompt}]


class _SelfInstructRecipe:
    required_field = "instruction"
    one_record_per_request = False

    def __init__(self, cfg: TeacherConfig, existing: list[dict]):
        self.cfg, self.n_existing = cfg, len(existing)
        self.seeds = load_seed_tasks(cfg.seed_tasks)
        check(len(self.seeds) >= cfg.prompt_examples, "prompt_examples", cfg.prompt_examples,
              f"at most the {len(self.seeds)} seed tasks in {cfg.seed_tasks}")
        self.pool = InstructionPool([t.instruction for t in self.seeds] + [r["instruction"] for r in existing])
        self.rejected: Counter[str] = Counter()

    def request(self, number: int) -> _Request:
        rng = random.Random(f"self-instruct:{self.cfg.seed}:{self.n_existing}:{number}")
        examples = rng.sample(self.seeds, self.cfg.prompt_examples)
        return _Request(number, self_instruct_prompt(examples, total=self.cfg.tasks_per_request))

    def records(self, request: _Request, reply: ChatReply) -> list[dict]:
        kept = []
        tasks = parse_tasks(reply.text, self.cfg.prompt_examples + 1, truncated=reply.finish_reason == "length")
        if not tasks:
            self.rejected["unparseable reply"] += 1
        for task in tasks:
            reason = rejection_reason(task, self.pool, self.cfg.rouge_threshold)
            if reason:
                self.rejected[reason] += 1
                continue
            self.pool.add(task.instruction)
            kept.append(task.to_record())
        return kept


def read_existing_records(out: Path, required_field: str) -> list[dict]:
    """Records already in `out`; a partial last line (an interrupted write) is cut off the file first.

    Example: `len(read_existing_records(Path("stories.jsonl"), "text"))`
    """
    if not out.exists():
        return []
    data = out.read_bytes()
    if data and not data.endswith(b"\n"):
        data = data[: data.rfind(b"\n") + 1]
        with open(out, "r+b") as f:
            f.truncate(len(data))
    records = []
    for lineno, raw in enumerate(data.split(b"\n"), start=1):
        if not raw.strip():
            continue
        where = f"{out}:{lineno}"
        try:
            record = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise InputError(where, found=raw[:60].decode("utf-8", "replace"),
                             expected="one JSON record per line (an earlier `slm data teacher` output)") from None
        if not isinstance(record, dict) or required_field not in record:
            raise InputError(where, found=f"a record without {required_field!r}",
                             expected="records of this recipe (is --out the output of another recipe?)")
        records.append(record)
    return records


def _api_key(cfg: TeacherConfig) -> str:
    key = os.environ.get(cfg.api_key_env, "")
    if key:
        return key
    if "api.openai.com" in cfg.base_url:
        raise ConfigError("api_key_env", found=f"${cfg.api_key_env} unset",
                          expected="an API key in that environment variable for api.openai.com")
    return "EMPTY"  # local OpenAI-compatible servers (vLLM, llama.cpp, slm serve) accept any key


def teacher_stage(cfg: TeacherConfig) -> dict[str, Any]:
    """Append `cfg.n - existing` teacher-generated records to `cfg.out`.

    Example: `teacher_stage(TeacherConfig(out="si.jsonl", recipe="self-instruct", seed_tasks="seed_tasks.jsonl"))`
    """
    start_time = time.time()
    if cfg.run:
        RunDir(cfg.run).save_stage_config("teacher", to_dict(cfg))
    recipe_cls = _TinyStoriesRecipe if cfg.recipe == "tinystories" else _SelfInstructRecipe
    out = Path(cfg.out)
    existing = read_existing_records(out, recipe_cls.required_field)
    recipe = recipe_cls(cfg, existing)
    todo = cfg.n - len(existing)
    result = {"out": str(out), "existing": len(existing), "written": 0, "total": len(existing), "requests": 0,
              "retries": 0}
    if todo <= 0:
        print0(f"teacher: {out} already holds {len(existing)} records (n={cfg.n}); nothing to do")
        return result
    client = TeacherClient(cfg.base_url, cfg.model, _api_key(cfg), temperature=cfg.temperature,
                           max_tokens=cfg.max_tokens, timeout_s=cfg.timeout, max_retries=cfg.max_retries,
                           retry_delay_s=cfg.retry_delay, rpm=cfg.rpm, api_key_env=cfg.api_key_env)
    out.parent.mkdir(parents=True, exist_ok=True)
    executor = ThreadPoolExecutor(max_workers=cfg.concurrency, thread_name_prefix="teacher")
    pending: deque[tuple[_Request, Future]] = deque()
    written = submitted = fruitless = 0
    try:
        with open(out, "a", encoding="utf-8") as f:
            while written < todo:
                # Keep `concurrency` requests in flight; a one-record recipe never asks for more than it needs.
                while len(pending) < cfg.concurrency and (
                    not recipe.one_record_per_request or written + len(pending) < todo
                ):
                    request = recipe.request(submitted)
                    messages = [{"role": "user", "content": request.prompt}]
                    pending.append((request, executor.submit(client.chat, messages)))
                    submitted += 1
                request, future = pending.popleft()
                records = recipe.records(request, future.result())
                fruitless = 0 if records else fruitless + 1
                if fruitless >= _MAX_FRUITLESS_REQUESTS:
                    raise SlmkitError(f"teacher {cfg.base_url} (model {cfg.model}): {fruitless} replies in a row "
                                      "gave no usable record; check the model and its replies")
                for record in records[: todo - written]:
                    f.write(json.dumps(record, ensure_ascii=False) + "\n")
                    f.flush()  # an interrupt loses at most the line being written
                    written += 1
    finally:
        executor.shutdown(wait=False, cancel_futures=True)
        result.update(written=written, total=len(existing) + written, requests=submitted,
                      retries=client.retries_done)

    if isinstance(recipe, _SelfInstructRecipe):
        result["rejected"] = dict(recipe.rejected)
    seconds = time.time() - start_time
    print0(f"teacher: wrote {written} {cfg.recipe} records to {out} ({result['total']} in all) "
           f"from {submitted} requests in {seconds:.1f} s, {client.retries_done} retries")
    if result.get("rejected"):
        print0("  rejected tasks: " + ", ".join(f"{n} {why}" for why, n in sorted(result["rejected"].items())))
    return result
