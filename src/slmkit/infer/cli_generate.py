"""`slm generate`: stream text from a checkpoint to the terminal.

Example:
    slm generate --ckpt runs/quickstart --prompt "Once upon a time" --n 3 --temperature 0.8
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from slmkit.common.device import pick_device
from slmkit.config import check, opt
from slmkit.infer.engine import stream_tokens
from slmkit.infer.load import load_checkpoint
from slmkit.infer.sampling import SamplingParams


@dataclass
class GenerateConfig:
    ckpt: str = opt(None, "checkpoint folder, ckpt/<stage> folder, or run directory")
    prompt: str = opt("Once upon a time", "text to continue")
    n: int = opt(1, "number of samples")
    max_tokens: int = opt(200, "new tokens per sample at most")
    temperature: float = opt(0.8, "sampling temperature (0 = greedy)")
    top_k: int | None = opt(50, "keep the k most likely tokens (none = all)")
    top_p: float | None = opt(None, "nucleus sampling mass")
    min_p: float | None = opt(None, "drop tokens below min_p x the top probability")
    seed: int = opt(0, "sampling seed (sample i uses seed + i)")
    device: str = opt("auto", "auto, cpu, cuda")

    def __post_init__(self):
        check(self.ckpt is not None, "ckpt", self.ckpt, "a checkpoint (--ckpt DIR)")
        check(self.n >= 1, "n", self.n, ">= 1")
        check(self.max_tokens >= 1, "max_tokens", self.max_tokens, ">= 1")
        check(self.temperature >= 0, "temperature", self.temperature, ">= 0")
        check(self.top_k is None or self.top_k >= 1, "top_k", self.top_k, ">= 1")
        check(self.top_p is None or 0 < self.top_p <= 1, "top_p", self.top_p, "in (0, 1]")


class StreamingDecoder:
    """Turns a growing list of token ids into text pieces, never emitting a broken UTF-8 character."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.ids: list[int] = []
        self.emitted = 0

    def push(self, token: int) -> str:
        self.ids.append(token)
        text = self.tokenizer.decode(self.ids)
        if text.endswith("\ufffd"):  # an incomplete multi-byte character: wait for the next token
            return ""
        piece, self.emitted = text[self.emitted :], len(text)
        return piece


def generate_stage(cfg: GenerateConfig, out=None) -> dict[str, Any]:
    """Stream `cfg.n` samples to `out` (stdout); return them."""
    out = out or sys.stdout
    device = pick_device(cfg.device)
    loaded = load_checkpoint(cfg.ckpt, device)
    tok = loaded.tokenizer
    params = SamplingParams(cfg.temperature, cfg.top_k, cfg.top_p, cfg.min_p)
    prompt_ids = [tok.eot_id] + tok.encode(cfg.prompt)
    samples = []
    for i in range(cfg.n):
        if cfg.n > 1:
            out.write(f"--- sample {i + 1} ---\n")
        out.write(cfg.prompt)
        decoder = StreamingDecoder(tok)
        pieces = []
        for token in stream_tokens(loaded.model, prompt_ids, cfg.max_tokens, params, cfg.seed + i, {tok.eot_id}):
            piece = decoder.push(token)
            pieces.append(piece)
            out.write(piece)
            out.flush()
        out.write("\n")
        samples.append(cfg.prompt + "".join(pieces))
    return {"samples": samples}
