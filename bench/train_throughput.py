"""Training throughput of slmkit's Transformer vs transformers' LlamaForCausalLM, and MFU against measured GEMM peak.

Everything is measured in one run on the same machine: (1) the fp32 GEMM peak (best of several large square
matmuls), (2) full training steps (forward + backward + AdamW step) of our model, (3) the same steps for a
`transformers.LlamaForCausalLM` of identical shape, same optimizer, same batch. The two models are timed in
alternating rounds and each keeps its best round, so a burst of load from another process hurts both alike;
(4) the step's unavoidable kernels alone -- every GEMM of forward and backward at the model's shapes, SDPA forward
and backward -- which bounds any eager implementation of this model and so the ratio it can reach.

Example:
    python bench/train_throughput.py            # vocab 4096, ctx 256, 6 layers x 6 heads x 384, batch 16, fp32
    python bench/train_throughput.py --compile  # torch.compile our model too
"""

from __future__ import annotations

import argparse
import os
import time

import torch
import torch.nn.functional as F

from slmkit.common.device import tune_cpu_allocator
from slmkit.model import ModelConfig, Transformer, flops_per_token


def gemm_peak_flops(sizes=(1024, 2048, 3072), repeats: int = 5) -> float:
    """Best fp32 matmul FLOP/s over a few large square sizes (the denominator of MFU)."""
    best = 0.0
    for n in sizes:
        a, b = torch.randn(n, n), torch.randn(n, n)
        a @ b  # warm up the kernel choice
        for _ in range(repeats):
            start = time.perf_counter()
            a @ b
            best = max(best, 2 * n**3 / (time.perf_counter() - start))
    return best


def kernel_floor(cfg: ModelConfig, batch: int, seq_len: int, repeats: int = 3) -> float:
    """Seconds per training step spent in its unavoidable kernels: for every linear layer (and the LM head) the
    forward x @ W.T and the backward dY @ W and dY.T @ x, plus causal SDPA forward + backward, at the model's shapes.
    Elementwise work (norms, RoPE, SwiGLU, residuals, cross-entropy, AdamW) is left out, so a real step is slower."""
    rows, d, hs = batch * seq_len, cfg.d_model, cfg.head_dim
    q_out = (cfg.n_heads + 2 * cfg.kv_heads) * hs
    layer_shapes = [(q_out, d), (d, cfg.n_heads * hs), (2 * cfg.ffn_dim, d), (d, cfg.ffn_dim)]  # (out, in)
    gemms = []
    for n_out, n_in in [*layer_shapes * cfg.n_layers, (cfg.vocab_size, d)]:
        x, w, dy = torch.randn(rows, n_in), torch.randn(n_out, n_in), torch.randn(rows, n_out)
        gemms.append((x, w, dy))
    q = torch.randn(batch, cfg.n_heads, seq_len, hs, requires_grad=True)
    k = torch.randn(batch, cfg.kv_heads, seq_len, hs, requires_grad=True)
    v = torch.randn(batch, cfg.kv_heads, seq_len, hs, requires_grad=True)
    grad_y = torch.randn(batch, cfg.n_heads, seq_len, hs)

    def once() -> None:
        for x, w, dy in gemms:
            torch.mm(x, w.t())
            torch.mm(dy, w)
            torch.mm(dy.t(), x)
        for _ in range(cfg.n_layers):
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=cfg.kv_heads != cfg.n_heads)
            torch.autograd.grad(y, (q, k, v), grad_y)

    once()  # warm up
    return min(time_steps(once, 1) for _ in range(repeats))


def make_step(model: torch.nn.Module, optimizer: torch.optim.Optimizer, idx: torch.Tensor, hf: bool):
    """One full training step (forward, backward, AdamW update) on a fixed batch."""

    def step() -> None:
        if hf:
            loss = model(input_ids=idx, labels=idx).loss  # HF shifts labels inside
        else:
            loss = model(idx[:, :-1], targets=idx[:, 1:], return_logits=False).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    return step


def time_steps(step, n_steps: int) -> float:
    """Seconds per step, averaged over n_steps consecutive steps."""
    start = time.perf_counter()
    for _ in range(n_steps):
        step()
    return (time.perf_counter() - start) / n_steps


