"""`slm eval lm`: loss, perplexity and bits-per-byte of a checkpoint on text files, printed as JSON.

Text files: TinyStories `.txt` (documents separated by `<|endoftext|>`), plain `.txt` (one document), or `.jsonl`
(field `text`). The token stream is `<eot> doc1 <eot> doc2 ...`; it is cut into non-overlapping `seq_len` windows and
every token after the first is scored once. Bytes = UTF-8 bytes of the documents + 1 per `<|endoftext|>` scored.

Example:
    slm eval lm --ckpt runs/quickstart --text ../shared/data/tinystories-v1-valid-sample/TinyStories-valid-sample.txt
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from slmkit.common.atomic import atomic_write_json
from slmkit.common.device import pick_device
from slmkit.config import check, opt
from slmkit.eval.documents import read_sourced_documents
from slmkit.eval.lm import lm_report, score_tokens
from slmkit.infer.load import load_checkpoint
from slmkit.model.quantize import Quantize
from slmkit.tokenizer import Tokenizer


@dataclass
class EvalLMConfig:
    ckpt: str = opt(None, "checkpoint folder, ckpt/<stage> folder, or run directory")
    text: list[str] = opt(factory=list, help="text files to score (.txt, TinyStories .txt, .jsonl with 'text')")
    seq_len: int | None = opt(None, "window length (default: the model's context length)")
    batch_size: int = opt(8, "windows per forward pass")
    device: str = opt("auto", "auto, cpu, cuda")
    quantize: Quantize = opt("none", "none, or int8: score the model with int8 weights (its quality cost)")
    out: str | None = opt(None, "also write the JSON report to this file")

    def __post_init__(self):
        check(self.ckpt is not None, "ckpt", self.ckpt, "a checkpoint (--ckpt DIR)")
        check(len(self.text) > 0, "text", self.text, "at least one text file (--text FILE)")
        check(self.batch_size >= 1, "batch_size", self.batch_size, ">= 1")


def token_stream(docs: list[str], tokenizer: Tokenizer) -> tuple[np.ndarray, int]:
    """(`<eot> doc1 <eot> doc2 ...` as ids, bytes of everything that gets scored)."""
    eot = tokenizer.eot_id
    ids: list[int] = [eot]
    for i, doc in enumerate(docs):
        ids.extend(tokenizer.encode(doc))
        if i < len(docs) - 1:
            ids.append(eot)
    n_bytes = sum(len(d.encode("utf-8")) for d in docs) + (len(docs) - 1)  # 1 byte per separator
    return np.asarray(ids, dtype=np.int64), n_bytes


def evaluate_text(model, tokenizer: Tokenizer, docs: list[str], seq_len: int, batch_size: int, device) -> dict:
    """lm_report of `docs`. Example: `evaluate_text(model, tok, ["Once upon a time."], 256, 8, "cpu")`"""
    tokens, n_bytes = token_stream(docs, tokenizer)
    total, count = score_tokens(model, tokens, seq_len, batch_size, device)
    return dict(lm_report(total, count, n_bytes), documents=len(docs))


def _run_dir_of(ckpt_dir: Path) -> Path | None:
    parts = ckpt_dir.resolve().parts
    return Path(*parts[: parts.index("ckpt")]) if "ckpt" in parts else None


def _combine(reports: list[dict[str, Any]]) -> dict[str, Any]:
    """One report for several scored parts: losses weighted by tokens, bytes and tokens summed."""
    loss_sum = sum(r["loss"] * r["tokens"] for r in reports)
    tokens, n_bytes = sum(r["tokens"] for r in reports), sum(r["bytes"] for r in reports)
    return dict(lm_report(loss_sum, tokens, n_bytes), documents=sum(r.get("documents", 0) for r in reports))


def eval_lm_stage(cfg: EvalLMConfig) -> dict[str, Any]:
    """Score each text file (and each `source` inside a .jsonl separately); print and return
    {"files": {path: report (+ "sources": {name: report})}, "total": report}. The JSON also goes to `--out`, or by
    default to <run>/eval/lm.json when the checkpoint is inside a run directory."""
    device = pick_device(cfg.device)
    loaded = load_checkpoint(cfg.ckpt, device, quantize=cfg.quantize)
    seq_len = min(cfg.seq_len or loaded.model.cfg.context_length, loaded.model.cfg.context_length)
    per_file = {}
    for name in cfg.text:
        groups = read_sourced_documents(Path(name))
        parts = {
            source: evaluate_text(loaded.model, loaded.tokenizer, docs, seq_len, cfg.batch_size, device)
            for source, docs in groups.items()
        }
        report = _combine(list(parts.values()))
        if len(parts) > 1:
            report["sources"] = parts
        per_file[name] = report
    result = {"checkpoint": str(loaded.path), "seq_len": seq_len, "files": per_file,
              "total": _combine(list(per_file.values()))}
    print(json.dumps(result, indent=2))
    run = _run_dir_of(loaded.path)
    out = Path(cfg.out) if cfg.out else (run / "eval" / "lm.json" if run is not None else None)
    if out is not None:
        atomic_write_json(out, result)
    return result
