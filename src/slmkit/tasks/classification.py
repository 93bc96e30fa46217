"""Text classification, two ways:

- "head": a linear head on the final hidden state of the last non-pad token (the approach of *LLMs-from-scratch*
  ch. 6). Inputs are `<|endoftext|> text <|endoftext|>`; the closing token sees the whole text (causal attention).
- "label_token": the language model itself learns to emit the label's first token after `text\\nLabel:`; the loss
  is on that one token only, and prediction is the arg-max over the label tokens' logits.

Data: records with a text field and a label field (csv/tsv/jsonl; the SMS Spam Collection's `label<TAB>text`).
Labels are the sorted distinct training labels unless given; a validation/test label outside them is an error.

Example:
    task = ClassificationTask(ClassifyOptions(), tokenizer, max_len=256)
    train = task.encode_all(records, "train"); model = task.wrap_model(lm)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from slmkit.common.errors import ConfigError, InputError
from slmkit.config import opt
from slmkit.eval.metrics import classification_report
from slmkit.model.transformer import ModelOutput, Transformer
from slmkit.tasks.base import Encoded, Overflow, eval_batches, lm_collate
from slmkit.tokenizer import Tokenizer

LABEL_PROMPT = "\nLabel:"


@dataclass
class ClassifyOptions:
    mode: Literal["head", "label_token"] = opt(
        "head", "head: linear head on the last token; label_token: the LM emits the label token"
    )
    labels: list[str] = opt(factory=list, help="label names in class order (default: sorted training labels)")
    text_field: str = opt("text", "field holding the text")
    label_field: str = opt("label", "field holding the label")
    columns: list[str] = opt(factory=lambda: ["label", "text"], help="column names of a headerless tab/csv file")


def final_hidden(lm: Transformer, idx: torch.Tensor) -> torch.Tensor:
    """The normalised last-layer hidden states (B, T, d) of token ids idx (B, T), from the model's public parts."""
    T = idx.shape[1]
    x = lm.wte(idx)  # (B, T, d)
    if lm.wpe is not None:
        x = x + lm.wpe(torch.arange(T, device=idx.device))
    if lm.cfg.dropout and lm.training:
        x = F.dropout(x, lm.cfg.dropout, training=True)
    rope = lm.rope.get(0, T) if lm.rope is not None else None
    for block in lm.blocks:
        x, _ = block(x, rope)
    return lm.norm_f(x)


class SequenceClassifier(nn.Module):
    """A Transformer plus a linear head on the last non-pad token. Called like the LM by the training loop:
    `model(x, labels, return_logits=False).loss`; logits are (B, n_classes)."""

    def __init__(self, lm: Transformer, n_classes: int, pad_id: int):
        super().__init__()
        self.lm, self.pad_id, self.cfg = lm, pad_id, lm.cfg
        self.head = nn.Linear(lm.cfg.d_model, n_classes)
        nn.init.normal_(self.head.weight, 0.0, lm.cfg.init_std)
        nn.init.zeros_(self.head.bias)
        self.head.to(lm.wte.weight.device)

    def forward(self, idx: torch.Tensor, labels: torch.Tensor | None = None, *, return_logits: bool = True,
                loss_reduction: str = "mean") -> ModelOutput:
        hidden = final_hidden(self.lm, idx)  # (B, T, d)
        last = (idx != self.pad_id).sum(dim=1).clamp(min=1) - 1  # (B,) right padding: last real position
        pooled = hidden[torch.arange(idx.shape[0], device=idx.device), last]  # (B, d)
        logits = self.head(pooled)  # (B, C)
        loss = None if labels is None else F.cross_entropy(logits, labels, reduction=loss_reduction)
        return ModelOutput(logits=logits, loss=loss, aux_loss=None, ce_loss=loss)


