"""`slm import hf`: a local Hugging Face GPT-2 / Llama / Mixtral folder as a slmkit checkpoint folder.

Reads config.json, safetensors weights (model.safetensors or a sharded model.safetensors.index.json) and a
byte-level BPE tokenizer.json; refuses pickled weights (pytorch_model.bin, *.pt) without opening them. Writes
config.json + model.safetensors + tokenizer.json (`ckpt_folder`), which `load_checkpoint`, `slm generate` and
fine-tuning read like any trained checkpoint.

slmkit's stages need its special tokens (`<|endoftext|>`, `<|pad|>`, the chat role markers). Those missing from the
imported tokenizer are added as special tokens after its vocabulary; when that outgrows the model's vocab_size the
embedding (and an untied LM head) gains rows initialised to the mean embedding, so the logits of every original
token are unchanged.

Example:
    slm import hf --src ~/models/my-llama --out ckpts/my-llama
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file
from tokenizers import AddedToken
from tokenizers import Tokenizer as HFTokenizer

from slmkit.common.errors import InputError, MissingFileError
from slmkit.common.log import print0
from slmkit.config import check, opt
from slmkit.export.ckpt_folder import write_checkpoint_folder
from slmkit.export.hf_layout import from_hf_state, model_config_from_hf
from slmkit.model.config import ModelConfig
from slmkit.model.transformer import Transformer
from slmkit.tokenizer import SPECIAL_TOKENS, Tokenizer

PICKLED = ("*.bin", "*.pt", "*.pth", "*.ckpt", "*.pkl")


@dataclass
class ImportHFConfig:
    src: str = opt(None, "local Hugging Face model folder (config.json, *.safetensors, tokenizer.json)")
    out: str = opt(None, "slmkit checkpoint folder to write (replaced when it exists)")

    def __post_init__(self):
        check(self.src is not None, "src", self.src, "a Hugging Face model folder (--src DIR)")
        check(self.out is not None, "out", self.out, "an output folder (--out DIR)")


def _read_json(path: Path) -> Any:
    if not path.is_file():
        raise MissingFileError(path, expected="a Hugging Face config.json")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise InputError(str(path), found="unreadable JSON", expected="a Hugging Face config.json") from None


def weight_files(src: Path) -> list[Path]:
    """The safetensors files holding the model's weights; pickled checkpoints are refused unopened."""
    index = src / "model.safetensors.index.json"
    if index.is_file():
        weight_map = _read_json(index).get("weight_map", {})
        files = sorted({src / name for name in weight_map.values()})
        missing = [f for f in files if not f.is_file()]
        if missing:
            raise MissingFileError(missing[0], expected=f"a shard listed in {index.name}")
        return files
    if (src / "model.safetensors").is_file():
        return [src / "model.safetensors"]
    pickled = sorted(p.name for pattern in PICKLED for p in src.glob(pattern))
    if pickled:
        raise InputError(str(src / pickled[0]), found="pickled PyTorch weights",
                         expected="model.safetensors (slmkit never unpickles files; re-save the model with "
                         "`save_pretrained(dir, safe_serialization=True)`)")
    raise MissingFileError(src / "model.safetensors", expected="the model's weights in safetensors format")


def load_hf_tensors(files: list[Path]) -> dict[str, torch.Tensor]:
    """All tensors of the safetensors files, as float32. Example: `load_hf_tensors([Path("model.safetensors")])`"""
    tensors: dict[str, torch.Tensor] = {}
    for path in files:
        try:
            loaded = load_file(str(path))
        except (SafetensorError, OSError) as exc:
            raise InputError(str(path), found=f"an unreadable file ({str(exc)[:80]})",
                             expected="safetensors weights") from None
        tensors |= {k: v.float() for k, v in loaded.items()}
    return tensors


