"""The one table of stages: the CLI builds its subcommands from it and recipes name their stages by it.

Targets are "module:ConfigClass:function" strings, imported only when a stage runs (fast `slm --help`).

Example:
    config_cls, run_stage = STAGES["tokenizer"].load()
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Stage:
    name: str  # recipe key, e.g. "tokenizer"
    command: str  # CLI words, e.g. "tokenizer train"
    target: str  # "module:ConfigClass:function"
    help: str
    positional: tuple[str, ...] = ()  # config fields taken as positional CLI arguments
    in_recipes: bool = True  # False for commands that run recipes themselves

    def load(self) -> tuple[type, Any]:
        module_name, config_name, func_name = self.target.split(":")
        module = importlib.import_module(module_name)
        return getattr(module, config_name), getattr(module, func_name)


_ALL = [
    Stage(
        "quickstart",
        "quickstart",
        "slmkit.pipeline:QuickstartConfig:quickstart",
        "Run the whole pipeline on built-in stories.",
        in_recipes=False,
    ),
    Stage(
        "run",
        "run",
        "slmkit.pipeline:RecipeRunConfig:run_recipe",
        "Run the stages of a YAML recipe.",
        ("recipe",),
        in_recipes=False,
    ),
    Stage("synth", "data synth", "slmkit.data.synth:SynthConfig:synth_stage", "Generate TinyStories-style stories."),
    Stage("prepare", "data prepare", "slmkit.data.prepare:PrepareConfig:prepare_stage", "Clean, dedup and split text."),
    Stage("encode", "data encode", "slmkit.data.encode:EncodeConfig:encode_stage", "Encode splits into token shards."),
    Stage(
        "teacher",
        "data teacher",
        "slmkit.data.teacher:TeacherConfig:teacher_stage",
        "Generate data with a teacher LLM.",
    ),
    Stage(
        "download",
        "data download",
        "slmkit.data.download:DownloadConfig:download_stage",
        "Download a public corpus.",
        ("dataset",),
    ),
    Stage(
        "tokenizer",
        "tokenizer train",
        "slmkit.tokenizer.train:TokenizerTrainConfig:tokenizer_train_stage",
        "Train a byte-level BPE tokenizer.",
    ),
    Stage("pretrain", "pretrain", "slmkit.train.pretrain:PretrainConfig:pretrain_stage", "Pre-train a language model."),
    Stage(
        "eval_lm",
        "eval lm",
        "slmkit.eval.harness:EvalLMConfig:eval_lm_stage",
        "Loss, perplexity, bits-per-byte of text.",
    ),
    Stage(
        "generate",
        "generate",
        "slmkit.infer.cli_generate:GenerateConfig:generate_stage",
        "Generate text from a checkpoint.",
    ),
    Stage("chat", "chat", "slmkit.infer.chat:ChatConfig:chat_stage", "Chat with an instruction-tuned checkpoint."),
    Stage(
        "serve",
        "serve",
        "slmkit.serve.stage:ServeConfig:serve_stage",
        "Serve a checkpoint over an OpenAI-compatible HTTP API.",
        in_recipes=False,
    ),
]
STAGES: dict[str, Stage] = {stage.name: stage for stage in _ALL}
