"""LLM-as-judge: parsing and aggregation on fixed replies, and `slm judge` end to end over real HTTP (the official
`openai` client against a judge server on 127.0.0.1 that answers with known replies)."""

from __future__ import annotations

import json
import math

import pytest

from slmkit.cli import main
from slmkit.common.errors import ConfigError, InputError
from slmkit.eval.judge import aggregate_item, load_rubric, mean_ci95, parse_judgement, summarize
from tests.fake_chat import FakeChat, chat_completion

STORY = load_rubric("tinystories")
INSTRUCTION = load_rubric("instruction")


def test_parse_clean_and_wrapped_json():
    reply = 'Here you go:\n```json\n{"grammar": 8, "creativity": "6", "consistency": 7.5, "plot": 5, ' \
            '"age_group": "c"}\n```'
    assert parse_judgement(reply, STORY) == {"grammar": 8.0, "creativity": 6.0, "consistency": 7.5, "plot": 5.0,
                                             "age_group": "C"}
    assert parse_judgement('{"score": 85}', INSTRUCTION) == {"score": 85.0}


@pytest.mark.parametrize(
    ("reply", "why"),
    [("I liked it.", "no JSON object"), ('{"score": 85', "no JSON object"), ('{"score": 101}', "outside 0..100"),
     ('{"points": 3}', "missing 'score'"), ('{"score": "high"}', "not a number"), ("{'score': 5}", "invalid JSON")],
)
def test_parse_errors_say_why(reply, why):
    with pytest.raises(ValueError, match=why):
        parse_judgement(reply, INSTRUCTION)


def test_parse_rejects_unknown_label():
    with pytest.raises(ValueError, match="age_group"):
        parse_judgement('{"grammar": 1, "creativity": 1, "consistency": 1, "plot": 1, "age_group": "Z"}', STORY)


def test_mean_and_confidence_interval_by_hand():
    assert mean_ci95([5.0]) == (5.0, None)
    mean, ci = mean_ci95([1.0, 2.0, 3.0])  # sd 1, t(2) = 4.303
    assert mean == 2.0 and ci == pytest.approx(4.303 / math.sqrt(3))
    mean, ci = mean_ci95([6.0, 7.0])  # sd 0.7071, t(1) = 12.706
    assert mean == 6.5 and ci == pytest.approx(12.706 * 0.5)


def test_aggregate_and_summarize_fixed_judgements():
    samples = [{"scores": {"score": 80.0}}, {"scores": {"score": 90.0}}, {"error": "no JSON object in the reply"}]
    scores, labels = aggregate_item(samples, INSTRUCTION)
    assert scores["score"]["mean"] == 85.0 and scores["score"]["n"] == 2 and labels == {}
    results = [{"scores": scores, "labels": {}, "samples": samples},
               {"scores": {"score": {"mean": 65.0, "ci95": None, "n": 1}}, "labels": {}, "samples": samples[:1]}]
    summary = summarize(results, INSTRUCTION)
    assert summary["judgements"] == 4 and summary["failed"] == 1
    assert summary["scores"]["score"]["mean"] == 75.0 and summary["scores"]["score"]["n"] == 2
    story_samples = [{"scores": {"grammar": 5, "creativity": 5, "consistency": 5, "plot": 5, "age_group": g}}
                     for g in "CCB"]
    assert aggregate_item(story_samples, STORY)[1] == {"age_group": "C"}


def test_rubric_files(tmp_path):
    assert STORY.fields == ("prompt", "continuation") and set(STORY.labels["age_group"]) == set("ABCDEF")
    with pytest.raises(ConfigError, match="rubric"):
        load_rubric("no-such-rubric")
    custom = tmp_path / "mine.yaml"
    custom.write_text("template: 'Rate {text}'\nfields: [text]\nscores: {fun: [0, 5]}\n")
    rubric = load_rubric(str(custom))
    assert rubric.name == "mine" and rubric.prompt({"text": "hi"}, "x") == "Rate hi"
    with pytest.raises(InputError, match="rubric's fields"):
        rubric.prompt({"other": 1}, "items.jsonl item 3")
    schema = rubric.json_schema()
    assert schema["properties"]["fun"] == {"type": "number", "minimum": 0.0, "maximum": 5.0}


# ---- end to end over HTTP ------------------------------------------------------------------------------------------


