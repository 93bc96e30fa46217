"""`slm report`: the HTML and Markdown report of a run, built only from the files its stages wrote."""

from __future__ import annotations

import json
import shutil

from slmkit.cli import main
from slmkit.eval.report import flatten


def test_flatten():
    assert flatten({"a": {"b": 1, "c": {"d": 2.5}}, "e": [1, 2], "f": "x"}) == {"a.b": 1, "a.c.d": 2.5, "f": "x"}


def test_report_of_a_trained_and_evaluated_run(micro_checkpoint, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(micro_checkpoint, run)
    (run / "eval").mkdir(exist_ok=True)
    (run / "eval" / "lm.json").write_text(json.dumps({"bits_per_byte": 2.345, "per_source": {"a.txt": {"loss": 1.5}}}))
    judge = {"rubric": "tinystories", "model": "judge-x", "scores": {"grammar": {"mean": 6.5, "ci95": 0.4, "n": 10}},
             "labels": {"age_group": {"B": 7, "C": 3}}}
    (run / "eval" / "stories_samples.judge_summary.json").write_text(json.dumps(judge))
    (run / "samples").mkdir(exist_ok=True)
    (run / "samples" / "base.jsonl").write_text(json.dumps({"step": 40, "text": "Once upon a <time> & a cat."}) + "\n")
    assert main(["report", "--run", str(run)]) == 0
    page = (run / "report.html").read_text()
    markdown = (run / "report.md").read_text()
    for text in ("Model card", "Data and tokenizer", "Training curves", "Evaluation: lm", "per_source.a.txt.loss",
                 "2.345", "Judge: tinystories rubric, judge model judge-x", "grammar", "6.5", "Sample stories",
                 "Once upon a &lt;time&gt; &amp; a cat."):
        assert text in page, text
    assert page.count("data:image/png;base64,") >= 2  # plots embedded: the HTML stands alone
    assert "src=\"plots/" not in page
    images = [line.split("(")[1].rstrip(")") for line in markdown.splitlines() if line.startswith("![")]
    assert images and all((run / image).is_file() for image in images)  # markdown links resolve
    assert "| grammar | 6.5 | 0.4 | 10 |" in markdown


def test_report_of_an_empty_run_and_a_missing_one(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["report", "--run", str(tmp_path / "empty")]) == 0
    assert "slmkit run report" in (tmp_path / "empty" / "report.html").read_text()
    assert main(["report", "--run", str(tmp_path / "nope")]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "nope" in err[0]
