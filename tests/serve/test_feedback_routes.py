"""The rating API over real HTTP: items listed per rater, ratings validated and appended, errors as OpenAI-style
JSON, the API key applied."""

from __future__ import annotations

import json

from slmkit.eval.feedback import write_items
from slmkit.infer.load import load_checkpoint
from slmkit.serve.app import ServeSettings, create_app
from slmkit.serve.stage import ServerThread
from tests.serve.http import http

KEY = {"Authorization": "Bearer k"}


def test_rating_routes(micro_checkpoint, tmp_path):
    loaded = load_checkpoint(micro_checkpoint)
    fdir = tmp_path / "feedback"
    app = create_app(loaded.model, loaded.tokenizer, ServeSettings(api_key="k", feedback_dir=fdir))
    with ServerThread(app) as server:
        url = server.url + "/v1/feedback"
        missing = http("GET", url + "/items", headers=KEY)
        assert missing.status == 404 and "slm feedback export" in missing.json()["error"]["message"]
        write_items([{"id": "1", "prompt": "P", "outputs": ["a"]}], fdir / "items.jsonl")
        assert http("GET", url + "/items").status == 401  # the API key applies
        listed = http("GET", url + "/items?rater=ann", headers=KEY).json()
        assert listed["data"][0]["id"] == "1" and listed["ratings"] == {}
        saved = http("POST", url + "/ratings", {"id": "1", "score": 5, "rater": "ann"}, KEY)
        assert saved.status == 200 and saved.json()["saved"]["score"] == 5
        assert http("GET", url + "/items?rater=ann", headers=KEY).json()["ratings"]["1"]["score"] == 5
        assert http("GET", url + "/items?rater=bob", headers=KEY).json()["ratings"] == {}
        for body, why in [({"id": "1", "score": 9}, "score 9"), ({"id": "7", "score": 3}, "id '7'"),
                          ({"id": "1", "preferred": "b"}, "one output"), ({"id": "1"}, "needs a score")]:
            bad = http("POST", url + "/ratings", body, KEY)
            assert bad.status == 400 and why in bad.json()["error"]["message"], (body, bad.text)
        assert http("POST", url + "/ratings", b"{not json", KEY).status == 400
    lines = (fdir / "ratings.jsonl").read_text().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["rater"] == "ann"
