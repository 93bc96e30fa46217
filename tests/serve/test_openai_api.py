"""The HTTP API through the official `openai` client against a real uvicorn server on 127.0.0.1: completions and
chat, streamed and not, n/seed/stop/logprobs/usage, and 16 concurrent streams sharing the model (continuous
batching) that all equal one-by-one greedy decoding."""

from __future__ import annotations

import json
import threading

import pytest

from slmkit.infer.engine import generate
from slmkit.infer.load import load_checkpoint
from slmkit.infer.sampling import SamplingParams
from slmkit.infer.text import TextStream, chat_prompt_ids, chat_stop_ids, text_prompt_ids
from slmkit.serve.app import STATIC_DIR, ServeSettings, create_app
from slmkit.serve.stage import ServerThread
from tests.serve.http import http

openai = pytest.importorskip("openai")
MODEL = "micro"
GREEDY = SamplingParams(temperature=0)


@pytest.fixture(scope="module")
def loaded(micro_checkpoint):
    return load_checkpoint(micro_checkpoint)


@pytest.fixture(scope="module")
def server(loaded):
    app = create_app(loaded.model, loaded.tokenizer, ServeSettings(model_id=MODEL, max_batch=16))
    with ServerThread(app) as running:
        running.app = app
        yield running


@pytest.fixture(scope="module")
def client(server):
    return openai.OpenAI(base_url=server.url + "/v1", api_key="unused", max_retries=0, timeout=60)


def greedy_text(loaded, prompt_ids, max_tokens, stop_ids):
    """What one-by-one greedy decoding (no server, no batching) writes for a prompt."""
    tok = loaded.tokenizer
    ids = generate(loaded.model, [prompt_ids], max_tokens, GREEDY, stop_ids=stop_ids, max_batch=1)[0]
    stream = TextStream(tok)
    return "".join(stream.push(i) for i in ids) + stream.finish(), len(ids)


def test_models_health_and_unknown_model(client, server):
    assert [m.id for m in client.models.list().data] == [MODEL]
    health = http("GET", server.url + "/health").json()
    assert health["status"] == "ok" and health["max_batch"] == 16
    with pytest.raises(openai.NotFoundError) as err:
        client.completions.create(model="gpt-4", prompt="Hi", max_tokens=2)
    assert err.value.body["code"] == "model_not_found" and err.value.body["param"] == "model"


def test_completion_matches_greedy_decoding_and_counts_usage(client, loaded):
    prompt = "Once upon a time"
    ids = text_prompt_ids(loaded.tokenizer, prompt)
    expected, n_tokens = greedy_text(loaded, ids, 20, {loaded.tokenizer.eot_id})
    resp = client.completions.create(model=MODEL, prompt=prompt, max_tokens=20, temperature=0)
    assert resp.object == "text_completion" and resp.model == MODEL
    assert resp.choices[0].text == expected and expected
    assert resp.choices[0].finish_reason == ("length" if n_tokens == 20 else "stop")
    assert resp.usage.prompt_tokens == len(ids) and resp.usage.completion_tokens == n_tokens
    assert resp.usage.total_tokens == len(ids) + n_tokens

    chunks = list(client.completions.create(model=MODEL, prompt=prompt, max_tokens=20, temperature=0, stream=True,
                                            stream_options={"include_usage": True}))
    assert "".join(c.choices[0].text for c in chunks if c.choices) == expected
    assert len([c for c in chunks if c.choices and c.choices[0].text]) > 1  # streamed in pieces
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == resp.choices[0].finish_reason
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == n_tokens


def test_sse_wire_format_ends_with_done(server):
    body = {"model": MODEL, "prompt": "Tom", "max_tokens": 5, "temperature": 0, "stream": True}
    resp = http("POST", server.url + "/v1/completions", body)
    assert resp.status == 200 and resp.headers["content-type"].startswith("text/event-stream")
    lines = [line for line in resp.text.split("\n") if line]
    assert resp.text.endswith("\n\n")
    assert all(line.startswith("data: ") for line in lines)
    assert lines[-1] == "data: [DONE]"
    first = json.loads(lines[0][6:])
    assert first["object"] == "text_completion" and first["choices"][0]["index"] == 0


def test_chat_streamed_equals_non_streamed(client, loaded):
    messages = [{"role": "system", "content": "Be kind."}, {"role": "user", "content": "Tell me about a dog."}]
    tok = loaded.tokenizer
    expected, n_tokens = greedy_text(loaded, chat_prompt_ids(tok, messages), 16, chat_stop_ids(tok))
    resp = client.chat.completions.create(model=MODEL, messages=messages, max_tokens=16, temperature=0)
    assert resp.object == "chat.completion"
    assert resp.choices[0].message.role == "assistant" and resp.choices[0].message.content == expected
    assert resp.usage.completion_tokens == n_tokens
    chunks = list(client.chat.completions.create(model=MODEL, messages=messages, max_tokens=16, temperature=0,
                                                 stream=True))
    assert chunks[0].object == "chat.completion.chunk" and chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == expected
    assert chunks[-1].choices[0].finish_reason == resp.choices[0].finish_reason


