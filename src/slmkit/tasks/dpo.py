"""Direct Preference Optimization (Rafailov et al., 2023): learn from (prompt, chosen, rejected) triples.

The policy starts as the fine-tuned model and a frozen copy of it is the reference. For each pair,

    margin = beta * [(log pi(chosen) - log ref(chosen)) - (log pi(rejected) - log ref(rejected))]
    loss   = -log sigmoid(margin)

where log p(.) sums the log-probabilities of the response tokens only (the prompt is context, as in SFT). Records are
Alpaca-style preference data (`instruction`, `input`, `chosen`, `rejected`: the *LLMs-from-scratch* ch07 file) or
`prompt` / `chosen` / `rejected` (what `slm feedback build` writes); prompts are rendered like the instruct task
(Alpaca template, or the chat template with `format=chat`), so the model keeps the format it was tuned on.

Validation reports the DPO loss and two views of preference: `reward_accuracy` / `reward_margin` (the implicit reward
beta * log pi/ref: 0 for the starting model by construction) and `logp_accuracy` / `logp_margin` (does the model
itself give the chosen answer a higher log-likelihood than the rejected one, in total and per token: comparable between
any two models, and reported for the reference too, so one run shows the SFT model against the DPO model).

Example:
    slm finetune dpo --ckpt runs/sft/ckpt/instruct/best --data instruction-data-with-preference.json --dpo.beta 0.1
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from slmkit.common.errors import InputError
from slmkit.config import opt
from slmkit.model.loss import IGNORE_INDEX
from slmkit.tasks.base import Encoded, Overflow, eval_batches, frozen_copy, lm_collate
from slmkit.tasks.instruct import InstructOptions, InstructTask
from slmkit.tokenizer import Tokenizer


@dataclass
class DPOOptions:
    beta: float = opt(0.1, "strength of the KL-style pull towards the reference model (DPO's beta)")
    format: Literal["alpaca", "chat"] = opt("alpaca", "prompt format (the one the starting model was tuned on)")


def sequence_logprobs(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Sum of log p(target) over the positions whose target is not IGNORE_INDEX, per row.

    logits (B, T, V), targets (B, T) -> (B,). Example: `sequence_logprobs(model(x).logits, y)`
    """
    mask = targets != IGNORE_INDEX  # (B, T)
    safe = targets.masked_fill(~mask, 0)
    logp = torch.log_softmax(logits.float(), dim=-1).gather(-1, safe.unsqueeze(-1)).squeeze(-1)  # (B, T)
    return (logp * mask).sum(dim=-1)


