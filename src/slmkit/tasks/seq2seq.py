"""Decoder-only sequence-to-sequence: summarization and translation as `prompt(source) -> target`, with the loss
on the target tokens only (the prompt is context, never a training target).

Data: records with a source and a target field: jsonl/json (`dialogue`/`summary` of SAMSum and DialogSum,
`source`/`target`), or tab-separated pairs (Tatoeba's `english<TAB>french<TAB>attribution`, read with
`columns=[source, target]`). Metrics on generated outputs (greedy): ROUGE-1/2/L for summaries and BLEU/chrF for
translations, each next to a trivial baseline scored on the same examples (the source's first sentence as the
summary; the source copied as the translation).

Example:
    task = Seq2SeqTask("translate", Seq2SeqOptions(), tokenizer, max_len=256)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from slmkit.common.errors import ConfigError, InputError
from slmkit.config import opt
from slmkit.eval.metrics import bleu_chrf, first_sentence, rouge
from slmkit.infer.engine import generate
from slmkit.infer.sampling import SamplingParams
from slmkit.tasks.base import Encoded, Overflow, fit_prompt_and_target, lm_collate, masked_lm_loss
from slmkit.tokenizer import Tokenizer

TEMPLATES = {
    "summarize": "Summarize the dialogue.\n\n{source}\n\nSummary:",
    "translate": "Translate English to French.\nEnglish: {source}\nFrench:",
}
SOURCE_FIELDS = ("source", "dialogue", "text", "document", "en")
TARGET_FIELDS = ("target", "summary", "fr")


@dataclass
class Seq2SeqOptions:
    source_field: str | None = opt(None, f"source field (default: the first present of {', '.join(SOURCE_FIELDS)})")
    target_field: str | None = opt(None, f"target field (default: the first present of {', '.join(TARGET_FIELDS)})")
    columns: list[str] = opt(factory=lambda: ["source", "target"], help="column names of a headerless tab file")
    template: str | None = opt(None, "prompt template with {source} (default: one per task)")
    max_target_tokens: int | None = opt(None, "targets are cut to this many tokens (default: half of max_length)")
    max_new_tokens: int = opt(64, "generation budget when scoring")
    max_test_examples: int | None = opt(None, "generate for at most this many test examples")
    anonymize_speakers: bool = opt(
        False, "dialogues: speaker names -> #Person1#, #Person2#... in source and target, restored in outputs"
    )


_SPEAKER = re.compile(r"^\s*([^:\n]{1,40}?):", re.MULTILINE)


def speaker_tags(dialogue: str) -> dict[str, str]:
    """Speaker name -> #PersonN#, in order of first appearance (`Name:` at line starts).

    Example: `speaker_tags("Ann: hi\nBob: yo")  # {"Ann": "#Person1#", "Bob": "#Person2#"}`
    """
    tags: dict[str, str] = {}
    for name in _SPEAKER.findall(dialogue):
        name = name.strip()
        if name and name not in tags and not name.startswith("#"):
            tags[name] = f"#Person{len(tags) + 1}#"
    return tags


def replace_names(text: str, mapping: dict[str, str]) -> str:
    """Replace whole-word occurrences of each key by its value (longest keys first)."""
    for key in sorted(mapping, key=len, reverse=True):
        text = re.sub(rf"(?<!\w){re.escape(key)}(?!\w)", mapping[key], text)
    return text


def greedy_outputs(lm: nn.Module, prompts: list[list[int]], tokenizer: Tokenizer, max_new_tokens: int,
                   stop_ids: set[int]) -> list[str]:
    """Greedy continuations of token prompts, decoded (stops at a stop id)."""
    outs = generate(lm, prompts, max_new_tokens, SamplingParams(temperature=0.0), seed=0, stop_ids=stop_ids)
    return [tokenizer.decode(ids).strip() for ids in outs]


class Seq2SeqTask:
    select_metric, select_mode = "loss", "min"

    def __init__(self, name: str, opts: Seq2SeqOptions, tokenizer: Tokenizer, max_len: int,
                 overflow: Overflow = "truncate"):
        self.name, self.opts, self.tokenizer, self.max_len, self.overflow = name, opts, tokenizer, max_len, overflow
        self.template = opts.template or TEMPLATES[name]
        if self.template.count("{source}") != 1:
            raise ConfigError("seq2seq.template", found=self.template, expected="a template with one {source}")
        self.source_field = opts.source_field
        self.target_field = opts.target_field
        self.lm: nn.Module | None = None

    def fields(self) -> tuple[list[str], list[str]]:
        # required fields are resolved per file from the candidates, so only the chosen ones are demanded here
        return [f for f in (self.opts.source_field, self.opts.target_field) if f], list(self.opts.columns)

    def _resolve_fields(self, record: dict[str, Any]) -> tuple[str, str]:
        src = self.source_field or next((f for f in SOURCE_FIELDS if isinstance(record.get(f), str)), None)
        tgt = self.target_field or next((f for f in TARGET_FIELDS if isinstance(record.get(f), str)), None)
        if src is None or tgt is None:
            missing = "source" if src is None else "target"
            names = SOURCE_FIELDS if src is None else TARGET_FIELDS
            raise InputError(
                record["where"], found=f"fields {sorted(k for k in record if k != 'where')}",
                expected=f"a {missing} field ({', '.join(names)}, or set seq2seq.{missing}_field)",
            )
        return src, tgt

    def encode_all(self, records: list[dict[str, Any]], split: str) -> list[Encoded]:
        eot = self.tokenizer.eot_id
        before, after = self.template.split("{source}")
        head = [eot, *self.tokenizer.encode(before)]
        tail = self.tokenizer.encode(after)
        out = []
        for record in records:
            src_f, tgt_f = self._resolve_fields(record)
            source, target_text = record[src_f].strip(), record[tgt_f].strip()
            tags = speaker_tags(source) if self.opts.anonymize_speakers else {}
            model_source, model_target = replace_names(source, tags), replace_names(target_text, tags)
            target = [*self.tokenizer.encode(" " + model_target), eot]
            body = fit_prompt_and_target(
                head, self.tokenizer.encode(model_source), tail, target, self.max_len, self.overflow, record["where"],
                self.opts.max_target_tokens,
            )
            if body is None:
                continue
            prompt = head + body + tail
            tokens = prompt + target
            mask = [False] * len(prompt) + [True] * len(target)
            out.append(Encoded(tokens=tokens, loss_mask=mask, prompt_len=len(prompt), reference=target_text,
                               meta={"source": source, "speakers": tags}))
        return out

    def wrap_model(self, lm: nn.Module) -> nn.Module:
        self.lm = lm
        return lm

    def collate(self, batch: list[Encoded], device) -> tuple[torch.Tensor, torch.Tensor]:
        return lm_collate(batch, self.tokenizer.pad_id, device)

    def evaluate(self, model: nn.Module, examples: list[Encoded], device) -> dict[str, Any]:
        return {"loss": masked_lm_loss(model, examples, self.tokenizer.pad_id, device)}

    def test_report(self, model: nn.Module, examples: list[Encoded], device) -> dict[str, Any]:
        """Loss plus generation metrics and the trivial baseline on the same examples."""
        report: dict[str, Any] = {"loss": masked_lm_loss(model, examples, self.tokenizer.pad_id, device)}
        scored = examples[: self.opts.max_test_examples] if self.opts.max_test_examples else examples
        prompts = [e.tokens[: e.prompt_len] for e in scored]
        predictions = greedy_outputs(model, prompts, self.tokenizer, self.opts.max_new_tokens,
                                     {self.tokenizer.eot_id})
        predictions = [replace_names(p, {t: n for n, t in e.meta["speakers"].items()})
                       for p, e in zip(predictions, scored)]  # names back in place of #PersonN# tags
        references = [e.reference for e in scored]
        sources = [e.meta["source"] for e in scored]
        if self.name == "summarize":
            report.update(rouge(predictions, references))
            report.update({f"baseline_{k}": v for k, v in rouge([first_sentence(s) for s in sources],
                                                                 references).items()})
        else:
            report.update(bleu_chrf(predictions, references))
            report.update({f"baseline_{k}": v for k, v in bleu_chrf(sources, references).items()})
        report["n"] = len(scored)
        report["examples"] = [
            {"source": s[:300], "reference": r, "prediction": p}
            for s, r, p in list(zip(sources, references, predictions))[:5]
        ]
        return report

    def checkpoint_record(self) -> dict[str, Any]:
        return {"template": self.template, "target_prefix": " ", "stop": "<|endoftext|>",
                "max_length": self.max_len, "anonymize_speakers": self.opts.anonymize_speakers}

    def extra_tensors(self, model: nn.Module) -> dict[str, dict[str, torch.Tensor]]:
        return {}