def fake_judge(body: dict) -> tuple[int, dict]:
    """Known judgements: refuses `json_schema` (400) like many servers, answers prose first for items containing
    BROKEN (then valid JSON on the repair turn), creativity = 6 + seed % 2."""
    if (body.get("response_format") or {}).get("type") == "json_schema":
        return 400, {"error": {"message": "response_format json_schema is not supported",
                               "type": "invalid_request_error"}}
    prompt = body["messages"][1]["content"]
    if "BROKEN" in prompt and len(body["messages"]) == 2:
        return 200, chat_completion(body["model"], "What a lovely story, I would give it a good grade.")
    scores = {"grammar": 8, "creativity": 6 + body.get("seed", 0) % 2, "consistency": 7, "plot": 5, "age_group": "B"}
    return 200, chat_completion(body["model"], json.dumps(scores))


@pytest.fixture
def judge():
    with FakeChat(fake_judge) as fake:
        yield fake


def test_judge_command_end_to_end_with_repair_fallback_and_cache(judge, tmp_path, capsys):
    items = tmp_path / "stories.jsonl"
    items.write_text("".join(json.dumps({"prompt": p, "continuation": c}) + "\n" for p, c in
                             [("Tom had a ball.", " He played."), ("BROKEN story.", " It ends.")]))
    args = ["judge", "--base-url", judge.url, "--model", "fake-judge", "--items", str(items), "--samples", "2",
            "--temperature", "0.7", "--concurrency", "2", "--progress", "false"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "creativity" in out and "4 judgements, 0 unparseable" in out
    summary = json.loads((tmp_path / "stories.judge_summary.json").read_text())
    assert summary["scores"]["grammar"] == {"mean": 8.0, "ci95": 0.0, "n": 2}
    assert summary["scores"]["creativity"]["mean"] == 6.5  # seeds 0 and 1 -> 6 and 7 on every item
    assert summary["labels"] == {"age_group": {"B": 2}} and summary["repairs"] == 2
    results = [json.loads(line) for line in (tmp_path / "stories.judge.jsonl").read_text().splitlines()]
    assert results[0]["scores"]["creativity"]["ci95"] == pytest.approx(12.706 * 0.5)
    assert len(results[1]["samples"][0]["replies"]) == 2  # prose, then the repaired JSON
    types = [(r.get("response_format") or {}).get("type") for r in judge.requests]
    assert "json_schema" in types and "json_object" in types  # refused schema -> fell back to JSON mode
    assert {r["model"] for r in judge.requests} == {"fake-judge"}

    # A rerun is served from the cache: no new requests.
    before = len(judge.requests)
    assert main(args) == 0
    assert len(judge.requests) == before


def test_judge_bad_items_fail_before_any_request(judge, tmp_path, capsys):
    items = tmp_path / "items.jsonl"
    items.write_text(json.dumps({"prompt": "x"}) + "\n")  # no continuation
    code = main(["judge", "--base-url", judge.url, "--model", "m", "--items", str(items), "--progress", "false"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1 and "item 1" in err[0] and "continuation" in err[0]
    assert judge.requests == []
    assert main(["judge", "--base-url", judge.url, "--model", "m", "--items", str(items), "--samples", "3"]) != 0
    assert "temperature" in capsys.readouterr().err


def test_judge_end_to_end_against_slm_serve(micro_checkpoint, tmp_path, capsys):
    """The real server as the judge: a micro model cannot write JSON, so every judgement ends unparseable (its repair
    turn is answered badly, or refused as longer than the micro model's 64-token context) -- and the run still
    completes and reports that."""
    from slmkit.infer.load import load_checkpoint
    from slmkit.serve.app import ServeSettings, create_app
    from slmkit.serve.stage import ServerThread

    loaded = load_checkpoint(micro_checkpoint)
    items = tmp_path / "items.jsonl"
    items.write_text("".join(json.dumps({"response": w}) + "\n" for w in ("hi", "bye")))
    rubric = tmp_path / "short.yaml"  # the micro model's context is 64 tokens: a short rubric
    rubric.write_text("template: 'Rate: {response}'\nfields: [response]\nscores: {score: [0, 100]}\n")
    app = create_app(loaded.model, loaded.tokenizer, ServeSettings(model_id="micro"))
    with ServerThread(app) as server:
        assert main(["judge", "--base-url", server.url + "/v1", "--model", "micro", "--items", str(items),
                     "--rubric", str(rubric), "--max-tokens", "8", "--progress", "false"]) == 0
    summary = json.loads((tmp_path / "items.judge_summary.json").read_text())
    assert summary["items"] == 2 and summary["judgements"] == 2 and summary["repairs"] == 2
    results = [json.loads(line) for line in (tmp_path / "items.judge.jsonl").read_text().splitlines()]
    for result in results:
        sample = result["samples"][0]
        assert 1 <= len(sample["replies"]) <= 2 and ("error" in sample or "scores" in sample)
