import pytest
import torch


@pytest.fixture(autouse=True)
def _deterministic():
    """Every model test starts from the same RNG state and runs single-threaded-friendly sizes."""
    torch.manual_seed(0)
