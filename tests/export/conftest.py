"""Export fixtures: a byte-level BPE trained in-process and random checkpoints of every exportable architecture."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from slmkit.data.synth import generate_stories
from slmkit.export.ckpt_folder import write_checkpoint_folder
from slmkit.model import ModelConfig, Transformer
from slmkit.tokenizer.train import train_tokenizer

# Small configs of every architecture the exporters support (vocab 320 > the tokenizer's: padded rows are allowed).
ARCH_CONFIGS = {
    "llama": dict(n_heads=4, n_kv_heads=2),
    "llama-bias-untied": dict(n_heads=4, bias=True, tie_embeddings=False),
    "gpt2": dict(n_heads=4, pos_emb="learned", norm="layernorm", mlp="gelu", bias=True),
    "gpt2-nobias": dict(n_heads=2, pos_emb="learned", norm="layernorm", mlp="gelu", bias=False, tie_embeddings=False),
    "mixtral": dict(n_heads=4, n_kv_heads=2, n_experts=4, moe_top_k=2),
}


def tiny_config(arch: str, **overrides) -> ModelConfig:
    base = dict(vocab_size=320, context_length=64, n_layers=2, d_model=32, d_ff=48, init_std=0.1)
    return ModelConfig(**(base | ARCH_CONFIGS[arch] | overrides))


@pytest.fixture(scope="session")
def story_tokenizer():
    texts = [s.text for s in generate_stories(200, seed=3)]
    return train_tokenizer(texts, vocab_size=300)


def random_model(cfg: ModelConfig, seed: int = 0) -> Transformer:
    """A model with random weights, norms and biases (so every parameter's export is checked)."""
    torch.manual_seed(seed)
    model = Transformer(cfg)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "norm" in name or name.endswith("bias"):
                param.add_(torch.randn_like(param) * 0.1)
    return model.eval()


@pytest.fixture
def make_ckpt(tmp_path, story_tokenizer):
    """Factory: a slmkit checkpoint folder for one of ARCH_CONFIGS; returns (folder, model)."""

    def make(arch: str, **overrides) -> tuple[Path, Transformer]:
        model = random_model(tiny_config(arch, **overrides))
        folder = write_checkpoint_folder(tmp_path / f"ckpt-{arch}", model, story_tokenizer, stage="test")
        return folder, model

    return make
