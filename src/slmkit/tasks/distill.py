"""Knowledge distillation into a student language model, on token shards (the pre-training data format).

- "logits" (Hinton et al., 2015): loss = alpha * T^2 * KL(teacher_T || student_T) + (1 - alpha) * CE(student, data),
  where `_T` are softmaxes at temperature T (the T^2 keeps gradient sizes comparable across temperatures).
  The teacher is a (bigger) slmkit checkpoint or a Hugging Face causal LM in a local folder (safetensors only).
- "sequence" (Kim & Rush, 2016): the teacher samples sequences once; the student trains on them with plain CE.

Teacher and student must share the tokenizer: ids must mean the same strings, else the KL compares unrelated
distributions. A mismatch is a one-line error.

Example:
    slm finetune distill --data runs/ts/shards --distill.teacher runs/ts-small/ckpt/pretrain --run runs/kd
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from slmkit.common.errors import ConfigError, InputError, MissingFileError
from slmkit.common.log import print0
from slmkit.config import check, opt
from slmkit.data.loader import TokenBatchLoader
from slmkit.data.shards import ShardMeta, open_shard, shards_dir_of
from slmkit.infer.engine import generate
from slmkit.infer.load import CONFIG_FILE, load_checkpoint, resolve_checkpoint_dir
from slmkit.infer.sampling import SamplingParams
from slmkit.model.config import PRESETS, preset
from slmkit.model.loss import IGNORE_INDEX
from slmkit.model.transformer import ModelOutput, Transformer
from slmkit.tasks.base import Prepared, set_trainable
from slmkit.tokenizer import Tokenizer


@dataclass
class DistillOptions:
    teacher: str | None = opt(None, "teacher: a slmkit checkpoint, or a local Hugging Face causal-LM folder")
    mode: Literal["logits", "sequence"] = opt("logits", "logits: KL on softened logits + CE; sequence: teacher samples")
    temperature: float = opt(2.0, "softmax temperature of the KL term")
    alpha: float = opt(0.5, "weight of the KL term (1 - alpha on the data cross-entropy; 0 = train alone)")
    student_preset: str = opt("tiny", "student shape when --ckpt is not given (trained from scratch)")
    seq_len: int = opt(256, "training sequence length")
    eval_batches: int = opt(20, "validation batches per evaluation")
    n_sequences: int = opt(256, "sequence mode: teacher samples to generate")
    sample_tokens: int = opt(200, "sequence mode: tokens per teacher sample")
    sample_temperature: float = opt(1.0, "sequence mode: teacher sampling temperature")

    def __post_init__(self):
        check(self.temperature > 0, "distill.temperature", self.temperature, "> 0")
        check(0.0 <= self.alpha <= 1.0, "distill.alpha", self.alpha, "a weight in [0, 1]")
        check(self.student_preset in PRESETS, "distill.student_preset", self.student_preset,
              f"one of {', '.join(PRESETS)}")


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, targets: torch.Tensor,
                      temperature: float, alpha: float) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(total, kl, ce) over the positions whose target is not -100; logits (N, V), targets (N,).

    kl = mean over counted positions of T^2 * sum_v p_teacher,T(v) * (log p_teacher,T(v) - log p_student,T(v)).
    Example: `distillation_loss(s, t, y, temperature=2.0, alpha=0.5)[0].backward()`
    """
    valid = targets != IGNORE_INDEX  # (N,)
    ce = F.cross_entropy(student_logits.float(), targets, ignore_index=IGNORE_INDEX)
    log_s = F.log_softmax(student_logits.float()[valid] / temperature, dim=-1)  # (n, V)
    log_t = F.log_softmax(teacher_logits.float()[valid] / temperature, dim=-1)  # (n, V)
    kl = (log_t.exp() * (log_t - log_s)).sum(-1).mean() * temperature**2
    return alpha * kl + (1 - alpha) * ce, kl, ce


