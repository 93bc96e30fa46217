"""Console output that respects distributed ranks and a quiet flag.

Example: print0("step 10 | loss 2.31")
"""

from __future__ import annotations

import os
import sys


def is_main_process() -> bool:
    """True on rank 0 (or when not launched by torchrun)."""
    return int(os.environ.get("RANK", "0")) == 0


def print0(*args, **kwargs) -> None:
    """print() on rank 0 only, flushed. Example: `print0("hello")`"""
    if is_main_process():
        kwargs.setdefault("flush", True)
        print(*args, **kwargs)


def eprint(*args) -> None:
    """Print to stderr (messages that must not mix with JSON on stdout)."""
    print(*args, file=sys.stderr, flush=True)
