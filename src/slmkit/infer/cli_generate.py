"""`slm generate`: stream text from a checkpoint to the terminal.

Example:
    slm generate --ckpt runs/quickstart --prompt "Once upon a time" --n 3 --temperature 0.8
    slm generate --ckpt runs/x --few-shot examples.jsonl --k 3 --prompt "new input" --stop "\\n\\n"
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from typing import Any

from slmkit.common.device import pick_device
from slmkit.common.errors import InputError
from slmkit.config import check, opt
from slmkit.infer.engine import stream_tokens
from slmkit.infer.load import load_checkpoint
from slmkit.infer.sampling import SamplingParams
from slmkit.infer.speculative import SpeculativeDecoder
from slmkit.infer.text import StreamingDecoder, TextStream, few_shot_prompt, load_examples, text_prompt_ids
from slmkit.model.quantize import Quantize

SAME_TOKENIZER_PROBE = "Once upon a time, Lily and Tom found a big red ball in the park. They were happy!"

__all__ = ["GenerateConfig", "SamplingOptions", "StreamingDecoder", "generate_stage"]


@dataclass
class SamplingOptions:
    """Sampling flags shared by `slm generate` and `slm chat`."""

    max_tokens: int = opt(200, "new tokens per sample at most")
    temperature: float = opt(0.8, "sampling temperature (0 = greedy)")
    top_k: int | None = opt(50, "keep the k most likely tokens (none = all)")
    top_p: float | None = opt(None, "nucleus sampling mass")
    min_p: float | None = opt(None, "drop tokens below min_p x the top probability")
    repetition_penalty: float = opt(1.0, "divide logits of tokens already seen by this (1 = off)")
    frequency_penalty: float = opt(0.0, "subtract this x the count of each generated token")
    presence_penalty: float = opt(0.0, "subtract this once from every token generated so far")
    stop: list[str] = opt(factory=list, help="stop strings: generation ends before the first one (one or more)")
    seed: int = opt(0, "sampling seed (sample i uses seed + i)")
    device: str = opt("auto", "auto, cpu, cuda")
    quantize: Quantize = opt("none", "none, or int8: int8 weights per output row for faster CPU inference")

    def __post_init__(self):
        check(self.max_tokens >= 1, "max_tokens", self.max_tokens, ">= 1")
        self.sampling_params()  # validates every sampling field (ConfigError names the field)

    def sampling_params(self) -> SamplingParams:
        return SamplingParams(self.temperature, self.top_k, self.top_p, self.min_p, self.repetition_penalty,
                              self.frequency_penalty, self.presence_penalty)


@dataclass
class GenerateConfig(SamplingOptions):
    ckpt: str = opt(None, "checkpoint folder, ckpt/<stage> folder, or run directory")
    prompt: str = opt("Once upon a time", "text to continue (with --few-shot: the query)")
    n: int = opt(1, "number of samples")
    few_shot: str | None = opt(None, 'jsonl of {"input", "output"} examples: prompt with k of them, then the query')
    k: int = opt(3, "examples in a few-shot prompt")
    draft: str | None = opt(None, "speculative decoding: a smaller checkpoint with the same tokenizer proposes tokens")
    draft_k: int = opt(4, "speculative decoding: tokens the draft proposes per target forward")

    def __post_init__(self):
        super().__post_init__()
        check(self.ckpt is not None, "ckpt", self.ckpt, "a checkpoint (--ckpt DIR)")
        check(self.n >= 1, "n", self.n, ">= 1")
        check(self.draft_k >= 1, "draft_k", self.draft_k, ">= 1")


def generate_stage(cfg: GenerateConfig, out=None) -> dict[str, Any]:
    """Stream `cfg.n` samples to `out` (stdout); return them."""
    out = out or sys.stdout
    loaded = load_checkpoint(cfg.ckpt, pick_device(cfg.device), quantize=cfg.quantize)
    tok = loaded.tokenizer
    prompt, stop = cfg.prompt, list(cfg.stop)
    if cfg.few_shot:
        prompt = few_shot_prompt(load_examples(cfg.few_shot), cfg.prompt, k=cfg.k)
        stop = stop or ["\n\n"]  # the separator between examples
    prompt_ids = text_prompt_ids(tok, prompt)
    token_source = lambda seed: stream_tokens(
        loaded.model, prompt_ids, cfg.max_tokens, cfg.sampling_params(), seed, {tok.eot_id}
    )
    if cfg.draft:
        token_source = _speculative_source(cfg, loaded, prompt_ids)
    samples = []
    for i in range(cfg.n):
        if cfg.n > 1:
            out.write(f"--- sample {i + 1} ---\n")
        out.write(prompt)
        stream = TextStream(tok, stop)
        for token in token_source(cfg.seed + i):
            out.write(stream.push(token))
            out.flush()
            if stream.stopped:
                break
        out.write(stream.finish() + "\n")
        samples.append(prompt + stream.text)
    return {"samples": samples}


def _speculative_source(cfg: GenerateConfig, loaded, prompt_ids: list[int]):
    """A `seed -> token ids` function decoding with a draft model; prints the acceptance rate to stderr."""
    draft = load_checkpoint(cfg.draft, loaded.model.device)
    if draft.tokenizer.vocab_size != loaded.tokenizer.vocab_size or draft.tokenizer.encode(
        SAME_TOKENIZER_PROBE
    ) != loaded.tokenizer.encode(SAME_TOKENIZER_PROBE):
        raise InputError(str(draft.path), "a different tokenizer", f"the tokenizer of {loaded.path}")
    decoder = SpeculativeDecoder(loaded.model, draft.model, k=cfg.draft_k)

    def tokens(seed: int) -> list[int]:
        ids, stats = decoder.generate(prompt_ids, cfg.max_tokens, cfg.sampling_params(), seed,
                                      {loaded.tokenizer.eot_id})
        print(f"speculative: acceptance {stats.acceptance_rate:.2f} ({stats.accepted}/{stats.proposed} draft tokens), "
              f"{stats.tokens_per_target_forward:.2f} tokens per target forward", file=sys.stderr)
        return ids

    return tokens
