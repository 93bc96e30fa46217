"""`slm export onnx`: onnxruntime computes the same logits as slmkit (fp32, atol 1e-4) for dense architectures,
with dynamic batch and sequence length; mixtures of experts are refused with a one-line error."""

from __future__ import annotations

import pytest
import torch

from slmkit.cli import main
from slmkit.export.onnx import ExportONNXConfig, export_onnx_stage

onnxruntime = pytest.importorskip("onnxruntime")


@pytest.mark.parametrize("arch", ["llama", "llama-bias-untied", "gpt2"])
def test_onnxruntime_matches_slmkit(arch, make_ckpt, tmp_path):
    ckpt, model = make_ckpt(arch)
    out = tmp_path / "m.onnx"
    result = export_onnx_stage(ExportONNXConfig(ckpt=str(ckpt), out=str(out)))
    assert result["max_abs_logit_diff"] < 1e-4
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    idx = torch.randint(0, model.cfg.vocab_size, (3, 21))
    theirs = torch.from_numpy(session.run(["logits"], {"input_ids": idx.numpy()})[0])
    with torch.no_grad():
        torch.testing.assert_close(theirs, model(idx).logits, atol=1e-4, rtol=0)


def test_moe_is_refused(make_ckpt, tmp_path, capsys):
    ckpt, _ = make_ckpt("mixtral")
    assert main(["export", "onnx", "--ckpt", str(ckpt), "--out", str(tmp_path / "m.onnx")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "model.n_experts" in err
    assert not (tmp_path / "m.onnx").exists()
