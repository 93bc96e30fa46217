"""Server safety: the API key, every request limit, OpenAI-style 400s for bad input, 503 when the queue is full,
the per-request timeout, and a client that disconnects stopping its generation."""

from __future__ import annotations

import json
import socket
import time

import pytest
import torch

from slmkit.infer.load import load_checkpoint
from slmkit.serve.app import ServeSettings, create_app
from slmkit.serve.schemas import Limits
from slmkit.serve.stage import ServeConfig, ServerThread, default_model_id
from tests.serve.http import http

openai = pytest.importorskip("openai")
KEY = "s3cret-key"
MODEL = "micro"
LIMITS = Limits(max_prompt_tokens=20, max_tokens=30, max_n=3)


@pytest.fixture(scope="module")
def loaded(micro_checkpoint):
    return load_checkpoint(micro_checkpoint)


@pytest.fixture(scope="module")
def server(loaded):
    settings = ServeSettings(model_id=MODEL, api_key=KEY, max_body_bytes=2000, limits=LIMITS)
    with ServerThread(create_app(loaded.model, loaded.tokenizer, settings)) as running:
        yield running


def post(server, path, body, key=KEY):
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return http("POST", server.url + path, body, headers)


def assert_openai_error(resp, status, param=None, code=None):
    assert resp.status == status, resp.text
    error = resp.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["message"]
    if param is not None:
        assert error["param"] == param
    if code is not None:
        assert error["code"] == code
    return error


def test_api_key_is_required_on_v1_but_not_health(server):
    ok = openai.OpenAI(base_url=server.url + "/v1", api_key=KEY, max_retries=0)
    assert ok.completions.create(model=MODEL, prompt="Hi", max_tokens=2).choices[0].text is not None
    for wrong in ("nope", KEY + "x"):
        with pytest.raises(openai.AuthenticationError):
            openai.OpenAI(base_url=server.url + "/v1", api_key=wrong, max_retries=0).models.list()
    assert_openai_error(http("GET", server.url + "/v1/models"), 401, code="invalid_api_key")
    assert http("GET", server.url + "/health").status == 200


def test_limits_on_prompt_max_tokens_n_and_body(server):
    long_prompt = "the cat sat on the mat " * 10
    assert_openai_error(post(server, "/v1/completions", {"model": MODEL, "prompt": long_prompt}), 400, "prompt",
                        "context_length_exceeded")
    messages = [{"role": "user", "content": long_prompt}]
    assert_openai_error(post(server, "/v1/chat/completions", {"model": MODEL, "messages": messages}), 400,
                        "messages", "context_length_exceeded")
    assert_openai_error(post(server, "/v1/completions", {"model": MODEL, "prompt": "Hi", "max_tokens": 31}), 400,
                        "max_tokens")
    assert_openai_error(post(server, "/v1/completions", {"model": MODEL, "prompt": "Hi", "n": 4}), 400, "n")
    assert_openai_error(post(server, "/v1/completions", {"model": MODEL, "prompt": ["a", "b"], "n": 2}), 400, "n")
    big = {"model": MODEL, "prompt": "x", "padding": "y" * 3000}
    assert_openai_error(post(server, "/v1/completions", big), 413, code="request_too_large")
    # within every limit, the same server answers
    assert post(server, "/v1/completions", {"model": MODEL, "prompt": "Hi", "max_tokens": 30, "n": 3}).status == 200


