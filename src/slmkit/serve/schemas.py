"""Validation of OpenAI-style request bodies into plain dataclasses, and OpenAI-style error objects.

Every problem becomes an `APIError` with the HTTP status and the `{"error": {"message", "type", "param", "code"}}`
body the official clients understand. Unknown fields are ignored (as OpenAI-compatible servers usually do);
fields we cannot honour (`best_of`, `logit_bias`, `suffix`, `echo`, tools) are refused, never silently dropped.

Example:
    req = parse_completion({"model": "m", "prompt": "Hi", "max_tokens": 5}, limits)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from slmkit.infer.sampling import SamplingParams


class APIError(Exception):
    """An error answered as JSON. Example: `raise APIError(400, "bad n", param="n")`"""

    def __init__(self, status: int, message: str, type: str = "invalid_request_error", param: str | None = None,
                 code: str | None = None):
        super().__init__(message)
        self.status, self.message, self.type, self.param, self.code = status, message, type, param, code

    def body(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}


@dataclass(frozen=True)
class Limits:
    """What one request may ask for (the server's safety limits)."""

    max_prompt_tokens: int = 1024
    max_tokens: int = 512
    max_n: int = 8
    max_stop: int = 4
    max_logprobs: int = 5


@dataclass
class GenerationParams:
    """What both endpoints share once validated."""

    model: str
    max_tokens: int
    n: int
    stream: bool
    include_usage: bool
    stop: list[str]
    seed: int | None
    sampling: SamplingParams
    logprobs: int | None = None  # completions: top-N per token; chat: top_logprobs when logprobs is true
    ignore_eos: bool = False  # vLLM's extension: keep generating past end-of-text / end-of-turn tokens


@dataclass
class CompletionRequest(GenerationParams):
    prompts: list[str] = field(default_factory=list)


@dataclass
class ChatRequest(GenerationParams):
    messages: list[dict[str, str]] = field(default_factory=list)


_UNSUPPORTED = {
    "best_of": (None, 1),
    "logit_bias": (None, {}),
    "suffix": (None, ""),
    "echo": (None, False),
    "tools": (None, []),
    "functions": (None, []),
    "response_format": (None, {"type": "text"}),
}


def parse_completion(body: Any, limits: Limits) -> CompletionRequest:
    """Validate a /v1/completions body. Example: `parse_completion({"model": "m", "prompt": "Hi"}, Limits())`"""
    body = _object(body)
    prompt = body.get("prompt")
    if isinstance(prompt, str):
        prompts = [prompt]
    elif isinstance(prompt, list) and prompt and all(isinstance(p, str) for p in prompt):
        prompts = list(prompt)
    else:
        raise APIError(400, "'prompt' must be a string or a non-empty list of strings", param="prompt")
    logprobs = _int(body, "logprobs", None, 0, limits.max_logprobs, nullable=True)
    params = _common(body, limits, default_max_tokens=16, logprobs=logprobs)
    if len(prompts) * params.n > limits.max_n:
        raise APIError(400, f"len(prompt) x n = {len(prompts) * params.n} is above the limit {limits.max_n}",
                       param="n")
    return CompletionRequest(**vars(params), prompts=prompts)


def parse_chat(body: Any, limits: Limits) -> ChatRequest:
    """Validate a /v1/chat/completions body. Example: `parse_chat({"model": "m", "messages": [...]}, Limits())`"""
    body = _object(body)
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise APIError(400, "'messages' must be a non-empty list", param="messages")
    clean = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise APIError(400, f"messages[{i}] must be an object", param=f"messages[{i}]")
        role = message.get("role")
        if role == "developer":  # newer OpenAI name for the system role
            role = "system"
        if role not in ("system", "user", "assistant"):
            raise APIError(400, f"messages[{i}].role must be system, user or assistant, not {role!r}",
                           param=f"messages[{i}].role")
        clean.append({"role": role, "content": _message_text(message.get("content"), i)})
    logprobs = None
    if _bool(body, "logprobs", False):
        logprobs = _int(body, "top_logprobs", 0, 0, limits.max_logprobs)
    elif body.get("top_logprobs") is not None:
        raise APIError(400, "'top_logprobs' needs 'logprobs': true", param="top_logprobs")
    if body.get("max_completion_tokens") is not None and body.get("max_tokens") is None:
        body = {**body, "max_tokens": body["max_completion_tokens"]}
    params = _common(body, limits, default_max_tokens=limits.max_tokens, logprobs=logprobs)
    return ChatRequest(**vars(params), messages=clean)


def _message_text(content: Any, i: int) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: only text parts are understood
        texts = []
        for part in content:
            if not (isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)):
                raise APIError(400, f"messages[{i}].content parts must be text parts", param=f"messages[{i}].content")
            texts.append(part["text"])
        return "".join(texts)
    raise APIError(400, f"messages[{i}].content must be a string", param=f"messages[{i}].content")


