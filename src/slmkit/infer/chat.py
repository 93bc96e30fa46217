"""`slm chat`: an interactive chat with an instruction-tuned checkpoint, keeping the conversation as history.

Each turn renders the whole conversation with the tokenizer's chat template and streams the assistant's reply
until `<|end|>`. When the conversation outgrows the context, the oldest turns are dropped (a system prompt stays).
Lines starting with `/` are commands: `/reset` forgets the history, `/exit` (or end of input) quits.

Example:
    slm chat --ckpt runs/instruct --system "You are a helpful assistant." --temperature 0.7
    printf 'Hi\\nTell me a story\\n' | slm chat --ckpt runs/instruct      # scripted: one message per line
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slmkit.common.device import pick_device
from slmkit.config import check, opt
from slmkit.infer.cli_generate import SamplingOptions
from slmkit.infer.engine import stream_tokens
from slmkit.infer.load import load_checkpoint
from slmkit.infer.text import TextStream, chat_prompt_ids, chat_stop_ids


@dataclass
class ChatConfig(SamplingOptions):
    ckpt: str = opt(None, "instruction-tuned checkpoint folder, ckpt/<stage> folder, or run directory")
    stage: str = opt("instruct", "checkpoint stage to use when --ckpt is a run directory (falls back to base)")
    system: str | None = opt(None, "system prompt kept at the start of the conversation")

    def __post_init__(self):
        super().__post_init__()
        check(self.ckpt is not None, "ckpt", self.ckpt, "a checkpoint (--ckpt DIR)")


class ChatSession:
    """The conversation so far and how to answer the next one. Example: `ChatSession(model, tok, opts).reply("Hi")`"""

    def __init__(self, model, tokenizer, options: SamplingOptions, system: str | None = None):
        self.model, self.tokenizer, self.options = model, tokenizer, options
        self.system = [{"role": "system", "content": system}] if system else []
        self.history: list[dict[str, str]] = []
        self.turn = 0

    def reset(self) -> None:
        self.history = []

    def prompt_ids(self) -> list[int]:
        """The chat-template prompt, dropping the oldest exchanges until it leaves room to answer."""
        room = self.model.cfg.context_length - min(self.options.max_tokens, self.model.cfg.context_length // 2)
        while True:
            ids = chat_prompt_ids(self.tokenizer, self.system + self.history)
            if len(ids) <= room or len(self.history) <= 1:
                return ids[-room:]
            self.history = self.history[2:]  # one user message and its answer

    def reply(self, message: str, out=None) -> str:
        """Add a user message, stream the assistant's answer to `out`, keep both in the history."""
        self.history.append({"role": "user", "content": message})
        stream = TextStream(self.tokenizer, self.options.stop)
        stop_ids = chat_stop_ids(self.tokenizer)
        params = self.options.sampling_params()
        seed = self.options.seed + self.turn
        for token in stream_tokens(self.model, self.prompt_ids(), self.options.max_tokens, params, seed, stop_ids):
            piece = stream.push(token)
            if out is not None:
                out.write(piece)
                out.flush()
            if stream.stopped:
                break
        tail = stream.finish()
        if out is not None:
            out.write(tail)
        self.history.append({"role": "assistant", "content": stream.text})
        self.turn += 1
        return stream.text


def chat_stage(cfg: ChatConfig, stdin=None, out=None) -> dict[str, Any]:
    """Read messages line by line from stdin and answer each; return the transcript."""
    stdin, out = stdin or sys.stdin, out or sys.stdout
    stage = cfg.stage if (Path(cfg.ckpt) / "ckpt" / cfg.stage).exists() else "base"
    loaded = load_checkpoint(cfg.ckpt, pick_device(cfg.device), stage=stage, quantize=cfg.quantize)
    session = ChatSession(loaded.model, loaded.tokenizer, cfg, cfg.system)
    interactive = stdin.isatty()
    if interactive:
        out.write(f"chatting with {loaded.path} (/reset forgets the conversation, /exit or Ctrl-D quits)\n")
    transcript = []
    while True:
        if interactive:
            out.write("you> ")
            out.flush()
        line = stdin.readline()
        if not line:
            break
        message = line.rstrip("\n")
        if message.strip() == "/exit":
            break
        if message.strip() == "/reset":
            session.reset()
            out.write("(history cleared)\n")
            continue
        if not message.strip():
            continue
        out.write("assistant> ")
        answer = session.reply(message, out)
        out.write("\n")
        transcript.append({"user": message, "assistant": answer})
    return {"turns": transcript}
