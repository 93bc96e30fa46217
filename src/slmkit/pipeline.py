"""Recipes: `slm run RECIPE.yaml --run DIR` runs a list of stages into one run directory, and `slm quickstart`
runs the built-in recipe end to end on synthetic stories.

A recipe is YAML with a `stages` mapping, in order, from stage name to that stage's options (the same keys as its
CLI flags):

    run: runs/tinystories-cpu          # default run directory (--run overrides)
    stages:
      prepare:   {source: [../shared/data/tinystories-v1-train-sample]}
      tokenizer: {vocab_size: 4096}
      encode:    {}
      pretrain:  {preset: tiny, max_minutes: 10}
      eval_lm:   {text: [../shared/data/tinystories-v1-valid-sample/...]}

A stage that completed with the same options is skipped when the recipe runs again; pre-training always resumes
from its latest checkpoint, so an interrupted pipeline picks up where it stopped. Relative paths in path options
are taken relative to the recipe file when they exist there, else to the working directory.

Example:
    slm run configs/tinystories-cpu.yaml
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slmkit.common.atomic import atomic_write_json
from slmkit.common.errors import ConfigError
from slmkit.common.log import print0
from slmkit.common.runs import RunDir
from slmkit.config import build_config, check, load_yaml, opt
from slmkit.stages import STAGES

PATH_KEYS = {"source", "val_source", "text", "input", "tokenizer", "shards", "out"}
# stages that take the run directory under another name
RUN_KEY = {"generate": "ckpt", "eval_lm": "ckpt", "eval_stories": "ckpt"}
ALWAYS_RUN = {"report"}  # cheap, and it must show the run as it is now


def _load_stage(name: str) -> tuple[type, Any]:
    if name not in STAGES or not STAGES[name].in_recipes:
        recipe_stages = [n for n, stage in STAGES.items() if stage.in_recipes]
        raise ConfigError(f"stages.{name}", found="an unknown stage", expected=f"one of {', '.join(recipe_stages)}")
    return STAGES[name].load()


def _resolve_paths(options: dict[str, Any], base_dir: Path | None) -> dict[str, Any]:
    def fix(value: Any) -> Any:
        if isinstance(value, list):
            return [fix(v) for v in value]
        if isinstance(value, str) and base_dir is not None and not Path(value).is_absolute():
            candidate = base_dir / value
            if candidate.exists():
                return str(candidate)
        return value

    return {k: fix(v) if k in PATH_KEYS else v for k, v in options.items()}


def _done_marker(run: RunDir, name: str) -> Path:
    return run.root / ".stages" / f"{name}.json"


def _fingerprint(options: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(options, sort_keys=True, default=str).encode()).hexdigest()


def run_stages(stages: dict[str, dict[str, Any]], run: RunDir, base_dir: Path | None = None) -> dict[str, Any]:
    """Run stages in order, skipping those already completed with the same options."""
    results: dict[str, Any] = {}
    for name, options in stages.items():
        config_cls, stage_fn = _load_stage(name)
        options = _resolve_paths(dict(options or {}), base_dir)
        options.setdefault(RUN_KEY.get(name, "run"), str(run.root))
        if name == "pretrain":
            options.setdefault("resume", True)
        fingerprint = _fingerprint(options)
        marker = _done_marker(run, name)
        done = marker.exists() and json.loads(marker.read_text()).get("fingerprint") == fingerprint
        if done and name not in ALWAYS_RUN:
            print0(f"== {name}: already complete, skipped")
            continue
        cfg = build_config(config_cls, {}, {k: v for k, v in options.items()})
        print0(f"== {name}")
        t0 = time.time()
        results[name] = stage_fn(cfg)
        atomic_write_json(marker, {"fingerprint": fingerprint, "seconds": round(time.time() - t0, 2)})
    return results


@dataclass
class RecipeRunConfig:
    recipe: str = opt(None, "the recipe YAML file")
    run: str | None = opt(None, "run directory (default: the recipe's `run`)")

    def __post_init__(self):
        check(self.recipe is not None, "recipe", self.recipe, "a recipe file (slm run RECIPE.yaml)")


def run_recipe(cfg: RecipeRunConfig) -> dict[str, Any]:
    """Execute a recipe file (see module docstring)."""
    path = Path(cfg.recipe)
    recipe = load_yaml(path)
    stages = recipe.get("stages")
    if not isinstance(stages, dict) or not stages:
        raise ConfigError(f"{path}: stages", found=stages, expected="a mapping of stage name -> options")
    run_dir = cfg.run or recipe.get("run")
    if not run_dir:
        raise ConfigError("run", found=None, expected=f"--run DIR or a `run:` key in {path}")
    return run_stages(stages, RunDir(run_dir), base_dir=path.resolve().parent)


@dataclass
class QuickstartConfig:
    run: str = opt("runs/quickstart", "run directory")
    stories: int = opt(20000, "synthetic stories to generate")
    vocab_size: int = opt(2048, "tokenizer vocabulary size")
    preset: str = opt("tiny", "model preset")
    minutes: float = opt(6.5, "minutes of pre-training")
    max_steps: int = opt(3000, "pre-training steps at most")
    samples: int = opt(3, "stories sampled at the end")
    temperature: float = opt(0.4, "sampling temperature of the final stories (low: names stay consistent)")
    seed: int = opt(0, "seed for data generation and training")

    def __post_init__(self):
        check(self.stories >= 100, "stories", self.stories, ">= 100")
        check(self.minutes > 0, "minutes", self.minutes, "> 0")


def quickstart(cfg: QuickstartConfig) -> dict[str, Any]:
    """synth -> prepare -> tokenizer -> encode -> pretrain -> sample stories -> story metrics -> report, in one run."""
    run = RunDir(cfg.run)
    stages = {
        "synth": {"n": cfg.stories, "seed": cfg.seed},
        "prepare": {"source": [str(run.synth_dir / "stories.jsonl")], "seed": cfg.seed},
        "tokenizer": {"vocab_size": cfg.vocab_size},
        "encode": {},
        "pretrain": {
            "preset": cfg.preset, "max_minutes": cfg.minutes, "max_steps": cfg.max_steps, "seed": cfg.seed,
            "eval_interval": 250, "ckpt_interval": 250, "log_interval": 10,
            # the learning rate and batch that won the CPU speedrun experiments (docs/benchmarks.md)
            "batch_size": 8, "optim": {"lr": 6e-3},
        },
        "generate": {"n": cfg.samples, "seed": cfg.seed, "max_tokens": 250, "temperature": cfg.temperature},
        "eval_stories": {"n": 20, "max_tokens": 150, "seed": cfg.seed, "temperature": cfg.temperature},
        "report": {},
    }
    results = run_stages(stages, run)
    print0(f"\ndone: run directory {run.root} (checkpoints in {run.ckpt_dir()}, report in {run.root / 'report.html'})")
    print0(f"serve it (OpenAI-compatible API + web page; needs pip install -e '.[serve]'): slm serve --ckpt {run.root}")
    return results
