"""The OpenAI-compatible HTTP API: /v1/completions, /v1/chat/completions (JSON or Server-Sent Events), /v1/models,
/health, and the web page under / and /static/.

All requests share one model through the continuous-batching `Scheduler` (one worker thread). The event loop only
parses, tokenizes and formats; the worker hands token events back with `call_soon_threadsafe`.

Example:
    app = create_app(loaded.model, loaded.tokenizer, ServeSettings(model_id="quickstart"))
    uvicorn.run(app, host="127.0.0.1", port=8000)
"""

from __future__ import annotations

import asyncio
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from slmkit.infer.engine import Engine, TokenEvent, TokenRequest
from slmkit.infer.scheduler import QueueFullError, Scheduler
from slmkit.infer.text import TextStream, chat_prompt_ids, chat_stop_ids, text_prompt_ids
from slmkit.serve.schemas import (
    APIError,
    ChatRequest,
    CompletionRequest,
    GenerationParams,
    Limits,
    parse_chat,
    parse_completion,
)

STATIC_DIR = Path(__file__).parent / "static"


@dataclass
class ServeSettings:
    """How the app behaves (built from ServeConfig by the stage)."""

    model_id: str = "slmkit"
    api_key: str | None = None
    max_batch: int = 16
    max_queue: int = 64
    timeout_s: float = 300.0
    max_body_bytes: int = 1_000_000
    limits: Limits = field(default_factory=Limits)
    feedback_dir: Path | None = None  # where the rating view reads items.jsonl and appends ratings.jsonl


@dataclass
class _Choice:
    """One choice's streaming state on the event-loop side."""

    index: int
    prompt_tokens: int
    text: TextStream
    ticket: Any = None
    tokens: int = 0
    finish_reason: str | None = None
    logprobs: list[tuple[int, float, list[tuple[int, float]]]] = field(default_factory=list)  # not yet sent


@dataclass
class _Delta:
    """What one event changed for one choice: new text, logprob entries, maybe the end."""

    index: int
    text: str
    logprobs: list[tuple[int, float, list[tuple[int, float]]]]
    finish_reason: str | None