def import_tokenizer(path: Path) -> tuple[Tokenizer, list[str]]:
    """A byte-level BPE tokenizer.json as a slmkit Tokenizer, with slmkit's missing special tokens appended.

    Returns the tokenizer and the special tokens that were added. Example: `tok, added = import_tokenizer(p)`
    """
    if not path.is_file():
        raise MissingFileError(path, expected="a tokenizer.json (fast tokenizer) next to the weights")
    try:
        text = path.read_text(encoding="utf-8")
        spec = json.loads(text)
        hf = HFTokenizer.from_str(text)
    except Exception as exc:  # JSON or the Rust deserializer's Exception
        raise InputError(str(path), found=f"an unreadable tokenizer ({str(exc)[:80]})",
                         expected="a Hugging Face tokenizer.json") from None
    model_type = (spec.get("model") or {}).get("type")
    if model_type != "BPE" or "ByteLevel" not in json.dumps(spec.get("pre_tokenizer")):
        raise InputError(str(path), found=f"a {model_type} tokenizer without a ByteLevel pre-tokenizer",
                         expected="a byte-level BPE tokenizer (GPT-2 / Llama 3 style); SentencePiece tokenizers "
                         "are not supported")
    vocab = hf.get_vocab(with_added_tokens=True)
    added = [t for t in SPECIAL_TOKENS if t not in vocab]
    if added:
        hf.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in added])
    return Tokenizer(hf.to_str(), source=str(path)), added


def _grow_vocab(state: dict[str, torch.Tensor], cfg: ModelConfig, vocab_size: int) -> dict[str, torch.Tensor]:
    """Embedding (and untied head) rows for tokens added beyond the model's vocabulary: the mean embedding, a
    neutral start for fine-tuning; the logits of every original token are unchanged."""
    extra = vocab_size - cfg.vocab_size
    for name in ("wte.weight",) + (() if cfg.tie_embeddings else ("lm_head.weight",)):
        rows = state[name]
        state[name] = torch.cat([rows, rows.mean(0, keepdim=True).expand(extra, -1)])
    if cfg.tie_embeddings:
        state["lm_head.weight"] = state["wte.weight"]
    return state


def import_hf_model(src: Path) -> tuple[Transformer, Tokenizer, dict[str, Any]]:
    """Build a slmkit model + tokenizer from a HF folder. Example: `model, tok, info = import_hf_model(Path(d))`"""
    config_path = src / "config.json"
    hf_cfg = _read_json(config_path)
    cfg, arch = model_config_from_hf(hf_cfg, where=str(config_path))
    tensors = load_hf_tensors(weight_files(src))
    tokenizer, added = import_tokenizer(src / "tokenizer.json")
    try:
        state = from_hf_state(tensors, cfg, arch)
    except KeyError as exc:
        raise InputError(str(src), found=f"no tensor {exc.args[0]}", expected=f"the weights of {arch} "
                         "as transformers saves them") from None
    if tokenizer.vocab_size > cfg.vocab_size:
        state = _grow_vocab(state, cfg, tokenizer.vocab_size)
        cfg = dataclasses.replace(cfg, vocab_size=tokenizer.vocab_size)
    model = Transformer(cfg)
    expected = {k: v.shape for k, v in model.state_dict().items()}
    for name, tensor in state.items():
        if tuple(tensor.shape) != tuple(expected[name]):
            raise InputError(str(src), found=f"{name} of shape {tuple(tensor.shape)}",
                             expected=f"{tuple(expected[name])} from config.json")
    model.load_state_dict(state, strict=True)
    info = {"src": str(src.resolve()), "hf_model_type": arch, "added_special_tokens": added}
    return model.eval(), tokenizer, info


def import_hf_stage(cfg: ImportHFConfig) -> dict[str, Any]:
    """Import a HF folder into a slmkit checkpoint folder. Example: `import_hf_stage(ImportHFConfig(src=s, out=o))`"""
    src = Path(cfg.src)
    if not src.is_dir():
        raise MissingFileError(src, expected="a Hugging Face model folder")
    model, tokenizer, info = import_hf_model(src)
    out = write_checkpoint_folder(Path(cfg.out), model, tokenizer, stage="import", source=info)
    added = f"; added special tokens {info['added_special_tokens']}" if info["added_special_tokens"] else ""
    print0(f"import hf: {src} ({info['hf_model_type']}, {model.num_params():,} parameters) -> {out}{added}")
    return {"out": str(out), "params": model.num_params(), **info}
