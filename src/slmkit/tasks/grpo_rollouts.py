"""GRPO rollouts: prompts in, groups of sampled completions scored and turned into training micro-batches.

`GRPORollouts.micro_batch(m)` is the one training loop's batch callback. Optimizer step s trains on rollout batch
r = s // mu (P prompts x G completions, all of them in every step, cut into grad_accum micro-batches). A rollout
batch is sampled when its first step asks for it, with the batched inference engine and seeds that depend only on
(seed, r): a resumed run samples exactly what the uninterrupted one did. The current batch is also saved in each
checkpoint (`rollouts.safetensors`), so a run resumed between two of its mu steps trains on the same rollouts.

Prompt records: `prompt` (or `instruction` + optional `input`); other fields go to the rewards (e.g. `label`).
Prompts are rendered like the instruct task (Alpaca template, or the chat template), cut to leave room for
`max_new_tokens`; a completion ends at `<|endoftext|>` (Alpaca) or `<|end|>` (chat), and that stop token is trained.

Example:
    rollouts = GRPORollouts(model, tokenizer, records, score, opts, prompts_per_step=4, grad_accum=1, seed=0)
    x, chunk = rollouts.micro_batch(0)
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file

from slmkit.common.errors import InputError
from slmkit.common.log import print0
from slmkit.infer.engine import Engine, TokenRequest
from slmkit.infer.sampling import SamplingParams
from slmkit.model.loss import IGNORE_INDEX
from slmkit.tasks.grpo import GRPOModel, GRPOOptions, RolloutChunk, group_advantages, k3_kl, token_logprobs
from slmkit.tasks.instruct import InstructOptions, InstructTask
from slmkit.tokenizer import Tokenizer
from slmkit.tokenizer.special import END
from slmkit.train.checkpoint import TRAINER_STATE_FILE
from slmkit.train.metrics_log import truncate_after

ROLLOUT_FILE = "rollouts.safetensors"
Scorer = Callable[[str, str, dict[str, Any]], tuple[float, dict[str, float]]]  # -> (reward, each term's value)


class PromptSet:
    """Prompt records encoded once: the user's text (for the rewards) and the rendered prompt's token ids."""

    def __init__(self, records: list[dict[str, Any]], tokenizer: Tokenizer, opts: GRPOOptions, max_prompt: int):
        renderer = None if opts.format == "text" else InstructTask(InstructOptions(format=opts.format), tokenizer,
                                                                   max_prompt, "truncate")
        self.records, self.texts, self.ids = [], [], []
        for record in records:
            instruction = record.get("prompt", record.get("instruction"))
            input_text = record.get("input") or ""
            if not isinstance(instruction, str) or not isinstance(input_text, str):
                raise InputError(record["where"], found=f"fields {sorted(k for k in record if k != 'where')}",
                                 expected="a string 'prompt' (or 'instruction' with an optional 'input')")
            text = instruction + (f"\n\n{input_text}" if input_text.strip() else "")
            if renderer is None:  # plain text: the model continues the prompt (its most recent tokens if too long)
                ids = [tokenizer.eot_id] + tokenizer.encode(text)[-(max_prompt - 1):]
            else:
                (encoded,) = renderer.encode_all([{"instruction": instruction, "input": input_text, "output": "",
                                                   "where": record["where"]}], "grpo")
                ids = encoded.tokens[: encoded.prompt_len]
            self.records.append(record)
            self.texts.append(text)
            self.ids.append(ids)

    def __len__(self) -> int:
        return len(self.ids)


@torch.no_grad()
def sample_completions(lm, prompts: list[list[int]], params: SamplingParams, max_new_tokens: int, seed: int,
                       stop_id: int, max_batch: int) -> list[list[int]]:
    """Completion ids per prompt (prompt i samples with seed + i), ending with `stop_id` when the model stopped.

    Example: `sample_completions(lm, [[0, 5]] * 4, SamplingParams(temperature=1.0), 20, 7, 0, 8)`
    """
    was_training = lm.training
    engine = Engine(lm, max_batch=max(1, min(max_batch, len(prompts))))
    pending, running = list(enumerate(prompts)), {}
    try:
        while pending or engine.active:
            while pending and engine.has_room:
                i, prompt = pending.pop(0)
                running[i], _ = engine.add(TokenRequest(list(prompt), max_new_tokens, params, seed + i,
                                                        frozenset({stop_id})))
            engine.step()
    finally:
        lm.train(was_training)
    return [running[i].output + ([stop_id] if running[i].finish_reason == "stop" else [])
            for i in range(len(prompts))]


def completion_batch(prompts: list[list[int]], completions: list[list[int]], pad_id: int):
    """Right-padded inputs x (B, T) and targets y (B, T): completion tokens, IGNORE_INDEX elsewhere."""
    rows = [p + c for p, c in zip(prompts, completions, strict=True)]
    width = max(len(r) for r in rows) - 1
    x = torch.full((len(rows), width), pad_id, dtype=torch.long)  # (B, T)
    y = torch.full((len(rows), width), IGNORE_INDEX, dtype=torch.long)  # (B, T)
    for i, (row, prompt) in enumerate(zip(rows, prompts, strict=True)):
        x[i, : len(row) - 1] = torch.tensor(row[:-1])
        y[i, len(prompt) - 1 : len(row) - 1] = torch.tensor(row[len(prompt):])
    return x, y


@torch.no_grad()
def sequence_logprobs_of(lm, x: torch.Tensor, y: torch.Tensor, batch: int = 16) -> torch.Tensor:
    """Per-token log-probabilities (B, T) of the targets under `lm` (eval mode, in slices of `batch` rows)."""
    was_training = lm.training
    lm.eval()
    try:
        return torch.cat([token_logprobs(lm(x[i:i + batch]).logits, y[i:i + batch])
                          for i in range(0, x.size(0), batch)])
    finally:
        lm.train(was_training)


class GRPORollouts:
    """Samples, scores and caches rollout batches; serves micro-batches; evaluates on held-out prompts."""

    def __init__(self, model: GRPOModel, tokenizer: Tokenizer, prompts: PromptSet, score: Scorer,
                 opts: GRPOOptions, prompts_per_step: int, grad_accum: int, seed: int, device):
        self.model, self.tokenizer, self.prompts, self.score = model, tokenizer, prompts, score
        self.opts, self.grad_accum, self.seed, self.device = opts, grad_accum, seed, device
        self.per_step = min(prompts_per_step, len(prompts))
        n = self.per_step * opts.group_size
        if n % grad_accum:
            raise InputError("grad_accum", found=grad_accum,
                             expected=f"a divisor of the {n} completions per step (batch_size x grpo.group_size)")
        self.stop_id = tokenizer.special_ids[END] if opts.format == "chat" else tokenizer.eot_id
        self.params = SamplingParams(temperature=opts.temperature, top_k=opts.top_k, top_p=opts.top_p)
        self.cache: dict[str, torch.Tensor] | None = None  # the current rollout batch (see ROLLOUT_FILE)
        self.log: Callable[[dict[str, Any]], None] = lambda record: None
        self.samples_path: Path | None = None
        self._logged_step = -1
        self.last_step = 0

    @property
    def rollouts_per_epoch(self) -> int:
        return len(self.prompts) // self.per_step  # full batches only: every step has the same shape

    def prompts_of(self, index: int) -> list[int]:
        """The prompt indices of rollout batch `index`: a seeded shuffle per epoch, depending only on (seed, index)."""
        epoch, pos = divmod(index, self.rollouts_per_epoch)
        order = list(range(len(self.prompts)))
        random.Random(self.seed * 1_000_003 + epoch).shuffle(order)
        return order[pos * self.per_step : (pos + 1) * self.per_step]

    # ---- rollouts ----------------------------------------------------------------------------------------------

    def rollout(self, index: int) -> dict[str, torch.Tensor]:
        """Rollout batch `index` (sampled now, or the cached one)."""
        if self.cache is not None and int(self.cache["index"]) == index:
            return self.cache
        G = self.opts.group_size
        chosen = self.prompts_of(index)
        prompt_ids = [self.prompts.ids[i] for i in chosen for _ in range(G)]
        seed = (self.seed * 1_000_003 + index * 10_007) % (1 << 62)
        lm = self.model.policy
        completions = sample_completions(lm, prompt_ids, self.params, self.opts.max_new_tokens, seed,
                                         self.stop_id, self.opts.rollout_batch)
        rewards, parts = [], []
        for n, completion in enumerate(completions):
            i = chosen[n // G]
            text = self.tokenizer.decode([t for t in completion if t != self.stop_id])
            total, terms = self.score(self.prompts.texts[i], text, self.prompts.records[i])
            rewards.append(total)
            parts.append(terms)
        x, y = completion_batch(prompt_ids, completions, self.tokenizer.pad_id)
        x, y = x.to(self.device), y.to(self.device)
        reward = torch.tensor(rewards)
        cache = {"index": torch.tensor(index), "x": x, "y": y, "rewards": reward,
                 "advantages": group_advantages(reward, G, self.opts.adv_eps).to(self.device),
                 "old_logp": sequence_logprobs_of(lm, x, y),
                 "lengths": torch.tensor([len(c) for c in completions], dtype=torch.float)}
        if self.opts.beta > 0:
            cache["ref_logp"] = sequence_logprobs_of(self.model.reference, x, y)
        for name in parts[0]:
            cache[f"reward/{name}"] = torch.tensor([p[name] for p in parts])
        self.cache = cache
        return cache

    def micro_batch(self, micro: int) -> tuple[torch.Tensor, RolloutChunk]:
        """The training loop's callback: micro-batch `micro` = chunk (micro % grad_accum) of step's rollouts."""
        step, part = divmod(micro, self.grad_accum)
        if part == 0:
            self.flush_stats(step)
        self.last_step = step + 1
        batch = self.rollout(step // self.opts.mu)
        n = batch["x"].size(0) // self.grad_accum
        rows = slice(part * n, (part + 1) * n)
        y = batch["y"][rows]
        width = int((y != IGNORE_INDEX).nonzero()[:, 1].max()) + 1  # trim the padding every row has
        ref = batch.get("ref_logp")
        chunk = RolloutChunk(targets=y[:, :width], old_logp=batch["old_logp"][rows, :width],
                             ref_logp=None if ref is None else ref[rows, :width],
                             advantages=batch["advantages"][rows])
        return batch["x"][rows, :width], chunk

    def flush_stats(self, step: int) -> None:
        """Log the statistics of the optimizer step that ended at `step` (rewards of its rollouts, KL, clipping)."""
        if step <= 0 or step == self._logged_step or not self.model.stats or self.cache is None:
            return
        stats, self.model.stats = self.model.stats, []
        batch = self.cache
        record: dict[str, Any] = {"step": step, "reward/mean": float(batch["rewards"].mean()),
                                  "reward/std": float(batch["rewards"].std()),
                                  "completion_len": float(batch["lengths"].mean())}
        for key, value in batch.items():
            if key.startswith("reward/") and key not in record:
                record[key] = float(value.mean())
        for key in stats[0]:
            record[key] = sum(s[key] for s in stats) / len(stats)
        self.log(record)
        self._logged_step = step

    # ---- checkpoints -------------------------------------------------------------------------------------------

    def extra_tensors(self, model) -> dict[str, dict[str, torch.Tensor]]:
        if self.cache is None:
            return {}
        return {ROLLOUT_FILE: {k: v.detach().cpu().contiguous() for k, v in self.cache.items()}}

    def restore(self, ckpt_dir: Path) -> None:
        """Reload the rollout batch a checkpoint was training on (exact resume between its mu steps)."""
        if self.samples_path is not None:  # samples logged after this checkpoint belong to the lost part of the run
            step = json.loads((ckpt_dir / TRAINER_STATE_FILE).read_text(encoding="utf-8"))["step"]
            truncate_after(self.samples_path, int(step))
        path = ckpt_dir / ROLLOUT_FILE
        if path.is_file():
            self.cache = {k: v.to(self.device) if k in ("x", "y", "old_logp", "ref_logp", "advantages") else v
                          for k, v in load_file(str(path)).items()}

    # ---- evaluation --------------------------------------------------------------------------------------------

    def evaluate(self, prompts: PromptSet, per_prompt: bool = False) -> dict[str, Any]:
        """One completion per held-out prompt: mean reward (and per term), the share with every term at 1.0,
        completion length and the per-token KL to the reference; a few completions are printed and logged.
        `per_prompt` adds "met": for each prompt whether every term was 1.0 (for paired before/after tests)."""
        self.flush_stats(self.last_step)
        params = SamplingParams(temperature=self.opts.eval_temperature)
        lm = self.model.policy
        completions = sample_completions(lm, prompts.ids, params, self.opts.max_new_tokens, self.seed,
                                         self.stop_id, self.opts.rollout_batch)
        texts = [self.tokenizer.decode([t for t in c if t != self.stop_id]) for c in completions]
        scored = [self.score(p, t, r) for p, t, r in zip(prompts.texts, texts, prompts.records, strict=True)]
        x, y = completion_batch(prompts.ids, completions, self.tokenizer.pad_id)
        x, y = x.to(self.device), y.to(self.device)
        mask = y != IGNORE_INDEX
        kl = k3_kl(sequence_logprobs_of(lm, x, y), sequence_logprobs_of(self.model.reference, x, y))
        n = len(texts)
        met = [all(v == 1.0 for v in s[1].values()) for s in scored]
        out: dict[str, Any] = {"reward": sum(s[0] for s in scored) / n, "all_terms_met": sum(met) / n,
                               "completion_len": sum(len(c) for c in completions) / n,
                               "kl": float((kl * mask).sum() / mask.sum().clamp(min=1))}
        for name in scored[0][1]:
            out[f"reward/{name}"] = sum(s[1][name] for s in scored) / n
        samples = [{"step": self.last_step, "prompt": p, "completion": t, "reward": s[0], "terms": s[1]}
                   for p, t, s in list(zip(prompts.texts, texts, scored))[: self.opts.n_samples]]
        for sample in samples:
            print0(f"--- reward {sample['reward']:.3f} | {sample['prompt'][:80]!r}\n{sample['completion'][:300]}")
        if self.samples_path is not None:
            with self.samples_path.open("a", encoding="utf-8") as f:
                f.write("".join(json.dumps(s, ensure_ascii=False) + "\n" for s in samples))
        out["samples"] = samples
        out["n"] = n
        if per_prompt:
            out["met"] = met
        return out
