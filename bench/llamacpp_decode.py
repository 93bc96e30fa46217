"""Decode speed: llama.cpp (llama-cpp-python) on our GGUF export against slmkit's simple engine, same weights, one run.

Both decode greedily from the same prompt for the same number of new tokens, one token per forward with a KV cache,
on the same CPU threads; the figure is new tokens per second (prefill of the short prompt included in both). The
script also reports whether the two produced the same tokens (they should, at f32).

Usage:
    python bench/llamacpp_decode.py --ckpt runs/quickstart/ckpt/pretrain --tokens 200 --dtype f32 q8_0
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from slmkit.export.gguf import write_gguf
from slmkit.infer.engine import generate
from slmkit.infer.load import load_checkpoint
from slmkit.infer.sampling import SamplingParams


def slmkit_decode(model, prompt: list[int], n: int) -> tuple[list[int], float]:
    start = time.perf_counter()
    tokens = generate(model, [prompt], n, SamplingParams(temperature=0.0))[0]
    return tokens, time.perf_counter() - start


def llamacpp_decode(llm, prompt: list[int], n: int) -> tuple[list[int], float]:
    start = time.perf_counter()
    llm.reset()
    llm.eval(prompt)
    tokens = []
    n_vocab = llm.n_vocab()
    for _ in range(n):
        # the last position's logits straight from the context (llm.scores is only filled with logits_all=True)
        token = int(np.argmax(np.ctypeslib.as_array(llm._ctx.get_logits_ith(-1), shape=(n_vocab,))))
        tokens.append(token)
        llm.eval([token])
    return tokens, time.perf_counter() - start


def best_of(fn, repeats: int):
    runs = [fn() for _ in range(repeats)]
    return runs[0][0], min(seconds for _, seconds in runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ckpt", required=True, help="checkpoint folder, ckpt/<stage> folder or run directory")
    parser.add_argument("--prompt", default="Once upon a time")
    parser.add_argument("--tokens", type=int, default=200, help="new tokens per decode")
    parser.add_argument("--dtype", nargs="+", default=["f32", "q8_0"], choices=["f32", "f16", "q8_0"])
    parser.add_argument("--threads", type=int, default=1,
                        help="CPU threads for both (1 avoids spin-waiting on a busy machine)")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many timed runs (after a warm-up)")
    args = parser.parse_args()

    import llama_cpp  # the whole point of the script: fail loudly when it is missing

    torch.set_num_threads(args.threads)
    loaded = load_checkpoint(args.ckpt)
    model, tok = loaded.model, loaded.tokenizer
    prompt = [tok.eot_id] + tok.encode(args.prompt)
    n = min(args.tokens, model.cfg.context_length - len(prompt))
    print(f"checkpoint {loaded.path}: {model.num_params():,} parameters, prompt {len(prompt)} tokens, "
          f"{n} new tokens, {args.threads} threads, best of {args.repeats}")

    slmkit_decode(model, prompt, n)  # warm-up
    ours, ours_s = best_of(lambda: slmkit_decode(model, prompt, n), args.repeats)
    print(f"slmkit engine (fp32):   {n / ours_s:8.1f} tokens/s")
    with tempfile.TemporaryDirectory() as tmp:
        for dtype in args.dtype:
            path = Path(tmp) / f"model-{dtype}.gguf"
            write_gguf(path, model, tok, dtype)
            llm = llama_cpp.Llama(model_path=str(path), n_ctx=model.cfg.context_length, n_threads=args.threads,
                                  n_threads_batch=args.threads, logits_all=False, verbose=False)
            llamacpp_decode(llm, prompt, n)  # warm-up
            theirs, theirs_s = best_of(lambda llm=llm: llamacpp_decode(llm, prompt, n), args.repeats)
            agree = next((i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b), min(len(ours), len(theirs)))
            print(f"llama.cpp ({dtype:>4}):      {n / theirs_s:8.1f} tokens/s   ratio llama.cpp/slmkit = "
                  f"{ours_s / theirs_s:.2f}x   greedy tokens identical for the first {agree}/{n}")
            del llm


if __name__ == "__main__":
    main()
