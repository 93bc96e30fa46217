"""`slm inspect attention | lens | patch`: pictures and tables of what a checkpoint does with one prompt.

Example:
    slm inspect attention --ckpt runs/quickstart --prompt "Lily gave the ball to" --out inspect/
    slm inspect lens --ckpt runs/quickstart --prompt "Once upon a time" --top-k 3
    slm inspect patch --ckpt runs/x --clean "Tom gave the ball to Sue. Sue" --corrupt "Tom gave the ball to Max. Max" \
        --answer " gave" --wrong " said"
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from slmkit.common.atomic import atomic_write_json, atomic_write_text
from slmkit.common.device import pick_device
from slmkit.common.errors import ConfigError
from slmkit.config import check, opt
from slmkit.infer.load import load_checkpoint
from slmkit.inspect.analysis import activation_patching, attention_maps, logit_lens
from slmkit.inspect.plots import save_attention_grid, save_logit_lens, save_patching


@dataclass
class InspectConfig:
    ckpt: str = opt(None, "checkpoint folder, ckpt/<stage> folder, or run directory")
    prompt: str = opt("Once upon a time, Lily found a ball.", "text to look at")
    out: str = opt("inspect", "folder for the PNGs and tables")
    device: str = opt("cpu", "cpu, cuda, auto")

    def __post_init__(self):
        check(self.ckpt is not None, "ckpt", self.ckpt, "a checkpoint (--ckpt DIR)")


@dataclass
class LensConfig(InspectConfig):
    top_k: int = opt(3, "tokens listed per layer and position in lens.md")

    def __post_init__(self):
        super().__post_init__()
        check(self.top_k >= 1, "top_k", self.top_k, ">= 1")


@dataclass
class PatchConfig(InspectConfig):
    clean: str = opt(None, "the clean prompt")
    corrupt: str = opt(None, "the corrupted prompt (same number of tokens as --clean)")
    answer: str | None = opt(None, "the clean answer token (text of one token); default: the clean run's top token")
    wrong: str | None = opt(
        None, "the corrupted answer token; default: the corrupted run's top token (if not the answer, else the token "
        "whose logit the corruption raises most)")

    def __post_init__(self):
        super().__post_init__()
        check(self.clean is not None, "clean", self.clean, "a prompt (--clean TEXT)")
        check(self.corrupt is not None, "corrupt", self.corrupt, "a prompt (--corrupt TEXT)")


def _load(cfg: InspectConfig):
    loaded = load_checkpoint(cfg.ckpt, pick_device(cfg.device))
    return loaded.model, loaded.tokenizer


def _ids(tok, text: str, model) -> torch.Tensor:
    ids = [tok.eot_id] + tok.encode(text)  # documents start after an end-of-text token in training
    if len(ids) > model.cfg.context_length:
        raise ConfigError("prompt", f"{len(ids)} tokens", f"at most {model.cfg.context_length}")
    return torch.tensor([ids], device=model.device)


def _labels(tok, ids: torch.Tensor) -> list[str]:
    return [repr(tok.decode([i]))[1:-1] or "·" for i in ids[0].tolist()]


def attention_stage(cfg: InspectConfig) -> dict[str, Any]:
    """attention_layer<i>.png: one heatmap per head, rows = query positions, columns = attended positions."""
    model, tok = _load(cfg)
    ids = _ids(tok, cfg.prompt, model)
    labels = _labels(tok, ids)
    maps = attention_maps(model, ids)
    paths = [
        str(save_attention_grid(w, labels, Path(cfg.out) / f"attention_layer{i}.png", title=f"layer {i}"))
        for i, w in enumerate(maps)
    ]
    for path in paths:
        print(path)
    return {"pngs": paths}


def lens_stage(cfg: LensConfig) -> dict[str, Any]:
    """lens.md (top-k tokens per layer and position), lens.json and lens.png (top-1 with its probability)."""
    model, tok = _load(cfg)
    ids = _ids(tok, cfg.prompt, model)
    labels = _labels(tok, ids)
    lens = logit_lens(model, ids, cfg.top_k)
    names = ["embed"] + [f"block {i}" for i in range(len(model.blocks))]
    text = lambda i: repr(tok.decode([int(i)]))[1:-1]
    cells = [[[(text(i), float(p)) for i, p in zip(ids_, ps)] for ids_, ps in zip(lens.token_ids[r], lens.probs[r])]
             for r in range(len(names))]
    lines = ["| point | " + " | ".join(f"`{lab}`" for lab in labels) + " |", "|---" * (len(labels) + 1) + "|"]
    for name, row in zip(names, cells):
        lines.append(f"| {name} | " + " | ".join("<br>".join(f"`{t}` {p:.2f}" for t, p in cell) for cell in row) + " |")
    out = Path(cfg.out)
    atomic_write_text(out / "lens.md", "\n".join(lines) + "\n")
    atomic_write_json(out / "lens.json", {"positions": labels, "points": names, "top": cells})
    top1 = [[cell[0][0] for cell in row] for row in cells]
    png = save_logit_lens(top1, lens.probs[:, :, 0], labels, out / "lens.png")
    print("\n".join(lines[:2] + lines[-1:]))
    print(png)
    return {"table": str(out / "lens.md"), "png": str(png)}


def _single_token(tok, text: str, field: str) -> int:
    ids = tok.encode(text)
    if len(ids) != 1:
        raise ConfigError(field, f"{text!r} ({len(ids)} tokens)", "text that is exactly one token")
    return ids[0]


def patch_stage(cfg: PatchConfig) -> dict[str, Any]:
    """patch.png (effect per point and position) and patch.json."""
    model, tok = _load(cfg)
    clean, corrupt = _ids(tok, cfg.clean, model), _ids(tok, cfg.corrupt, model)
    if clean.shape != corrupt.shape:
        raise ConfigError("corrupt", f"{corrupt.size(1)} tokens", f"the clean prompt's {clean.size(1)} tokens")
    with torch.no_grad():
        clean_logits, corrupt_logits = model(clean).logits[0, -1], model(corrupt).logits[0, -1]  # (V,) each
    answer = _single_token(tok, cfg.answer, "answer") if cfg.answer else int(clean_logits.argmax())
    if cfg.wrong:
        wrong = _single_token(tok, cfg.wrong, "wrong")
    else:  # the corrupted run's top token, or when it is the answer, the token the corruption favours most
        wrong = int(corrupt_logits.argmax())
        if wrong == answer:
            wrong = int((corrupt_logits - clean_logits).argmax())
    if answer == wrong:
        raise ConfigError("wrong", repr(tok.decode([wrong])), "a token other than the answer")
    result = activation_patching(model, clean, corrupt, answer, wrong)
    labels = [f"{a}/{b}" if a != b else a for a, b in zip(_labels(tok, clean), _labels(tok, corrupt))]
    a_text, w_text = tok.decode([answer]), tok.decode([wrong])
    title = (f"logit[{a_text!r}] - logit[{w_text!r}]: clean {result.clean_metric:.2f}, "
             f"corrupt {result.corrupt_metric:.2f}")
    out = Path(cfg.out)
    png = save_patching(result.effect, labels, out / "patch.png", title)
    atomic_write_json(out / "patch.json", {
        "answer": a_text, "wrong": w_text, "positions": labels, "clean_metric": result.clean_metric,
        "corrupt_metric": result.corrupt_metric, "effect": result.effect.tolist(),
    })
    print(title)
    print(png)
    return {"png": str(png), "effect": result.effect.tolist()}
