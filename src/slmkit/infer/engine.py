"""Token-level generation: prefill + batched decode over one preallocated KV cache. Knows nothing about text.

`Engine` holds up to `max_batch` sequences, one per KV-cache row, kept contiguous in rows 0..n-1 (a finished
sequence's row is refilled by moving the last one into it). Sequences of different lengths decode together: each row
has its own RoPE positions and attention mask (see `slmkit.model.kv_cache`). A caller (the scheduler, `generate`)
may `add` a sequence between any two `step`s: that is continuous batching.

Example:
    engine = Engine(model, max_batch=4)
    seq = engine.add(TokenRequest([0, 12, 99], max_new_tokens=50, params=SamplingParams(temperature=0)))
    while engine.active: engine.step()
    seq.output  # new token ids
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field

import torch

from slmkit.infer.sampling import SamplingParams, sample_next_token
from slmkit.model.fast_decode import FastDecoder
from slmkit.model.kv_cache import KVCache
from slmkit.model.transformer import Transformer


@dataclass
class TokenRequest:
    """One prompt to continue. `logprobs`: also report the top-N log-probabilities of each step (None = off)."""

    prompt: list[int]
    max_new_tokens: int
    params: SamplingParams = field(default_factory=SamplingParams)
    seed: int | None = None
    stop_ids: frozenset[int] = frozenset()
    logprobs: int | None = None


@dataclass
class TokenEvent:
    """What one step produced for one sequence: a token (None when a stop id ended it) and maybe a finish reason."""

    token: int | None
    finish_reason: str | None = None  # None (running), "stop" (a stop id), "length" (token budget or context)
    logprob: float | None = None  # log-probability of `token` under the model (when logprobs were asked for)
    top_logprobs: list[tuple[int, float]] | None = None  # the N most likely tokens of this step


class Sequence:
    """A running generation: its request, sampling state and output so far."""

    _ids = itertools.count()

    def __init__(self, request: TokenRequest, budget: int, vocab_size: int, device):
        self.id = next(Sequence._ids)
        self.request = request
        self.prompt = request.prompt
        self.budget = budget  # new tokens allowed (max_new_tokens capped by the context length)
        self.output: list[int] = []
        self.finish_reason: str | None = None
        self.row = -1  # KV-cache row while active
        params = request.params
        # argmax of the raw logits is all this sequence needs (the engine batches it across rows)
        self.plain_greedy = params.temperature <= 0 and not params.has_penalties and request.logprobs is None
        self.generator = torch.Generator(device=device)
        if request.seed is None:
            self.generator.seed()
        else:
            self.generator.manual_seed(request.seed)
        self.counts = self.seen = None
        if params.frequency_penalty or params.presence_penalty:
            self.counts = torch.zeros(1, vocab_size, device=device)  # (1, V) generated-token counts
        if params.repetition_penalty != 1.0:
            self.seen = torch.zeros(1, vocab_size, dtype=torch.bool, device=device)  # (1, V)
            self.seen[0, request.prompt] = True

    @property
    def finished(self) -> bool:
        return self.finish_reason is not None

    def choose(self, logits: torch.Tensor) -> TokenEvent:
        """Sample this sequence's next token from its logits (1, V) and record it."""
        req = self.request
        token = int(sample_next_token(logits, self.generator, req.params, self.counts, self.seen))
        return self.accept(token, logits)

    def accept(self, token: int, logits: torch.Tensor | None = None) -> TokenEvent:
        """Record `token` as this sequence's next token (logits (1, V) are needed only for logprobs)."""
        req = self.request
        event = TokenEvent(token)
        if req.logprobs is not None:
            logprobs = torch.log_softmax(logits.float(), dim=-1)[0]  # (V,)
            event.logprob = float(logprobs[token])
            if req.logprobs > 0:
                top = torch.topk(logprobs, req.logprobs)
                event.top_logprobs = list(zip(top.indices.tolist(), top.values.tolist()))
        if token in req.stop_ids:
            event.token, event.logprob, event.top_logprobs = None, None, None
            self.finish_reason = event.finish_reason = "stop"
            return event
        self.output.append(token)
        if self.counts is not None:
            self.counts[0, token] += 1
        if self.seen is not None:
            self.seen[0, token] = True
        if len(self.output) >= self.budget:
            self.finish_reason = event.finish_reason = "length"
        return event


