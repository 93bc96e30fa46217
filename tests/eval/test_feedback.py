"""Human feedback: items out (jsonl + csv), ratings in (csv, jsonl), and SFT / DPO data built from them."""

from __future__ import annotations

import csv
import json

import pytest

from slmkit.cli import main
from slmkit.common.errors import InputError
from slmkit.eval.feedback import build_training_data, load_ratings, validate_rating

ITEMS = {"1": {"id": "1", "prompt": "P1", "outputs": ["a1", "b1"]}, "2": {"id": "2", "prompt": "P2", "outputs": ["a2"]}}


def test_validate_rating():
    assert validate_rating({"id": "1", "score": "4.0", "preferred": "B", "correction": " "}, "row 2", ITEMS) == {
        "id": "1", "score": 4, "preferred": "b", "correction": None, "rater": "anonymous"}
    assert validate_rating({"id": "1", "score": "", "preferred": "", "correction": ""}, "row 3", ITEMS) is None
    for raw, why in [({"id": "1", "score": "6"}, "score 6"), ({"id": "1", "score": "good"}, "score 'good'"),
                     ({"id": "1", "preferred": "c"}, "preferred 'c'"), ({"id": "9", "score": 3}, "id '9'"),
                     ({"id": "2", "preferred": "b"}, "one output"), ({"score": 3}, "no id")]:
        with pytest.raises(InputError, match=why):
            validate_rating(raw, "ratings.csv:4", ITEMS)


def test_build_training_data_by_hand():
    ratings = [
        {"id": "1", "score": 5, "preferred": "b", "correction": None, "rater": "x"},  # b is good and beats a
        {"id": "2", "score": 2, "preferred": None, "correction": "fixed a2", "rater": "x"},  # corrected a bad answer
    ]
    sft, dpo = build_training_data(ITEMS, ratings)
    assert [(r["prompt"], r["response"]) for r in sft] == [("P1", "b1"), ("P2", "fixed a2")]
    assert [(r["prompt"], r["chosen"], r["rejected"]) for r in dpo] == [("P1", "b1", "a1"), ("P2", "fixed a2", "a2")]
    # judge scores rank the two outputs of item 1 (a: 80 > b: 40) and accept answers >= 70
    judged = [{"item": {"id": "1", "output_index": 0}, "scores": {"score": {"mean": 80.0}}},
              {"item": {"id": "1", "output_index": 1}, "scores": {"score": {"mean": 40.0}}}]
    sft, dpo = build_training_data(ITEMS, [], judged, judge_min=70)
    assert [(r["response"], r["source"]) for r in sft] == [("a1", "judge")]
    assert [(r["chosen"], r["rejected"]) for r in dpo] == [("a1", "b1")]


def test_export_rate_import_build_round_trip(tmp_path, capsys):
    records = tmp_path / "run" / "eval" / "samples.jsonl"
    records.parent.mkdir(parents=True)
    records.write_text("".join(json.dumps({"prompt": f"Story {i}.", "continuation": f" End {i}."}) + "\n"
                               for i in range(3)))
    run = tmp_path / "run"
    assert main(["feedback", "export", "--records", str(records), "--run", str(run)]) == 0
    fdir = run / "feedback"
    items = [json.loads(line) for line in (fdir / "items.jsonl").read_text().splitlines()]
    assert [it["outputs"] for it in items] == [[" End 0."], [" End 1."], [" End 2."]]
    judge_items = [json.loads(line) for line in (fdir / "judge_items.jsonl").read_text().splitlines()]
    assert judge_items[0]["continuation"] == " End 0." and judge_items[0]["output_index"] == 0

    # an annotator fills in the CSV: rates item 1, corrects item 2, leaves item 3
    with (fdir / "items.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    rows[0].update(score="5", rater="ann")
    rows[1].update(score="1", correction=" The end, happily.", rater="ann")
    filled = tmp_path / "filled.csv"
    with filled.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    assert main(["feedback", "import", "--file", str(filled), "--run", str(run)]) == 0
    # a later JSONL rating of item 1 by the same rater replaces the earlier one
    later = tmp_path / "later.jsonl"
    later.write_text(json.dumps({"id": "00001", "score": 4, "rater": "ann"}) + "\n")
    assert main(["feedback", "import", "--file", str(later), "--run", str(run)]) == 0
    ratings = load_ratings(fdir / "ratings.jsonl")
    assert len(ratings) == 2 and ratings[("00001", "ann")]["score"] == 4

    assert main(["feedback", "build", "--run", str(run)]) == 0
    sft = [json.loads(line) for line in (fdir / "sft.jsonl").read_text().splitlines()]
    dpo = [json.loads(line) for line in (fdir / "dpo.jsonl").read_text().splitlines()]
    assert {(r["prompt"], r["response"]) for r in sft} == {("Story 0.", " End 0."), ("Story 1.", "The end, happily.")}
    assert [(r["chosen"], r["rejected"]) for r in dpo] == [("The end, happily.", " End 1.")]


def test_bad_ratings_file_writes_nothing(tmp_path, capsys):
    records = tmp_path / "s.jsonl"
    records.write_text(json.dumps({"prompt": "P", "output": "O"}) + "\n")
    assert main(["feedback", "export", "--records", str(records), "--run", str(tmp_path)]) == 0
    bad = tmp_path / "bad.csv"
    bad.write_text("id,score\n00001,4\n00001,9\n")
    assert main(["feedback", "import", "--file", str(bad), "--run", str(tmp_path)]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.csv:3" in err[0] and "score 9" in err[0]
    assert not (tmp_path / "feedback" / "ratings.jsonl").exists()


def test_export_generates_two_outputs_from_a_checkpoint(micro_checkpoint, tmp_path, capsys):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("Once upon a time\nThe dog\n")
    out = tmp_path / "items.jsonl"
    assert main(["feedback", "export", "--ckpt", str(micro_checkpoint), "--prompts", str(prompts), "--outputs", "2",
                 "--max-tokens", "12", "--out", str(out)]) == 0
    items = [json.loads(line) for line in out.read_text().splitlines()]
    assert [it["prompt"] for it in items] == ["Once upon a time", "The dog"]
    assert all(len(it["outputs"]) == 2 for it in items)
    assert any(it["outputs"][0] != it["outputs"][1] for it in items)  # two seeds, two different samples
