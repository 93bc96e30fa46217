"""`slm eval tasks`: few-shot label scoring against a direct computation, instruction-following checks on generated
stories, and metrics of fine-tuned classify / summarize checkpoints."""

from __future__ import annotations

import json

import pytest
import torch

from slmkit.cli import main
from slmkit.data.synth import generate_stories
from slmkit.eval.task_eval import label_logprobs
from slmkit.infer.load import load_checkpoint
from tests.train.test_finetune import COMMON, micro_base  # noqa: F401 (fixture)


def test_label_logprobs_equal_a_direct_computation(micro_checkpoint):
    loaded = load_checkpoint(micro_checkpoint)
    model, tok = loaded.model.eval(), loaded.tokenizer
    prompt = [tok.eot_id] + tok.encode("Input: Tom lost his ball.\nOutput:")
    labels = [tok.encode(" happy"), tok.encode(" sad")]
    scores = label_logprobs(model, prompt, labels, model.cfg.context_length, "cpu")
    for ids, score in zip(labels, scores, strict=True):
        with torch.no_grad():
            logp = torch.log_softmax(model(torch.tensor([prompt + ids])).logits[0], dim=-1)
        direct = sum(float(logp[len(prompt) + j - 1, t]) for j, t in enumerate(ids))
        assert score == pytest.approx(direct, abs=1e-4)


def test_fewshot_synthetic_and_from_a_file(micro_checkpoint, tmp_path, capsys):
    out = tmp_path / "fewshot.json"
    assert main(["eval", "tasks", "fewshot", "--ckpt", str(micro_checkpoint), "--n", "12", "--shots", "0", "1", "2",
                 "--out", str(out)]) == 0
    metrics = json.loads(out.read_text())["metrics"]
    assert metrics["labels"] == ["happy", "sad"] and metrics["queries"] == 12
    assert set(metrics["by_shots"]) == {"0", "1", "2"}
    for k in ("0", "1", "2"):
        assert 0 <= metrics["by_shots"][k]["accuracy"] <= 1 and 0 <= metrics["by_shots"][k]["prompts_fit"] <= 1
    fit = [metrics["by_shots"][k]["prompts_fit"] for k in ("0", "1", "2")]
    assert fit == sorted(fit, reverse=True)  # more examples, fewer prompts fit the micro model's 64 tokens
    data = tmp_path / "items.jsonl"
    data.write_text("".join(json.dumps({"text": f"word {i}", "label": "yes" if i % 2 else "no"}) + "\n"
                            for i in range(8)))
    assert main(["eval", "tasks", "fewshot", "--ckpt", str(micro_checkpoint), "--data", str(data), "--n", "4",
                 "--shots", "0", "3", "--out", str(out)]) == 0
    metrics = json.loads(out.read_text())["metrics"]
    assert metrics["labels"] == ["no", "yes"] and metrics["majority_baseline"] == 0.5
    capsys.readouterr()
    assert main(["eval", "tasks", "fewshot", "--ckpt", str(micro_checkpoint), "--data", str(data), "--n", "4",
                 "--shots", "9"]) != 0
    assert "shots" in capsys.readouterr().err


def test_instruct_following_report(micro_checkpoint, tmp_path):
    out = tmp_path / "instruct.json"
    assert main(["eval", "tasks", "instruct", "--ckpt", str(micro_checkpoint), "--n", "3", "--max-tokens", "24",
                 "--out", str(out)]) == 0
    metrics = json.loads(out.read_text())["metrics"]
    assert metrics["items"] == 3 and metrics["format"] == "text"
    assert set(metrics["satisfied"]) == {"words", "features", "names", "length", "all"}
    assert metrics["satisfied"]["all"] <= min(metrics["satisfied"]["words"], metrics["satisfied"]["features"])
    assert metrics["samples"][0]["prompt"].startswith("Features:") or "Words:" in metrics["samples"][0]["prompt"]


def test_finetuned_classify_and_summarize_checkpoints(micro_base, tmp_path):  # noqa: F811
    stories = list(generate_stories(40, seed=17))
    tsv = tmp_path / "endings.tsv"  # the SMS Spam layout: label<TAB>text
    tsv.write_text("".join(f"{s.label['ending']}\t{s.summary}\n" for s in stories))
    run = tmp_path / "ft"
    ckpt = str(micro_base / "ckpt" / "base")
    assert main(["finetune", "classify", "--ckpt", ckpt, "--data", str(tsv), "--run", str(run), "--max-steps", "3",
                 "--val-size", "5", "--test-size", "0", *COMMON]) == 0
    out = tmp_path / "classify.json"
    assert main(["eval", "tasks", "classify", "--ckpt", str(run), "--data", str(tsv), "--n", "20",
                 "--out", str(out)]) == 0
    report = json.loads(out.read_text())["metrics"]
    assert report["n"] == 20 and 0 <= report["accuracy"] <= 1 and len(report["confusion"]) == 2

    jsonl = tmp_path / "summaries.jsonl"
    jsonl.write_text("".join(json.dumps({"dialogue": s.text, "summary": s.summary}) + "\n" for s in stories))
    assert main(["finetune", "summarize", "--ckpt", ckpt, "--data", str(jsonl), "--run", str(run),
                 "--max-steps", "2", "--val-size", "4", "--test-size", "0", *COMMON]) == 0
    out = tmp_path / "summarize.json"
    assert main(["eval", "tasks", "summarize", "--ckpt", str(run / "ckpt" / "summarize"), "--data", str(jsonl),
                 "--n", "3", "--out", str(out)]) == 0
    report = json.loads(out.read_text())["metrics"]
    assert {"rouge1", "rougeL", "baseline_rougeL"} <= set(report) and report["n"] == 3