class DistillationModel(nn.Module):
    """Student + frozen teacher, called by the training loop like an LM: `model(x, y, return_logits=False).loss`."""

    def __init__(self, student: Transformer, teacher: nn.Module | None, temperature: float, alpha: float):
        super().__init__()
        self.student, self.temperature, self.alpha = student, temperature, alpha
        self.cfg = student.cfg
        self._teacher = [teacher]  # a list: the teacher is not a submodule (not trained, not saved, not in optim)

    def forward(self, idx, targets=None, *, return_logits: bool = True, loss_reduction: str = "mean"):
        teacher = self._teacher[0]
        if teacher is None or self.alpha == 0 or targets is None or not self.training:
            return self.student(idx, targets, return_logits=return_logits, loss_reduction=loss_reduction)
        logits = self.student(idx).logits  # (B, T, V)
        with torch.no_grad():
            t_logits = teacher_logits(teacher, idx)[..., : logits.shape[-1]]  # (B, T, V)
        loss, _, ce = distillation_loss(logits.flatten(0, 1), t_logits.flatten(0, 1), targets.reshape(-1),
                                        self.temperature, self.alpha)
        return ModelOutput(logits=logits if return_logits else None, loss=loss, aux_loss=None, ce_loss=ce)


def teacher_logits(teacher: nn.Module, idx: torch.Tensor) -> torch.Tensor:
    """(B, T, V) logits of a slmkit or Hugging Face teacher."""
    if isinstance(teacher, Transformer):
        return teacher(idx).logits
    return teacher(input_ids=idx).logits


def _is_slmkit_checkpoint(path: Path) -> bool:
    try:
        folder = resolve_checkpoint_dir(path)
        return "model" in json.loads((folder / CONFIG_FILE).read_text(encoding="utf-8"))
    except (InputError, json.JSONDecodeError, OSError):
        return False


def check_same_vocabulary(student_tok: Tokenizer, teacher_vocab: dict[str, int], where: str) -> None:
    """Raise InputError unless every student token string has the same id in the teacher's vocabulary."""
    student_vocab = student_tok.hf_tokenizer.get_vocab()
    differ = [t for t, i in student_vocab.items() if teacher_vocab.get(t) != i]
    if differ:
        raise InputError(
            where,
            found=f"a tokenizer whose ids differ from the student's on {len(differ)} of {len(student_vocab)} tokens",
            expected="the student's tokenizer (distillation compares distributions over the same token ids)",
        )


def load_teacher(path_text: str, student_tok: Tokenizer, device) -> tuple[nn.Module, dict[str, Any]]:
    """A frozen teacher in eval mode, and its description for the checkpoint record."""
    path = Path(path_text)
    if not path.exists():
        raise MissingFileError(path, expected="a slmkit checkpoint or a Hugging Face model folder")
    if _is_slmkit_checkpoint(path):
        loaded = load_checkpoint(path, device=device)
        if loaded.tokenizer.sha256 != student_tok.sha256:
            check_same_vocabulary(student_tok, loaded.tokenizer.hf_tokenizer.get_vocab(), str(loaded.path))
        teacher, info = loaded.model, {"kind": "slmkit", "path": str(loaded.path)}
    else:
        if not any(path.glob("*.safetensors")):
            raise InputError(str(path), found="no *.safetensors weights", expected="a safetensors HF model folder")
        tok_file = path / "tokenizer.json"
        if not tok_file.is_file():
            raise MissingFileError(tok_file, expected="the teacher's tokenizer.json (to check it matches)")
        import tokenizers
        from transformers import AutoModelForCausalLM

        check_same_vocabulary(student_tok, tokenizers.Tokenizer.from_file(str(tok_file)).get_vocab(), str(tok_file))
        teacher = AutoModelForCausalLM.from_pretrained(str(path), local_files_only=True, use_safetensors=True)
        teacher = teacher.to(device)
        info = {"kind": "huggingface", "path": str(path)}
    teacher.eval()
    for p in teacher.parameters():
        p.requires_grad_(False)
    params = sum(p.numel() for p in teacher.parameters())
    print0(f"teacher: {info['kind']} {info['path']} ({params / 1e6:.2f}M parameters)")
    return teacher, dict(info, parameters=params)