def dpo_loss(policy_chosen: torch.Tensor, policy_rejected: torch.Tensor, ref_chosen: torch.Tensor,
             ref_rejected: torch.Tensor, beta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """(mean loss, per-pair reward margin) from summed response log-probabilities, each (B,).

    Example: `dpo_loss(torch.tensor([-1.]), torch.tensor([-2.]), torch.tensor([-1.5]), torch.tensor([-1.5]), 0.1)`
    """
    margin = beta * ((policy_chosen - ref_chosen) - (policy_rejected - ref_rejected))  # (B,)
    return -F.logsigmoid(margin).mean(), margin


@dataclass
class DPOOutput:
    loss: torch.Tensor
    margin: torch.Tensor  # (B,) reward margins
    policy_chosen: torch.Tensor  # (B,)
    policy_rejected: torch.Tensor  # (B,)
    reference_chosen: torch.Tensor  # (B,)
    reference_rejected: torch.Tensor  # (B,)
    ce_loss: None = None


class DPOModel(nn.Module):
    """The policy LM and its frozen reference; `forward(x, y)` takes [chosen rows; rejected rows] stacked."""

    def __init__(self, policy: nn.Module, beta: float):
        super().__init__()
        self.policy = policy
        self.reference = frozen_copy(policy)
        self.beta = beta

    def train(self, mode: bool = True):
        super().train(mode)
        self.reference.eval()  # no dropout in the reference, ever
        return self

    def forward(self, x: torch.Tensor, y: torch.Tensor, return_logits: bool = False, loss_reduction: str = "mean"):
        # x, y: (2B, T) -- rows [0, B) are the chosen responses, rows [B, 2B) the rejected ones
        half = x.size(0) // 2
        policy = sequence_logprobs(self.policy(x).logits, y)  # (2B,)
        with torch.no_grad():
            reference = sequence_logprobs(self.reference(x).logits, y)  # (2B,)
        loss, margin = dpo_loss(policy[:half], policy[half:], reference[:half], reference[half:], self.beta)
        if loss_reduction == "sum":
            loss = loss * half
        return DPOOutput(loss, margin, policy[:half], policy[half:], reference[:half], reference[half:])


class DPOTask:
    name = "dpo"
    select_metric, select_mode = "loss", "min"

    def __init__(self, opts: DPOOptions, tokenizer: Tokenizer, max_len: int, overflow: Overflow = "truncate"):
        self.opts, self.tokenizer, self.max_len = opts, tokenizer, max_len
        self._prompts = InstructTask(InstructOptions(format=opts.format), tokenizer, max_len, overflow)

    def fields(self) -> tuple[list[str], list[str]]:
        return ["chosen", "rejected"], ["instruction", "input", "chosen", "rejected"]

    def _encode(self, record: dict[str, Any], response: str) -> Encoded | None:
        base = {"instruction": record.get("instruction", record.get("prompt")), "input": record.get("input") or "",
                "output": response, "where": record["where"]}
        if not isinstance(base["instruction"], str):
            raise InputError(record["where"], found=f"fields {sorted(k for k in record if k != 'where')}",
                             expected="'instruction' (or 'prompt') with 'chosen' and 'rejected'")
        encoded = self._prompts.encode_all([base], "dpo")
        return encoded[0] if encoded else None

    def encode_all(self, records: list[dict[str, Any]], split: str) -> list[Encoded]:
        out = []
        for record in records:
            for name in ("chosen", "rejected"):
                if not isinstance(record.get(name), str):
                    raise InputError(f"{record['where']}: field '{name}'", found=type(record.get(name)).__name__,
                                     expected="a string")
            chosen, rejected = self._encode(record, record["chosen"]), self._encode(record, record["rejected"])
            if chosen is None or rejected is None:
                continue  # dropped by overflow=drop
            chosen.meta["rejected"] = rejected
            out.append(chosen)
        return out

    def wrap_model(self, lm: nn.Module) -> nn.Module:
        return DPOModel(lm, self.opts.beta)

    def collate(self, batch: list[Encoded], device) -> tuple[torch.Tensor, torch.Tensor]:
        return lm_collate([*batch, *(e.meta["rejected"] for e in batch)], self.tokenizer.pad_id, device)

    @torch.no_grad()
    def evaluate(self, model: DPOModel, examples: list[Encoded], device) -> dict[str, Any]:
        was_training = model.training
        model.eval()
        losses, margins, logp_diffs, ref_diffs, norm_diffs, ref_norm_diffs = [], [], [], [], [], []
        for batch in eval_batches(examples, 8):
            x, y = self.collate(batch, device)
            out = model(x, y)
            n_tokens = (y != IGNORE_INDEX).sum(dim=-1).clamp(min=1)  # (2B,) response tokens per row
            n_chosen, n_rejected = n_tokens[: len(batch)], n_tokens[len(batch):]
            losses.append(float(out.loss) * len(batch))
            margins.append(out.margin)
            logp_diffs.append(out.policy_chosen - out.policy_rejected)
            ref_diffs.append(out.reference_chosen - out.reference_rejected)
            norm_diffs.append(out.policy_chosen / n_chosen - out.policy_rejected / n_rejected)
            ref_norm_diffs.append(out.reference_chosen / n_chosen - out.reference_rejected / n_rejected)
        model.train(was_training)
        margin, logp, ref = torch.cat(margins), torch.cat(logp_diffs), torch.cat(ref_diffs)
        norm, ref_norm = torch.cat(norm_diffs), torch.cat(ref_norm_diffs)
        return {"loss": sum(losses) / len(examples), "reward_accuracy": float((margin > 0).float().mean()),
                "reward_margin": float(margin.mean()), "logp_accuracy": float((logp > 0).float().mean()),
                "logp_margin": float(logp.mean()), "reference_logp_accuracy": float((ref > 0).float().mean()),
                "reference_logp_margin": float(ref.mean()),
                "per_token_logp_accuracy": float((norm > 0).float().mean()),
                "reference_per_token_logp_accuracy": float((ref_norm > 0).float().mean()), "n": len(examples)}

    def checkpoint_record(self) -> dict[str, Any]:
        record = self._prompts.checkpoint_record() if self._prompts.used_format else {}
        return dict(record, dpo={"beta": self.opts.beta})

    def extra_tensors(self, model: nn.Module) -> dict[str, dict[str, torch.Tensor]]:
        return {}
