"""A command whose optional package is missing says which extra to install, in one line, instead of a traceback."""

from __future__ import annotations

import builtins

from slmkit.cli import main, missing_package_message


def test_missing_optional_package_messages():
    direct = ModuleNotFoundError("No module named 'gguf'", name="gguf")
    assert missing_package_message(direct, "export gguf") == (
        "`slm export gguf` needs the optional package 'gguf': pip install 'slmkit[export]'")
    wrapped = RuntimeError("Module onnx is not installed!")
    wrapped.__cause__ = ModuleNotFoundError("No module named 'onnx'", name="onnx")
    assert "slmkit[onnx]" in missing_package_message(wrapped, "export onnx")
    assert missing_package_message(ModuleNotFoundError("x", name="slmkit.nope"), "x") is None  # a bug, not setup
    assert missing_package_message(ValueError("boom"), "x") is None


def test_cli_prints_one_line_when_an_extra_is_missing(micro_checkpoint, tmp_path, monkeypatch, capsys):
    real_import = builtins.__import__

    def no_gguf(name, *args, **kwargs):
        if name == "gguf" or name.startswith("gguf."):
            raise ModuleNotFoundError(f"No module named '{name}'", name=name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_gguf)
    code = main(["export", "gguf", "--ckpt", str(micro_checkpoint), "--out", str(tmp_path / "m.gguf")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err == ["error: `slm export gguf` needs the optional package 'gguf': pip install 'slmkit[export]'"]
