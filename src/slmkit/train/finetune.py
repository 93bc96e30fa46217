"""`slm finetune <task>`: fine-tune a checkpoint on a task with the one training loop (train/loop.py).

Tasks: classify, summarize, translate, instruct, dpo (tasks/*.py bring data, collate, loss and metrics), distill
and grpo (reinforcement learning from rewards: train/finetune_grpo.py).
What trains: all layers, the last block (+ final norm, + a task head), LoRA adapters (+ head), or the head alone.
Each evaluation scores the validation split; the best one (by the task's metric) is kept in `ckpt/<task>/best/`,
`--patience N` stops after N evaluations without improvement, and `--resume` continues exactly.

Checkpoint folders are ordinary ones: `model.safetensors` is the plain Transformer (LoRA merged in), so
`infer.load.load_checkpoint` loads any of them; `config.json["finetune"]` records the task, labels, template and
LoRA settings; `head.safetensors` holds a classification head; `trainable.safetensors` the trained tensors as they
are in training (adapters unmerged) for an exact resume.

Example:
    slm finetune classify --ckpt runs/x/ckpt/base --data SMSSpamCollection --run runs/ft-sms --epochs 3
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Literal

import torch
from safetensors.torch import load_file
from torch import nn

from slmkit.common.atomic import atomic_write_text
from slmkit.common.device import pick_device, tune_cpu_allocator
from slmkit.common.errors import ConfigError, InputError
from slmkit.common.log import print0
from slmkit.common.runs import RunDir
from slmkit.config import check, opt, to_dict
from slmkit.infer.load import TOKENIZER_FILE, load_checkpoint
from slmkit.model.lora import LoRAConfig, LoRALinear, count_parameters, merge_lora
from slmkit.model.transformer import Transformer
from slmkit.rewards.judged import JudgeSettings
from slmkit.rewards.registry import describe_rewards
from slmkit.tasks.base import BucketedBatches, Prepared, set_trainable
from slmkit.tasks.classification import ClassificationTask, ClassifyOptions
from slmkit.tasks.distill import DistillOptions, prepare_distillation
from slmkit.tasks.dpo import DPOOptions, DPOTask
from slmkit.tasks.grpo import GRPOOptions
from slmkit.tasks.instruct import InstructOptions, InstructTask
from slmkit.tasks.readers import read_records, split_records
from slmkit.tasks.seq2seq import Seq2SeqOptions, Seq2SeqTask
from slmkit.train.checkpoint import (
    TRAINER_STATE_FILE,
    latest_checkpoint,
    load_optimizer_state,
    restore_rng_state,
    resume_point,
    save_checkpoint,
)
from slmkit.train.finetune_grpo import PROMPT_FIELDS, plot_rewards, prepare_grpo
from slmkit.train.loop import LoopSettings, TrainerState, TrainingJob, train
from slmkit.train.metrics_log import MetricsLogger, plot_losses
from slmkit.train.optim import OptimConfig, build_optimizer, lr_multiplier

TASKS = ("classify", "summarize", "translate", "instruct", "distill", "dpo", "grpo")
TRAINABLE_FILE = "trainable.safetensors"


def _finetune_optim() -> OptimConfig:
    return OptimConfig(lr=5e-4, warmup_steps=20, weight_decay=0.0, min_lr_ratio=0.1)


@dataclass
class FinetuneConfig:
    task: Literal["classify", "summarize", "translate", "instruct", "distill", "dpo", "grpo"] = opt(
        "classify", "classify, summarize, translate, instruct, distill, dpo or grpo"
    )
    ckpt: str | None = opt(None, "checkpoint to start from (step folder, ckpt/<stage> folder or run dir)")
    data: str | None = opt(None, "training data (jsonl/json/csv/tsv; distill: a token-shard folder or run dir)")
    prompts: str | None = opt(None, "grpo: prompt records (jsonl/json/csv: prompt, or instruction + input); = --data")
    reward: str = opt("instruct", "grpo: rewards NAME[:ARG][:WEIGHT],... (weighted mean) -- " + describe_rewards())
    run: str | None = opt(None, "run directory for ckpt/<task>/, metrics and eval (default: the ckpt's run)")
    val_data: str | None = opt(None, "validation file (default: cut val_size off --data)")
    test_data: str | None = opt(None, "test file (default: cut test_size off --data)")
    val_size: float = opt(0.1, "validation part of --data: a fraction < 1 or a count")
    test_size: float = opt(0.1, "test part of --data: a fraction < 1 or a count (0 = no test split)")
    max_train_examples: int | None = opt(None, "use at most this many training examples (after the split)")
    max_length: int | None = opt(None, "longest example in tokens (default: the model's context length)")
    overflow: Literal["truncate", "drop", "error"] = opt(
        "truncate", "over-long examples: truncate (the text/source from its end), drop, or error"
    )
    trainable: Literal["all", "last_block", "lora", "head"] = opt(
        "all", "what trains: all layers, the last block + final norm (+ head), LoRA adapters (+ head), head only"
    )
    lora: LoRAConfig = opt(factory=LoRAConfig, help="LoRA adapters (used when trainable=lora)")
    classify: ClassifyOptions = opt(factory=ClassifyOptions, help="classification options")
    seq2seq: Seq2SeqOptions = opt(factory=Seq2SeqOptions, help="summarize/translate options")
    instruct: InstructOptions = opt(factory=InstructOptions, help="instruction-tuning options")
    distill: DistillOptions = opt(factory=DistillOptions, help="distillation options")
    dpo: DPOOptions = opt(factory=DPOOptions, help="preference-tuning (DPO) options")
    grpo: GRPOOptions = opt(factory=GRPOOptions, help="reinforcement learning (GRPO) options")
    judge: JudgeSettings = opt(factory=JudgeSettings, help="grpo: the LLM judge behind the 'judge' reward")
    optim: OptimConfig = opt(factory=_finetune_optim, help="optimizer and learning-rate schedule")
    batch_size: int = opt(16, "examples per micro-batch")
    grad_accum: int = opt(1, "micro-batches per optimizer step")
    epochs: float = opt(3.0, "passes over the training data (max_steps overrides)")
    max_steps: int | None = opt(None, "optimizer steps (default: from epochs)")
    max_minutes: float | None = opt(None, "stop after this many minutes of training-step time")
    eval_interval: int | None = opt(None, "evaluate every N steps (default: once per epoch)")
    eval_at_start: bool = opt(False, "also evaluate the starting model before the first step (its figures in "
                              "metrics and plots; it competes for the best checkpoint)")
    max_eval_examples: int | None = opt(None, "score at most this many validation examples per evaluation")
    patience: int | None = opt(None, "early stopping: stop after N evaluations without improvement")
    log_interval: int = opt(10, "log training metrics every N steps")
    ckpt_interval: int | None = opt(None, "checkpoint every N steps (default: eval_interval)")
    keep_last: int = opt(2, "keep the newest N step checkpoints (0 = all)")
    resume: bool = opt(False, "continue from ckpt/<stage>/latest exactly")
    stage: str | None = opt(None, "checkpoint folder name under ckpt/ (default: the task name)")
    seed: int = opt(123, "seed for the split, batch order and initialisation of new weights")
    device: str = opt("auto", "auto, cpu, cuda, cuda:N or mps")
    threads: int | None = opt(None, "torch CPU threads")
    progress: bool = opt(True, "show a progress bar")

    def __post_init__(self):
        check(self.task in TASKS, "task", self.task, f"one of {', '.join(TASKS)}")
        check(self.ckpt is not None or self.task == "distill", "ckpt", self.ckpt, "a checkpoint (--ckpt DIR)")
        if self.task == "grpo" and self.data is None:
            self.data = self.prompts
        check(self.data is not None, "data", self.data, "a data file (--data PATH)")
        check(self.batch_size >= 1, "batch_size", self.batch_size, ">= 1")
        check(self.grad_accum >= 1, "grad_accum", self.grad_accum, ">= 1")
        check(self.epochs > 0, "epochs", self.epochs, "> 0")
        for name in ("max_steps", "eval_interval", "ckpt_interval", "patience", "max_length", "max_eval_examples"):
            value = getattr(self, name)
            check(value is None or value >= 1, name, value, ">= 1 or None")
        check(self.trainable != "head" or self.task == "classify", "trainable", self.trainable,
              "all, last_block or lora (head only exists for classify)")

    @property
    def stage_name(self) -> str:
        return self.stage or self.task


def _run_dir(cfg: FinetuneConfig) -> RunDir:
    if cfg.run:
        return RunDir(cfg.run)
    parts = Path(cfg.ckpt or "").resolve().parts
    if "ckpt" in parts:
        return RunDir(Path(*parts[: parts.index("ckpt")]))
    if cfg.ckpt and (Path(cfg.ckpt) / "ckpt").is_dir():
        return RunDir(cfg.ckpt)
    raise ConfigError("run", found=None, expected="a run directory (--run DIR): the checkpoint is not inside one")


def _build_record_task(cfg: FinetuneConfig, tokenizer, max_len: int):
    if cfg.task == "classify":
        return ClassificationTask(cfg.classify, tokenizer, max_len, cfg.overflow)
    if cfg.task in ("summarize", "translate"):
        return Seq2SeqTask(cfg.task, cfg.seq2seq, tokenizer, max_len, cfg.overflow)
    if cfg.task == "dpo":
        return DPOTask(cfg.dpo, tokenizer, max_len, cfg.overflow)
    return InstructTask(cfg.instruct, tokenizer, max_len, cfg.overflow)


def _read_splits(cfg: FinetuneConfig, fields: tuple[list[str], list[str]]) -> tuple[list, list, list]:
    required, columns = fields
    records = read_records(cfg.data, required, columns)
    val_size = 0 if cfg.val_data else cfg.val_size
    test_size = 0 if cfg.test_data else cfg.test_size
    train_r, val_r, test_r = split_records(records, val_size, test_size, cfg.seed)
    if cfg.val_data:
        val_r = read_records(cfg.val_data, required, columns)
    if cfg.test_data:
        test_r = read_records(cfg.test_data, required, columns)
    if cfg.max_train_examples:
        train_r = train_r[: cfg.max_train_examples]
    if not val_r:
        raise InputError("val_size", found=0, expected="a validation split (val_size > 0 or --val-data)")
    return train_r, val_r, test_r


def _prepare_records(cfg: FinetuneConfig, lm: Transformer, tokenizer, device) -> Prepared:
    max_len = min(cfg.max_length or lm.cfg.context_length, lm.cfg.context_length)
    task = _build_record_task(cfg, tokenizer, max_len)
    train_r, val_r, test_r = _read_splits(cfg, task.fields())
    train_ex = task.encode_all(train_r, "train")
    val_ex = task.encode_all(val_r, "val")
    test_ex = task.encode_all(test_r, "test") if test_r else []
    if not train_ex:
        raise InputError(str(cfg.data), found="no usable training examples", expected="at least one")
    print0(f"data: {len(train_ex)} train, {len(val_ex)} val, {len(test_ex)} test examples (max_length {max_len})")
    lora_names = set_trainable(lm, cfg.trainable, cfg.lora)
    model = task.wrap_model(lm)
    batches = BucketedBatches([len(e.tokens) for e in train_ex], cfg.batch_size, cfg.seed)
    mean_len = sum(len(e.tokens) for e in train_ex) / len(train_ex)

    def micro_batch(index: int):
        return task.collate([train_ex[i] for i in batches.batch(index)], device)

    scored_val = val_ex[: cfg.max_eval_examples] if cfg.max_eval_examples else val_ex
    record = dict(task.checkpoint_record(), lora=_lora_record(cfg, lora_names))
    return Prepared(
        model=model,
        lm=lm,
        micro_batch=micro_batch,
        batches_per_epoch=batches.per_epoch,
        tokens_per_micro=int(mean_len * cfg.batch_size),
        evaluate=partial(task.evaluate, model, scored_val, device),
        test=partial(getattr(task, "test_report", task.evaluate), model, test_ex, device) if test_ex else None,
        record=record,
        select_metric=task.select_metric,
        select_mode=task.select_mode,
        extra_tensors=task.extra_tensors,
    )


def _lora_record(cfg: FinetuneConfig, names: list[str]) -> dict[str, Any] | None:
    if cfg.trainable != "lora":
        return None
    return dict(to_dict(cfg.lora), modules=names, merged=True)


def export_lm(lm: Transformer) -> Transformer:
    """The plain Transformer to save: LoRA adapters merged into a copy (the training model keeps its adapters)."""
    if not any(isinstance(m, LoRALinear) for m in lm.modules()):
        return lm
    return merge_lora(copy.deepcopy(lm))


def trainable_state(model: nn.Module) -> dict[str, torch.Tensor]:
    """The tensors that train, by their names in the training model (adapters unmerged)."""
    return {name: p.detach() for name, p in model.named_parameters() if p.requires_grad}


def load_trainable_state(model: nn.Module, ckpt_dir: Path) -> None:
    path = ckpt_dir / TRAINABLE_FILE
    if not path.is_file():
        raise InputError(str(path), found="no trainable-state file", expected="a fine-tuning checkpoint folder")
    tensors = load_file(str(path))
    expected = set(trainable_state(model))
    if set(tensors) != expected:
        raise InputError(
            str(path),
            found=f"{len(tensors)} tensors ({sorted(set(tensors) ^ expected)[:2]} differ)",
            expected="the trainable tensors of this fine-tuning setup (same task, trainable and lora options)",
        )
    with torch.no_grad():
        params = dict(model.named_parameters())
        for name, value in tensors.items():
            params[name].copy_(value)


def finetune_stage(cfg: FinetuneConfig) -> dict[str, Any]:
    """Fine-tune, evaluate the best checkpoint on the test split; returns the summary. See the module docstring."""
    device = pick_device(cfg.device)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    if device.type == "cpu":
        tune_cpu_allocator()
    run = _run_dir(cfg)
    stage_dir = run.ckpt_dir(cfg.stage_name)
    resume_dir = resume_point(stage_dir, cfg.resume)
    run.save_stage_config(f"finetune_{cfg.stage_name}", to_dict(cfg))
    torch.manual_seed(cfg.seed)
    if cfg.task == "distill":
        prepared = prepare_distillation(cfg.distill, cfg, device)
    else:
        base = load_checkpoint(cfg.ckpt, device=device)
        base.model.train()
        if cfg.task == "grpo":
            prepared = prepare_grpo(cfg, base.model, base.tokenizer, device, run, _read_splits(cfg, PROMPT_FIELDS),
                                    partial(_lora_record, cfg))
        else:
            prepared = _prepare_records(cfg, base.model, base.tokenizer, device)
        prepared.tokenizer_path = base.path / TOKENIZER_FILE
        prepared.record["base_checkpoint"] = str(base.path)
    model, lm = prepared.model, prepared.lm
    model.train()
    trainable, total = count_parameters(model)
    print0(f"trainable parameters: {trainable:,} of {total:,} ({100 * trainable / max(1, total):.2f}%)"
           f" | trainable={cfg.trainable}")

    optimizer = build_optimizer(model, cfg.optim, device.type)
    state = TrainerState()
    if resume_dir is not None:
        raw = json.loads((resume_dir / TRAINER_STATE_FILE).read_text(encoding="utf-8"))
        load_trainable_state(model, resume_dir)
        load_optimizer_state(resume_dir, optimizer)
        restore_rng_state(raw["rng"])
        if prepared.restore is not None:
            prepared.restore(resume_dir)
        state = TrainerState.from_json(raw)
        print0(f"resumed from {resume_dir} at step {state.step}")

    steps_per_epoch = max(1, prepared.batches_per_epoch // cfg.grad_accum)
    max_steps = cfg.max_steps or max(1, math.ceil(cfg.epochs * steps_per_epoch))
    eval_interval = cfg.eval_interval or steps_per_epoch
    print0(f"{steps_per_epoch} steps per epoch, {max_steps} steps, evaluating every {eval_interval}")
    record = dict(prepared.record, task=cfg.task, trainable=cfg.trainable)

    def val_metrics() -> dict[str, float]:
        out = prepared.evaluate()
        return {f"val/{k}": float(v) for k, v in out.items() if isinstance(v, (int, float)) and k != "n"}

    def save_to(folder: Path, st: TrainerState, keep_last: int, with_optimizer: bool) -> Path:
        extra = {TRAINABLE_FILE: trainable_state(model), **prepared.extra_tensors(model)}
        return save_checkpoint(
            folder,
            st.step,
            export_lm(lm),
            optimizer if with_optimizer else None,
            dict(st.to_json(), seed=cfg.seed),
            lm.cfg,
            prepared.tokenizer_path,
            to_dict(cfg),
            keep_last=keep_last,
            extra_config={"finetune": record},
            extra_tensors=extra,
        )

    metrics_path = run.root / f"metrics_{cfg.stage_name}.jsonl"
    logger = MetricsLogger(run, resume_step=state.step if resume_dir else -1, path=metrics_path)
    if prepared.attach_log is not None:
        prepared.attach_log(logger.write)
    job = TrainingJob(
        model=model,
        optimizer=optimizer,
        lr_multiplier=lambda step, progress: lr_multiplier(step, cfg.optim, progress),
        micro_batch=prepared.micro_batch,
        settings=LoopSettings(
            max_steps=max_steps,
            max_minutes=cfg.max_minutes,
            grad_accum=cfg.grad_accum,
            grad_clip=cfg.optim.grad_clip,
            log_interval=cfg.log_interval,
            eval_interval=eval_interval,
            ckpt_interval=cfg.ckpt_interval or eval_interval,
            progress=cfg.progress,
            select_metric=f"val/{prepared.select_metric}",
            select_mode=prepared.select_mode,
            patience=cfg.patience,
            eval_at_start=cfg.eval_at_start,
        ),
        tokens_per_step=prepared.tokens_per_micro * cfg.grad_accum,
        evaluate=val_metrics,
        save_checkpoint=lambda st: save_to(stage_dir, st, cfg.keep_last, True),
        save_best=lambda st: save_to(stage_dir / "best", st, 1, False),
        log=logger.write,
        state=state,
    )
    state = train(job)
    logger.close()
    plot_losses(run, f"loss_{cfg.stage_name}.png", metrics_path)
    if cfg.task == "grpo":
        plot_rewards(run, metrics_path, f"reward_{cfg.stage_name}.png")

    best_dir = latest_checkpoint(stage_dir / "best")
    if best_dir is not None:
        load_trainable_state(model, best_dir)
    summary: dict[str, Any] = {
        "task": cfg.task,
        "step": state.step,
        "train_seconds": state.train_seconds,
        "best_step": state.best_step,
        "best_val": {prepared.select_metric: state.best_metric},
        "trainable_params": trainable,
        "total_params": total,
        "best_checkpoint": str(best_dir) if best_dir else None,
    }
    if prepared.test is not None:
        summary["test"] = prepared.test()
        shown = {k: v for k, v in summary["test"].items() if isinstance(v, float)}
        print0("test (best checkpoint): " + " | ".join(f"{k} {v:.4f}" for k, v in shown.items()))
    out = run.eval_dir / f"finetune_{cfg.stage_name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out, json.dumps(summary, indent=2) + "\n")
    print0(f"wrote {out}")
    return summary
