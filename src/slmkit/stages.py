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
    Stage(
        "eval_stories",
        "eval stories",
        "slmkit.eval.story_eval:StoryEvalConfig:story_eval_stage",
        "Write stories from beginnings and score them (age, creativity, consistency, grammar proxy).",
    ),
    Stage(
        "eval_tasks",
        "eval tasks",
        "slmkit.eval.task_eval:TaskEvalConfig:task_eval_stage",
        "Instruction following, few-shot accuracy (k = 0, 1, 3, 5) and fine-tuned task metrics.",
        ("task",),
    ),
    Stage("judge", "judge", "slmkit.eval.judge:JudgeConfig:judge_stage", "Score items with an LLM judge and a rubric."),
    Stage("report", "report", "slmkit.eval.report:ReportConfig:report_stage", "Write report.html/.md for a run."),
    Stage(
        "feedback_export",
        "feedback export",
        "slmkit.eval.feedback:FeedbackExportConfig:feedback_export_stage",
        "Write items (prompt + 1 or 2 outputs) for annotators as jsonl and csv.",
    ),
    Stage(
        "feedback_import",
        "feedback import",
        "slmkit.eval.feedback:FeedbackImportConfig:feedback_import_stage",
        "Read filled-in ratings (csv/jsonl) into the run's feedback/ratings.jsonl.",
    ),
    Stage(
        "feedback_build",
        "feedback build",
        "slmkit.eval.feedback:FeedbackBuildConfig:feedback_build_stage",
        "Turn ratings and judge scores into SFT data and DPO pairs.",
    ),
    Stage(
        "finetune",
        "finetune",
        "slmkit.train.finetune:FinetuneConfig:finetune_stage",
        "Fine-tune a checkpoint: classify, summarize, translate, instruct, distill, dpo or grpo.",
        ("task",),
    ),
    Stage(
        "classify",
        "classify",
        "slmkit.tasks.classify_cli:ClassifyConfig:classify_stage",
        "Label texts with a fine-tuned classifier.",
        ("texts",),
        in_recipes=False,
    ),
    Stage(
        "export_hf",
        "export hf",
        "slmkit.export.hf:ExportHFConfig:export_hf_stage",
        "Export a checkpoint as a Hugging Face transformers folder.",
    ),
    Stage(
        "export_gguf",
        "export gguf",
        "slmkit.export.gguf:ExportGGUFConfig:export_gguf_stage",
        "Export a checkpoint as a GGUF file for llama.cpp / Ollama.",
    ),
    Stage(
        "import_hf",
        "import hf",
        "slmkit.export.hf_import:ImportHFConfig:import_hf_stage",
        "Import a Hugging Face GPT-2/Llama/Mixtral folder as a slmkit checkpoint.",
    ),
    Stage(
        "export_onnx",
        "export onnx",
        "slmkit.export.onnx:ExportONNXConfig:export_onnx_stage",
        "Export a checkpoint's forward pass (ids -> logits) as ONNX.",
    ),
    Stage("chat", "chat", "slmkit.infer.chat:ChatConfig:chat_stage", "Chat with an instruction-tuned checkpoint."),
    Stage(
        "serve",
        "serve",
        "slmkit.serve.stage:ServeConfig:serve_stage",
        "Serve a checkpoint over an OpenAI-compatible HTTP API.",
        in_recipes=False,
    ),
    Stage(
        "inspect_attention",
        "inspect attention",
        "slmkit.inspect.stage:InspectConfig:attention_stage",
        "Attention maps of a prompt: one PNG per layer, a heatmap per head.",
    ),
    Stage(
        "inspect_lens",
        "inspect lens",
        "slmkit.inspect.stage:LensConfig:lens_stage",
        "Logit lens: the top tokens predicted after each layer, as a table and a PNG.",
    ),
    Stage(
        "inspect_patch",
        "inspect patch",
        "slmkit.inspect.stage:PatchConfig:patch_stage",
        "Activation patching between a clean and a corrupted prompt: effect per layer and position (PNG).",
    ),
    Stage(
        "rag_index",
        "rag index",
        "slmkit.rag.stage:RagIndexConfig:index_stage",
        "Embed documents (chunked, with overlap) into an on-disk FAISS vector index; add, replace or delete.",
    ),
    Stage(
        "rag_ask",
        "rag ask",
        "slmkit.rag.stage:RagAskConfig:ask_stage",
        "Retrieve the chunks closest to a question and answer from them, citing the sources.",
        in_recipes=False,
    ),
    Stage(
        "scale",
        "scale",
        "slmkit.scale.stage:ScaleConfig:scale_stage",
        "Train a sweep of model sizes with one recipe; fit L(N) and L(N, D); plot loss vs parameters and compute.",
    ),
]
STAGES: dict[str, Stage] = {stage.name: stage for stage in _ALL}
