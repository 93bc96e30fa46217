"""`slm data teacher` against a real OpenAI-compatible HTTP server on 127.0.0.1, through the official client."""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from slmkit.common.errors import ConfigError, InputError, SlmkitError
from slmkit.config import build_config
from slmkit.data.self_instruct import (
    InstructionPool,
    Task,
    lcs_length,
    load_seed_tasks,
    parse_tasks,
    rejection_reason,
    rouge_l,
    self_instruct_prompt,
)
from slmkit.data.teacher import TeacherConfig, teacher_stage
from slmkit.data.teacher_client import RateLimiter
from slmkit.data.teacher_tinystories import story_from_reply, tinystories_request

pytest.importorskip("openai")

SEEDS = [
    {"instruction": "Give three tips for staying healthy.", "instances": [{"input": "", "output": "Eat well."}]},
    {"instruction": "Translate the sentence into French.", "instances": [{"input": "Hello", "output": "Bonjour"}]},
    {"instruction": "Classify the sentiment of the review.", "instances": [{"input": "Great!", "output": "Positive"}]},
]


class FakeTeacher(BaseHTTPRequestHandler):
    """POST {prefix}/v1/chat/completions. Prefixes: /flaky fails twice (500, then 429), /broken always 500,
    /forbidden answers 401. Story prompts get a story using the prompt's words; task prompts get new tasks."""

    calls: dict[str, int] = {}
    lock = threading.Lock()
    task_counter = 0

    def log_message(self, *args):  # keep test output clean
        pass

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        prefix = self.path.split("/v1/")[0]
        with self.lock:
            self.calls[prefix] = self.calls.get(prefix, 0) + 1
            count = self.calls[prefix]
        if prefix == "/flaky" and count == 1:
            return self.reply(500, {"error": {"message": "overloaded"}})
        if prefix == "/flaky" and count == 2:
            return self.reply(429, {"error": {"message": "slow down"}}, headers={"Retry-After": "0"})
        if prefix == "/broken":
            return self.reply(503, {"error": {"message": "down for maintenance"}})
        if prefix == "/forbidden":
            return self.reply(401, {"error": {"message": "invalid api key"}})
        prompt = body["messages"][-1]["content"]
        self.reply(200, {
            "id": "cmpl-1", "object": "chat.completion", "created": 0, "model": body["model"],
            "choices": [{"index": 0, "message": {"role": "assistant", "content": self.answer(prompt)},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
        })

    def answer(self, prompt: str) -> str:
        if prompt.startswith("Write a short story"):
            verb, noun, adjective = (re.search(rf'the {pos} "([^"]+)"', prompt).group(1)
                                     for pos in ("verb", "noun", "adjective"))
            return f"Title: The {noun}\n\nOnce upon a time a {adjective} {noun} liked to {verb}. The end."
        with self.lock:
            FakeTeacher.task_counter += 1
            k = FakeTeacher.task_counter
        first = int(re.search(r"(\d+)\. Instruction:$", prompt).group(1))
        tasks = [
            (f"Explain topic{k}a topic{k}b topic{k}c briefly.", "<noinput>", f"History {k}."),
            ("Give three tips for staying healthy.", "", "Sleep."),  # copies a seed: ROUGE-L filter
            ("Draw a picture of a cat.", "", "..."),  # blacklist
            ("Sum it.", "1 2", "3"),  # too short
            (f"Compose a haiku about season{k}x and weather{k}y.", "", f"Haiku {k}."),
        ]
        blocks = [f"{first + i}. Instruction: {ins}\n{first + i}. Input:\n{inp}\n{first + i}. Output:\n{out}"
                  for i, (ins, inp, out) in enumerate(tasks)]
        return " " + "\n###\n".join(blocks)[len(f"{first}. Instruction: "):]  # continues after the prompt

    def reply(self, status: int, payload: dict, headers: dict | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def server():
    FakeTeacher.calls = {}
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeTeacher)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def config(base: str, out: Path, **options) -> TeacherConfig:
    return build_config(TeacherConfig, {"base_url": f"{base}/v1", "model": "fake", "out": str(out),
                                        "retry_delay": 0.01, "timeout": 10, **options})


def lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


# ------------------------------------------------------------------------------------------------ tinystories
def test_tinystories_records_and_resume(server, tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    out = tmp_path / "stories.jsonl"
    result = teacher_stage(config(server, out, n=3, concurrency=2))
    assert result["written"] == 3
    first = lines(out)
    assert len(first) == 3
    record = first[0]
    assert set(record) == {"text", "words", "features", "model", "prompt"}
    assert record["model"] == "fake" and record["text"].startswith("Once upon a time")  # the title line is cut
    assert record["words"]["noun"] in record["text"] and record["prompt"] == tinystories_request(0, 0).prompt
    result = teacher_stage(config(server, out, n=5, concurrency=3))
    assert result["existing"] == 3 and result["written"] == 2
    second = lines(out)
    assert len(second) == 5 and second[:3] == first
    assert [r["prompt"] for r in second] == [tinystories_request(i, 0).prompt for i in range(5)]
    assert teacher_stage(config(server, out, n=5))["written"] == 0


def test_resume_cuts_a_partial_last_line(server, tmp_path):
    out = tmp_path / "stories.jsonl"
    teacher_stage(config(server, out, n=2))
    good = out.read_text("utf-8")
    out.write_text(good + '{"text": "half a rec', "utf-8")  # interrupted mid-write
    teacher_stage(config(server, out, n=3))
    records = lines(out)
    assert len(records) == 3 and out.read_text("utf-8").startswith(good)


def test_retries_on_500_and_429(server, tmp_path):
    out = tmp_path / "flaky.jsonl"
    result = teacher_stage(config(f"{server}/flaky", out, n=1, concurrency=1))
    assert result["written"] == 1 and result["retries"] == 2
    assert FakeTeacher.calls["/flaky"] == 3


def test_gives_up_with_one_clear_error(server, tmp_path):
    with pytest.raises(SlmkitError, match=r"failed after 3 attempts; last error: HTTP 503"):
        teacher_stage(config(f"{server}/broken", tmp_path / "o.jsonl", n=1, max_retries=2))
    with pytest.raises(SlmkitError, match=r"HTTP 401 .*OPENAI_API_KEY"):
        teacher_stage(config(f"{server}/forbidden", tmp_path / "o.jsonl", n=1))
    assert FakeTeacher.calls["/forbidden"] == 1  # no retry on a client error
    with pytest.raises(SlmkitError, match=r"127\.0\.0\.1:9/v1 .*failed after 2 attempts.*Connection"):
        teacher_stage(config("http://127.0.0.1:9", tmp_path / "o.jsonl", n=1, max_retries=1))


def test_config_checks(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="seed_tasks"):
        build_config(TeacherConfig, {"out": "x.jsonl", "recipe": "self-instruct"})
    with pytest.raises(ConfigError, match="out"):
        build_config(TeacherConfig, {})
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ConfigError, match=r"api_key_env: found '\$OPENAI_API_KEY unset'"):
        teacher_stage(build_config(TeacherConfig, {"out": str(tmp_path / "o.jsonl")}))


# ------------------------------------------------------------------------------------------------ self-instruct
def test_self_instruct_filters_and_resumes(server, tmp_path):
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text("".join(json.dumps(s) + "\n" for s in SEEDS), "utf-8")
    out = tmp_path / "alpaca.jsonl"
    options = {"recipe": "self-instruct", "seed_tasks": str(seeds), "prompt_examples": 2, "concurrency": 1}
    result = teacher_stage(config(server, out, n=3, **options))
    records = lines(out)
    assert len(records) == 3 and all(set(r) == {"instruction", "input", "output"} for r in records)
    assert records[0] == {"instruction": "Explain topic1a topic1b topic1c briefly.", "input": "",
                          "output": "History 1."}
    # 2 requests: each repeats a seed, asks for a picture and is too short; the second haiku has ROUGE-L 5/7 = 0.71
    # against the first (kept) haiku, so it is dropped as well.
    assert result["requests"] == 2
    assert result["rejected"] == {"too similar to an existing instruction": 3, "needs non-text input or output": 2,
                                  "too short": 2}
    teacher_stage(config(server, out, n=6, **options))
    again = lines(out)
    assert len(again) == 6 and again[:3] == records
    instructions = [r["instruction"] for r in again]
    assert len(set(instructions)) == 6 and not any(i.startswith("Give three tips") for i in instructions)


def test_resuming_another_recipes_output_is_an_input_error(server, tmp_path):
    out = tmp_path / "stories.jsonl"
    teacher_stage(config(server, out, n=1))
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text("".join(json.dumps(s) + "\n" for s in SEEDS), "utf-8")
    with pytest.raises(InputError, match=r"stories\.jsonl:1: found .a record without 'instruction'"):
        teacher_stage(config(server, out, n=2, recipe="self-instruct", seed_tasks=str(seeds), prompt_examples=2))


def test_parse_tasks_with_and_without_leading_marker_and_truncation():
    reply = (" Name a fruit that is red.\n4. Input:\n<noinput>\n4. Output:\nApple.\n###\n"
             "5. Instruction: Reverse the word.\n5. Input:\ncat\n5. Output:\ntac\n###\n6. Instruction: Cut off")
    tasks = parse_tasks(reply, first_number=4)
    assert tasks == [Task("Name a fruit that is red.", "", "Apple."), Task("Reverse the word.", "cat", "tac")]
    assert parse_tasks("4. Instruction: A b c d.\n4. Output:\nx", 4) == [Task("A b c d.", "", "x")]
    assert parse_tasks(reply, first_number=4, truncated=True) == tasks[:1]
    assert parse_tasks("no structure at all", 4) == []


def test_rouge_l_and_lcs():
    assert lcs_length(["a", "b", "c", "d"], ["a", "c", "d"]) == 3
    assert rouge_l("the cat sat", "the cat sat down") == pytest.approx(2 * 1 * 0.75 / 1.75)
    assert rouge_l("Hello, World!", "hello world") == 1.0
    assert rouge_l("", "x") == 0.0
    pool = InstructionPool(["Give three tips for staying healthy."])
    assert pool.most_similar("Give three tips for staying healthy and happy.") > 0.7
    assert rejection_reason(Task("Give three tips for staying healthy today.", "", "x"), pool) == (
        "too similar to an existing instruction")
    assert rejection_reason(Task("Explain why the sky looks blue at noon.", "", "x"), pool) == ""
    assert rejection_reason(Task("Write a program that sorts numbers.", "", "x"), pool) == "asks for a program"
    assert rejection_reason(Task("\u00bfQue hora es ahora mismo?", "", "x"), pool).startswith("starts with a non-")


def test_lcs_matches_dynamic_programming():
    import random

    def dp(a, b):
        table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
        for i, x in enumerate(a):
            for j, y in enumerate(b):
                table[i + 1][j + 1] = table[i][j] + 1 if x == y else max(table[i][j + 1], table[i + 1][j])
        return table[-1][-1]

    rng = random.Random(0)
    for _ in range(500):
        a = [rng.choice("abcd") for _ in range(rng.randint(0, 25))]
        b = [rng.choice("abcde") for _ in range(rng.randint(0, 25))]
        assert lcs_length(a, b) == dp(a, b)


def test_seed_task_loading_and_prompt(tmp_path):
    seeds = tmp_path / "seeds.jsonl"
    seeds.write_text(json.dumps(SEEDS[1]) + "\n" + '{"instruction": "x"}\n', "utf-8")
    with pytest.raises(InputError, match=r"seeds\.jsonl:2: "):
        load_seed_tasks(seeds)
    seeds.write_text(json.dumps(SEEDS[1]) + "\n", "utf-8")
    prompt = self_instruct_prompt(load_seed_tasks(seeds), total=20)
    assert "1. Instruction: Translate the sentence into French.\n1. Input:\nHello\n1. Output:\nBonjour" in prompt
    assert prompt.endswith("###\n2. Instruction:")


def test_real_alpaca_seed_tasks():
    from tests.conftest import shared_data

    tasks = load_seed_tasks(shared_data("alpaca-seed-tasks", "seed_tasks.jsonl"))
    assert len(tasks) == 175 and tasks[1].input == "Night : Day :: Right : Left"


def test_story_prompt_is_deterministic_and_reply_cleanup():
    a, b = tinystories_request(5, seed=1), tinystories_request(5, seed=1)
    assert a == b and a != tinystories_request(6, seed=1)
    assert f'the noun "{a.words["noun"]}"' in a.prompt
    assert story_from_reply("Story: Once upon a time.") == "Once upon a time."


def test_rate_limiter_spaces_calls():
    import time

    limiter = RateLimiter(rpm=1200)  # one call per 50 ms
    start = time.monotonic()
    for _ in range(4):
        limiter.wait()
    assert time.monotonic() - start >= 0.14
