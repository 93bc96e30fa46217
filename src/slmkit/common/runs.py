"""The run-directory contract (ARCHITECTURE.md): every stage reads and writes these standard places.

Example:
    run = RunDir("runs/quickstart"); run.tokenizer_file  # runs/quickstart/tokenizer/tokenizer.json
"""

from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from slmkit.common.atomic import atomic_write_text


@dataclass(frozen=True)
class RunDir:
    """Paths inside one experiment's run directory."""

    root: Path

    def __init__(self, root: Path | str):
        object.__setattr__(self, "root", Path(root))

    # data stage
    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    def split_file(self, split: str) -> Path:
        """Cleaned text of one split, one JSON document per line: data/train.jsonl, data/val.jsonl."""
        return self.data_dir / f"{split}.jsonl"

    @property
    def manifest_file(self) -> Path:
        return self.data_dir / "manifest.json"

    @property
    def synth_dir(self) -> Path:
        return self.data_dir / "synth"

    # tokenizer stage
    @property
    def tokenizer_dir(self) -> Path:
        return self.root / "tokenizer"

    @property
    def tokenizer_file(self) -> Path:
        return self.tokenizer_dir / "tokenizer.json"

    # shards stage
    @property
    def shards_dir(self) -> Path:
        return self.root / "shards"

    def shard_file(self, split: str) -> Path:
        return self.shards_dir / f"{split}.bin"

    @property
    def shards_meta_file(self) -> Path:
        return self.shards_dir / "meta.json"

    # training stages
    def ckpt_dir(self, stage: str = "base") -> Path:
        return self.root / "ckpt" / stage

    @property
    def metrics_file(self) -> Path:
        return self.root / "metrics.jsonl"

    @property
    def tb_dir(self) -> Path:
        return self.root / "tb"

    @property
    def plots_dir(self) -> Path:
        return self.root / "plots"

    @property
    def eval_dir(self) -> Path:
        return self.root / "eval"

    @property
    def samples_dir(self) -> Path:
        return self.root / "samples"

    @property
    def recipe_file(self) -> Path:
        return self.root / "recipe.yaml"

    def save_stage_config(self, stage: str, config: dict[str, Any]) -> None:
        """Record the resolved config of `stage` in recipe.yaml (other stages' entries are kept).

        Example: run.save_stage_config("tokenizer", to_dict(cfg))
        """
        self.root.mkdir(parents=True, exist_ok=True)
        lock_path = self.root / ".recipe.lock"
        with open(lock_path, "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # ranks or parallel stages may record at once
            recipe: dict[str, Any] = {}
            if self.recipe_file.exists():
                recipe = yaml.safe_load(self.recipe_file.read_text(encoding="utf-8")) or {}
            recipe.setdefault("stages", {})[stage] = config
            atomic_write_text(
                self.recipe_file, yaml.safe_dump(recipe, sort_keys=False, allow_unicode=True)
            )
        os.chmod(self.recipe_file, 0o644)

    def stage_config(self, stage: str) -> dict[str, Any] | None:
        """The config recorded for `stage` by an earlier run, or None."""
        if not self.recipe_file.exists():
            return None
        recipe = yaml.safe_load(self.recipe_file.read_text(encoding="utf-8")) or {}
        return (recipe.get("stages") or {}).get(stage)
