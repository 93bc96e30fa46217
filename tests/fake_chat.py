"""A fake OpenAI-compatible chat endpoint on 127.0.0.1 for tests of judge/teacher clients: a real HTTP server whose
answers come from a plain function of the request body.

Example:
    with FakeChat(lambda body: (200, chat_completion(body["model"], "hi"))) as fake:
        client = openai.OpenAI(base_url=fake.url, api_key="x"); ...; fake.requests  # bodies received
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]


def chat_completion(model: str, content: str) -> dict[str, Any]:
    """A minimal chat.completion response body with one assistant message."""
    return {"id": "x", "object": "chat.completion", "created": 0, "model": model,
            "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}


class FakeChat:
    """Serves `answer(body) -> (status, json_body)` for every POST; `url` ends in /v1; `requests` holds the bodies."""

    def __init__(self, answer: Answer):
        self.requests: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append(body)
                status, payload = answer(body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> FakeChat:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
