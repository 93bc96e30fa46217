"""`slm pretrain`: next-token pre-training on token shards, on CPU, one GPU, or many through torchrun.

Reads `<run>/shards/{train,val}.bin` + `meta.json` and `<run>/tokenizer/tokenizer.json`; writes
`<run>/ckpt/<stage>/step_*/`, `metrics.jsonl`, `tb/`, `plots/loss.png`, `samples/`.

Example:
    slm pretrain --run runs/x --preset tiny --max-steps 500
    torchrun --nproc_per_node=2 -m slmkit -- pretrain --run runs/x --preset tiny
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any, Literal

import torch

from slmkit.common.atomic import atomic_write_text
from slmkit.common.device import autocast_context, peak_flops, pick_device, resolve_dtype, tune_cpu_allocator
from slmkit.common.dist import DistInfo, barrier, cleanup_distributed, init_distributed
from slmkit.common.errors import ConfigError, InputError, MissingFileError
from slmkit.common.log import print0
from slmkit.common.runs import RunDir
from slmkit.config import check, merge_dicts, opt, to_dict
from slmkit.data.loader import TokenBatchLoader
from slmkit.data.shards import ShardMeta, open_shard
from slmkit.infer.engine import generate
from slmkit.infer.load import read_model_config
from slmkit.infer.sampling import SamplingParams
from slmkit.model.config import PRESETS, ModelConfig
from slmkit.model.flops import flops_per_token
from slmkit.model.transformer import Transformer
from slmkit.tokenizer import Tokenizer
from slmkit.train.checkpoint import (
    load_optimizer_state,
    load_training_state,
    resume_point,
    save_checkpoint,
)
from slmkit.train.loop import LoopSettings, TrainerState, TrainingJob, train
from slmkit.train.metrics_log import MetricsLogger, plot_losses
from slmkit.train.optim import OptimConfig, build_optimizer, lr_multiplier


@dataclass
class PretrainConfig:
    run: str = opt(None, "run directory (reads tokenizer/ and shards/, writes ckpt/<stage>/, metrics, plots)")
    preset: str | None = opt("tiny", f"model preset: {', '.join(PRESETS)}; model.* options override its fields")
    model: ModelConfig = opt(factory=ModelConfig, help="model shape (vocab_size defaults to the tokenizer's)")
    optim: OptimConfig = opt(factory=OptimConfig, help="optimizer and learning-rate schedule")
    batch_size: int = opt(16, "sequences per micro-batch on each rank")
    seq_len: int | None = opt(None, "training sequence length (default: model.context_length)")
    grad_accum: int = opt(1, "micro-batches accumulated per optimizer step")
    max_steps: int = opt(1000, "stop after this many optimizer steps")
    max_tokens: int | None = opt(None, "stop after this many training tokens (all ranks)")
    max_minutes: float | None = opt(None, "stop after this many minutes of training-step time (eval excluded)")
    eval_interval: int = opt(200, "evaluate on the validation shard every N steps (and at the end)")
    eval_batches: int = opt(20, "validation batches per evaluation")
    log_interval: int = opt(10, "log training metrics every N steps")
    ckpt_interval: int = opt(500, "checkpoint every N steps (and at the end)")
    keep_last: int = opt(2, "keep the newest N checkpoints (0 = all)")
    resume: bool = opt(False, "continue from ckpt/<stage>/latest (exactly: same batches, RNG and optimizer state)")
    sample_prompt: str = opt("Once upon a time", "prompt of the sample printed at each evaluation ('' = none)")
    sample_tokens: int = opt(120, "tokens generated for each sample")
    seed: int = opt(1337, "seed for initialization and batch sampling")
    device: str = opt("auto", "auto, cpu, cuda, cuda:N or mps")
    precision: Literal["auto", "fp32", "bf16", "fp16"] = opt("auto", "auto = bf16 autocast on CUDA, fp32 on CPU")
    compile: bool = opt(False, "torch.compile the model")
    threads: int | None = opt(None, "torch CPU threads (default: torch's choice)")
    distributed: Literal["ddp", "fsdp"] = opt("ddp", "multi-process strategy under torchrun")
    stage: str = opt("base", "checkpoint folder name under ckpt/")
    shards: str | None = opt(None, "token shard folder (default: <run>/shards)")
    tokenizer: str | None = opt(None, "tokenizer.json (default: <run>/tokenizer/tokenizer.json)")
    progress: bool = opt(True, "show a progress bar")
    vocab_from_tokenizer: bool = opt(True, "internal: model.vocab_size follows the tokenizer", cli=False)

    def __post_init__(self):
        check(self.run is not None, "run", self.run, "a run directory (--run DIR)")
        check(self.batch_size >= 1, "batch_size", self.batch_size, ">= 1")
        check(self.grad_accum >= 1, "grad_accum", self.grad_accum, ">= 1")
        check(self.max_steps >= 1, "max_steps", self.max_steps, ">= 1")
        check(self.max_tokens is None or self.max_tokens > 0, "max_tokens", self.max_tokens, "> 0")
        check(self.max_minutes is None or self.max_minutes > 0, "max_minutes", self.max_minutes, "> 0")
        for name in ("eval_interval", "eval_batches", "log_interval", "ckpt_interval"):
            check(getattr(self, name) >= 1, name, getattr(self, name), ">= 1")
        check(self.keep_last >= 0, "keep_last", self.keep_last, ">= 0")
        if self.seq_len is not None:
            check(
                1 <= self.seq_len <= self.model.context_length,
                "seq_len",
                self.seq_len,
                f"1..model.context_length ({self.model.context_length})",
            )

    @staticmethod
    def expand_presets(data: dict[str, Any]) -> dict[str, Any]:
        """Fill `model` from the named preset; explicit model.* keys win. vocab_size follows the tokenizer unless
        given explicitly."""
        data = dict(data)
        name = data.get("preset", "tiny")
        model = dict(data.get("model") or {})
        data.setdefault("vocab_from_tokenizer", "vocab_size" not in model)
        if name not in (None, "none", ""):
            if name not in PRESETS:
                raise ConfigError("preset", found=name, expected=f"one of {', '.join(PRESETS)}")
            model = merge_dicts(to_dict(PRESETS[name]), model)
        data["model"] = model
        return data

    @property
    def train_seq_len(self) -> int:
        return self.seq_len or self.model.context_length


def _load_inputs(cfg: PretrainConfig, run: RunDir) -> tuple[Tokenizer, Path, ShardMeta, Path]:
    tok_path = Path(cfg.tokenizer) if cfg.tokenizer else run.tokenizer_file
    if not tok_path.is_file():
        raise MissingFileError(
            tok_path, expected="a tokenizer.json", hint=f"run `slm tokenizer train --run {run.root}`"
        )
    tokenizer = Tokenizer.from_file(tok_path)
    shards_dir = Path(cfg.shards) if cfg.shards else run.shards_dir
    meta = ShardMeta.load(shards_dir)
    if meta.tokenizer_sha256 != tokenizer.sha256:
        raise InputError(
            str(shards_dir / "meta.json"),
            found=f"shards encoded with tokenizer {meta.tokenizer_sha256[:12]}",
            expected=f"the tokenizer {tok_path} ({tokenizer.sha256[:12]}); re-run `slm data encode --run {run.root}`",
        )
    return tokenizer, tok_path, meta, shards_dir


def _resolve_model_config(cfg: PretrainConfig, tokenizer: Tokenizer, resume_dir: Path | None) -> ModelConfig:
    if resume_dir is not None:  # a resumed run keeps the architecture it was started with
        model_cfg, _ = read_model_config(resume_dir)
        return model_cfg
    model_cfg = cfg.model
    if cfg.vocab_from_tokenizer:
        model_cfg = replace(model_cfg, vocab_size=tokenizer.vocab_size)
    elif model_cfg.vocab_size < tokenizer.vocab_size:
        raise ConfigError(
            "model.vocab_size",
            found=model_cfg.vocab_size,
            expected=f">= the tokenizer's vocabulary ({tokenizer.vocab_size} tokens)",
        )
    return model_cfg


def _wrap_distributed(model: torch.nn.Module, cfg: PretrainConfig, info: DistInfo, device: torch.device):
    if not info.enabled:
        return model
    if cfg.distributed == "fsdp":
        from torch.distributed.fsdp import fully_shard

        for block in getattr(model, "blocks", []):
            fully_shard(block)
        fully_shard(model)
        return model
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)


def _full_state_dict(model: torch.nn.Module, sharded: bool):
    if sharded:
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        return get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    return None


def pretrain_stage(cfg: PretrainConfig) -> dict[str, Any]:
    """Pre-train (or resume) a model; returns the final state and last evaluation. Example in module docstring."""
    run = RunDir(cfg.run)
    device = pick_device(cfg.device)
    info = init_distributed(device.type)
    try:
        return _pretrain(cfg, run, device, info)
    finally:
        cleanup_distributed()


def _pretrain(cfg: PretrainConfig, run: RunDir, device: torch.device, info: DistInfo) -> dict[str, Any]:
    if info.enabled and device.type == "cuda":
        device = torch.device("cuda", info.local_rank)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    if device.type == "cpu":
        tune_cpu_allocator()
    tokenizer, tok_path, meta, shards_dir = _load_inputs(cfg, run)
    stage_dir = run.ckpt_dir(cfg.stage)
    resume_dir = resume_point(stage_dir, cfg.resume)
    model_cfg = _resolve_model_config(cfg, tokenizer, resume_dir)
    seq_len = min(cfg.train_seq_len, model_cfg.context_length)
    if info.is_main:
        run.save_stage_config("pretrain", to_dict(cfg))

    train_tokens = open_shard(shards_dir, "train")
    val_tokens = open_shard(shards_dir, "val") if meta.has_split("val") else None
    train_loader = TokenBatchLoader(
        train_tokens, cfg.batch_size, seq_len, seed=cfg.seed, name=f"{shards_dir}/train.bin"
    )

    torch.manual_seed(cfg.seed)
    model = Transformer(model_cfg).to(device)
    raw_model = model
    state = TrainerState()
    if resume_dir is not None:
        state = TrainerState.from_json(load_training_state(resume_dir, raw_model, optimizer=None))
        print0(f"resumed from {resume_dir} at step {state.step}")
    if resume_dir is None or info.rank > 0:
        # a fresh stream per rank (dropout differs across ranks); a resumed single process keeps its restored RNG
        torch.manual_seed(cfg.seed + 1000 * info.rank + state.step)
    if cfg.compile:
        model = torch.compile(model)
    model = _wrap_distributed(model, cfg, info, device)
    # FSDP shards the weights: every forward is collective, and there is no full optimizer state on one rank
    sharded = info.enabled and cfg.distributed == "fsdp"
    # built after wrapping: FSDP replaces the parameters with sharded ones
    optimizer = build_optimizer(raw_model, cfg.optim, device.type)
    if resume_dir is not None and not load_optimizer_state(resume_dir, optimizer):
        print0("note: this checkpoint has no optimizer state (FSDP run); AdamW moments start from zero")
    amp_dtype = resolve_dtype(device, cfg.precision)

    n_params = raw_model.num_params()
    print0(
        f"model: {n_params / 1e6:.2f}M parameters ({raw_model.num_params(non_embedding=True) / 1e6:.2f}M non-embedding)"
        f" | {model_cfg.n_layers} layers, d_model {model_cfg.d_model}, {model_cfg.n_heads} heads, ctx {seq_len}"
        f" | device {device}{'' if amp_dtype is None else f' autocast {amp_dtype}'} | world {info.world_size}"
    )
    tokens_per_step = cfg.batch_size * seq_len * cfg.grad_accum * info.world_size

    def micro_batch(index: int):
        # the global micro-batch number interleaves ranks: 2 ranks x accum a == 1 rank x accum 2a
        return train_loader.batch(index * info.world_size + info.rank, device)

    eval_fn = None
    if val_tokens is not None:
        val_loader = TokenBatchLoader(
            val_tokens, cfg.batch_size, seq_len, seed=cfg.seed + 1, name=f"{shards_dir}/val.bin"
        )
        # FSDP ranks must run every forward together (each one all-gathers weights), so they do not split batches
        split = DistInfo() if sharded else info
        eval_fn = partial(
            _evaluate, raw_model, val_loader, cfg.eval_batches, meta.bytes_per_token("val"), split, device
        )

    logger = MetricsLogger(run, resume_step=state.step if resume_dir else -1) if info.is_main else None
    sampling_ranks = sharded or info.is_main  # sharded: every rank takes part in sampling's forwards
    sample_fn = (
        partial(_print_sample, raw_model, tokenizer, cfg, run, info) if sampling_ranks and cfg.sample_prompt else None
    )

    def save(st: TrainerState) -> None:
        full_state = _full_state_dict(model, sharded)
        if info.is_main:
            save_checkpoint(
                stage_dir,
                st.step,
                raw_model,
                None if sharded else optimizer,
                dict(st.to_json(), seed=cfg.seed, data_position={"micro_batches": st.step * cfg.grad_accum}),
                model_cfg,
                tok_path,
                to_dict(cfg),
                keep_last=cfg.keep_last,
                model_state=full_state,
            )
        barrier(info)

    job = TrainingJob(
        model=model,
        optimizer=optimizer,
        micro_batch=micro_batch,
        tokens_per_step=tokens_per_step,
        dist=info,
        lr_multiplier=lambda step, progress: lr_multiplier(step, cfg.optim, progress),
        settings=LoopSettings(
            max_steps=cfg.max_steps,
            max_tokens=cfg.max_tokens,
            max_minutes=cfg.max_minutes,
            grad_accum=cfg.grad_accum,
            grad_clip=cfg.optim.grad_clip,
            log_interval=cfg.log_interval,
            eval_interval=cfg.eval_interval,
            ckpt_interval=cfg.ckpt_interval,
            progress=cfg.progress and info.is_main,
        ),
        evaluate=eval_fn,
        on_eval=sample_fn,
        save_checkpoint=save,
        log=logger.write if logger else None,
        autocast=partial(autocast_context, device, amp_dtype),
        flops_per_token=flops_per_token(model_cfg, seq_len),
        peak_flops=peak_flops(device, amp_dtype),
        state=state,
    )
    state = train(job)
    if logger is not None:
        logger.close()
        plot_losses(run)
    summary = {"step": state.step, "tokens": state.tokens, "train_seconds": state.train_seconds, **state.last_eval}
    if info.is_main:
        atomic_write_text(run.root / "pretrain_summary.json", json.dumps(summary, indent=2) + "\n")
    return summary


@torch.no_grad()
def _evaluate(model, loader: TokenBatchLoader, n_batches: int, bytes_per_token: float, info: DistInfo, device):
    """Mean validation loss over fixed batches (split across ranks), with perplexity and bits per byte."""
    was_training = model.training
    model.eval()
    total = torch.zeros(2, dtype=torch.float64)  # (sum of losses, count)
    for i in range(info.rank, n_batches, info.world_size):
        x, y = loader.batch(i, device)
        total[0] += float(model(x, y, return_logits=False).ce_loss)  # without MoE router losses
        total[1] += 1
    model.train(was_training)
    if info.enabled:
        torch.distributed.all_reduce(total)
    loss = float(total[0] / total[1])
    return {
        "val/loss": loss,
        "val/perplexity": math.exp(min(loss, 50.0)),
        # nats/token -> bits/byte through the shard's measured bytes per token
        "val/bits_per_byte": loss / math.log(2) / bytes_per_token,
    }


def _print_sample(model, tokenizer: Tokenizer, cfg: PretrainConfig, run: RunDir, info: DistInfo, step: int) -> None:
    prompt = [tokenizer.eot_id] + tokenizer.encode(cfg.sample_prompt)
    ids = generate(
        model,
        [prompt],
        cfg.sample_tokens,
        SamplingParams(temperature=0.8, top_k=50),
        seed=step,
        stop_ids={tokenizer.eot_id},
    )[0]
    text = cfg.sample_prompt + tokenizer.decode(ids)
    print0(f"sample: {text}\n")
    if not info.is_main:
        return
    run.samples_dir.mkdir(parents=True, exist_ok=True)
    with open(run.samples_dir / f"{cfg.stage}.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps({"step": step, "prompt": cfg.sample_prompt, "text": text}) + "\n")
