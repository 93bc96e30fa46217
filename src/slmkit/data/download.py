"""`slm data download tinystories`: fetch TinyStories text files from the Hugging Face hub.

This is the one command in the data stage that needs the network. Without it (offline, hub down, file missing)
it stops with one line saying which file failed and why. `huggingface_hub` is imported only here.

Example:
    download_stage(DownloadConfig(files=["TinyStories-valid.txt"], out="data/tinystories"))
"""

from __future__ import annotations

import os
import re
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

from slmkit.common.errors import SlmkitError
from slmkit.common.log import print0
from slmkit.config import check, opt

TINYSTORIES_REPO = "roneneldan/TinyStories"
# Files of the dataset repo (sizes rounded, for the help text and error messages).
TINYSTORIES_FILES = {
    "TinyStories-train.txt": "1.9 GB, v1 (GPT-3.5 + GPT-4) training split",
    "TinyStories-valid.txt": "19 MB, v1 validation split",
    "TinyStoriesV2-GPT4-train.txt": "2.2 GB, GPT-4-only training split",
    "TinyStoriesV2-GPT4-valid.txt": "22 MB, GPT-4-only validation split",
}


@dataclass
class DownloadConfig:
    dataset: Literal["tinystories"] = opt("tinystories", "dataset to fetch")
    files: list[str] = opt(factory=lambda: ["TinyStories-train.txt", "TinyStories-valid.txt"],
                           help=f"files to fetch: {', '.join(TINYSTORIES_FILES)}")
    out: str = opt("data/tinystories", "folder the files are written to")
    repo_id: str = opt(TINYSTORIES_REPO, "Hugging Face dataset repository")
    revision: str | None = opt(None, "repository revision (branch, tag or commit; default: main)")
    endpoint: str | None = opt(None, "hub address (default: $HF_ENDPOINT or https://huggingface.co)")

    def __post_init__(self):
        check(len(self.files) > 0, "files", self.files, "at least one file name")


def download_stage(cfg: DownloadConfig) -> dict[str, Any]:
    """Download each of `cfg.files` into `cfg.out`; returns {"files": [local paths], "seconds": ...}.

    Example: `download_stage(DownloadConfig(files=["TinyStories-valid.txt"]))["files"][0]`
    """
    try:
        from huggingface_hub import hf_hub_download
    except ImportError:
        raise SlmkitError("`slm data download` needs huggingface_hub: pip install 'slmkit[teacher]'") from None
    # Read at call time: huggingface_hub reads HF_ENDPOINT only once, when it is first imported.
    endpoint = cfg.endpoint or os.environ.get("HF_ENDPOINT") or "https://huggingface.co"
    if not _hub_offline_mode() and not _proxy_configured():
        _check_reachable(endpoint)  # fail in seconds, not after the hub's ~25 s of connection retries
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    start = time.time()
    paths = []
    for name in cfg.files:
        print0(f"download: {cfg.repo_id}/{name} ({TINYSTORIES_FILES.get(name, 'size unknown')}) -> {out}")
        try:
            local = hf_hub_download(repo_id=cfg.repo_id, filename=name, repo_type="dataset", revision=cfg.revision,
                                    local_dir=out, endpoint=endpoint)
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # the hub raises many kinds (HTTP, connection, offline mode, not found)
            raise SlmkitError(_describe_failure(cfg, name, endpoint, exc)) from None
        paths.append(str(local))
    seconds = time.time() - start
    print0(f"download: {len(paths)} file(s) in {out} after {seconds:.1f} s")
    return {"files": paths, "seconds": round(seconds, 2)}


def _hub_offline_mode() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")


def _proxy_configured() -> bool:
    return any(os.environ.get(v) for v in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY"))


def _check_reachable(endpoint: str, timeout_s: float = 10.0) -> None:
    """Open (and close) a TCP connection to the hub, or raise the one-line offline error."""
    url = urlparse(endpoint)
    host = url.hostname or endpoint
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise SlmkitError(f"download: cannot reach {endpoint} ({reason}); `slm data download` needs internet "
                          "access to the Hugging Face hub (set HF_ENDPOINT for a mirror)") from None


def _exception_chain(exc: BaseException) -> list[BaseException]:
    """`exc`, then what caused it, down to the root cause."""
    chain = [exc]
    while (nxt := chain[-1].__cause__ or chain[-1].__context__) is not None and nxt not in chain:
        chain.append(nxt)
    return chain


def _describe_failure(cfg: DownloadConfig, name: str, endpoint: str, exc: Exception) -> str:
    """One line: what failed, the underlying reason, and what to do about it."""
    chain = _exception_chain(exc)
    kind, root = type(exc).__name__, chain[-1]
    reason = " ".join(f"{type(root).__name__}: {root}".split())
    if len(reason) > 160:
        reason = reason[:160] + "..."
    if root is not exc:
        reason = f"{kind}; {reason}"
    # an HTTP 404 anywhere in the chain; the pattern skips port numbers such as ":40493" or ":404/"
    not_found = any(getattr(getattr(e, "response", None), "status_code", None) == 404 for e in chain) or any(
        "NotFound" in type(e).__name__ and "Local" not in type(e).__name__ for e in chain
    ) or re.search(r"(?<![\d:])404(?!\d)", reason) is not None
    hint = "this command needs internet access to the Hugging Face hub"
    if not_found:
        hint = f"check --repo-id, --revision and --files (known files: {', '.join(TINYSTORIES_FILES)})"
    elif "Offline" in kind or _hub_offline_mode():
        hint += " (HF_HUB_OFFLINE is set: unset it to download)"
    return f"download of {cfg.repo_id}/{name} from {endpoint} failed ({reason}); {hint}"
