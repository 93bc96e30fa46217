"""Every benchmark script imports cleanly: they run only by hand, so a refactor that moves a name they use would
otherwise go unnoticed until the next measurement."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.mark.parametrize("script", sorted(p.name for p in BENCH.glob("*.py")))
def test_bench_script_imports(script):
    spec = importlib.util.spec_from_file_location(f"bench_{script[:-3]}", BENCH / script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # top-level code only: each script runs its work under `if __name__ == ...`
    assert callable(getattr(module, "main", None))