def _teacher_samples(teacher: nn.Module, tokenizer: Tokenizer, opts: DistillOptions, seed: int) -> np.ndarray:
    """Token stream of teacher samples, each opened by <|endoftext|> (as in pre-training shards)."""
    if not isinstance(teacher, Transformer):
        raise ConfigError("distill.mode", found="sequence", expected="a slmkit teacher for sequence-level mode")
    eot = tokenizer.eot_id
    samples = generate(teacher, [[eot]] * opts.n_sequences, opts.sample_tokens,
                       SamplingParams(temperature=opts.sample_temperature, top_k=50), seed=seed, stop_ids={eot})
    stream = [t for s in samples for t in [eot, *s]]
    return np.asarray(stream, dtype=np.int64)


def prepare_distillation(opts: DistillOptions, cfg: Any, device):
    """A `Prepared` for the finetune stage: student, batches from shards, bits-per-byte evaluation."""
    if opts.teacher is None:
        raise ConfigError("distill.teacher", found=None, expected="a teacher checkpoint (--distill.teacher PATH)")
    shards = shards_dir_of(cfg.data)
    meta = ShardMeta.load(shards)
    tok_path = Path(shards).parent / "tokenizer" / "tokenizer.json"
    if cfg.ckpt:
        loaded = load_checkpoint(cfg.ckpt, device=device)
        student, tokenizer = loaded.model, loaded.tokenizer
        tok_path = loaded.path / "tokenizer.json"
    else:
        if not tok_path.is_file():
            raise MissingFileError(tok_path, expected="the tokenizer next to the shards (or give --ckpt)")
        tokenizer = Tokenizer.from_file(tok_path)
        student = Transformer(preset(opts.student_preset, vocab_size=tokenizer.vocab_size)).to(device)
    if meta.tokenizer_sha256 != tokenizer.sha256:
        raise InputError(str(Path(shards) / "meta.json"), found="shards of another tokenizer",
                         expected=f"shards encoded with the student's tokenizer ({tokenizer.sha256[:12]})")
    student.train()
    teacher, teacher_info = load_teacher(opts.teacher, tokenizer, device)
    seq_len = min(opts.seq_len, student.cfg.context_length)
    if opts.mode == "sequence":
        train_tokens = _teacher_samples(teacher, tokenizer, opts, cfg.seed)
        print0(f"sequence-level distillation: {len(train_tokens):,} teacher tokens")
        model_teacher, alpha = None, 0.0
    else:
        train_tokens = open_shard(shards, "train")
        model_teacher, alpha = teacher, opts.alpha
    lora_names = set_trainable(student, cfg.trainable, cfg.lora)
    model = DistillationModel(student, model_teacher, opts.temperature, alpha)
    loader = TokenBatchLoader(train_tokens, cfg.batch_size, seq_len, seed=cfg.seed, name="distill train")
    val_loader = TokenBatchLoader(open_shard(shards, "val"), cfg.batch_size, seq_len, seed=cfg.seed + 1,
                                  name=f"{shards}/val.bin")
    bytes_per_token = meta.bytes_per_token("val")

    @torch.no_grad()
    def evaluate() -> dict[str, float]:
        was = student.training
        student.eval()
        losses = [float(student(*val_loader.batch(i, device), return_logits=False).ce_loss)
                  for i in range(opts.eval_batches)]
        student.train(was)
        loss = sum(losses) / len(losses)
        return {"loss": loss, "bits_per_byte": loss / math.log(2) / bytes_per_token}

    record = {"task": "distill", "teacher": teacher_info, "mode": opts.mode, "temperature": opts.temperature,
              "alpha": alpha, "lora": None if not lora_names else {"modules": lora_names, "merged": True}}
    return Prepared(
        model=model,
        lm=student,
        micro_batch=lambda index: loader.batch(index, device),
        batches_per_epoch=max(1, len(train_tokens) // (cfg.batch_size * seq_len)),
        tokens_per_micro=cfg.batch_size * seq_len,
        evaluate=evaluate,
        test=evaluate,
        record=record,
        select_metric="bits_per_byte",
        select_mode="min",
        tokenizer_path=tok_path,
    )
