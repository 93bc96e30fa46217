"""slmkit.model: a plain-PyTorch decoder-only transformer (dense or mixture of experts), KV cache, FLOP counts.

Example:
    from slmkit.model import Transformer, preset
    model = Transformer(preset("tiny")); out = model(idx, targets=idx)
"""

from slmkit.model.config import PRESETS, ModelConfig, preset
from slmkit.model.flops import flops_per_token, param_counts
from slmkit.model.kv_cache import KVCache
from slmkit.model.transformer import IGNORE_INDEX, ModelOutput, Transformer

__all__ = [
    "IGNORE_INDEX",
    "PRESETS",
    "KVCache",
    "ModelConfig",
    "ModelOutput",
    "Transformer",
    "flops_per_token",
    "param_counts",
    "preset",
]
