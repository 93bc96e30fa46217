"""What every fine-tuning task shares: the Task protocol, encoded examples, the truncation policy, collation of
masked language-model batches and length-bucketed batch order.

A task brings its data (records -> `Encoded`), its model (the module the one training loop runs: called as
`model(x, y, return_logits=False).loss`), its collate and its evaluation; `train.finetune` does the rest.

Example:
    x, y = lm_collate([Encoded(tokens=[0, 5, 6, 7], loss_mask=[False, False, True, True])], pad_id=1)
    # x = [[0, 5, 6]], y = [[-100, 6, 7]]: loss only where loss_mask is True
"""

from __future__ import annotations

import copy
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import torch
from torch import nn

from slmkit.common.errors import InputError
from slmkit.model.lora import LoRAConfig, apply_lora
from slmkit.model.loss import IGNORE_INDEX

Overflow = Literal["truncate", "drop", "error"]


@dataclass
class Encoded:
    """One encoded example. LM tasks use `loss_mask` (True = this token is a target, predicted from the previous
    ones); classification-head tasks use `label`. `prompt_len` tokens form the generation prompt (seq2seq/instruct);
    `reference` is the expected output text for generation metrics."""

    tokens: list[int]
    loss_mask: list[bool] | None = None
    label: int | None = None
    prompt_len: int = 0
    reference: str = ""
    meta: dict[str, Any] = field(default_factory=dict)


class Task(Protocol):
    """The small protocol a fine-tuning task implements (composition: the stage owns the loop and checkpoints)."""

    name: str
    select_metric: str  # validation metric (without "val/") that picks the best checkpoint, e.g. "accuracy"
    select_mode: str  # "max" or "min"

    def encode_all(self, records: list[dict[str, Any]], split: str) -> list[Encoded]: ...

    def wrap_model(self, lm: nn.Module) -> nn.Module: ...

    def collate(self, batch: list[Encoded], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]: ...

    def evaluate(self, model: nn.Module, examples: list[Encoded], device: torch.device) -> dict[str, Any]: ...

    def checkpoint_record(self) -> dict[str, Any]: ...


def fit_prompt_and_target(
    prompt_head: list[int],
    body: list[int],
    prompt_tail: list[int],
    target: list[int],
    max_len: int,
    overflow: Overflow,
    where: str,
    max_target: int | None = None,
) -> list[int] | None:
    """Fit `head + body + tail + target` into `max_len` tokens; returns the (maybe truncated) body, or None (drop).

    Truncation policy ("truncate"): the target is first cut to `max_target` tokens (default: half of `max_len`,
    less when the template leaves less room),
    then the body (the source text / instruction input) is cut from its end so that the template around it and
    the target stay whole. "drop" skips an over-long example, "error" raises naming it.
    """
    fixed = len(prompt_head) + len(prompt_tail)
    if fixed + len(body) + len(target) <= max_len:
        return body
    if overflow == "drop":
        return None
    if overflow == "error":
        total = fixed + len(body) + len(target)
        raise InputError(
            where,
            found=f"{total} tokens",
            expected=f"at most {max_len} (max_length); use overflow=truncate or drop",
        )
    cap = max_target if max_target is not None else max_len // 2
    cap = min(cap, max_len - fixed - min(len(body), 1))  # a long template leaves the target less room
    if cap < 1:
        raise InputError(where, found=f"a template of {fixed} tokens", expected=f"room within {max_len} tokens")
    del target[cap:]
    return body[: max_len - fixed - len(target)]


def lm_collate(batch: Sequence[Encoded], pad_id: int, device: torch.device | str = "cpu"):
    """Right-padded next-token batches: x = tokens[:-1], y = tokens[1:] where the mask is True, else -100."""
    width = max(len(e.tokens) for e in batch) - 1
    x = torch.full((len(batch), width), pad_id, dtype=torch.long)  # (B, T)
    y = torch.full((len(batch), width), IGNORE_INDEX, dtype=torch.long)  # (B, T)
    for row, example in enumerate(batch):
        tokens = torch.tensor(example.tokens, dtype=torch.long)
        mask = torch.tensor(example.loss_mask, dtype=torch.bool)
        n = len(example.tokens) - 1
        x[row, :n] = tokens[:-1]
        y[row, :n] = torch.where(mask[1:], tokens[1:], torch.full_like(tokens[1:], IGNORE_INDEX))
    return x.to(device), y.to(device)


