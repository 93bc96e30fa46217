"""Self-contained checkpoint folders, written atomically, with a `latest` pointer and keep-last-N.

Layout of `ckpt/<stage>/step_000500/`:
    config.json            model config (+ the stage's resolved config)
    model.safetensors      weights
    tokenizer.json         the tokenizer the model was trained with
    optimizer.safetensors  optimizer tensors; optimizer.json holds the rest of its state (no pickle anywhere)
    trainer_state.json     step, tokens seen, RNG states, data position, best validation loss

Example:
    save_checkpoint(stage_dir, 500, model, optimizer, state, model_cfg, tokenizer_path)
    restored = load_training_state(latest_checkpoint(stage_dir), model, optimizer)
"""

from __future__ import annotations

import base64
import json
import os
import random
import re
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file, save_model

from slmkit.common.atomic import atomic_dir
from slmkit.common.errors import ConfigError, InputError
from slmkit.config import to_dict
from slmkit.infer.load import CONFIG_FILE, TOKENIZER_FILE, WEIGHTS_FILE, load_weights
from slmkit.model.config import ModelConfig

STEP_DIR = re.compile(r"^step_(\d+)$")
TRAINER_STATE_FILE = "trainer_state.json"
OPTIMIZER_FILE = "optimizer.safetensors"
OPTIMIZER_META_FILE = "optimizer.json"