class ClassificationTask:
    name = "classify"
    select_metric, select_mode = "accuracy", "max"

    def __init__(self, opts: ClassifyOptions, tokenizer: Tokenizer, max_len: int, overflow: Overflow = "truncate"):
        self.opts, self.tokenizer, self.max_len, self.overflow = opts, tokenizer, max_len, overflow
        self.labels: list[str] = list(opts.labels)
        self.label_token_ids: list[int] = []

    # ------------------------------------------------------------------------------------------------ data
    def fields(self) -> tuple[list[str], list[str]]:
        """(required fields, column names of a headerless tab/csv file)."""
        return [self.opts.text_field, self.opts.label_field], list(self.opts.columns)

    def fix_labels(self, train_records: list[dict[str, Any]]) -> None:
        if not self.labels:
            self.labels = sorted({r[self.opts.label_field].strip() for r in train_records})
        if len(self.labels) < 2:
            raise InputError("labels", found=self.labels, expected="at least two classes in the training data")
        if self.opts.mode == "label_token":
            firsts = [self.tokenizer.encode(" " + label)[0] for label in self.labels]
            if len(set(firsts)) != len(firsts):
                raise ConfigError(
                    "classify.labels", found=self.labels, expected="labels whose first tokens differ (label_token mode)"
                )
            self.label_token_ids = firsts

    def _label_index(self, record: dict[str, Any]) -> int:
        label = record[self.opts.label_field].strip()
        if label not in self.labels:
            raise InputError(
                f"{record['where']}: field '{self.opts.label_field}'",
                found=label,
                expected=f"one of {', '.join(self.labels)}",
            )
        return self.labels.index(label)

    def encode_all(self, records: list[dict[str, Any]], split: str) -> list[Encoded]:
        if split == "train":
            self.fix_labels(records)
        texts = [r[self.opts.text_field] for r in records]
        encoded = self.tokenizer.encode_batch(texts)
        eot = self.tokenizer.eot_id
        tail = self.tokenizer.encode(LABEL_PROMPT) if self.opts.mode == "label_token" else []
        room = self.max_len - 2 - len(tail)  # EOT before, EOT or label token after
        out = []
        for record, ids in zip(records, encoded):
            label = self._label_index(record)
            if len(ids) > room:
                if self.overflow == "error":
                    raise InputError(
                        record["where"],
                        found=f"{len(ids) + 2 + len(tail)} tokens",
                        expected=f"at most {self.max_len} (max_length); use overflow=truncate or drop",
                    )
                if self.overflow == "drop":
                    continue
                ids = ids[:room]  # truncation policy: keep the start of the text
            if self.opts.mode == "head":
                out.append(Encoded(tokens=[eot, *ids, eot], label=label))
            else:
                tokens = [eot, *ids, *tail, self.label_token_ids[label]]
                out.append(Encoded(tokens=tokens, loss_mask=[False] * (len(tokens) - 1) + [True], label=label))
        return out

    # ------------------------------------------------------------------------------------------------ model
    def wrap_model(self, lm: Transformer) -> nn.Module:
        if self.opts.mode == "head":
            return SequenceClassifier(lm, len(self.labels), self.tokenizer.pad_id)
        return lm

    def collate(self, batch: list[Encoded], device) -> tuple[torch.Tensor, torch.Tensor]:
        if self.opts.mode == "label_token":
            return lm_collate(batch, self.tokenizer.pad_id, device)
        width = max(len(e.tokens) for e in batch)
        x = torch.full((len(batch), width), self.tokenizer.pad_id, dtype=torch.long)  # (B, T)
        for row, example in enumerate(batch):
            x[row, : len(example.tokens)] = torch.tensor(example.tokens)
        y = torch.tensor([e.label for e in batch], dtype=torch.long)  # (B,)
        return x.to(device), y.to(device)

    @torch.no_grad()
    def class_logits(self, model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """(B, n_classes) scores for a collated input batch."""
        if self.opts.mode == "head":
            return model(x).logits
        logits = model(x).logits  # (B, T, V); the label is predicted at the last real input position
        last = (x != self.tokenizer.pad_id).sum(dim=1) - 1  # (B,)
        rows = logits[torch.arange(x.shape[0], device=x.device), last]  # (B, V)
        return rows[:, self.label_token_ids]

    @torch.no_grad()
    def predict(self, model: nn.Module, examples: list[Encoded], device, batch_size: int = 32):
        """(true labels, predicted labels, mean loss) over examples."""
        was_training = model.training
        model.eval()
        truth, predicted, loss_sum = [], [], 0.0
        for batch in eval_batches(examples, batch_size):
            x, _ = self.collate(batch, device)
            labels = torch.tensor([e.label for e in batch], device=device)
            scores = self.class_logits(model, x)
            loss_sum += float(F.cross_entropy(scores.float(), labels, reduction="sum"))
            truth += labels.tolist()
            predicted += scores.argmax(dim=1).tolist()
        model.train(was_training)
        return truth, predicted, loss_sum / max(1, len(truth))

    def evaluate(self, model: nn.Module, examples: list[Encoded], device) -> dict[str, Any]:
        truth, predicted, loss = self.predict(model, examples, device)
        report = classification_report(truth, predicted, self.labels)
        return {"loss": loss, "accuracy": report["accuracy"], "macro_f1": report["macro_f1"],
                "confusion": report["confusion"], "labels": report["labels"], "n": report["n"]}

    def checkpoint_record(self) -> dict[str, Any]:
        record = {"task": "classify", "mode": self.opts.mode, "labels": self.labels, "max_length": self.max_len}
        if self.opts.mode == "label_token":
            record["template"] = "<|endoftext|>{text}" + LABEL_PROMPT + " {label}"
            record["label_token_ids"] = self.label_token_ids
        else:
            record["template"] = "<|endoftext|>{text}<|endoftext|>"
        return record

    def extra_tensors(self, model: nn.Module) -> dict[str, dict[str, torch.Tensor]]:
        if isinstance(model, SequenceClassifier):
            return {"head.safetensors": {k: v for k, v in model.head.state_dict().items()}}
        return {}
