"""The web page in a real browser: Debian's headless Chromium driven by Playwright against `slm serve` on 127.0.0.1.

The page loads, lists the model once the API key is entered, streams a story and a chat reply, and the streamed story
equals the server's own (non-streamed) greedy completion for the same prompt. A screenshot is saved.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.serve.http import http

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [  # as root, offline: no sandbox, and no background connections to Google that would be refused
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync",
]
API_KEY = "page-test-key"

pytestmark = pytest.mark.slow


def _require_browser():
    """Skip where the browser is not installed; in CI (CI=true) a missing browser is a failure."""
    missing = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        missing = "the playwright package"
    if missing is None and not CHROMIUM.exists():
        missing = str(CHROMIUM)
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{missing} is required in CI (.ci/run installs it)")
        pytest.skip(f"{missing} not installed")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def feedback_run(tmp_path_factory) -> Path:
    """A run folder whose feedback/items.jsonl holds one single-answer item and one pair, for the rating view."""
    from slmkit.eval.feedback import write_items

    run = tmp_path_factory.mktemp("rating")
    write_items([{"id": "00001", "prompt": "Tell a story about a cat.", "outputs": ["The cat slept."]},
                 {"id": "00002", "prompt": "Name a colour.", "outputs": ["Red.", "Blue is a fish."]}],
                run / "feedback" / "items.jsonl")
    return run


@pytest.fixture(scope="module")
def served(micro_checkpoint, feedback_run):
    """The shared micro checkpoint served by `python -m slmkit serve` in a subprocess, with an API key."""
    _require_browser()
    run = micro_checkpoint
    port = _free_port()
    cmd = [sys.executable, "-m", "slmkit", "serve", "--ckpt", str(run), "--port", str(port), "--api-key", API_KEY,
           "--feedback-dir", str(feedback_run / "feedback")]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"slm serve exited early: {proc.stdout.read()}")
            try:
                if http("GET", base + "/health", timeout=1).status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("slm serve did not become healthy within 60 s")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.fixture
def page(served):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 800})
            page.set_default_timeout(30_000)
            yield page
        finally:
            browser.close()


def _greedy_completion(base: str, prompt: str, max_tokens: int) -> str:
    body = {"model": _model_id(base), "prompt": prompt, "max_tokens": max_tokens, "temperature": 0}
    resp = http("POST", base + "/v1/completions", body, {"Authorization": f"Bearer {API_KEY}"})
    assert resp.status == 200, resp.text
    return resp.json()["choices"][0]["text"]


def _greedy_chat(base: str, message: str, max_tokens: int) -> str:
    body = {"model": _model_id(base), "messages": [{"role": "user", "content": message}], "max_tokens": max_tokens,
            "temperature": 0}
    resp = http("POST", base + "/v1/chat/completions", body, {"Authorization": f"Bearer {API_KEY}"})
    assert resp.status == 200, resp.text
    return resp.json()["choices"][0]["message"]["content"]


def _model_id(base: str) -> str:
    return http("GET", base + "/v1/models", headers={"Authorization": f"Bearer {API_KEY}"}).json()["data"][0]["id"]


def test_page_streams_a_story_and_a_chat_reply(served, page, tmp_path):
    page.goto(served + "/")
    # Without the key the model list is refused, and the page says so instead of failing silently.
    page.wait_for_function("document.getElementById('status').textContent.includes('401')")
    page.click("#settings summary")
    page.fill("#api-key", API_KEY)
    page.click("#save-key")
    page.wait_for_function("document.querySelectorAll('#model option').length >= 1")
    assert page.input_value("#model") == _model_id(served)

    # Story playground, greedy: the streamed text must equal the server's non-streamed answer, and it must arrive in
    # several pieces (a MutationObserver counts the updates of the output element).
    prompt = "Once upon a time"
    page.click("#tab-story")
    page.fill("#story-prompt", prompt)
    page.fill("#temperature", "0")
    page.fill("#max-tokens", "24")
    page.evaluate(
        """() => { window.__updates = 0;
                   new MutationObserver(() => window.__updates++).observe(
                       document.querySelector('#story-output .generated'),
                       {childList: true, characterData: true, subtree: true}); }"""
    )
    page.click("#story-generate")
    page.wait_for_function("document.getElementById('status').textContent.startsWith('Done')")
    streamed = page.text_content("#story-output .generated")
    assert streamed == _greedy_completion(served, prompt, 24)
    assert streamed.strip(), "the model wrote nothing"
    assert page.evaluate("window.__updates") > 1, "the story arrived in one piece: not streamed"
    assert page.text_content("#story-output .prompt") == prompt

    # Chat: Enter sends; a user bubble and a streamed assistant bubble appear.
    page.click("#tab-chat")
    page.fill("#chat-input", "Tell me about a cat.")
    page.press("#chat-input", "Enter")
    page.wait_for_function("document.getElementById('status').textContent.startsWith('Done')")
    assert page.text_content("#chat-log .msg.user") == "Tell me about a cat."
    assert "error" not in page.get_attribute("#chat-log .msg.assistant", "class")
    assert page.text_content("#chat-log .msg.assistant") == _greedy_chat(served, "Tell me about a cat.", 24)

    shot = tmp_path / "web_page.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    if os.environ.get("SLMKIT_SCREENSHOT_DIR"):  # keep a copy for docs / inspection
        shutil.copy(shot, Path(os.environ["SLMKIT_SCREENSHOT_DIR"]) / "web_page.png")


def test_rating_view_saves_ratings_that_feedback_build_reads(served, feedback_run, page, tmp_path):
    from slmkit.cli import main
    from slmkit.eval.feedback import load_ratings

    page.goto(served + "/")
    page.evaluate(f"localStorage.setItem('slm.apiKey', '{API_KEY}'); localStorage.setItem('slm.rater', 'ann')")
    page.reload()
    page.click("#tab-rate")
    page.wait_for_function("document.getElementById('rate-progress').textContent.startsWith('item 1 of 2')")
    assert page.text_content("#rate-prompt") == "Tell a story about a cat."
    assert page.is_hidden("#rate-b-box")  # one answer: no A/B choice
    page.check('input[name="score"][value="4"]')
    page.click("#rate-save")
    page.wait_for_function("document.getElementById('rate-progress').textContent.startsWith('item 2 of 2')")
    assert page.text_content("#rate-output-b") == "Blue is a fish."
    page.check('input[name="score"][value="2"]')
    page.check('input[name="preferred"][value="a"]')
    page.fill("#rate-correction", "Red is a colour.")
    page.click("#rate-save")
    page.wait_for_function("document.getElementById('status').textContent.includes('Saved rating of item 00002')")
    page.screenshot(path=str(tmp_path / "rating_view.png"), full_page=True)

    ratings = load_ratings(feedback_run / "feedback" / "ratings.jsonl")
    assert {k: (r["score"], r["preferred"], r["correction"]) for k, r in ratings.items()} == {
        ("00001", "ann"): (4, None, None), ("00002", "ann"): (2, "a", "Red is a colour.")}
    # the page's file is what `slm feedback build` reads: rated >= 4 -> SFT; correction and preference -> DPO pairs
    assert main(["feedback", "build", "--run", str(feedback_run)]) == 0
    sft = (feedback_run / "feedback" / "sft.jsonl").read_text()
    dpo = (feedback_run / "feedback" / "dpo.jsonl").read_text()
    assert "The cat slept." in sft and "Red is a colour." in sft
    assert '"chosen": "Red.", "rejected": "Blue is a fish."' in dpo
    # and `slm feedback import` reads it back into another run
    other = tmp_path / "other"
    (other / "feedback").mkdir(parents=True)
    shutil.copy(feedback_run / "feedback" / "items.jsonl", other / "feedback" / "items.jsonl")
    assert main(["feedback", "import", "--file", str(feedback_run / "feedback" / "ratings.jsonl"),
                 "--run", str(other)]) == 0
    assert len(load_ratings(other / "feedback" / "ratings.jsonl")) == 2
