"""`slm data download`: never touches the network in tests; checks the one-line errors when the hub is unreachable."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from slmkit.common.errors import ConfigError, SlmkitError
from slmkit.config import build_config
from slmkit.data.download import DownloadConfig, download_stage

pytest.importorskip("huggingface_hub")


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens here once the socket is closed


def test_unreachable_hub_is_one_clear_line(tmp_path, monkeypatch):
    endpoint = f"http://127.0.0.1:{closed_port()}"
    monkeypatch.setenv("HF_ENDPOINT", endpoint)
    with pytest.raises(SlmkitError) as err:
        download_stage(DownloadConfig(files=["TinyStories-valid.txt"], out=str(tmp_path / "ts")))
    message = str(err.value)
    assert "\n" not in message and "needs internet access" in message
    assert endpoint in message
    assert not (tmp_path / "ts" / "TinyStories-valid.txt").exists()


def test_offline_mode_is_one_clear_line(tmp_path):
    # A fresh interpreter: huggingface_hub reads HF_HUB_OFFLINE once, at import.
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_ENDPOINT": f"http://127.0.0.1:{closed_port()}",
           "HF_HOME": str(tmp_path / "hf")}
    code = (
        "import sys\n"
        "from slmkit.common.errors import SlmkitError\n"
        "from slmkit.data.download import DownloadConfig, download_stage\n"
        "try:\n"
        f"    download_stage(DownloadConfig(files=['TinyStories-valid.txt'], out={str(tmp_path / 'ts')!r}))\n"
        "except SlmkitError as err:\n"
        "    print('ERROR', err)\n"
        "    sys.exit(2)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2, proc.stderr
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("ERROR")][0]
    assert "TinyStories-valid.txt" in line and "needs internet access" in line and "HF_HUB_OFFLINE" in line


@pytest.mark.parametrize("port", [40493, 404, 14041])
def test_a_port_with_404_in_it_is_not_a_missing_file(port):
    """The hint once read "404" anywhere in the reason, so a random port such as 40493 turned "offline" into
    "check --files"."""
    from slmkit.data.download import _describe_failure

    endpoint = f"http://127.0.0.1:{port}"
    error = OSError(f"LocalEntryNotFoundError: cannot reach {endpoint}/api/models and outgoing traffic is disabled")
    line = _describe_failure(DownloadConfig(files=["TinyStories-valid.txt"]), "TinyStories-valid.txt", endpoint, error)
    assert "needs internet access" in line and "check --repo-id" not in line
    missing = OSError("404 Client Error: Not Found for url")
    line = _describe_failure(DownloadConfig(files=["x.txt"]), "x.txt", endpoint, missing)
    assert "check --repo-id" in line


class NotFoundHub(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def do_HEAD(self):
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_HEAD


def test_hub_error_is_one_clear_line(tmp_path):
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), NotFoundHub)
    threading.Thread(target=httpd.serve_forever, args=(0.05,), daemon=True).start()
    endpoint = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        with pytest.raises(SlmkitError) as err:
            download_stage(DownloadConfig(files=["TinyStories-nope.txt"], out=str(tmp_path), endpoint=endpoint))
    finally:
        httpd.shutdown()
        httpd.server_close()
    message = str(err.value)
    assert "\n" not in message
    assert message.startswith(f"download of roneneldan/TinyStories/TinyStories-nope.txt from {endpoint} failed (")
    if os.environ.get("HF_HUB_OFFLINE", "") not in ("1", "true"):  # offline mode never asks the server
        assert "404" in message and "check --repo-id" in message


def test_config_needs_files():
    with pytest.raises(ConfigError, match="files"):
        build_config(DownloadConfig, {"files": []})
    assert build_config(DownloadConfig, {}).files == ["TinyStories-train.txt", "TinyStories-valid.txt"]