# ------------------------------------------------------------------------------------ optimizer state, no pickle
def _flatten(obj: Any, prefix: str, tensors: dict[str, torch.Tensor]) -> Any:
    """Replace every tensor in a nested dict/list by a reference, collecting tensors under dotted keys."""
    if isinstance(obj, torch.Tensor):
        key = prefix or "root"
        tensors[key] = obj.detach().to("cpu").contiguous()
        return {"__tensor__": key}
    if isinstance(obj, dict):
        return {"__dict__": [[k, _flatten(v, f"{prefix}.{k}", tensors)] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        return [_flatten(v, f"{prefix}.{i}", tensors) for i, v in enumerate(obj)]
    return obj


def _unflatten(obj: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(obj, dict) and "__tensor__" in obj:
        return tensors[obj["__tensor__"]]
    if isinstance(obj, dict) and "__dict__" in obj:
        return {k: _unflatten(v, tensors) for k, v in obj["__dict__"]}
    if isinstance(obj, list):
        return [_unflatten(v, tensors) for v in obj]
    return obj


def save_state_tree(tree: Any, tensor_path: Path, meta_path: Path) -> None:
    """Save a nested state (e.g. `optimizer.state_dict()`) as safetensors + JSON."""
    tensors: dict[str, torch.Tensor] = {}
    skeleton = _flatten(tree, "", tensors)
    save_file(tensors, str(tensor_path))
    meta_path.write_text(json.dumps(skeleton), encoding="utf-8")


def load_state_tree(tensor_path: Path, meta_path: Path) -> Any:
    """Inverse of `save_state_tree`."""
    try:
        tensors = load_file(str(tensor_path))
        skeleton = json.loads(meta_path.read_text(encoding="utf-8"))
    except (SafetensorError, OSError, json.JSONDecodeError, UnicodeDecodeError):
        raise InputError(
            str(tensor_path), found="an unreadable optimizer state", expected="a slmkit checkpoint"
        ) from None
    return _unflatten(skeleton, tensors)


# ------------------------------------------------------------------------------------------------ RNG states
def _b64(t: torch.Tensor) -> str:
    return base64.b64encode(t.numpy().tobytes()).decode("ascii")


def capture_rng_state() -> dict[str, Any]:
    """Every RNG a training step may touch (dropout, sampling), as JSON-safe values."""
    state: dict[str, Any] = {"torch": _b64(torch.get_rng_state()), "python": repr(random.getstate())}
    state["numpy"] = np.random.get_state()[1].tolist()[:1]  # numpy's global RNG is unused; record its seed word
    if torch.cuda.is_available():
        state["cuda"] = [_b64(s) for s in torch.cuda.get_rng_state_all()]
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    raw = base64.b64decode(state["torch"])
    torch.set_rng_state(torch.frombuffer(bytearray(raw), dtype=torch.uint8))
    if torch.cuda.is_available() and "cuda" in state:
        cuda = [torch.frombuffer(bytearray(base64.b64decode(s)), dtype=torch.uint8) for s in state["cuda"]]
        torch.cuda.set_rng_state_all(cuda[: torch.cuda.device_count()])


# ------------------------------------------------------------------------------------------------ folders
def step_dir_name(step: int) -> str:
    return f"step_{step:06d}"


def list_checkpoints(stage_dir: Path) -> list[Path]:
    """Complete step folders of a stage, oldest first."""
    if not stage_dir.is_dir():
        return []
    found = [p for p in stage_dir.iterdir() if STEP_DIR.match(p.name) and (p / TRAINER_STATE_FILE).is_file()]
    return sorted(found, key=lambda p: int(STEP_DIR.match(p.name).group(1)))


def latest_checkpoint(stage_dir: Path) -> Path | None:
    """The folder `latest` points to, else the newest complete step folder, else None."""
    link = stage_dir / "latest"
    if link.is_symlink() and (link / TRAINER_STATE_FILE).is_file():
        return link.resolve()
    found = list_checkpoints(stage_dir)
    return found[-1] if found else None


def resume_point(stage_dir: Path, resume: bool) -> Path | None:
    """The checkpoint to continue from with `--resume` (None: start fresh); without it, existing checkpoints are an
    error, so nothing is ever overwritten. Example: `resume_dir = resume_point(run.ckpt_dir("base"), cfg.resume)`"""
    if resume:
        return latest_checkpoint(stage_dir)
    if list_checkpoints(stage_dir):
        raise ConfigError("resume", found=f"existing checkpoints in {stage_dir}",
                          expected="--resume to continue them, or a new --run/--stage (nothing is overwritten)")
    return None


def _point_latest(stage_dir: Path, target: str) -> None:
    tmp = stage_dir / ".latest.tmp"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(target, tmp)
    os.replace(tmp, stage_dir / "latest")  # atomic swap of the pointer


def tied_duplicate_names(model: torch.nn.Module) -> set[str]:
    """Names of tied parameters that safetensors' `save_model` leaves out (all but the first, sorted, of a group)."""
    groups: dict[int, list[str]] = {}
    for name, param in model.named_parameters(remove_duplicate=False):
        groups.setdefault(id(param), []).append(name)
    return {name for names in groups.values() for name in sorted(names)[1:]}


def save_checkpoint(
    stage_dir: Path,
    step: int,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer | None,
    trainer_state: dict[str, Any],
    model_cfg: ModelConfig,
    tokenizer_path: Path,
    stage_config: dict[str, Any] | None = None,
    keep_last: int = 2,
    model_state: dict[str, torch.Tensor] | None = None,
    extra_config: dict[str, Any] | None = None,
    extra_tensors: dict[str, dict[str, torch.Tensor]] | None = None,
) -> Path:
    """Write one checkpoint folder atomically, point `latest` at it and prune old ones. Returns its path.

    `model` must be the raw module (not DDP-wrapped or compiled); `model_state` may replace it (FSDP full state).
    `extra_config` adds top-level keys to config.json (e.g. a fine-tuned model's task and labels);
    `extra_tensors` adds safetensors files by name (e.g. {"head.safetensors": {...}}).
    """
    final = stage_dir / step_dir_name(step)
    with atomic_dir(final) as tmp:
        config = {"model": to_dict(model_cfg), "stage": stage_dir.name, "train": stage_config or {}}
        config.update(extra_config or {})
        (tmp / CONFIG_FILE).write_text(json.dumps(config, indent=2), encoding="utf-8")
        if model_state is not None:
            drop = tied_duplicate_names(model)
            tensors = {k: v.contiguous() for k, v in model_state.items() if k not in drop}
            save_file(tensors, str(tmp / WEIGHTS_FILE))
        else:
            save_model(model, str(tmp / WEIGHTS_FILE))  # handles tied weights
        shutil.copyfile(tokenizer_path, tmp / TOKENIZER_FILE)
        for file_name, tensors in (extra_tensors or {}).items():
            save_file({k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}, str(tmp / file_name))
        if optimizer is not None:
            save_state_tree(optimizer.state_dict(), tmp / OPTIMIZER_FILE, tmp / OPTIMIZER_META_FILE)
        state = dict(trainer_state, step=step, rng=capture_rng_state())
        (tmp / TRAINER_STATE_FILE).write_text(json.dumps(state, indent=2), encoding="utf-8")
    _point_latest(stage_dir, final.name)
    if keep_last > 0:
        for old in list_checkpoints(stage_dir)[:-keep_last]:
            shutil.rmtree(old, ignore_errors=True)
    return final


def load_training_state(
    ckpt_dir: Path, model: torch.nn.Module, optimizer: torch.optim.Optimizer | None
) -> dict[str, Any]:
    """Load weights (and optimizer state) into existing objects; restore RNGs; return trainer_state.json."""
    state_path = ckpt_dir / TRAINER_STATE_FILE
    try:
        state = json.loads(state_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        raise InputError(str(state_path), found="an unreadable trainer state", expected="a slmkit checkpoint") from None
    load_weights(model, ckpt_dir / WEIGHTS_FILE)
    if optimizer is not None:
        load_optimizer_state(ckpt_dir, optimizer)
    if "rng" in state:
        restore_rng_state(state["rng"])
    return state


def load_optimizer_state(ckpt_dir: Path, optimizer: torch.optim.Optimizer) -> bool:
    """Restore optimizer moments saved with a checkpoint; False when the checkpoint has none (e.g. FSDP runs)."""
    if not (ckpt_dir / OPTIMIZER_FILE).is_file():
        return False
    optimizer.load_state_dict(load_state_tree(ckpt_dir / OPTIMIZER_FILE, ckpt_dir / OPTIMIZER_META_FILE))
    return True
