"""Speculative decoding: a small draft model proposes k tokens, the target model checks them in one forward pass.

Each round the draft decodes k tokens one by one (cheap), then the target runs once over the last accepted token
plus the k proposals (k + 1 positions, one forward) and keeps the longest prefix it agrees with, plus one token of
its own (the correction at the first disagreement, or a bonus token when all k were accepted). Both models keep
their KV caches; rejected positions are rolled back by shortening the cache rows (the stale keys past the new length
are simply overwritten later).

Greedy (temperature 0): a proposal is accepted when it equals the target's argmax, so the output is the target's
own greedy decoding, token for token (up to float ties: the target scores k + 1 positions in one forward instead of
one at a time). Sampling (temperature > 0) uses the accept/reject rule of Leviathan et al. (2023): accept proposal x
with probability min(1, p(x)/q(x)), on rejection draw from normalize(max(0, p - q)); the output is then distributed
exactly as samples from the target p (after temperature/top-k/top-p/min-p filtering, applied to both models).

Example:
    decoder = SpeculativeDecoder(target, draft, k=4)
    tokens, stats = decoder.generate([0, 12, 99], max_new_tokens=50)
    stats.acceptance_rate, stats.tokens_per_target_forward
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from slmkit.common.errors import ConfigError
from slmkit.infer.sampling import SamplingParams, filter_logits
from slmkit.model.kv_cache import KVCache


@dataclass
class SpeculativeStats:
    """Counters of one or more `generate` calls."""

    proposed: int = 0  # draft tokens offered to the target
    accepted: int = 0  # of those, kept
    target_forwards: int = 0  # target forward passes (prefill included)
    draft_forwards: int = 0  # draft forward passes (prefill included)
    new_tokens: int = 0  # tokens returned

    @property
    def acceptance_rate(self) -> float:
        """Accepted / proposed draft tokens. Example: `stats.acceptance_rate  # 0.73`"""
        return self.accepted / self.proposed if self.proposed else 0.0

    @property
    def tokens_per_target_forward(self) -> float:
        """New tokens per target forward: 1.0 for plain decoding, up to k + 1 here."""
        return self.new_tokens / self.target_forwards if self.target_forwards else 0.0

    def add(self, other: SpeculativeStats) -> None:
        for name in ("proposed", "accepted", "target_forwards", "draft_forwards", "new_tokens"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


class _CachedModel:
    """A model with a batch-1 KV cache, fed the part of the running sequence it has not seen yet."""

    def __init__(self, model, max_len: int):
        self.model = model
        param = next(model.parameters())
        self.device = param.device
        self.cache = KVCache(model.cfg, 1, max_len, param.device, param.dtype)
        self.forwards = 0

    @property
    def length(self) -> int:
        return self.cache.lengths[0]

    def feed(self, sequence: list[int]) -> torch.Tensor:
        """Logits (T, V) of the positions of `sequence` not yet in the cache (at least one)."""
        ids = torch.tensor([sequence[self.length :]], dtype=torch.long, device=self.device)  # (1, T)
        self.forwards += 1
        return self.model(ids, kv_cache=self.cache).logits[0]  # (T, V)

    def truncate(self, length: int) -> None:
        """Forget every cached position from `length` on (the rollback after a rejection)."""
        self.cache.lengths[0] = min(self.cache.lengths[0], length)


class SpeculativeDecoder:
    """Decode with `target`, `k` tokens at a time proposed by `draft` (both batch 1, sharing one tokenizer)."""

    def __init__(self, target, draft, k: int = 4, max_len: int | None = None):
        if k < 1:
            raise ConfigError("speculative.k", k, ">= 1")
        if draft.cfg.vocab_size != target.cfg.vocab_size:
            raise ConfigError(
                "draft", f"vocab_size {draft.cfg.vocab_size}", f"the target's vocab_size {target.cfg.vocab_size}"
            )
        self.target, self.draft, self.k = target.eval(), draft.eval(), k
        self.max_len = max_len or min(target.cfg.context_length, draft.cfg.context_length)

    @torch.inference_mode()
    def generate(
        self,
        prompt: list[int],
        max_new_tokens: int,
        params: SamplingParams = SamplingParams(temperature=0.0),
        seed: int | None = None,
        stop_ids: set[int] | frozenset[int] = frozenset(),
    ) -> tuple[list[int], SpeculativeStats]:
        """New token ids (stopping before a stop id) and the round's counters.

        Example: `tokens, stats = decoder.generate(prompt_ids, 100, SamplingParams(temperature=0))`
        """
        if params.has_penalties:
            raise ConfigError("sampling", "repetition/frequency/presence penalties", "none with speculative decoding")
        if not prompt:
            raise ValueError("prompt must hold at least one token id")
        prompt = list(prompt)[-(self.max_len - 1) :]
        budget = min(max_new_tokens, self.max_len - len(prompt))
        target, draft = _CachedModel(self.target, self.max_len), _CachedModel(self.draft, self.max_len)
        generator = torch.Generator(device=target.device)
        if seed is None:
            generator.seed()
        else:
            generator.manual_seed(seed)
        greedy = params.temperature <= 0

        def pick(logits: torch.Tensor) -> int:  # one token from logits (V,) of the target
            if greedy:
                return int(logits.argmax())
            return int(torch.multinomial(filter_logits(logits[None], params)[0], 1, generator=generator))

        stats = SpeculativeStats()
        sequence = list(prompt)
        out: list[int] = []
        if len(sequence) > 1:
            draft.feed(sequence[:-1])  # prefill all but the last prompt token (fed with the first proposal)
        token = pick(target.feed(sequence)[-1])  # the target's first token
        while True:
            if token in stop_ids:
                break
            out.append(token)
            sequence.append(token)
            if len(out) >= budget:
                break
            # The target scores k + 1 positions in one forward; budget <= max_len - len(prompt) keeps them in context.
            k = min(self.k, budget - len(out))
            proposals, draft_probs = [], []
            for _ in range(k):
                logits = draft.feed(sequence + proposals)[-1]  # (V,)
                if greedy:
                    proposals.append(int(logits.argmax()))
                else:
                    q = filter_logits(logits[None], params)[0]  # (V,)
                    proposals.append(int(torch.multinomial(q, 1, generator=generator)))
                    draft_probs.append(q)
            target_logits = target.feed(sequence + proposals)  # (k + 1, V): position i predicts proposals[i]
            stats.proposed += k
            accepted, token = self._verify(proposals, draft_probs, target_logits, pick, generator, params)
            stats.accepted += accepted
            for proposal in proposals[:accepted]:
                if proposal in stop_ids or len(out) >= budget:
                    token = proposal  # handled by the stop check / budget at the top of the loop
                    break
                out.append(proposal)
                sequence.append(proposal)
            # Roll back: both caches keep only positions of `sequence` (`token`, the next one, is not fed yet).
            target.truncate(len(sequence))
            draft.truncate(len(sequence))
            if len(out) >= budget:
                break
        stats.target_forwards, stats.draft_forwards, stats.new_tokens = target.forwards, draft.forwards, len(out)
        return out, stats

    @staticmethod
    def _verify(proposals, draft_probs, target_logits, pick, generator, params) -> tuple[int, int]:
        """How many proposals the target accepts, and its own next token after them."""
        greedy = not draft_probs
        for i, proposal in enumerate(proposals):
            if greedy:
                choice = pick(target_logits[i])
                if choice != proposal:
                    return i, choice
                continue
            p = filter_logits(target_logits[i : i + 1], params)[0]  # (V,)
            q = draft_probs[i]
            ratio = float(p[proposal] / q[proposal])  # q[proposal] > 0: the draft sampled it
            if float(torch.rand((), generator=generator, device=p.device)) < min(1.0, ratio):
                continue
            residual = (p - q).clamp(min=0)  # (V,)
            residual = residual / residual.sum() if float(residual.sum()) > 0 else p
            return i, int(torch.multinomial(residual, 1, generator=generator))
        return len(proposals), pick(target_logits[len(proposals)])  # all accepted: a bonus token from the target
