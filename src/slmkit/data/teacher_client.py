"""A chat client for any OpenAI-compatible endpoint, with a request-rate limit and retries with backoff.

Retries (exponential backoff with jitter, honoring Retry-After) cover connection errors, timeouts, HTTP 429 and
5xx, and empty replies. Other HTTP errors (a bad key, an unknown model) fail at once with one clear line.
The `openai` package is an optional dependency, imported only when a client is built.

Example:
    client = TeacherClient("http://127.0.0.1:8000/v1", model="llama3", rpm=60)
    reply = client.chat([{"role": "user", "content": "Write a story about a cat."}])
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass

from slmkit.common.errors import SlmkitError

_MAX_BACKOFF_S = 60.0


class EndpointError(SlmkitError):
    """An HTTP error the endpoint answered with (not retried): `status` lets callers react, e.g. to a 400 for an
    unsupported option."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class ChatReply:
    """The assistant message of one completion and why generation stopped ("stop", "length", ...)."""

    text: str
    finish_reason: str


class RateLimiter:
    """At most `rpm` calls of `wait()` per minute across threads, evenly spaced (rpm <= 0: no limit).

    Example: `limiter = RateLimiter(120); limiter.wait()  # returns at once, the next call 0.5 s later`
    """

    def __init__(self, rpm: float):
        self.interval = 60.0 / rpm if rpm > 0 else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        if self.interval == 0.0:
            return
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self.interval
        if slot > now:
            time.sleep(slot - now)


class TeacherClient:
    """Thread-safe chat completions against an OpenAI-compatible server."""

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str = "EMPTY",
        *,
        temperature: float = 1.0,
        max_tokens: int = 1024,
        timeout_s: float = 120.0,
        max_retries: int = 5,
        retry_delay_s: float = 1.0,
        rpm: float = 0.0,
        api_key_env: str = "OPENAI_API_KEY",
        role: str = "teacher",
        retry_empty: bool = True,
    ):
        try:
            import openai
        except ImportError:
            raise SlmkitError(f"the {role} client needs the openai package: pip install 'slmkit[teacher]'") from None
        self._openai = openai
        # The client's own retries are off: ours count every failure kind the same way and log nothing twice.
        self._client = openai.OpenAI(base_url=base_url, api_key=api_key, timeout=timeout_s, max_retries=0)
        self.base_url, self.model, self.api_key_env, self.role = base_url, model, api_key_env, role
        self.retry_empty = retry_empty  # a judge treats an empty reply as an unusable answer, not a network fault
        self.temperature, self.max_tokens = temperature, max_tokens
        self.max_retries, self.retry_delay_s = max_retries, retry_delay_s
        self.limiter = RateLimiter(rpm)
        self.retries_done = 0  # total retries over the client's life (reported in the summary)
        self._lock = threading.Lock()

    def chat(self, messages: list[dict[str, str]], **options) -> ChatReply:
        """One completion, retried on transient failures; `options` (temperature, seed, response_format, ...) go to
        the request as is. Example: `client.chat([{"role": "user", ...}]).text`"""
        request = {"temperature": self.temperature, "max_tokens": self.max_tokens, **options}
        openai = self._openai
        last_error = ""
        for attempt in range(self.max_retries + 1):
            if attempt:
                with self._lock:
                    self.retries_done += 1
            self.limiter.wait()
            retry_after = 0.0
            try:
                response = self._client.chat.completions.create(model=self.model, messages=messages, **request)
                choice = response.choices[0] if response.choices else None
                text = (choice.message.content or "") if choice is not None else ""
                if text.strip() or (choice is not None and not self.retry_empty):
                    return ChatReply(text=text, finish_reason=choice.finish_reason or "stop")
                last_error = "an empty reply"
            except (openai.RateLimitError, openai.InternalServerError) as exc:
                last_error = f"HTTP {exc.status_code} {_short(exc.message)}"
                retry_after = _retry_after_seconds(exc.response)
            except openai.APIStatusError as exc:
                raise EndpointError(self._describe_status_error(exc), exc.status_code) from None
            except openai.APIConnectionError as exc:  # includes timeouts
                cause = exc.__cause__ or exc
                last_error = f"{type(exc).__name__} ({_short(str(cause))})"
            if attempt < self.max_retries:
                backoff = min(_MAX_BACKOFF_S, self.retry_delay_s * 2**attempt) * (1.0 + 0.25 * random.random())
                time.sleep(max(backoff, retry_after))
        raise SlmkitError(
            f"{self.role} {self.base_url} (model {self.model}): request failed after {self.max_retries + 1} attempts; "
            f"last error: {last_error}"
        )

    def _describe_status_error(self, exc) -> str:
        hint = ""
        if exc.status_code in (401, 403):
            hint = f" (set the API key in the environment variable {self.api_key_env}, or choose --api-key-env)"
        elif exc.status_code == 404:
            hint = " (check --base-url, which usually ends in /v1, and --model)"
        return f"{self.role} {self.base_url} (model {self.model}): HTTP {exc.status_code} {_short(exc.message)}{hint}"


def _short(text: str, limit: int = 200) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[:limit] + "..."


def _retry_after_seconds(response) -> float:
    try:
        return min(_MAX_BACKOFF_S, float(response.headers.get("retry-after", 0)))
    except (AttributeError, TypeError, ValueError):
        return 0.0
