"""Instruction tuning (SFT): Alpaca-format records (instruction / input / output) with the Alpaca prompt, or chat
records (`messages` with system/user/assistant roles) with the chat template of tokenizer/special.py. The loss is
on the responses only (Alpaca: the output and its closing `<|endoftext|>`; chat: each assistant turn's content and
its `<|end|>`); prompts, roles and user turns are context. Batches are length-bucketed (little padding).

`format=auto` picks chat for records with `messages`, else Alpaca. `format=chat` also renders Alpaca records as a
user turn (instruction + input) and an assistant turn, so the model learns the chat template that `slm chat` uses.

Truncation policy: Alpaca prompts lose the end of their instruction/input section (the response header and the
response stay, the response cut to half of max_length at most); chat examples are cut at max_length tokens.

Example:
    task = InstructTask(InstructOptions(format="chat"), tokenizer, max_len=256)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from slmkit.common.errors import InputError
from slmkit.config import opt
from slmkit.tasks.base import Encoded, Overflow, fit_prompt_and_target, lm_collate, masked_lm_loss
from slmkit.tasks.seq2seq import greedy_outputs
from slmkit.tokenizer import Tokenizer
from slmkit.tokenizer.special import ASSISTANT, CHAT_TEMPLATE, END, EOT, chat_turns

ALPACA_PREAMBLE = (
    "Below is an instruction that describes a task. Write a response that appropriately completes the request."
)
ALPACA_TEMPLATE = ALPACA_PREAMBLE + "\n\n### Instruction:\n{instruction}{input_section}\n\n### Response:\n"
ALPACA_INPUT = "\n\n### Input:\n{input}"


def alpaca_prompt(instruction: str, input_text: str = "") -> str:
    """The Alpaca prompt, ending where the response starts. Example: `alpaca_prompt("Name a colour.")`"""
    section = ALPACA_INPUT.format(input=input_text) if input_text.strip() else ""
    return ALPACA_TEMPLATE.format(instruction=instruction, input_section=section)


@dataclass
class InstructOptions:
    format: Literal["auto", "alpaca", "chat"] = opt("auto", "prompt format: alpaca, chat, or auto (by record)")
    max_new_tokens: int = opt(128, "generation budget of the sample responses in the test report")
    n_samples: int = opt(5, "test examples whose generated responses go into the report")


class InstructTask:
    name = "instruct"
    select_metric, select_mode = "loss", "min"

    def __init__(self, opts: InstructOptions, tokenizer: Tokenizer, max_len: int, overflow: Overflow = "truncate"):
        self.opts, self.tokenizer, self.max_len, self.overflow = opts, tokenizer, max_len, overflow
        self.used_format: str | None = None

    def fields(self) -> tuple[list[str], list[str]]:
        return [], ["instruction", "input", "output"]

    def _format_of(self, record: dict[str, Any]) -> str:
        if self.opts.format == "alpaca" and "messages" in record and "instruction" not in record:
            raise InputError(record["where"], found="a chat record (messages)", expected="an Alpaca record")
        if self.opts.format != "auto":
            return self.opts.format
        return "chat" if "messages" in record else "alpaca"

    @staticmethod
    def _alpaca_fields(record: dict[str, Any]) -> tuple[str, str, str]:
        for name in ("instruction", "output"):
            if not isinstance(record.get(name), str):
                found = "no such field" if name not in record else type(record[name]).__name__
                raise InputError(f"{record['where']}: field '{name}'", found=found, expected="a string")
        return record["instruction"], record.get("input") or "", record["output"]

    def _encode_alpaca(self, record: dict[str, Any]) -> Encoded | None:
        instruction, input_text, output = self._alpaca_fields(record)
        tok = self.tokenizer
        prompt = alpaca_prompt(instruction, input_text)
        head_text, _, _ = prompt.partition("\n\n### Instruction:\n")
        body_text = prompt[len(head_text): -len("\n\n### Response:\n")]
        head = [tok.eot_id, *tok.encode(head_text)]
        tail = tok.encode("\n\n### Response:\n")
        target = [*tok.encode(output), tok.eot_id]
        body = fit_prompt_and_target(head, tok.encode(body_text), tail, target, self.max_len, self.overflow,
                                     record["where"])
        if body is None:
            return None
        prompt_ids = head + body + tail
        return Encoded(tokens=prompt_ids + target, loss_mask=[False] * len(prompt_ids) + [True] * len(target),
                       prompt_len=len(prompt_ids), reference=output)

    def _messages(self, record: dict[str, Any]) -> list[dict[str, str]]:
        if "messages" in record:
            messages = record["messages"]
            if not isinstance(messages, list) or not messages:
                raise InputError(f"{record['where']}: field 'messages'", found=type(messages).__name__,
                                 expected="a non-empty list of {role, content} objects")
            return messages
        instruction, input_text, output = self._alpaca_fields(record)
        user = instruction + (f"\n\n{input_text}" if input_text.strip() else "")
        return [{"role": "user", "content": user}, {"role": "assistant", "content": output}]

    def _encode_chat(self, record: dict[str, Any]) -> Encoded | None:
        tok = self.tokenizer
        newline = tok.encode("\n")
        try:
            turns = chat_turns(self._messages(record))
        except InputError as err:
            raise InputError(record["where"], found=str(err), expected="valid chat messages") from None
        if not any(role == ASSISTANT for role, _ in turns):
            raise InputError(record["where"], found="no assistant turn", expected="at least one assistant message")
        tokens, mask = [tok.eot_id], [False]
        prompt_len, reference = 0, ""
        for role, content in turns:
            opening = [tok.special_ids[role], *newline]
            body = [*tok.encode(content), tok.special_ids[END]]
            trains = role == ASSISTANT
            if trains:
                prompt_len, reference = len(tokens) + len(opening), content  # the last assistant turn
            tokens += opening + body + newline
            mask += [False] * len(opening) + [trains] * len(body) + [False] * len(newline)
        if len(tokens) > self.max_len:
            if self.overflow == "error":
                raise InputError(record["where"], found=f"{len(tokens)} tokens",
                                 expected=f"at most {self.max_len} (max_length); use overflow=truncate or drop")
            if self.overflow == "drop":
                return None
            tokens, mask = tokens[: self.max_len], mask[: self.max_len]
            if not any(mask[1:]):
                return None  # nothing left to learn from
        return Encoded(tokens=tokens, loss_mask=mask, prompt_len=min(prompt_len, len(tokens)), reference=reference)

    def encode_all(self, records: list[dict[str, Any]], split: str) -> list[Encoded]:
        out = []
        for record in records:
            fmt = self._format_of(record)
            self.used_format = self.used_format or fmt
            encoded = self._encode_alpaca(record) if fmt == "alpaca" else self._encode_chat(record)
            if encoded is not None:
                out.append(encoded)
        return out

    def wrap_model(self, lm: nn.Module) -> nn.Module:
        return lm

    def collate(self, batch: list[Encoded], device) -> tuple[torch.Tensor, torch.Tensor]:
        return lm_collate(batch, self.tokenizer.pad_id, device)

    def evaluate(self, model: nn.Module, examples: list[Encoded], device) -> dict[str, Any]:
        return {"loss": masked_lm_loss(model, examples, self.tokenizer.pad_id, device)}

    def test_report(self, model: nn.Module, examples: list[Encoded], device) -> dict[str, Any]:
        report: dict[str, Any] = {"loss": masked_lm_loss(model, examples, self.tokenizer.pad_id, device)}
        shown = examples[: self.opts.n_samples]
        stops = {self.tokenizer.eot_id, self.tokenizer.special_ids[END]}
        prompts = [e.tokens[: e.prompt_len] for e in shown]
        responses = greedy_outputs(model, prompts, self.tokenizer, self.opts.max_new_tokens, stops)
        report["samples"] = [
            {"prompt": self.tokenizer.decode(p[1:]), "reference": e.reference, "response": r}
            for p, e, r in zip(prompts, shown, responses)
        ]
        report["n"] = len(examples)
        return report

    def checkpoint_record(self) -> dict[str, Any]:
        fmt = self.used_format or "alpaca"
        if fmt == "chat":
            return {"format": "chat", "chat_template": CHAT_TEMPLATE, "stop": [END, EOT], "max_length": self.max_len}
        return {"format": "alpaca", "template": ALPACA_TEMPLATE, "input_section": ALPACA_INPUT, "stop": [EOT],
                "max_length": self.max_len}

    def extra_tensors(self, model: nn.Module) -> dict[str, dict[str, torch.Tensor]]:
        return {}