@pytest.mark.parametrize(
    "body, param",
    [
        (b"{not json", None),
        (b"[1, 2]", None),
        ({"prompt": "Hi"}, "model"),
        ({"model": MODEL}, "prompt"),
        ({"model": MODEL, "prompt": 5}, "prompt"),
        ({"model": MODEL, "prompt": "Hi", "temperature": "hot"}, "temperature"),
        ({"model": MODEL, "prompt": "Hi", "temperature": 3}, "temperature"),
        ({"model": MODEL, "prompt": "Hi", "top_p": 0}, "top_p"),
        ({"model": MODEL, "prompt": "Hi", "max_tokens": 0}, "max_tokens"),
        ({"model": MODEL, "prompt": "Hi", "n": 1.5}, "n"),
        ({"model": MODEL, "prompt": "Hi", "stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"model": MODEL, "prompt": "Hi", "stream": "yes"}, "stream"),
        ({"model": MODEL, "prompt": "Hi", "logprobs": 9}, "logprobs"),
        ({"model": MODEL, "prompt": "Hi", "best_of": 3}, "best_of"),
        ({"model": MODEL, "prompt": "Hi", "frequency_penalty": 5}, "frequency_penalty"),
    ],
)
def test_invalid_completion_requests_get_400(server, body, param):
    assert_openai_error(post(server, "/v1/completions", body), 400, param)


@pytest.mark.parametrize(
    "messages, param",
    [
        ([], "messages"),
        ([{"role": "wizard", "content": "Hi"}], "messages[0].role"),
        ([{"role": "user", "content": 3}], "messages[0].content"),
        (["Hi"], "messages[0]"),
    ],
)
def test_invalid_chat_requests_get_400(server, messages, param):
    assert_openai_error(post(server, "/v1/chat/completions", {"model": MODEL, "messages": messages}), 400, param)


def test_unknown_model_and_route_are_404(server):
    assert_openai_error(post(server, "/v1/completions", {"model": "other", "prompt": "Hi"}), 404, "model",
                        "model_not_found")
    assert_openai_error(http("GET", server.url + "/v1/nothing", headers={"Authorization": f"Bearer {KEY}"}), 404)


class SlowModel(torch.nn.Module):
    """The real model, slowed to ~50 ms per forward so that a generation lasts long enough to be interrupted."""

    def __init__(self, model):
        super().__init__()
        self.inner, self.cfg = model, model.cfg

    def forward(self, *args, **kwargs):
        time.sleep(0.05)
        return self.inner(*args, **kwargs)


@pytest.fixture(scope="module")
def slow_server(loaded):
    settings = ServeSettings(model_id=MODEL, timeout_s=1.5, limits=Limits(max_tokens=60), max_batch=1, max_queue=1)
    app = create_app(SlowModel(loaded.model), loaded.tokenizer, settings)
    with ServerThread(app) as running:
        running.scheduler = app.state.scheduler
        yield running


def test_timeout_ends_a_request_with_504(slow_server):
    scheduler = slow_server.scheduler
    assert wait_until(lambda: scheduler.stats()["running"] + scheduler.stats()["waiting"] == 0)
    timed_out = scheduler.timed_out
    body = {"model": MODEL, "prompt": "Hi", "max_tokens": 60, "ignore_eos": True}  # no early end-of-text
    resp = http("POST", slow_server.url + "/v1/completions", body)
    assert_openai_error(resp, 504, code="timeout")  # 60 tokens take >= 3 s, the limit is 1.5 s
    assert scheduler.timed_out == timed_out + 1


def open_request(port: int, stream: bool) -> socket.socket:
    """Send a 60-token completion request on a raw socket (closing the socket is a client disconnect); ignore_eos:
    it cannot end early by sampling end-of-text."""
    body = json.dumps({"model": MODEL, "prompt": "Hi", "max_tokens": 60, "stream": stream, "ignore_eos": True}).encode()
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                 + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
    return sock


def stream_started(sock: socket.socket) -> bool:
    """Read until the first SSE event arrives (the headers may come alone first)."""
    received = b""
    while b"data: " not in received:
        chunk = sock.recv(4096)
        if not chunk:
            return False
        received += chunk
    return True


def wait_until(condition, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.02)
    return condition()


def test_queue_full_is_503_with_a_clear_message(slow_server):
    # max_batch=1, max_queue=1: one request decodes, one waits, the next is refused.
    scheduler = slow_server.scheduler
    cancelled = scheduler.cancelled
    with open_request(slow_server.port, stream=True) as running:
        assert stream_started(running)
        with open_request(slow_server.port, stream=False):
            assert wait_until(lambda: scheduler.stats()["waiting"] == 1)
            resp = http("POST", slow_server.url + "/v1/completions", {"model": MODEL, "prompt": "Hi"})
            error = assert_openai_error(resp, 503, code="queue_full")
            assert "busy" in error["message"] and "max_queue=1" in error["message"]
    # both clients left: both generations stop (the waiting one once admitted, or before)
    assert wait_until(lambda: scheduler.cancelled == cancelled + 2 and scheduler.stats()["running"] == 0)


def test_client_disconnect_stops_generation(slow_server):
    scheduler = slow_server.scheduler
    cancelled, timed_out = scheduler.cancelled, scheduler.timed_out
    with open_request(slow_server.port, stream=True) as sock:
        assert stream_started(sock)
    assert wait_until(lambda: scheduler.stats()["running"] == 0)
    # stopped because the client left, not by the 1.5 s timeout nor by finishing its 60 tokens (>= 3 s)
    assert (scheduler.cancelled, scheduler.timed_out) == (cancelled + 1, timed_out)


def test_serve_config_defaults_to_localhost_and_names_the_model(micro_checkpoint):
    cfg = ServeConfig(ckpt=str(micro_checkpoint))
    assert cfg.host == "127.0.0.1" and cfg.api_key is None
    assert default_model_id(str(micro_checkpoint)) == "micro"
    assert default_model_id(str(micro_checkpoint / "ckpt" / "base" / "latest")) == "micro"
