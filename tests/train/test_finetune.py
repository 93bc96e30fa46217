"""`slm finetune <task>` end to end on a micro model: one CLI run per task, best checkpoint, early stopping,
exact resume, LoRA export, a Hugging Face teacher, and one-line errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from slmkit.cli import main
from slmkit.config import build_config
from slmkit.data.synth import generate_stories
from slmkit.infer.load import load_checkpoint
from slmkit.train.finetune import FinetuneConfig, finetune_stage
from slmkit.train.metrics_log import read_metrics
from slmkit.train.pretrain import PretrainConfig, pretrain_stage
from tests.conftest import MICRO_MODEL

COMMON = ["--batch-size", "8", "--progress", "false", "--threads", "1", "--log-interval", "1"]


@pytest.fixture(scope="module")
def micro_base(encoded_run, tmp_path_factory) -> Path:
    """A micro model pre-trained for a few steps (the base every fine-tuning test starts from)."""
    run = tmp_path_factory.mktemp("base") / "run"
    shutil.copytree(encoded_run, run)
    opts = {**MICRO_MODEL, "run": str(run), "batch_size": 4, "max_steps": 10, "progress": False, "sample_prompt": "",
            "threads": 1, "optim.warmup_steps": 2}
    pretrain_stage(build_config(PretrainConfig, {}, opts))
    return run


@pytest.fixture(scope="module")
def stories(tmp_path_factory) -> Path:
    """Synthetic stories with their annotations (labels, summaries, translations) as jsonl."""
    path = tmp_path_factory.mktemp("stories") / "stories.jsonl"
    records = [s.to_record() for s in generate_stories(60, seed=11)]
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def _ckpt(micro_base: Path) -> str:
    return str(micro_base / "ckpt" / "base")


def _summary(run: Path, task: str) -> dict:
    return json.loads((run / "eval" / f"finetune_{task}.json").read_text())


def test_classify_cli_end_to_end_and_slm_classify(micro_base, stories, tmp_path, capsys):
    run = tmp_path / "ft"
    rc = main(["finetune", "classify", "--ckpt", _ckpt(micro_base), "--data", str(stories), "--run", str(run),
               "--classify.label-field", "label.ending", "--epochs", "2", "--val-size", "10", "--test-size", "10",
               *COMMON])
    assert rc == 0
    summary = _summary(run, "classify")
    assert summary["test"]["n"] == 10 and 0 <= summary["test"]["accuracy"] <= 1
    assert len(summary["test"]["confusion"]) == 2 and summary["test"]["labels"] == ["happy", "sad"]
    best = run / "ckpt" / "classify" / "best" / "latest"
    config = json.loads((best / "config.json").read_text())
    assert config["finetune"]["task"] == "classify" and config["finetune"]["labels"] == ["happy", "sad"]
    assert set(load_file(str(best / "head.safetensors"))) == {"weight", "bias"}
    load_checkpoint(best)  # an ordinary checkpoint for the LM part
    capsys.readouterr()
    assert main(["classify", "--ckpt", str(run), "The end was happy.", "They cried."]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and all(line.split("\t")[0] in ("happy", "sad") for line in lines)


def test_classify_lora_label_token_exports_a_merged_checkpoint(micro_base, stories, tmp_path):
    run = tmp_path / "ft"
    rc = main(["finetune", "classify", "--ckpt", _ckpt(micro_base), "--data", str(stories), "--run", str(run),
               "--classify.label-field", "label.ending", "--classify.mode", "label_token", "--trainable", "lora",
               "--lora.rank", "2", "--max-steps", "4", "--eval-interval", "2", *COMMON])
    assert rc == 0
    ckpt = run / "ckpt" / "classify" / "latest"
    config = json.loads((ckpt / "config.json").read_text())
    assert config["finetune"]["lora"]["rank"] == 2 and config["finetune"]["lora"]["merged"] is True
    assert all("lora_" in k for k in load_file(str(ckpt / "trainable.safetensors")))
    merged = load_checkpoint(ckpt).model  # plain Transformer keys: LoRA merged in
    base = load_checkpoint(_ckpt(micro_base)).model
    qkv = "blocks.0.attn.qkv.weight"
    assert not torch.equal(merged.state_dict()[qkv], base.state_dict()[qkv])
    assert torch.equal(merged.state_dict()["wte.weight"], base.state_dict()["wte.weight"])  # frozen


@pytest.mark.slow
def test_summarize_and_translate_cli_with_baselines(micro_base, stories, tmp_path):
    run = tmp_path / "ft"
    assert main(["finetune", "summarize", "--ckpt", _ckpt(micro_base), "--data", str(stories), "--run", str(run),
                 "--max-steps", "3", "--val-size", "5", "--test-size", "4", "--seq2seq.max-new-tokens", "8",
                 *COMMON]) == 0
    test = _summary(run, "summarize")["test"]
    assert {"rouge1", "rouge2", "rougeL", "baseline_rougeL"} <= set(test) and test["n"] == 4
    pairs = tmp_path / "pairs.txt"  # Tatoeba layout: english<TAB>french<TAB>attribution
    rows = [p for s in generate_stories(10, seed=2) for p in s.translations]
    pairs.write_text("".join(f"{p['en']}\t{p['fr']}\tCC-BY\n" for p in rows), encoding="utf-8")
    assert main(["finetune", "translate", "--ckpt", _ckpt(micro_base), "--data", str(pairs), "--run", str(run),
                 "--max-steps", "3", "--val-size", "5", "--test-size", "5", "--seq2seq.max-new-tokens", "8",
                 *COMMON]) == 0
    test = _summary(run, "translate")["test"]
    assert {"bleu", "chrf", "baseline_chrf"} <= set(test)


def test_instruct_cli_records_the_chat_format(micro_base, tmp_path):
    data = tmp_path / "chat.jsonl"
    rows = [{"messages": [{"role": "user", "content": f"Say {w}."}, {"role": "assistant", "content": w}]}
            for w in ["dog", "cat", "sun", "tree", "ball", "cake", "hat", "fish", "bird", "boat"] * 2]
    data.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    run = tmp_path / "ft"
    assert main(["finetune", "instruct", "--ckpt", _ckpt(micro_base), "--data", str(data), "--run", str(run),
                 "--max-steps", "4", "--val-size", "3", "--test-size", "3", "--instruct.max-new-tokens", "5",
                 *COMMON]) == 0
    test = _summary(run, "instruct")["test"]
    assert len(test["samples"]) == 3 and test["samples"][0]["prompt"].startswith("<|user|>")
    loaded = load_checkpoint(run / "ckpt" / "instruct")
    assert loaded.config["finetune"]["format"] == "chat" and "chat_template" in loaded.config["finetune"]
    assert (run / "plots" / "loss_instruct.png").is_file()


@pytest.mark.slow
def test_distill_from_slmkit_teacher_and_hf_teacher(micro_base, tmp_path):
    run = tmp_path / "kd"
    args = ["finetune", "distill", "--data", str(micro_base / "shards"), "--run", str(run), "--max-steps", "3",
            "--distill.seq-len", "32", "--distill.eval-batches", "2", "--distill.student-preset", "tiny", *COMMON]
    assert main([*args, "--distill.teacher", _ckpt(micro_base)]) == 0
    summary = _summary(run, "distill")
    assert summary["test"]["bits_per_byte"] > 0
    assert load_checkpoint(run / "ckpt" / "distill").config["finetune"]["teacher"]["kind"] == "slmkit"

    from transformers import LlamaConfig, LlamaForCausalLM

    hf_dir = tmp_path / "hf-teacher"
    torch.manual_seed(0)
    hf = LlamaForCausalLM(LlamaConfig(vocab_size=384, hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                                      num_attention_heads=2, max_position_embeddings=64))
    hf.save_pretrained(hf_dir, safe_serialization=True)
    shutil.copy(micro_base / "tokenizer" / "tokenizer.json", hf_dir / "tokenizer.json")
    assert main([*args, "--distill.teacher", str(hf_dir), "--stage", "distill_hf"]) == 0
    assert _summary(run, "distill_hf")["test"]["bits_per_byte"] > 0

    other = json.loads((hf_dir / "tokenizer.json").read_text())
    vocab = other["model"]["vocab"]
    a, b = list(vocab)[20], list(vocab)[21]
    vocab[a], vocab[b] = vocab[b], vocab[a]
    (hf_dir / "tokenizer.json").write_text(json.dumps(other))
    assert main([*args, "--distill.teacher", str(hf_dir), "--stage", "distill_bad"]) == 2


def _classify_cfg(micro_base, stories, run, **extra):
    opts = {"task": "classify", "ckpt": _ckpt(micro_base), "data": str(stories), "run": str(run),
            "classify.label_field": "label.ending", "batch_size": 8, "progress": False, "threads": 1,
            "log_interval": 1, **extra}
    return build_config(FinetuneConfig, {}, opts)


def test_resume_is_exact(micro_base, stories, tmp_path):
    straight = tmp_path / "a"
    finetune_stage(_classify_cfg(micro_base, stories, straight, max_steps=8, eval_interval=4, trainable="lora"))
    resumed = tmp_path / "b"
    finetune_stage(_classify_cfg(micro_base, stories, resumed, max_steps=4, eval_interval=4, trainable="lora"))
    finetune_stage(_classify_cfg(micro_base, stories, resumed, max_steps=8, eval_interval=4, trainable="lora",
                                 resume=True))

    def losses(run):
        return {r["step"]: r["train/loss"] for r in read_metrics(run / "metrics_classify.jsonl") if "train/loss" in r}

    assert losses(straight) == losses(resumed) and set(losses(straight)) == set(range(1, 9))
    a = load_file(str(straight / "ckpt" / "classify" / "latest" / "trainable.safetensors"))
    b = load_file(str(resumed / "ckpt" / "classify" / "latest" / "trainable.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_early_stopping_and_best_checkpoint(micro_base, stories, tmp_path):
    run = tmp_path / "es"
    # a huge learning rate makes validation worse after the first evaluation: patience 1 stops at the second
    summary = finetune_stage(_classify_cfg(micro_base, stories, run, max_steps=40, eval_interval=2, patience=1,
                                           **{"optim.lr": 0.5, "optim.warmup_steps": 0}))
    assert summary["step"] < 40
    evals = [r for r in read_metrics(run / "metrics_classify.jsonl") if "val/accuracy" in r]
    best = max(evals, key=lambda r: (r["val/accuracy"], -r["step"]))
    assert summary["best_step"] == best["step"]
    assert json.loads((run / "ckpt" / "classify" / "best" / "latest" / "trainer_state.json").read_text())[
        "step"] == best["step"]


def test_eval_at_start_scores_the_starting_model_once(micro_base, stories, tmp_path):
    run = tmp_path / "start"
    opts = {"eval_interval": 2, "eval_at_start": True, "optim.lr": 0.5, "optim.warmup_steps": 0}
    finetune_stage(_classify_cfg(micro_base, stories, run, max_steps=2, **opts))
    summary = finetune_stage(_classify_cfg(micro_base, stories, run, max_steps=4, resume=True, **opts))
    evals = [r for r in read_metrics(run / "metrics_classify.jsonl") if "val/accuracy" in r]
    assert [r["step"] for r in evals] == [0, 2, 4]  # the resumed run does not score its start again
    best = max(evals, key=lambda r: (r["val/accuracy"], -r["step"]))
    assert summary["best_step"] == best["step"]  # the starting model competes for the best checkpoint


def test_bad_inputs_are_one_line_errors(micro_base, stories, tmp_path, capsys):
    bad = tmp_path / "bad.tsv"
    bad.write_text("ham\thello\nspam\n", encoding="utf-8")
    base = ["finetune", "classify", "--ckpt", _ckpt(micro_base), "--run", str(tmp_path / "r"), *COMMON]
    assert main([*base, "--data", str(bad)]) == 2
    assert "bad.tsv:2: found '1 field(s)'" in capsys.readouterr().err
    assert main([*base, "--data", str(stories)]) == 2  # stories have no string 'label' field
    err = capsys.readouterr().err.strip()
    assert "field 'label'" in err and len(err.splitlines()) == 1
    assert main([*base, "--data", str(stories), "--classify.label-field", "label.ending",
                 "--classify.labels", "happy", "glad"]) == 2
    assert "expected one of" in capsys.readouterr().err
    assert main(["finetune", "classify", "--data", str(stories)]) == 2
    assert "ckpt" in capsys.readouterr().err


def test_sequence_level_distillation_trains_on_teacher_samples(micro_base, tmp_path, capsys):
    run = tmp_path / "seqkd"
    assert main(["finetune", "distill", "--data", str(micro_base / "shards"), "--run", str(run), "--max-steps", "2",
                 "--distill.teacher", _ckpt(micro_base), "--distill.mode", "sequence", "--distill.n-sequences", "4",
                 "--distill.sample-tokens", "20", "--distill.seq-len", "16", "--distill.eval-batches", "1",
                 *COMMON]) == 0
    assert "sequence-level distillation:" in capsys.readouterr().out
    assert load_checkpoint(run / "ckpt" / "distill").config["finetune"]["mode"] == "sequence"
