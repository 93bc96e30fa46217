"""Device and precision choices. On CPU we always train in fp32 (bf16 matmul is ~100x slower on AVX2 CPUs).

Example: device = pick_device("auto"); ctx = autocast_context(device, "auto")
"""

from __future__ import annotations

import contextlib

import torch

from slmkit.common.errors import ConfigError


def pick_device(name: str = "auto") -> torch.device:
    """'auto' -> cuda if available, else mps, else cpu. Example: `pick_device("cpu")`"""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", torch.cuda.current_device())
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("device", found=name, expected="cpu (no CUDA device is available here)")
    return torch.device(name)


def resolve_dtype(device: torch.device, precision: str = "auto") -> torch.dtype | None:
    """The autocast dtype to use, or None for plain fp32. 'auto' -> bf16 on CUDA with bf16 support, else fp32."""
    if precision == "fp32":
        return None
    if device.type != "cuda":
        if precision in ("bf16", "fp16"):
            raise ConfigError("precision", found=precision, expected="fp32 or auto on a CPU (autocast is CUDA-only)")
        return None
    if precision == "auto":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return {"bf16": torch.bfloat16, "fp16": torch.float16}[precision]


def autocast_context(device: torch.device, dtype: torch.dtype | None):
    """An autocast context for CUDA mixed precision, or a no-op."""
    if dtype is None:
        return contextlib.nullcontext()
    return torch.autocast(device_type=device.type, dtype=dtype)


def measure_fp32_gemm_peak(size: int = 1024, repeats: int = 5, device: torch.device | str = "cpu") -> float:
    """Best observed fp32 matmul FLOP/s (the MFU denominator on CPU). Example: `measure_fp32_gemm_peak()`"""
    import time

    device = torch.device(device)
    a = torch.randn(size, size, device=device)
    b = torch.randn(size, size, device=device)
    best = 0.0
    for _ in range(repeats + 1):
        if device.type == "cuda":
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(4):
            a @ b
        if device.type == "cuda":
            torch.cuda.synchronize()
        best = max(best, 4 * 2 * size**3 / (time.perf_counter() - t0))
    return best


# Nominal dense peaks (FLOP/s) of common accelerators for MFU on GPU, keyed by a substring of the device name.
NOMINAL_GPU_PEAK = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L4": 121e12, "A10": 125e12, "4090": 165e12}


def peak_flops(device: torch.device, dtype: torch.dtype | None) -> float:
    """The MFU denominator: measured fp32 GEMM peak on CPU, nominal bf16 peak on a known GPU."""
    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
        for key, value in NOMINAL_GPU_PEAK.items():
            if key in name:
                return value if dtype is not None else value / 2
    return measure_fp32_gemm_peak(device=device)


def tune_cpu_allocator() -> None:
    """Keep freed large blocks in glibc's heap instead of returning them to the OS after every step.

    Training frees and reallocates the same big activation buffers each step; by default glibc unmaps blocks over
    32 MiB, so each step page-faults them back in (measured ~5-9% of a CPU training step here). No-op off glibc.
    """
    import ctypes
    import sys

    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    libc.mallopt(m_mmap_threshold, 1 << 30)
    libc.mallopt(m_trim_threshold, 1 << 30)