def build_hf_llama(cfg: ModelConfig) -> torch.nn.Module:
    """LlamaForCausalLM with the same shape as cfg (random init, SDPA attention, tied embeddings)."""
    from transformers import LlamaConfig, LlamaForCausalLM

    hf_cfg = LlamaConfig(
        vocab_size=cfg.vocab_size,
        hidden_size=cfg.d_model,
        intermediate_size=cfg.ffn_dim,
        num_hidden_layers=cfg.n_layers,
        num_attention_heads=cfg.n_heads,
        num_key_value_heads=cfg.kv_heads,
        max_position_embeddings=cfg.context_length,
        rms_norm_eps=cfg.norm_eps,
        rope_theta=cfg.rope_theta,
        tie_word_embeddings=cfg.tie_embeddings,
        attention_bias=False,
        mlp_bias=False,
        attn_implementation="sdpa",
    )
    return LlamaForCausalLM(hf_cfg)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3, help="timed training steps per round")
    parser.add_argument("--rounds", type=int, default=5, help="alternating timing rounds; each model keeps its best")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps per model before timing")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--compile", action="store_true", help="torch.compile our model")
    parser.add_argument("--no-hf", action="store_true", help="skip the transformers baseline")
    args = parser.parse_args()

    torch.set_num_threads(args.threads)
    tune_cpu_allocator()  # as `slm pretrain` does on CPU; one process, so it applies to both models alike
    torch.manual_seed(0)
    cfg = ModelConfig(vocab_size=4096, context_length=256, n_layers=6, n_heads=6, d_model=384)
    seq_len = cfg.context_length
    # seq_len + 1 tokens per row: our model is fed idx[:, :-1] -> idx[:, 1:]; HF gets all and shifts inside, so
    # HF does slightly more work (257 vs 256 positions): ~0.4%, in its favour being the slower side.
    idx = torch.randint(0, cfg.vocab_size, (args.batch, seq_len + 1))
    tokens_per_step = args.batch * seq_len
    fpt = flops_per_token(cfg, seq_len=seq_len)

    load_before = os.getloadavg()[0]
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, batch {args.batch} x {seq_len}, fp32")
    peak = gemm_peak_flops()
    print(f"fp32 GEMM peak: {peak / 1e9:.1f} GFLOP/s")
    print(
        f"model: {cfg.n_layers}L {cfg.n_heads}H d{cfg.d_model} ff{cfg.ffn_dim} vocab {cfg.vocab_size}; "
        f"{fpt / 1e6:.1f} MFLOP/token (training, incl. LM head and attention)"
    )

    ours = Transformer(cfg)
    runners = {"slmkit": ours}
    if args.compile:
        runners["slmkit"] = torch.compile(ours)
    if not args.no_hf:
        runners["transformers"] = build_hf_llama(cfg)
    steps = {}
    for name, model in runners.items():
        model.train()
        # fused: what `slm pretrain` uses on CPU and CUDA; both models get the same optimizer
        optimizer = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.1, fused=True)
        steps[name] = make_step(model, optimizer, idx, hf=name == "transformers")
        for _ in range(args.warmup):
            steps[name]()
    n_params = {name: sum(p.numel() for p in m.parameters()) for name, m in runners.items()}
    print("params: " + ", ".join(f"{k} {v:,}" for k, v in n_params.items()))

    best = {name: float("inf") for name in runners}
    for r in range(args.rounds):
        for name in runners:
            seconds = time_steps(steps[name], args.steps)
            best[name] = min(best[name], seconds)
            print(f"round {r + 1}: {name:12s} {tokens_per_step / seconds:8.0f} tok/s")

    print("\nresults (best round):")
    for name in runners:
        tok_s = tokens_per_step / best[name]
        print(f"  {name:12s} {tok_s:8.0f} tok/s   MFU {fpt * tok_s / peak:6.1%}   ({best[name]:.2f} s/step)")
    if "transformers" in best:
        print(f"  slmkit / transformers: {best['transformers'] / best['slmkit']:.2f}x")
    floor = kernel_floor(cfg, args.batch, seq_len)
    print(f"  kernel floor (GEMMs + SDPA alone): {tokens_per_step / floor:8.0f} tok/s   ({floor:.2f} s/step)")
    for name in runners:
        print(f"    {name} spends {best[name] / floor:.2f}x the floor")
    if "transformers" in best:
        print(f"  the most any eager model of this shape can reach: {best['transformers'] / floor:.2f}x transformers")
    print(f"load average (1 min) before/after: {load_before:.2f} / {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