class BucketedBatches:
    """Deterministic batches of example indices of similar length (less padding), reshuffled every epoch.

    `batch(i)` depends only on (seed, i), so a resumed run sees exactly the batches it would have seen.
    Example: `BucketedBatches([5, 9, 3], batch_size=2, seed=0).batch(0)`
    """

    def __init__(self, lengths: Sequence[int], batch_size: int, seed: int, bucket_batches: int = 50):
        self.lengths = list(lengths)
        self.batch_size, self.seed, self.bucket = batch_size, seed, batch_size * bucket_batches
        self.per_epoch = -(-len(self.lengths) // batch_size)
        self._epoch, self._batches = -1, []

    def _plan(self, epoch: int) -> list[list[int]]:
        rng = random.Random(self.seed * 1_000_003 + epoch)
        order = list(range(len(self.lengths)))
        rng.shuffle(order)
        batches = []
        for start in range(0, len(order), self.bucket):  # sort within buckets of ~50 batches, then cut
            chunk = sorted(order[start:start + self.bucket], key=lambda i: self.lengths[i])
            batches += [chunk[j:j + self.batch_size] for j in range(0, len(chunk), self.batch_size)]
        rng.shuffle(batches)
        return batches

    def batch(self, index: int) -> list[int]:
        epoch, pos = divmod(index, self.per_epoch)
        if epoch != self._epoch:
            self._epoch, self._batches = epoch, self._plan(epoch)
        return self._batches[pos]


def eval_batches(examples: Sequence[Encoded], batch_size: int) -> list[list[Encoded]]:
    """Validation batches in length order (padding-friendly, deterministic)."""
    order = sorted(range(len(examples)), key=lambda i: len(examples[i].tokens))
    return [[examples[i] for i in order[j:j + batch_size]] for j in range(0, len(order), batch_size)]


@torch.no_grad()
def masked_lm_loss(model: nn.Module, examples: Sequence[Encoded], pad_id: int, device, batch_size: int = 16) -> float:
    """Mean cross-entropy over the masked-in target tokens of `examples` (the validation loss of LM tasks)."""
    total, count = 0.0, 0
    for batch in eval_batches(examples, batch_size):
        x, y = lm_collate(batch, pad_id, device)
        out = model(x, y, return_logits=False, loss_reduction="sum")
        total += float(out.ce_loss if getattr(out, "ce_loss", None) is not None else out.loss)
        count += int((y != IGNORE_INDEX).sum())
    return total / max(1, count)


@dataclass
class Prepared:
    """A task made ready for the training loop by `train.finetune` (record tasks) or `tasks.distill`."""

    model: nn.Module  # what the loop runs (task head / distillation wrapper around the LM)
    lm: nn.Module  # the language model inside, exported as model.safetensors
    micro_batch: Callable[[int], tuple[torch.Tensor, torch.Tensor]]  # micro-batch index -> (x, y) on the device
    batches_per_epoch: int
    tokens_per_micro: int  # estimate, for throughput logging
    evaluate: Callable[[], dict[str, Any]]  # validation: {"loss": ..., <select_metric>: ...}
    test: Callable[[], dict[str, Any]] | None  # full report on the test split
    record: dict[str, Any]  # goes to config.json["finetune"]
    select_metric: str
    select_mode: str
    extra_tensors: Callable[[nn.Module], dict[str, dict[str, torch.Tensor]]] = lambda model: {}
    tokenizer_path: Path | None = None
    restore: Callable[[Path], None] | None = None  # reload task state saved by extra_tensors (on --resume)
    attach_log: Callable[[Callable[[dict[str, Any]], None]], None] | None = None  # task metrics -> the run's log


def frozen_copy(model: nn.Module) -> nn.Module:
    """A copy of `model` in eval mode with no trainable parameters: the reference of DPO and GRPO.

    Example: `reference = frozen_copy(policy)`
    """
    reference = copy.deepcopy(model).eval()
    for p in reference.parameters():
        p.requires_grad_(False)
    return reference


def set_trainable(lm: nn.Module, trainable: str, lora: LoRAConfig) -> list[str]:
    """Freeze/unfreeze LM parameters before a task wraps the LM: "all", "last_block" (+ final norm), "lora"
    (adapters only; returns the adapted module names) or "head" (nothing in the LM)."""
    if trainable == "lora":
        return apply_lora(lm, lora)
    for p in lm.parameters():
        p.requires_grad_(trainable == "all")
    if trainable == "last_block":
        for p in [*lm.blocks[-1].parameters(), *lm.norm_f.parameters()]:
            p.requires_grad_(True)
    return []
