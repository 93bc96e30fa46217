"""Load a self-contained checkpoint folder for inference: config.json + model.safetensors + tokenizer.json.

`path` may be a step folder (`ckpt/base/step_000500`), a stage folder (`ckpt/base`, uses its `latest`), or a run
directory (uses `ckpt/base/latest`). Never unpickles anything.

Example:
    loaded = load_checkpoint("runs/quickstart"); loaded.model, loaded.tokenizer
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_model

from slmkit.common.errors import InputError, MissingFileError
from slmkit.config import from_dict
from slmkit.model.config import ModelConfig
from slmkit.model.quantize import apply_quantization
from slmkit.model.transformer import Transformer
from slmkit.tokenizer import Tokenizer

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
TOKENIZER_FILE = "tokenizer.json"


@dataclass
class LoadedCheckpoint:
    model: Transformer
    tokenizer: Tokenizer
    config: dict[str, Any]  # the whole config.json (model config under "model")
    path: Path


def resolve_checkpoint_dir(path: Path | str, stage: str = "base") -> Path:
    """The step folder that `path` designates (see module docstring); clear error when there is none."""
    path = Path(path)
    if (path / CONFIG_FILE).is_file():
        return path
    for candidate in (path / "latest", path / "ckpt" / stage / "latest"):
        if candidate.exists() and (candidate / CONFIG_FILE).is_file():
            return candidate.resolve()
    if not path.exists():
        raise MissingFileError(path, expected="a checkpoint folder, a ckpt/<stage> folder or a run directory")
    raise MissingFileError(
        path / CONFIG_FILE,
        expected="a checkpoint folder with config.json and model.safetensors",
        hint="train one with `slm pretrain --run DIR` first",
    )


def read_model_config(ckpt_dir: Path) -> tuple[ModelConfig, dict[str, Any]]:
    """Parse config.json of a checkpoint folder into a ModelConfig (and the whole dict)."""
    cfg_path = ckpt_dir / CONFIG_FILE
    try:
        data = json.loads(cfg_path.read_text(encoding="utf-8"))
        model_cfg = from_dict(ModelConfig, data["model"], prefix="model")
    except (json.JSONDecodeError, KeyError, TypeError, UnicodeDecodeError):
        raise InputError(
            str(cfg_path), found="an unreadable config", expected="a slmkit checkpoint config.json"
        ) from None
    return model_cfg, data


def load_checkpoint(
    path: Path | str, device: str | torch.device = "cpu", stage: str = "base", quantize: str = "none"
) -> LoadedCheckpoint:
    """Build the model from a checkpoint folder and load its weights and tokenizer; `quantize="int8"` converts the
    linear layers for inference (`slmkit.model.quantize`)."""
    ckpt_dir = resolve_checkpoint_dir(path, stage)
    model_cfg, data = read_model_config(ckpt_dir)
    tok_path = ckpt_dir / TOKENIZER_FILE
    tokenizer = Tokenizer.from_file(tok_path)
    if tokenizer.vocab_size > model_cfg.vocab_size:
        raise InputError(
            str(tok_path),
            found=f"vocab size {tokenizer.vocab_size}",
            expected=f"at most the model's vocab_size {model_cfg.vocab_size}",
        )
    model = Transformer(model_cfg)
    load_weights(model, ckpt_dir / WEIGHTS_FILE)
    model.to(device).eval()
    apply_quantization(model, quantize)
    return LoadedCheckpoint(model=model, tokenizer=tokenizer, config=data, path=ckpt_dir)


def load_weights(model: torch.nn.Module, weights_path: Path) -> None:
    """Load safetensors weights into `model` strictly, turning corrupt files into a one-line error."""
    if not weights_path.is_file():
        raise MissingFileError(weights_path, expected="model weights in safetensors format")
    try:
        missing, unexpected = load_model(model, str(weights_path), strict=False)
    except (SafetensorError, RuntimeError, OSError) as exc:
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        raise InputError(
            str(weights_path), found=f"an unreadable file ({first})", expected="valid safetensors weights"
        ) from None
    if missing or unexpected:
        raise InputError(
            str(weights_path),
            found=f"missing {sorted(missing)[:3]} unexpected {sorted(unexpected)[:3]}",
            expected="weights matching config.json",
        )