def create_app(model, tokenizer, settings: ServeSettings | None = None) -> FastAPI:
    """The FastAPI app serving `model` (see module docstring). Example: `create_app(model, tok).routes`"""
    settings = settings or ServeSettings()
    limits = settings.limits
    engine = Engine(model, max_batch=settings.max_batch)
    scheduler = Scheduler(engine, max_queue=settings.max_queue, timeout_s=settings.timeout_s)
    context_length = model.cfg.context_length

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        scheduler.start()
        try:
            yield
        finally:
            scheduler.stop()

    app = FastAPI(title="slmkit", lifespan=lifespan, docs_url=None, redoc_url=None)
    app.state.scheduler = scheduler

    # ------------------------------------------------------------------------------------------ errors, auth, size
    @app.exception_handler(APIError)
    async def _api_error(request: Request, exc: APIError):
        return JSONResponse(exc.body(), status_code=exc.status)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        kind = "not_found_error" if exc.status_code == 404 else "invalid_request_error"
        return JSONResponse(APIError(exc.status_code, str(exc.detail), kind).body(), status_code=exc.status_code)

    async def guard(request: Request) -> None:
        """Every /v1 route: the API key (when one is set), then the declared body size."""
        if settings.api_key is not None:
            header = request.headers.get("authorization", "")
            token = header[7:] if header.lower().startswith("bearer ") else ""
            if not hmac.compare_digest(token.encode(), settings.api_key.encode()):
                raise APIError(401, "missing or incorrect API key (send 'Authorization: Bearer KEY')",
                               "authentication_error", code="invalid_api_key")
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > settings.max_body_bytes:
            raise _too_large(settings.max_body_bytes)

    # A dependency, not an HTTP middleware: Starlette's BaseHTTPMiddleware would hide client disconnects from
    # streaming responses (and a disconnect must stop the generation).
    v1 = APIRouter(prefix="/v1", dependencies=[Depends(guard)])

    async def read_json(request: Request) -> Any:
        body = b""
        async for chunk in request.stream():  # counted as it arrives: a missing/lying Content-Length is no way round
            body += chunk
            if len(body) > settings.max_body_bytes:
                raise _too_large(settings.max_body_bytes)
        try:
            return json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise APIError(400, f"the request body is not valid JSON ({exc})", code="invalid_json") from None

    def check_model(name: str) -> None:
        if name != settings.model_id:
            raise APIError(404, f"the model '{name}' does not exist (this server has '{settings.model_id}')",
                           param="model", code="model_not_found")

    def check_prompt(ids: list[int], param: str) -> None:
        room = min(limits.max_prompt_tokens, context_length - 1)
        if len(ids) > room:
            raise APIError(400, f"the prompt is {len(ids)} tokens, at most {room} allowed", param=param,
                           code="context_length_exceeded")

    # ------------------------------------------------------------------------------------------ generation
    def submit(prompts: list[list[int]], gen: GenerationParams, stop_ids: frozenset[int]) -> _Generation:
        """Queue n choices per prompt (503 when the queue is full; nothing stays queued then)."""
        generation = _Generation(prompts, asyncio.get_running_loop())
        requests = []
        for p, ids in enumerate(prompts):
            for j in range(gen.n):
                choice = _Choice(p * gen.n + j, len(ids), TextStream(tokenizer, gen.stop))
                seed = None if gen.seed is None else gen.seed + j  # n choices differ, reproducibly
                token_request = TokenRequest(ids, gen.max_tokens, gen.sampling, seed, stop_ids, gen.logprobs)
                requests.append((token_request, generation.deliver_to(choice.index)))
                generation.choices.append(choice)
        try:
            tickets = scheduler.submit_many(requests)
        except QueueFullError as exc:
            raise APIError(503, f"the server is busy: {exc}; retry later", "server_error", code="queue_full") from None
        for choice, ticket in zip(generation.choices, tickets):
            choice.ticket = ticket
        return generation

    async def collect(request: Request, generation: _Generation) -> tuple[list[dict[str, Any]], dict[str, int]]:
        n = len(generation.choices)
        texts: list[list[str]] = [[] for _ in range(n)]
        logprobs: list[list] = [[] for _ in range(n)]
        finish: list[str | None] = [None] * n
        async for delta in generation.deltas(request, tokenizer):
            texts[delta.index].append(delta.text)
            logprobs[delta.index].extend(delta.logprobs)
            finish[delta.index] = delta.finish_reason or finish[delta.index]
        results = [{"index": i, "text": "".join(texts[i]), "logprobs": logprobs[i], "finish_reason": finish[i]}
                   for i in range(n)]
        _raise_failures(results)
        return results, generation.usage()

    # ------------------------------------------------------------------------------------------ routes
    @app.get("/health")
    async def health():
        return {"status": "ok", "model": settings.model_id, **scheduler.stats()}

    @v1.get("/models")
    async def models():
        return {"object": "list", "data": [_model_card(settings.model_id)]}

    @v1.get("/models/{name}")
    async def model_info(name: str):
        check_model(name)
        return _model_card(name)

    @v1.post("/completions")
    async def completions(request: Request):
        req: CompletionRequest = parse_completion(await read_json(request), limits)
        check_model(req.model)
        prompts = [text_prompt_ids(tokenizer, text) for text in req.prompts]
        for ids in prompts:
            check_prompt(ids, "prompt")
        stop_ids = frozenset() if req.ignore_eos else frozenset({tokenizer.eot_id})
        head = {"id": f"cmpl-{uuid.uuid4().hex[:24]}", "object": "text_completion", "created": int(time.time()),
                "model": req.model}
        generation = submit(prompts, req, stop_ids)
        if req.stream:
            return _sse(_stream_completion(request, head, generation, req))
        results, usage = await collect(request, generation)
        choices = [{"text": r["text"], "index": r["index"], "finish_reason": r["finish_reason"],
                    "logprobs": _completion_logprobs(tokenizer, r["logprobs"]) if req.logprobs is not None else None}
                   for r in results]
        return {**head, "choices": choices, "usage": usage}

    async def _stream_completion(request, head, generation: _Generation, req: CompletionRequest):
        offsets: dict[int, int] = {}
        async for delta in generation.deltas(request, tokenizer):
            _raise_stream_failure(delta)
            logprobs = None
            if req.logprobs is not None:
                logprobs = _completion_logprobs(tokenizer, delta.logprobs, offsets.get(delta.index, 0))
                offsets[delta.index] = offsets.get(delta.index, 0) + sum(len(t) for t in logprobs["tokens"])
            choice = {"text": delta.text, "index": delta.index, "logprobs": logprobs,
                      "finish_reason": delta.finish_reason}
            yield {**head, "choices": [choice], **({"usage": None} if req.include_usage else {})}
        if req.include_usage:
            yield {**head, "choices": [], "usage": generation.usage()}

    @v1.post("/chat/completions")
    async def chat_completions(request: Request):
        req: ChatRequest = parse_chat(await read_json(request), limits)
        check_model(req.model)
        ids = chat_prompt_ids(tokenizer, req.messages)
        check_prompt(ids, "messages")
        stop_ids = frozenset() if req.ignore_eos else chat_stop_ids(tokenizer)
        head = {"id": f"chatcmpl-{uuid.uuid4().hex[:24]}", "object": "chat.completion", "created": int(time.time()),
                "model": req.model, "system_fingerprint": None}
        generation = submit([ids], req, stop_ids)
        if req.stream:
            return _sse(_stream_chat(request, {**head, "object": "chat.completion.chunk"}, generation, req))
        results, usage = await collect(request, generation)
        choices = [{"index": r["index"], "message": {"role": "assistant", "content": r["text"]},
                    "logprobs": _chat_logprobs(tokenizer, r["logprobs"]) if req.logprobs is not None else None,
                    "finish_reason": r["finish_reason"]} for r in results]
        return {**head, "choices": choices, "usage": usage}

    async def _stream_chat(request, head, generation: _Generation, req: ChatRequest):
        usage_field = {"usage": None} if req.include_usage else {}
        for i in range(req.n):  # OpenAI opens every choice with the role
            first = {"index": i, "delta": {"role": "assistant", "content": ""}, "logprobs": None, "finish_reason": None}
            yield {**head, "choices": [first], **usage_field}
        async for delta in generation.deltas(request, tokenizer):
            _raise_stream_failure(delta)
            choice = {"index": delta.index, "delta": {"content": delta.text} if delta.text else {},
                      "logprobs": _chat_logprobs(tokenizer, delta.logprobs) if req.logprobs is not None else None,
                      "finish_reason": delta.finish_reason}
            yield {**head, "choices": [choice], **usage_field}
        if req.include_usage:
            yield {**head, "choices": [], "usage": generation.usage()}

    if settings.feedback_dir is not None:
        from slmkit.serve.feedback_routes import add_feedback_routes

        add_feedback_routes(v1, settings.feedback_dir, read_json)
    app.include_router(v1)

    @app.get("/", include_in_schema=False)
    async def index():
        page = STATIC_DIR / "index.html"
        if not page.is_file():
            raise APIError(404, "no web page installed (src/slmkit/serve/static/index.html)", "not_found_error")
        return FileResponse(page)

    if STATIC_DIR.is_dir():
        app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    return app


