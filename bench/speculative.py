"""Speculative decoding against plain greedy decoding of the target, same prompts, same machine, one run.

For each prompt the target decodes greedily alone (`slmkit.infer.engine.generate`, one token per forward with a KV
cache), then with the draft proposing k tokens per target forward (`SpeculativeDecoder`). The script checks that
the tokens are identical, and prints the draft's acceptance rate, new tokens per target forward and the tokens/s
ratio. Timings are the best of `--repeat` runs (the machine is shared); prefill is included in both.

Usage:
    OMP_NUM_THREADS=1 python bench/speculative.py --target runs/ts-small --draft runs/ts-tiny --k 2 4 6 --tokens 128
"""

from __future__ import annotations

import argparse
import time

import torch

from slmkit.infer.engine import generate
from slmkit.infer.load import load_checkpoint
from slmkit.infer.sampling import SamplingParams
from slmkit.infer.speculative import SpeculativeDecoder, SpeculativeStats

PROMPTS = [
    "Once upon a time, there was a little girl named Lily.",
    "Tom and his dog went to the park.",
    "One day, a small bird found a shiny",
    "Mom said, \"It is time for bed.\"",
    "The big red ball",
    "Sam wanted to help his friend",
]


def best_time(fn, repeat: int):
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", required=True)
    parser.add_argument("--draft", required=True)
    parser.add_argument("--k", type=int, nargs="+", default=[2, 4, 6])
    parser.add_argument("--tokens", type=int, default=128)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()

    target, draft = load_checkpoint(args.target), load_checkpoint(args.draft)
    tok = target.tokenizer
    prompts = [[tok.eot_id] + tok.encode(p) for p in PROMPTS]
    greedy = SamplingParams(temperature=0)
    print(f"target {args.target}: {target.model.num_params() / 1e6:.2f}M params, {target.model.cfg.n_layers} layers "
          f"d{target.model.cfg.d_model}; draft {args.draft}: {draft.model.num_params() / 1e6:.2f}M params, "
          f"{draft.model.cfg.n_layers} layers d{draft.model.cfg.d_model}")
    print(f"{len(prompts)} prompts x {args.tokens} new tokens, greedy, no stop token; torch threads "
          f"{torch.get_num_threads()}, best of {args.repeat}")

    plain_time, plain_out, draft_time = 0.0, [], 0.0
    for prompt in prompts:
        seconds, tokens = best_time(lambda p=prompt: generate(target.model, [p], args.tokens, greedy)[0], args.repeat)
        plain_time += seconds
        plain_out.append(tokens)
        seconds, _ = best_time(lambda p=prompt: generate(draft.model, [p], args.tokens, greedy)[0], args.repeat)
        draft_time += seconds
    n_tokens = sum(len(t) for t in plain_out)
    plain_tps = n_tokens / plain_time
    print(f"\n{'decoder':<28}{'tok/s':>9}{'ratio':>8}{'accept':>8}{'tok/fwd':>9}{'same':>6}")
    print(f"{'target greedy (baseline)':<28}{plain_tps:>9.1f}{1.0:>8.2f}{'':>8}{1.0:>9.2f}{'yes':>6}")
    print(f"{'draft greedy (reference)':<28}{n_tokens / draft_time:>9.1f}{plain_time / draft_time:>8.2f}")
    for k in args.k:
        decoder = SpeculativeDecoder(target.model, draft.model, k=k)
        total_time, stats, same = 0.0, SpeculativeStats(), True
        for prompt, expected in zip(prompts, plain_out):
            run = lambda p=prompt, d=decoder: d.generate(p, args.tokens)
            seconds, (tokens, run_stats) = best_time(run, args.repeat)
            total_time += seconds
            stats.add(run_stats)
            same = same and tokens == expected
        tps = n_tokens / total_time
        print(f"{f'speculative k={k}':<28}{tps:>9.1f}{tps / plain_tps:>8.2f}{stats.acceptance_rate:>8.2f}"
              f"{stats.tokens_per_target_forward:>9.2f}{'yes' if same else 'NO':>6}")


if __name__ == "__main__":
    main()
