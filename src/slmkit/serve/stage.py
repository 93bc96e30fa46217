"""`slm serve`: an OpenAI-compatible HTTP server for a checkpoint (and `ServerThread` to run one in-process).

Example:
    slm serve --ckpt runs/quickstart                    # http://127.0.0.1:8000/v1, web page at /
    slm serve --ckpt runs/quickstart --api-key secret   # clients then send `Authorization: Bearer secret`
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slmkit.common.device import pick_device
from slmkit.common.log import print0
from slmkit.config import check, opt
from slmkit.infer.load import load_checkpoint
from slmkit.model.quantize import Quantize
from slmkit.serve.schemas import Limits


@dataclass
class ServeConfig:
    ckpt: str = opt(None, "checkpoint folder, ckpt/<stage> folder, or run directory")
    host: str = opt("127.0.0.1", "interface to listen on (0.0.0.0 exposes the server to the network)")
    port: int = opt(8000, "TCP port (0 = any free port)")
    api_key: str | None = opt(None, "require `Authorization: Bearer KEY` on /v1 routes")
    model_name: str | None = opt(None, "model id clients must send (default: the run or checkpoint folder name)")
    max_batch: int = opt(16, "sequences decoded together (continuous batching)")
    max_queue: int = opt(64, "requests allowed to wait for a batch slot; more get 503")
    timeout_s: float = opt(300.0, "per-request time limit in seconds")
    max_prompt_tokens: int = opt(1024, "longest prompt accepted (also capped by the model's context)")
    max_tokens: int = opt(512, "largest max_tokens a request may ask for")
    max_n: int = opt(8, "most choices (n x prompts) per request")
    max_body_bytes: int = opt(1_000_000, "largest request body in bytes")
    device: str = opt("auto", "auto, cpu, cuda")
    quantize: Quantize = opt("none", "none, or int8: int8 weights per output row for faster CPU inference")
    feedback_dir: str | None = opt(None, "rating view: items.jsonl in, ratings.jsonl out "
                                   "(default: <run>/feedback when the checkpoint is inside a run directory)")

    def __post_init__(self):
        check(self.ckpt is not None, "ckpt", self.ckpt, "a checkpoint (--ckpt DIR)")
        check(0 <= self.port <= 65535, "port", self.port, "a TCP port in [0, 65535]")
        check(self.api_key is None or len(self.api_key) > 0, "api_key", self.api_key, "a non-empty key")
        for name in ("max_batch", "max_queue", "max_prompt_tokens", "max_tokens", "max_n", "max_body_bytes"):
            check(getattr(self, name) >= 1, name, getattr(self, name), ">= 1")
        check(self.timeout_s > 0, "timeout_s", self.timeout_s, "> 0")

    def resolved_feedback_dir(self) -> Path | None:
        if self.feedback_dir is not None:
            return Path(self.feedback_dir)
        parts = Path(self.ckpt).resolve().parts
        if "ckpt" in parts:
            return Path(*parts[: parts.index("ckpt")]) / "feedback"
        return Path(self.ckpt) / "feedback" if (Path(self.ckpt) / "ckpt").is_dir() else None

    def settings(self, model_id: str):
        from slmkit.serve.app import ServeSettings

        limits = Limits(max_prompt_tokens=self.max_prompt_tokens, max_tokens=self.max_tokens, max_n=self.max_n)
        return ServeSettings(model_id=model_id, api_key=self.api_key, max_batch=self.max_batch,
                             max_queue=self.max_queue, timeout_s=self.timeout_s, max_body_bytes=self.max_body_bytes,
                             limits=limits, feedback_dir=self.resolved_feedback_dir())


def default_model_id(ckpt: str) -> str:
    """The name clients use for the model: the run directory's (or checkpoint folder's) name."""
    path = Path(ckpt).resolve()
    if path.name.startswith("step_") or path.name == "latest":
        path = path.parent.parent.parent if path.parent.parent.name == "ckpt" else path.parent
    return path.name or "slmkit"


def serve_stage(cfg: ServeConfig) -> dict[str, Any]:
    """Load the checkpoint and serve it until Ctrl-C."""
    import uvicorn

    from slmkit.serve.app import create_app

    loaded = load_checkpoint(cfg.ckpt, pick_device(cfg.device), quantize=cfg.quantize)
    model_id = cfg.model_name or default_model_id(cfg.ckpt)
    app = create_app(loaded.model, loaded.tokenizer, cfg.settings(model_id))
    print0(f"serving '{model_id}' from {loaded.path} at http://{cfg.host}:{cfg.port}/v1 (web page: /)")
    if cfg.host not in ("127.0.0.1", "localhost", "::1") and cfg.api_key is None:
        print0("warning: listening beyond this machine without --api-key: anyone who can reach it can use it")
    uvicorn.run(app, host=cfg.host, port=cfg.port, log_level="warning")
    return {"model": model_id}


class ServerThread:
    """A uvicorn server for `app` on 127.0.0.1 and a free port, in a background thread (tests, benchmarks).

    Example:
        with ServerThread(create_app(model, tok)) as server: httpx.get(server.url + "/health")
    """

    def __init__(self, app, host: str = "127.0.0.1"):
        import uvicorn

        with socket.socket() as probe:  # a free port, chosen now so the URL is known before start
            probe.bind((host, 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        config = uvicorn.Config(app, host=host, port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, name="uvicorn", daemon=True)

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)
