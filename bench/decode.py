"""Decoding speed, in one run on the same weights: (1) batch-1 greedy decode tokens/s of slmkit's engine, in fp32
and with int8 weights (`--quantize int8`, slmkit.model.quantize), against `transformers` `generate(use_cache=True)`
(LlamaForCausalLM with our fp32 weights copied in); (2) the aggregate
tokens/s of `slm serve` (a subprocess on 127.0.0.1) with 1 and with 16 concurrent streaming clients.

The model is bench/train_throughput.py's shape (6 layers x 6 heads x 384, ctx 256) with random weights; the
tokenizer is a BPE trained in-process on synthetic stories, and the model's vocabulary is the tokenizer's size.
Part 1 alternates rounds between the two engines and keeps each one's best, so load from other processes hurts
both alike.

Example:
    python bench/decode.py                 # both parts, 1 torch thread
    python bench/decode.py --threads 2 --skip-server
"""

from __future__ import annotations

import argparse
import copy
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch

from slmkit.config import build_config, to_dict
from slmkit.infer.engine import Engine, TokenRequest
from slmkit.infer.sampling import SamplingParams
from slmkit.model import ModelConfig, Transformer
from slmkit.model.quantize import QUANTIZE_CHOICES, quantize_int8
from slmkit.tokenizer import Tokenizer


def build_tokenizer(workdir: Path, vocab_size: int) -> Tokenizer:
    """A byte-level BPE trained on synthetic stories (no network, a few seconds)."""
    from slmkit.common.runs import RunDir
    from slmkit.data.synth import generate_stories
    from slmkit.tokenizer.train import TokenizerTrainConfig, tokenizer_train_stage

    run = RunDir(workdir / "run")
    split = run.split_file("train")
    split.parent.mkdir(parents=True, exist_ok=True)
    stories = generate_stories(20000, seed=0)
    split.write_text("".join(json.dumps({"text": s.text}) + "\n" for s in stories), encoding="utf-8")
    tokenizer_train_stage(build_config(TokenizerTrainConfig, {"run": str(run.root), "vocab_size": vocab_size}))
    return Tokenizer.from_file(run.root / "tokenizer" / "tokenizer.json")


def hf_llama_with_our_weights(model: Transformer) -> torch.nn.Module:
    """transformers' LlamaForCausalLM of the same shape, holding our weights (the mapping of `slm export hf`)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    from slmkit.export.hf_layout import hf_config, to_hf_state

    cfg = model.cfg
    config = LlamaConfig.from_dict(hf_config(cfg, "llama", bos_id=0, eos_id=0, pad_id=1), attn_implementation="sdpa")
    hf = LlamaForCausalLM(config).eval()
    missing, unexpected = hf.load_state_dict(to_hf_state(model.state_dict(), cfg, "llama"), strict=False)
    assert not unexpected and set(missing) <= {"lm_head.weight"}, (missing, unexpected)
    hf.tie_weights()
    return hf


def time_ours(model: Transformer, prompt: list[int], new_tokens: int) -> tuple[float, list[int]]:
    """Seconds per decoded token (prefill excluded) and the tokens."""
    engine = Engine(model, max_batch=1)
    seq, _ = engine.add(TokenRequest(prompt, new_tokens, SamplingParams(temperature=0)))
    start = time.perf_counter()
    while not seq.finished:
        engine.step()
    return (time.perf_counter() - start) / (new_tokens - 1), seq.output


def time_hf(hf, prompt: list[int], new_tokens: int) -> tuple[float, list[int]]:
    """Seconds per decoded token of `generate`, minus one forward of the prompt (its prefill)."""
    ids = torch.tensor([prompt])
    with torch.inference_mode():
        start = time.perf_counter()
        hf(ids)
        prefill = time.perf_counter() - start
        start = time.perf_counter()
        # an explicit mask: our prompts start with id 0, which HF would otherwise take for padding
        out = hf.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=new_tokens,
                          min_new_tokens=new_tokens, do_sample=False, use_cache=True, pad_token_id=0,
                          eos_token_id=None)
        total = time.perf_counter() - start
    return (total - prefill) / (new_tokens - 1), out[0, len(prompt):].tolist()


def matmul_floor(model: Transformer, repeats: int = 50) -> float:
    """Seconds per token of the decode step's matrix-vector products alone (every weight read once, fp32): the
    floor that any engine's batch-1 decoding of these weights pays before any other work."""
    weights = [m.weight.detach() for m in model.modules() if isinstance(m, torch.nn.Linear)]
    inputs = [torch.randn(1, w.size(1)) for w in weights]
    with torch.inference_mode():
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            for _ in range(repeats):
                for x, w in zip(inputs, weights):
                    torch.mm(x, w.t())
            best = min(best, (time.perf_counter() - start) / repeats)
    return best


def write_checkpoint(model: Transformer, tok: Tokenizer, folder: Path) -> Path:
    from safetensors.torch import save_model

    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text(json.dumps({"model": to_dict(model.cfg)}), encoding="utf-8")
    save_model(model, str(folder / "model.safetensors"))
    tok.save(folder / "tokenizer.json")
    return folder


