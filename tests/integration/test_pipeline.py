"""Whole pipelines through the `slm` CLI on tiny settings: quickstart, and recipes that skip finished stages."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from slmkit.cli import main


@pytest.mark.slow
def test_quickstart_runs_every_stage_and_samples(tmp_path, capsys):
    run = tmp_path / "qs"
    code = main(["quickstart", "--run", str(run), "--stories", "300", "--vocab-size", "320", "--minutes", "0.1",
                 "--max-steps", "15", "--samples", "2"])
    assert code == 0
    out = capsys.readouterr().out
    assert out.count("Once upon a time") >= 2
    assert f"slm serve --ckpt {run}" in out  # the command that serves the model it trained
    for path in ("data/synth/stories.jsonl", "data/train.jsonl", "data/val.jsonl", "data/manifest.json",
                 "tokenizer/tokenizer.json", "shards/train.bin", "shards/meta.json", "ckpt/base/latest/config.json",
                 "metrics.jsonl", "plots/loss.png", "recipe.yaml", "eval/stories.json", "report.html", "report.md"):
        assert (run / path).exists(), path
    recipe = (run / "recipe.yaml").read_text()
    for stage in ("synth:", "prepare:", "tokenizer:", "encode:", "pretrain:"):
        assert stage in recipe
    report = (run / "report.html").read_text()
    for section in ("Model card", "Training curves", "Evaluation: stories", "data:image/png;base64"):
        assert section in report
    # a second quickstart finds every stage complete and only samples again
    assert main(["quickstart", "--run", str(run), "--stories", "300", "--vocab-size", "320", "--minutes", "0.1",
                 "--max-steps", "15", "--samples", "2"]) == 0
    assert capsys.readouterr().out.count("already complete, skipped") >= 5


@pytest.mark.slow
def test_recipe_resolves_paths_relative_to_the_recipe_and_resumes(tmp_path, capsys):
    data = tmp_path / "recipes" / "corpus.txt"
    data.parent.mkdir()
    from slmkit.data.synth import generate_stories

    data.write_text("\n<|endoftext|>\n".join(s.text for s in generate_stories(300, seed=3)) + "\n<|endoftext|>\n")
    recipe = data.parent / "r.yaml"
    recipe.write_text(
        "run: " + str(tmp_path / "out") + "\n"
        "stages:\n"
        "  prepare: {source: [corpus.txt]}\n"
        "  tokenizer: {vocab_size: 300}\n"
        "  encode: {}\n"
        "  pretrain: {preset: tiny, max_steps: 6, batch_size: 2, seq_len: 32, eval_interval: 3, ckpt_interval: 3,"
        " progress: false, sample_prompt: ''}\n"
    )
    assert main(["run", str(recipe)]) == 0
    out = tmp_path / "out"
    manifest = json.loads((out / "data" / "manifest.json").read_text())
    assert "corpus.txt" in json.dumps(manifest)
    assert (out / "ckpt/base/step_000006").is_dir()
    # longer training in the same recipe: earlier stages are skipped, pre-training resumes at step 6
    recipe.write_text(recipe.read_text().replace("max_steps: 6", "max_steps: 9"))
    capsys.readouterr()
    assert main(["run", str(recipe)]) == 0
    printed = capsys.readouterr().out
    assert printed.count("already complete, skipped") == 3
    assert "resumed from" in printed and "at step 6" in printed
    assert (out / "ckpt/base/step_000009").is_dir()


def test_cli_help_lists_commands_and_options(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    top = capsys.readouterr().out
    for word in ("quickstart", "data", "tokenizer", "pretrain", "run", "eval", "generate"):
        assert word in top
    with pytest.raises(SystemExit):
        main(["pretrain", "--help"])
    text = capsys.readouterr().out
    for flag in ("--optim.lr", "--model.d_model", "--max-steps", "--max-minutes", "--resume", "--config"):
        assert flag in text


def test_cli_errors_are_one_line_with_exit_2(tmp_path, capsys):
    assert main(["pretrain", "--run", str(tmp_path / "none"), "--optim.lr", "-3"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: optim.lr: found -3.0, expected a positive learning rate"
    assert main(["run", str(tmp_path / "missing.yaml")]) == 2
    assert "missing.yaml: not found" in capsys.readouterr().err
    assert main(["pretrain", "--run", str(tmp_path / "empty")]) == 2
    assert "tokenizer.json: not found" in capsys.readouterr().err
    cfg = tmp_path / "c.yaml"
    cfg.write_text("run: x\nmodel: {n_heads: 3, d_model: 64}\n")
    assert main(["pretrain", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: model.") and ("n_heads" in err or "d_model" in err)


def test_config_file_then_flags(tmp_path):
    from slmkit.config import build_config, load_yaml
    from slmkit.train.pretrain import PretrainConfig

    cfg_file = tmp_path / "c.yaml"
    cfg_file.write_text("run: r\npreset: small\nmodel: {n_layers: 3}\noptim: {lr: 0.002}\n")
    cfg = build_config(PretrainConfig, load_yaml(cfg_file), {"optim.lr": "0.004"})
    assert cfg.model.n_layers == 3 and cfg.optim.lr == pytest.approx(0.004)
    from slmkit.model.config import PRESETS

    assert cfg.model.d_model == PRESETS["small"].d_model  # the preset fills what the file leaves out
    assert Path(cfg.run) == Path("r")