# ----------------------------------------------------------------------------------------------- helpers
class _Generation:
    """The choices of one HTTP request: token events arrive from the worker thread on an asyncio queue."""

    def __init__(self, prompts: list[list[int]], loop: asyncio.AbstractEventLoop):
        self.prompts, self.loop = prompts, loop
        self.choices: list[_Choice] = []
        self.queue: asyncio.Queue[tuple[int, TokenEvent]] = asyncio.Queue()

    def deliver_to(self, index: int):
        def deliver(event: TokenEvent) -> None:  # runs on the scheduler thread
            self.loop.call_soon_threadsafe(self.queue.put_nowait, (index, event))

        return deliver

    def cancel(self) -> None:
        for choice in self.choices:
            choice.ticket.cancel()

    def usage(self) -> dict[str, int]:
        prompt_tokens = sum(len(ids) for ids in self.prompts)
        completion_tokens = sum(c.tokens for c in self.choices)
        return {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens}

    async def deltas(self, request: Request, tokenizer) -> AsyncIterator[_Delta]:
        """Yield what each token event changes, until every choice finished; a client that goes away (or an
        exit for any reason) cancels whatever still runs."""
        running = len(self.choices)
        next_check = self.loop.time() + 0.5
        try:
            while running:
                try:
                    index, event = await asyncio.wait_for(self.queue.get(), timeout=0.5)
                except asyncio.TimeoutError:
                    index, event = -1, None
                if self.loop.time() >= next_check:  # twice a second, busy or not: is the client still there?
                    next_check = self.loop.time() + 0.5
                    if await request.is_disconnected():
                        return
                if event is None:
                    continue
                choice = self.choices[index]
                if choice.finish_reason is not None:
                    continue  # a late event after a stop string ended this choice
                delta = _apply(choice, event, tokenizer)
                if choice.finish_reason is not None:
                    running -= 1
                    choice.ticket.cancel()  # e.g. a stop string: stop generating now
                if delta.text or delta.logprobs or delta.finish_reason:
                    yield delta
        finally:
            self.cancel()