class Engine:
    """Batched prefill/decode of up to `max_batch` sequences sharing one model and one KV cache."""

    def __init__(self, model, max_batch: int = 1, max_len: int | None = None, fast_decode: bool = True):
        self.model = model.eval()
        self.cfg = model.cfg
        param = next(model.parameters())
        self.device, self.dtype = param.device, param.dtype
        self.max_batch = max_batch
        self.max_len = max_len or self.cfg.context_length
        self.cache = KVCache(self.cfg, max_batch, self.max_len, self.device, self.dtype)
        self.active: list[Sequence] = []  # active[i] lives in cache row i
        self._last = torch.zeros(max_batch, 1, dtype=torch.long, device=self.device)  # (max_batch, 1) next inputs
        # a lone sequence decodes through the op-lean batch-1 step when the architecture allows it (only for our own
        # Transformer: a wrapper may change what a forward does)
        usable = fast_decode and type(model) is Transformer and FastDecoder.supports(self.cfg)
        self._fast = FastDecoder(model) if usable else None

    @property
    def has_room(self) -> bool:
        return len(self.active) < self.max_batch

    @torch.inference_mode()
    def add(self, request: TokenRequest) -> tuple[Sequence, TokenEvent]:
        """Prefill a new sequence into the next free row and sample its first token."""
        if not self.has_room:
            raise RuntimeError("engine is full; check has_room before add")
        if not request.prompt:
            raise ValueError("prompt must hold at least one token id")
        if request.max_new_tokens < 1:
            raise ValueError("max_new_tokens must be >= 1")
        prompt = request.prompt[-(self.max_len - 1) :]  # keep the most recent context when the prompt is too long
        budget = min(request.max_new_tokens, self.max_len - len(prompt))
        seq = Sequence(request, budget, self.cfg.vocab_size, self.device)
        seq.row = row = len(self.active)
        self.cache.clear_row(row)
        ids = torch.tensor([prompt], dtype=torch.long, device=self.device)  # (1, T)
        logits = self.model(ids, kv_cache=self.cache.select(row, row + 1)).logits[:, -1]  # (1, V)
        event = seq.choose(logits)
        self.active.append(seq)
        if not seq.finished:
            self._last[row, 0] = event.token
        return seq, event

    @torch.inference_mode()
    def step(self) -> list[tuple[Sequence, TokenEvent]]:
        """One decode step for every active, unfinished sequence (finished ones are released first)."""
        for seq in [s for s in self.active if s.finished]:
            self.release(seq)
        n = len(self.active)
        if n == 0:
            return []
        if n == 1 and self._fast is not None:
            logits = self._fast.step(self.cache, 0, int(self._last[0, 0]))  # (1, V)
        else:
            logits = self.model(self._last[:n], kv_cache=self.cache.select(0, n)).logits[:, -1]  # (n, V)
        # plain greedy rows need no per-row sampling: one argmax and one device->host copy for all of them
        greedy = logits.argmax(dim=-1).tolist() if any(s.plain_greedy for s in self.active) else None
        events, next_ids = [], []
        for row, seq in enumerate(self.active):
            event = seq.accept(greedy[row]) if seq.plain_greedy else seq.choose(logits[row : row + 1])
            next_ids.append(0 if event.token is None else event.token)  # a finished row's input is never used
            events.append((seq, event))
        self._last[:n, 0] = torch.tensor(next_ids)  # one copy instead of a tensor write per row
        return events

    def release(self, seq: Sequence) -> None:
        """Drop a sequence (finished or cancelled); the last active row moves into its row."""
        if seq not in self.active:
            return
        row, last = seq.row, len(self.active) - 1
        if row != last:
            moved = self.active[last]
            self.cache.move_row(last, row)
            self._last[row] = self._last[last]
            moved.row = row
            self.active[row] = moved
        self.active.pop()
        self.cache.clear_row(last)
        seq.row = -1


def stream_tokens(
    model,
    prompt: list[int],
    max_new_tokens: int,
    params: SamplingParams = SamplingParams(),
    seed: int | None = None,
    stop_ids: set[int] | frozenset[int] = frozenset(),
) -> Iterator[int]:
    """Yield new token ids one at a time for a single prompt. Example: `list(stream_tokens(model, [0, 5], 10))`"""
    engine = Engine(model, max_batch=1)
    seq, event = engine.add(TokenRequest(list(prompt), max_new_tokens, params, seed, frozenset(stop_ids)))
    while True:
        if event.token is not None:
            yield event.token
        if seq.finished:
            return
        ((_, event),) = engine.step()


def generate(
    model,
    prompts: list[list[int]],
    max_new_tokens: int,
    params: SamplingParams = SamplingParams(),
    seed: int | None = None,
    stop_ids: set[int] | frozenset[int] = frozenset(),
    max_batch: int = 8,
) -> list[list[int]]:
    """New token ids for each prompt, decoded in batches of up to `max_batch` (prompt i samples with seed + i).

    Example: `generate(model, [[0, 5], [0, 7, 9]], 20, SamplingParams(temperature=0))`
    """
    was_training = model.training
    engine = Engine(model, max_batch=max(1, min(max_batch, len(prompts))))
    pending = list(enumerate(prompts))
    outputs: dict[int, Sequence] = {}
    try:
        while pending or engine.active:
            while pending and engine.has_room:  # admit new prompts as rows free up
                i, prompt = pending.pop(0)
                request = TokenRequest(list(prompt), max_new_tokens, params, None if seed is None else seed + i,
                                       frozenset(stop_ids))
                outputs[i], _ = engine.add(request)
            engine.step()
    finally:
        model.train(was_training)
    return [outputs[i].output for i in range(len(prompts))]