def test_n_choices_with_a_seed_are_reproducible(client):
    args = dict(model=MODEL, prompt="The cat", max_tokens=12, temperature=1.0, top_p=0.95, n=3, seed=11)
    first = client.completions.create(**args)
    again = client.completions.create(**args)
    assert sorted(c.index for c in first.choices) == [0, 1, 2]
    assert [c.text for c in first.choices] == [c.text for c in again.choices]
    assert len({c.text for c in first.choices}) > 1  # choice j samples with seed + j
    assert 3 <= first.usage.completion_tokens <= 36  # all three choices counted
    assert first.usage.total_tokens == first.usage.prompt_tokens + first.usage.completion_tokens


def test_stop_strings_cut_the_text(client, loaded):
    full = client.completions.create(model=MODEL, prompt="Once upon a time", max_tokens=30, temperature=0)
    text = full.choices[0].text
    assert len(text) >= 8, text
    stop = text[len(text) // 2 : len(text) // 2 + 2]  # two characters the greedy continuation reaches
    cut = client.completions.create(model=MODEL, prompt="Once upon a time", max_tokens=30, temperature=0, stop=[stop])
    assert cut.choices[0].text == text[: text.index(stop)]
    assert cut.choices[0].finish_reason == "stop"
    streamed = client.completions.create(model=MODEL, prompt="Once upon a time", max_tokens=30, temperature=0,
                                         stop=stop, stream=True)
    assert "".join(c.choices[0].text for c in streamed) == cut.choices[0].text


def test_completion_logprobs(client):
    resp = client.completions.create(model=MODEL, prompt="Lily", max_tokens=6, temperature=0, logprobs=2)
    lp = resp.choices[0].logprobs
    assert len(lp.tokens) == len(lp.token_logprobs) == len(lp.top_logprobs) == resp.usage.completion_tokens
    assert "".join(lp.tokens) == resp.choices[0].text
    for chosen, top in zip(lp.token_logprobs, lp.top_logprobs):
        assert len(top) <= 2 and chosen <= 0
        assert chosen == pytest.approx(max(top.values()))  # greedy picks the most likely token
    assert lp.text_offset[0] == 0


def test_sixteen_concurrent_streams_equal_one_by_one_greedy(client, loaded, server):
    tok = loaded.tokenizer
    prompts = [f"{name} {verb}" for name in ("Tom", "Lily", "Max", "Sue") for verb in ("saw", "had", "liked", "was")]
    expected = [greedy_text(loaded, text_prompt_ids(tok, p), 24, {tok.eot_id})[0] for p in prompts]
    results: dict[int, str] = {}
    errors: list[BaseException] = []
    start = threading.Barrier(len(prompts))

    def stream(i: int) -> None:
        try:
            start.wait()
            chunks = client.completions.create(model=MODEL, prompt=prompts[i], max_tokens=24, temperature=0,
                                               stream=True)
            results[i] = "".join(c.choices[0].text for c in chunks)
        except BaseException as exc:  # reported below
            errors.append(exc)

    steps_before = server.app.state.scheduler.steps
    threads = [threading.Thread(target=stream, args=(i,)) for i in range(len(prompts))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert [results[i] for i in range(len(prompts))] == expected
    stats = server.app.state.scheduler.stats()
    assert stats["max_concurrent"] > 4  # requests really shared decode steps
    assert stats["steps"] - steps_before < 16 * 24  # fewer steps than one request at a time would need


def test_web_page_routes(server):
    resp = http("GET", server.url + "/")
    if (STATIC_DIR / "index.html").is_file():
        assert resp.status == 200 and resp.headers["content-type"].startswith("text/html")
    else:
        assert resp.status == 404 and "error" in resp.json()


def test_chat_logprobs(client):
    resp = client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Hi"}], max_tokens=5,
                                          temperature=0, logprobs=True, top_logprobs=2)
    content = resp.choices[0].logprobs.content
    assert len(content) == resp.usage.completion_tokens
    assert "".join(item.token for item in content) == resp.choices[0].message.content
    for item in content:
        assert len(item.top_logprobs) == 2 and item.logprob == pytest.approx(item.top_logprobs[0].logprob)
        assert bytes(item.bytes).decode("utf-8", errors="replace") == item.token


def test_ignore_eos_generates_max_tokens(client):
    resp = client.completions.create(model=MODEL, prompt="The end.", max_tokens=40, temperature=1.0, seed=2,
                                     extra_body={"ignore_eos": True})
    assert resp.usage.completion_tokens == 40 and resp.choices[0].finish_reason == "length"
