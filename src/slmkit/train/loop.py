"""The one training loop. Every stage (pre-training, fine-tuning tasks, distillation) brings its batches, its
evaluation and its checkpoint writer; the loop itself reads top to bottom like nanoGPT's:

    each step: [evaluate] -> [checkpoint] -> [stop?] -> set lr -> micro-steps (forward, backward) -> clip -> step -> log

Budgets (`max_steps`, `max_tokens`, `max_minutes` of training time) stop the run cleanly with a final evaluation and
checkpoint; so does Ctrl-C (press twice to abort at once). Each evaluation updates the best value of
`select_metric` (`save_best` is called when it improves); with `patience`, that many evaluations without
improvement stop the run early (fine-tuning uses both; the state is in trainer_state.json, so resume is exact).

Example:
    state = train(job)  # job: TrainingJob built by the stage (see train/pretrain.py)
"""

from __future__ import annotations

import contextlib
import math
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from slmkit.common.dist import DistInfo, all_reduce_mean
from slmkit.common.log import print0
from slmkit.train.optim import set_lr

Batch = tuple[torch.Tensor, torch.Tensor]


@dataclass
class TrainerState:
    """What the loop needs to continue exactly where it stopped (saved in trainer_state.json)."""

    step: int = 0
    tokens: int = 0
    train_seconds: float = 0.0  # time spent in training steps only (not eval or checkpoints)
    best_val_loss: float = math.inf
    last_eval: dict[str, float] = field(default_factory=dict)
    best_metric: float | None = None  # best value of LoopSettings.select_metric so far
    best_step: int = 0  # step at which it was reached
    evals_since_best: int = 0  # evaluations without improvement (early stopping)

    def to_json(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "tokens": self.tokens,
            "train_seconds": self.train_seconds,
            "best_val_loss": self.best_val_loss if math.isfinite(self.best_val_loss) else None,
            "last_eval": self.last_eval,
            "best_metric": self.best_metric,
            "best_step": self.best_step,
            "evals_since_best": self.evals_since_best,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TrainerState:
        best = data.get("best_val_loss")
        return cls(
            step=int(data.get("step", 0)),
            tokens=int(data.get("tokens", 0)),
            train_seconds=float(data.get("train_seconds", 0.0)),
            best_val_loss=math.inf if best is None else float(best),
            last_eval=data.get("last_eval") or {},
            best_metric=data.get("best_metric"),
            best_step=int(data.get("best_step", 0)),
            evals_since_best=int(data.get("evals_since_best", 0)),
        )


@dataclass
class LoopSettings:
    max_steps: int
    max_tokens: int | None = None
    max_minutes: float | None = None
    grad_accum: int = 1
    grad_clip: float = 1.0
    log_interval: int = 10
    eval_interval: int = 200
    ckpt_interval: int = 500
    progress: bool = True
    select_metric: str = "val/loss"  # evaluation metric that picks the best checkpoint and drives early stopping
    select_mode: str = "min"  # "min" or "max": which direction of select_metric is better
    patience: int | None = None  # stop after this many evaluations without improvement (None = never)
    eval_at_start: bool = False  # also evaluate before the first step: the starting model's figures on the curve


@dataclass
class TrainingJob:
    """Everything a stage hands to the loop."""

    model: nn.Module  # what runs forward/backward: possibly DDP-wrapped and/or compiled
    optimizer: torch.optim.Optimizer
    lr_multiplier: Callable[[int, float], float]  # (step, budget progress in [0, 1]) -> factor on initial_lr
    micro_batch: Callable[[int], Batch]  # micro-batch number on this rank -> (inputs, targets)
    settings: LoopSettings
    tokens_per_step: int  # over all ranks and micro-steps
    dist: DistInfo = field(default_factory=DistInfo)
    evaluate: Callable[[], dict[str, float]] | None = None  # returns e.g. {"val/loss": ...}
    on_eval: Callable[[int], None] | None = None  # e.g. print a sample story
    save_checkpoint: Callable[[TrainerState], None] | None = None
    save_best: Callable[[TrainerState], None] | None = None  # called when select_metric improves
    log: Callable[[dict[str, Any]], None] | None = None
    autocast: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext
    flops_per_token: float = 0.0
    peak_flops: float = 0.0
    state: TrainerState = field(default_factory=TrainerState)


class _StopOnInterrupt:
    """First Ctrl-C asks the loop to stop after the current step (and checkpoint); a second one aborts."""

    def __init__(self):
        self.requested = False
        self._previous = None

    def __enter__(self):
        with contextlib.suppress(ValueError):  # not the main thread: no signal handling
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print0("\ninterrupt: finishing this step, then saving a checkpoint (Ctrl-C again to abort)")

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


def _budget_reached(state: TrainerState, s: LoopSettings) -> str | None:
    if state.step >= s.max_steps:
        return "max_steps"
    if s.max_tokens is not None and state.tokens >= s.max_tokens:
        return "max_tokens"
    if s.max_minutes is not None and state.train_seconds >= s.max_minutes * 60:
        return "max_minutes"
    return None


def budget_progress(state: TrainerState, s: LoopSettings) -> float:
    """Fraction of the training budget used: the furthest along of steps, tokens and minutes."""
    fractions = [state.step / s.max_steps]
    if s.max_tokens:
        fractions.append(state.tokens / s.max_tokens)
    if s.max_minutes:
        fractions.append(state.train_seconds / (s.max_minutes * 60))
    return min(1.0, max(fractions))


def _record_selection(state: TrainerState, metrics: dict[str, float], s: LoopSettings) -> bool:
    """Update the best-metric bookkeeping after an evaluation; True when this evaluation is the new best."""
    value = metrics.get(s.select_metric)
    if value is None:
        return False
    better = state.best_metric is None or (
        value < state.best_metric if s.select_mode == "min" else value > state.best_metric
    )
    if better:
        state.best_metric, state.best_step, state.evals_since_best = float(value), state.step, 0
    else:
        state.evals_since_best += 1
    return better


def _no_sync(model: nn.Module, last_micro: bool):
    """Skip DDP's gradient all-reduce on all but the last micro-step of an accumulation."""
    if not last_micro and hasattr(model, "no_sync"):
        return model.no_sync()
    return contextlib.nullcontext()


def _budget_agreed(reason: str | None, info: DistInfo, stop_requested: bool) -> bool:
    """All ranks stop together: time budgets and Ctrl-C may trigger on one rank only."""
    flag = torch.tensor([1.0 if (reason or stop_requested) else 0.0])
    return bool(all_reduce_mean(flag, info).item() > 0) if info.enabled else flag.item() > 0


def train(job: TrainingJob) -> TrainerState:
    """Run the loop until a budget is reached; returns the final state. See the module docstring."""
    s, state, model, opt = job.settings, job.state, job.model, job.optimizer
    start_step = state.step
    bar = None
    if s.progress and job.dist.is_main:
        from tqdm.auto import tqdm

        bar = tqdm(total=s.max_steps, initial=state.step, dynamic_ncols=True, desc="train")
    window_seconds, window_tokens, window_loss, window_n = 0.0, 0, 0.0, 0
    with _StopOnInterrupt() as interrupt:
        while True:
            reason = _budget_reached(state, s)
            stopping = _budget_agreed(reason, job.dist, interrupt.requested)

            # evaluate on the interval and at the end (and before the first step of a fresh run, if asked)
            at_start = s.eval_at_start and state.step == start_step == 0 and not stopping
            on_interval = state.step > start_step and (state.step % s.eval_interval == 0 or stopping)
            if job.evaluate and (at_start or on_interval):
                metrics = job.evaluate()
                state.last_eval = metrics
                state.best_val_loss = min(state.best_val_loss, metrics.get("val/loss", math.inf))
                if job.log:
                    job.log({"step": state.step, "tokens": state.tokens, **metrics})
                shown = " | ".join(f"{k} {v:.4f}" for k, v in metrics.items())
                print0(f"\nstep {state.step}: {shown}")
                if job.on_eval:
                    job.on_eval(state.step)
                if _record_selection(state, metrics, s) and job.save_best:
                    job.save_best(state)
                if s.patience is not None and state.evals_since_best >= s.patience and not stopping:
                    reason, stopping = "early_stopping", True

            # checkpoint on the interval and at the end
            due = state.step > start_step and (state.step % s.ckpt_interval == 0 or stopping)
            if job.save_checkpoint and due:
                job.save_checkpoint(state)
            if stopping:
                print0(f"stopped at step {state.step}: {reason or 'interrupted'}")
                break

            # one optimizer step = grad_accum micro-steps
            t0 = time.perf_counter()
            set_lr(opt, job.lr_multiplier(state.step, budget_progress(state, s)))
            loss_sum = torch.zeros(())
            for micro in range(s.grad_accum):
                x, y = job.micro_batch(state.step * s.grad_accum + micro)
                with _no_sync(model, micro == s.grad_accum - 1), job.autocast():
                    loss = model(x, y, return_logits=False).loss / s.grad_accum
                loss.backward()
                loss_sum += loss.detach().float().cpu()
            grad_norm = torch.nn.utils.clip_grad_norm_(model.parameters(), s.grad_clip) if s.grad_clip > 0 else None
            opt.step()
            opt.zero_grad(set_to_none=True)
            if x.device.type == "cuda":
                torch.cuda.synchronize()
            step_seconds = time.perf_counter() - t0
            state.train_seconds += step_seconds
            window_seconds += step_seconds
            state.step += 1
            state.tokens += job.tokens_per_step
            window_tokens += job.tokens_per_step
            window_loss += loss_sum.item()
            window_n += 1
            if bar is not None:
                bar.update(1)

            if state.step % s.log_interval == 0 or state.step == s.max_steps:
                mean_loss = all_reduce_mean(torch.tensor(window_loss / max(1, window_n)), job.dist).item()
                tok_s = window_tokens / max(window_seconds, 1e-9)  # step time only, not eval
                record = {
                    "step": state.step,
                    "tokens": state.tokens,
                    "train/loss": mean_loss,
                    "lr": opt.param_groups[0]["lr"],
                    "tokens_per_s": tok_s,
                    "train_seconds": state.train_seconds,
                }
                if grad_norm is not None:
                    record["grad_norm"] = float(grad_norm)
                if job.peak_flops > 0 and job.flops_per_token > 0:
                    record["mfu"] = job.flops_per_token * tok_s / job.peak_flops
                if job.log:
                    job.log(record)
                if bar is not None:
                    postfix = {"loss": f"{mean_loss:.3f}", "lr": f"{record['lr']:.1e}", "tok/s": f"{tok_s:,.0f}"}
                    if "mfu" in record:
                        postfix["mfu"] = f"{record['mfu']:.0%}"
                    bar.set_postfix(postfix)
                window_seconds, window_tokens, window_loss, window_n = 0.0, 0, 0.0, 0
    if bar is not None:
        bar.close()
    return state
