"""`slm export hf`: a checkpoint as a Hugging Face folder that `transformers` loads with no custom code.

The folder holds config.json + model.safetensors (LlamaForCausalLM, GPT2LMHeadModel or MixtralForCausalLM, see
`hf_layout`), generation_config.json, tokenizer.json + tokenizer_config.json (with the chat template) +
special_tokens_map.json, and a README.md model card. It is written under a temp name and renamed into place.

Example:
    slm export hf --ckpt runs/quickstart/ckpt/pretrain --out exports/quickstart-hf
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from safetensors.torch import save_file

from slmkit.common.atomic import atomic_dir
from slmkit.common.log import print0
from slmkit.config import check, opt
from slmkit.export.hf_layout import HF_CLASS, hf_architecture, hf_config, to_hf_state
from slmkit.export.model_card import collect_card_facts, render_model_card
from slmkit.infer.load import load_checkpoint
from slmkit.tokenizer import CHAT_TEMPLATE, Tokenizer
from slmkit.tokenizer.special import ASSISTANT, END, EOT, PAD, SYSTEM, USER

DTYPES = {"float32": torch.float32, "float16": torch.float16, "bfloat16": torch.bfloat16}


@dataclass
class ExportHFConfig:
    ckpt: str = opt(None, "checkpoint folder, ckpt/<stage> folder or run directory")
    out: str = opt(None, "output folder (replaced when it exists)")
    dtype: Literal["float32", "float16", "bfloat16"] = opt("float32", "dtype of the saved weights")
    name: str | None = opt(None, "model name in the model card (default: the output folder's name)")

    def __post_init__(self):
        check(self.ckpt is not None, "ckpt", self.ckpt, "a checkpoint (--ckpt DIR)")
        check(self.out is not None, "out", self.out, "an output folder (--out DIR)")
        check(self.dtype in DTYPES, "dtype", self.dtype, "float32, float16 or bfloat16")


def hf_tokenizer_files(tokenizer: Tokenizer, context_length: int) -> dict[str, str]:
    """tokenizer.json, tokenizer_config.json and special_tokens_map.json for `AutoTokenizer` (a fast tokenizer:
    no custom code). `<|endoftext|>` is bos and eos, as in training; the chat template is ours.

    Example: `files = hf_tokenizer_files(tok, 256); json.loads(files["tokenizer_config.json"])["chat_template"]`
    """
    specials = {"bos_token": EOT, "eos_token": EOT, "pad_token": PAD}  # byte-level BPE has no unknown token
    extra = [SYSTEM, USER, ASSISTANT, END]
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        **specials,
        "additional_special_tokens": extra,
        "add_bos_token": False,  # prompts carry their own bos (as `slm generate` builds them)
        "add_eos_token": False,
        "clean_up_tokenization_spaces": False,
        "model_max_length": context_length,
        "chat_template": CHAT_TEMPLATE,
    }
    return {
        "tokenizer.json": tokenizer.json_text,
        "tokenizer_config.json": json.dumps(config, indent=2) + "\n",
        "special_tokens_map.json": json.dumps({**specials, "additional_special_tokens": extra}, indent=2) + "\n",
    }


def generation_config(tokenizer: Tokenizer, context_length: int) -> dict[str, Any]:
    """generation_config.json: stop at end of text or end of a chat turn; `slm generate`'s default sampling."""
    return {
        "bos_token_id": tokenizer.eot_id,
        "eos_token_id": [tokenizer.eot_id, tokenizer.special_ids[END]],
        "pad_token_id": tokenizer.pad_id,
        "max_length": context_length,
        "do_sample": True,
        "temperature": 0.8,
        "top_k": 50,
    }


def write_hf_folder(out: Path, model, tokenizer: Tokenizer, dtype: torch.dtype, card: str) -> str:
    """Write the whole HF folder for `model` atomically; returns the HF class name. Example: see `export_hf_stage`"""
    cfg = model.cfg
    arch = hf_architecture(cfg)  # a one-line ConfigError before anything is written
    tensors = {k: v.to(dtype) for k, v in to_hf_state(model.state_dict(), cfg, arch).items()}
    config = hf_config(cfg, arch, tokenizer.eot_id, tokenizer.eot_id, tokenizer.pad_id)
    config["torch_dtype"] = str(dtype).removeprefix("torch.")
    with atomic_dir(out) as tmp:
        save_file(tensors, str(tmp / "model.safetensors"), metadata={"format": "pt"})
        (tmp / "config.json").write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
        gen = generation_config(tokenizer, cfg.context_length)
        (tmp / "generation_config.json").write_text(json.dumps(gen, indent=2) + "\n", encoding="utf-8")
        for name, text in hf_tokenizer_files(tokenizer, cfg.context_length).items():
            (tmp / name).write_text(text, encoding="utf-8")
        (tmp / "README.md").write_text(card, encoding="utf-8")
    return HF_CLASS[arch]


def export_hf_stage(cfg: ExportHFConfig) -> dict[str, Any]:
    """Export a checkpoint to a transformers folder. Example: `export_hf_stage(ExportHFConfig(ckpt=c, out=o))`"""
    loaded = load_checkpoint(cfg.ckpt)
    out = Path(cfg.out)
    arch = HF_CLASS[hf_architecture(loaded.model.cfg)]
    facts = collect_card_facts(loaded.path, loaded.model, loaded.tokenizer.vocab_size)
    card = render_model_card(facts, cfg.name or out.resolve().name, arch)
    write_hf_folder(out, loaded.model, loaded.tokenizer, DTYPES[cfg.dtype], card)
    print0(f"export hf: {loaded.path} -> {out} ({arch}, {cfg.dtype}, {facts.params:,} parameters)")
    return {"out": str(out), "architecture": arch, "dtype": cfg.dtype, "params": facts.params}
