"""`slm scale` on micro sizes: one run directory per size, fits and plots written, finished points skipped and
shorter ones resumed."""

from __future__ import annotations

import json

import pytest

from slmkit.cli import main

pytest.importorskip("scipy")


@pytest.mark.slow
def test_scale_sweep_trains_fits_plots_and_resumes(encoded_run, tmp_path, capsys):
    sweep = tmp_path / "sweep"
    base = ["scale", "--run", str(sweep), "--data", str(encoded_run), "--sizes", "1x32", "2x32", "2x64",
            "--batch-size", "4", "--seq-len", "32", "--evals", "2", "--device", "cpu", "--threads", "1"]
    assert main([*base, "--max-steps", "10"]) == 0
    assert main([*base, "--max-steps", "20"]) == 0  # every point resumes from step 10
    out = capsys.readouterr().out
    assert out.count("(resuming)") == 3
    summary = json.loads((sweep / "scale.json").read_text())
    sizes = [p["size"] for p in summary["points"]]
    assert sorted(sizes) == ["1x32", "2x32", "2x64"]
    n = [p["n_params"] for p in summary["points"]]
    assert n == sorted(n) and n[0] < n[-1]
    for p in summary["points"]:
        assert [step for step, _, _ in p["curve"]] == [5, 10, 20]  # evals of both runs, no duplicates
        assert (sweep / p["size"] / "ckpt" / "base" / "latest").exists()
    assert summary["fit_n"] is not None and summary["fit_n"]["alpha"] >= 0
    assert summary["fit_nd"] is not None
    assert (sweep / "plots" / "scale_params.png").stat().st_size > 1000
    assert (sweep / "plots" / "scale_compute.png").stat().st_size > 1000
    assert (sweep / "plots" / "scale_abilities.png").stat().st_size > 1000
    assert all(0 <= p["name_recall"] <= 1 for p in summary["points"])
    assert main([*base, "--max-steps", "20"]) == 0
    assert capsys.readouterr().out.count("skipped") == 3


def test_bad_size_is_a_config_error(encoded_run, tmp_path, capsys):
    assert main(["scale", "--run", str(tmp_path), "--data", str(encoded_run), "--sizes", "2by64"]) != 0
    assert "sizes" in capsys.readouterr().err