def stream_completion(port: int, prompt: str, max_tokens: int) -> int:
    """One streamed greedy completion; returns its completion token count (from the usage chunk)."""
    body = json.dumps({"model": "bench", "prompt": prompt, "max_tokens": max_tokens, "temperature": 0,
                       "stream": True, "stream_options": {"include_usage": True}})
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    conn.request("POST", "/v1/completions", body, {"Content-Type": "application/json"})
    resp = conn.getresponse()
    tokens = 0
    for raw in resp:
        line = raw.decode().strip()
        if line.startswith("data: {"):
            usage = json.loads(line[6:]).get("usage")
            if usage:
                tokens = usage["completion_tokens"]
    conn.close()
    return tokens


def server_throughput(port: int, clients: int, max_tokens: int) -> float:
    """Aggregate completion tokens/s of `clients` concurrent streams."""
    counts = [0] * clients
    barrier = threading.Barrier(clients + 1)

    def run(i: int) -> None:
        barrier.wait()
        counts[i] = stream_completion(port, f"Once upon a time {i}", max_tokens)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    return sum(counts) / (time.perf_counter() - start)


def start_server(ckpt: Path, threads: int, quantize: str = "none") -> tuple[subprocess.Popen, int]:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    cmd = [sys.executable, "-m", "slmkit", "serve", "--ckpt", str(ckpt), "--port", str(port), "--model-name",
           "bench", "--max-batch", "16", "--quantize", quantize]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return proc, port
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"slm serve did not start: {proc.stderr.read()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=1, help="torch threads (both engines, and the server)")
    parser.add_argument("--tokens", type=int, default=200, help="new tokens per batch-1 generation")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--stream-tokens", type=int, default=64, help="new tokens per server stream")
    parser.add_argument("--skip-server", action="store_true")
    parser.add_argument("--server-quantize", default="none", choices=QUANTIZE_CHOICES, help="weights of the server")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    load_before = os.getloadavg()[0]

    with tempfile.TemporaryDirectory() as tmp:
        tok = build_tokenizer(Path(tmp), 4096)
        torch.manual_seed(0)
        cfg = ModelConfig(vocab_size=tok.vocab_size, context_length=256, n_layers=6, n_heads=6, d_model=384)
        model = Transformer(cfg).eval()
        hf = hf_llama_with_our_weights(model)
        model_int8 = quantize_int8(copy.deepcopy(model))
        n_params = sum(p.numel() for p in model.parameters())
        print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), fp32, model {cfg.n_layers}L "
              f"d{cfg.d_model} ff{cfg.ffn_dim} vocab {cfg.vocab_size} ({n_params / 1e6:.1f}M params)")
        prompt = [tok.eot_id, *tok.encode("Once upon a time, there was a little girl named Lily.")]

        print(f"\n1) batch-1 greedy decode, {len(prompt)}-token prompt, {args.tokens} new tokens")
        contenders = (
            ("slmkit", time_ours, model), ("slmkit int8", time_ours, model_int8), ("transformers", time_hf, hf)
        )
        best = {name: float("inf") for name, _, _ in contenders}
        outputs = {}
        for r in range(args.rounds):
            for name, fn, m in contenders:
                seconds, outputs[name] = fn(m, prompt, args.tokens)
                best[name] = min(best[name], seconds)
                print(f"  round {r + 1}: {name:12s} {1 / seconds:7.1f} tok/s ({seconds * 1e3:.2f} ms/token)")
        same = sum(a == b for a, b in zip(outputs["slmkit"], outputs["transformers"]))
        print(f"  same greedy tokens: {same}/{args.tokens}")
        # random weights give nearly flat next-token distributions, so int8 rounding soon flips an argmax; the
        # quality cost on a trained model is measured with `slm eval lm --quantize int8` instead (docs)
        pairs = enumerate(zip(outputs["slmkit"], outputs["slmkit int8"]))
        agree = next((i for i, (a, b) in pairs if a != b), args.tokens)
        print(f"  int8 greedy tokens equal to fp32 before the first difference: {agree}/{args.tokens}")
        for name, seconds in best.items():
            print(f"  {name:12s} best {1 / seconds:7.1f} tok/s")
        print(f"  slmkit / transformers: {best['transformers'] / best['slmkit']:.2f}x (both fp32)")
        print(f"  slmkit int8 / transformers fp32: {best['transformers'] / best['slmkit int8']:.2f}x")
        floor = matmul_floor(model)
        print(f"  matmul floor (weights streamed once, nothing else): {floor * 1e3:.2f} ms/token "
              f"= {1 / floor:.1f} tok/s; slmkit spends {best['slmkit'] / floor:.2f}x the floor, "
              f"transformers {best['transformers'] / floor:.2f}x, slmkit int8 {best['slmkit int8'] / floor:.2f}x")

        if not args.skip_server:
            ckpt = write_checkpoint(model, tok, Path(tmp) / "ckpt")
            proc, port = start_server(ckpt, args.threads, args.server_quantize)
            try:
                print(f"\n2) slm serve, greedy streams of {args.stream_tokens} tokens")
                server_throughput(port, 2, 8)  # warm up
                single = max(server_throughput(port, 1, args.stream_tokens) for _ in range(2))
                many = max(server_throughput(port, 16, args.stream_tokens) for _ in range(2))
                print(f"  1 stream:   {single:7.1f} tok/s")
                print(f"  16 streams: {many:7.1f} tok/s aggregate")
                print(f"  16 / 1: {many / single:.2f}x")
            finally:
                proc.terminate()
                proc.wait(timeout=30)
    load_after = os.getloadavg()[0]
    print(f"\nload average (1 min) before/after: {load_before:.2f} / {load_after:.2f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