def _common(body: dict[str, Any], limits: Limits, default_max_tokens: int, logprobs: int | None) -> GenerationParams:
    for name, allowed in _UNSUPPORTED.items():
        if name in body and body[name] not in allowed:
            raise APIError(400, f"'{name}' is not supported by this server", param=name)
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise APIError(400, "'model' must be a non-empty string", param="model")
    stop = body.get("stop")
    if stop is None:
        stop = []
    elif isinstance(stop, str):
        stop = [stop]
    elif not (isinstance(stop, list) and all(isinstance(s, str) for s in stop)):
        raise APIError(400, "'stop' must be a string or a list of strings", param="stop")
    if len(stop) > limits.max_stop:
        raise APIError(400, f"'stop' holds {len(stop)} strings, at most {limits.max_stop} allowed", param="stop")
    stream_options = body.get("stream_options")
    if stream_options is not None and not isinstance(stream_options, dict):
        raise APIError(400, "'stream_options' must be an object", param="stream_options")
    include_usage = bool((stream_options or {}).get("include_usage", False))
    temperature = _float(body, "temperature", 1.0, 0.0, 2.0)
    sampling = SamplingParams(
        temperature=temperature,
        top_k=_int(body, "top_k", None, -1, 1 << 30, nullable=True),
        top_p=_float(body, "top_p", 1.0, 0.0, 1.0, open_low=True),
        min_p=_float(body, "min_p", 0.0, 0.0, 1.0),
        repetition_penalty=_float(body, "repetition_penalty", 1.0, 0.0, 10.0, open_low=True),
        frequency_penalty=_float(body, "frequency_penalty", 0.0, -2.0, 2.0),
        presence_penalty=_float(body, "presence_penalty", 0.0, -2.0, 2.0),
    )
    if sampling.top_k is not None and sampling.top_k <= 0:  # vLLM uses -1 (and we accept 0) for "off"
        sampling = SamplingParams(**{**vars(sampling), "top_k": None})
    return GenerationParams(
        model=model,
        max_tokens=_int(body, "max_tokens", default_max_tokens, 1, limits.max_tokens, nullable=True),
        n=_int(body, "n", 1, 1, limits.max_n, nullable=True),
        stream=_bool(body, "stream", False),
        include_usage=include_usage,
        stop=stop,
        seed=_int(body, "seed", None, -(2**63), 2**63 - 1, nullable=True),
        sampling=sampling,
        logprobs=logprobs,
        ignore_eos=_bool(body, "ignore_eos", False),
    )


# ----------------------------------------------------------------------------------------------- field readers
def _object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise APIError(400, "the request body must be a JSON object")
    return body


def _int(body, name, default, low, high, nullable=False):
    value = body.get(name, default)
    if value is None:
        if nullable or default is None:
            return default
        raise APIError(400, f"'{name}' must be an integer", param=name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise APIError(400, f"'{name}' must be an integer, not {value!r}", param=name)
    if not low <= value <= high:
        raise APIError(400, f"'{name}' is {value}, expected between {low} and {high}", param=name)
    return value


def _float(body, name, default, low, high, open_low=False):
    value = body.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise APIError(400, f"'{name}' must be a number, not {value!r}", param=name)
    if not (low < value if open_low else low <= value) or value > high:
        bracket = "(" if open_low else "["
        raise APIError(400, f"'{name}' is {value}, expected in {bracket}{low}, {high}]", param=name)
    return float(value)


def _bool(body, name, default):
    value = body.get(name, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise APIError(400, f"'{name}' must be true or false, not {value!r}", param=name)
    return value