def _apply(choice: _Choice, event: TokenEvent, tokenizer) -> _Delta:
    """Feed one token event into a choice's text stream; the delta to send."""
    text = ""
    if event.token is not None:
        choice.tokens += 1
        text = choice.text.push(event.token)
        if event.logprob is not None:
            choice.logprobs.append((event.token, event.logprob, event.top_logprobs or []))
        if choice.text.stopped:
            choice.finish_reason = "stop"
    if event.finish_reason is not None and choice.finish_reason is None:
        choice.finish_reason = event.finish_reason
        if event.finish_reason in ("stop", "length"):
            text += choice.text.finish()
    logprobs = []
    if text or choice.finish_reason is not None:
        logprobs, choice.logprobs = choice.logprobs, []
    return _Delta(choice.index, text, logprobs, choice.finish_reason)


def _failure(reason: str | None) -> APIError | None:
    if reason == "timeout":
        return APIError(504, "generation ran past the server's per-request timeout", "timeout_error", code="timeout")
    if reason is not None and reason.startswith("error"):
        return APIError(500, f"generation failed ({reason})", "server_error")
    return None


def _raise_failures(results: list[dict[str, Any]]) -> None:
    for result in results:
        error = _failure(result["finish_reason"])
        if error is not None:
            raise error


def _raise_stream_failure(delta: _Delta) -> None:
    error = _failure(delta.finish_reason)
    if error is not None:
        raise error


def _too_large(limit: int) -> APIError:
    return APIError(413, f"the request body is larger than the limit of {limit} bytes", code="request_too_large")


def _model_card(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": 0, "owned_by": "slmkit"}


def _token_bytes(tokenizer, token: int) -> bytes:
    return tokenizer.token_bytes(token) if token < tokenizer.vocab_size else b""  # ids past the tokenizer: no text


def _token_text(tokenizer, token: int) -> str:
    return _token_bytes(tokenizer, token).decode("utf-8", errors="replace")


def _completion_logprobs(tokenizer, entries, offset: int = 0) -> dict[str, Any]:
    """The legacy completions `logprobs` object for (token, logprob, top) entries."""
    tokens, offsets = [], []
    for token, _, _ in entries:
        offsets.append(offset)
        tokens.append(_token_text(tokenizer, token))
        offset += len(tokens[-1])
    return {
        "tokens": tokens,
        "token_logprobs": [lp for _, lp, _ in entries],
        "top_logprobs": [{_token_text(tokenizer, t): lp for t, lp in top} for _, _, top in entries],
        "text_offset": offsets,
    }


def _chat_logprobs(tokenizer, entries) -> dict[str, Any]:
    """The chat `logprobs` object: {"content": [{token, logprob, bytes, top_logprobs}]}."""

    def item(token: int, logprob: float) -> dict[str, Any]:
        return {"token": _token_text(tokenizer, token), "logprob": logprob,
                "bytes": list(_token_bytes(tokenizer, token))}

    return {"content": [{**item(t, lp), "top_logprobs": [item(tt, tlp) for tt, tlp in top]} for t, lp, top in entries],
            "refusal": None}


def _sse(chunks: AsyncIterator[dict[str, Any]]) -> StreamingResponse:
    """Server-Sent Events as OpenAI sends them: `data: {json}` per chunk, then `data: [DONE]`."""

    async def body():
        try:
            async for chunk in chunks:
                yield f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n"
        except APIError as exc:  # after the 200 header: the error travels as an event, as OpenAI does mid-stream
            yield f"data: {json.dumps(exc.body())}\n\n"
        finally:
            await chunks.aclose()
        yield "data: [DONE]\n\n"

    return StreamingResponse(body(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
