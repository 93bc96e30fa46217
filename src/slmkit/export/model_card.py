"""A README.md model card for an exported model: data, parameters, metrics, intended use, limits.

Facts come from the checkpoint folder and, when the checkpoint sits in a run directory (`<run>/ckpt/<stage>/step_N`),
from the run: data/manifest.json (sources and counts), metrics.jsonl (the last validation metrics) and eval/*.json.
Missing files are simply left out; nothing here can fail an export.

Example:
    card = render_model_card(collect_card_facts(ckpt_dir, model), name="tiny-stories", arch="LlamaForCausalLM")
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from slmkit.model.config import ModelConfig


@dataclass
class CardFacts:
    """What the card reports. Example: `CardFacts(params=850_000, non_embedding_params=330_000, cfg=cfg)`"""

    params: int
    non_embedding_params: int
    cfg: ModelConfig
    step: int | None = None
    tokens_seen: int | None = None
    data_sources: list[dict[str, Any]] = field(default_factory=list)
    data_counts: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    tokenizer_vocab: int = 0


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def run_dir_of(ckpt_dir: Path) -> Path | None:
    """The run directory holding `ckpt_dir` (`<run>/ckpt/<stage>/step_N`), or None."""
    ckpt_dir = ckpt_dir.resolve()
    if len(ckpt_dir.parents) >= 3 and ckpt_dir.parents[1].name == "ckpt":
        return ckpt_dir.parents[2]
    return None


def _last_val_metrics(metrics_file: Path) -> dict[str, float]:
    last: dict[str, float] = {}
    try:
        lines = metrics_file.read_text(encoding="utf-8").splitlines()
    except OSError:
        return last
    for line in lines:
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and any(k.startswith("val/") for k in row):
            last = {k: v for k, v in row.items() if k.startswith("val/") and isinstance(v, (int, float))}
            last["step"] = row.get("step", 0)
    return last


def collect_card_facts(ckpt_dir: Path, model, tokenizer_vocab: int) -> CardFacts:
    """The card's facts for a loaded checkpoint. Example: `collect_card_facts(loaded.path, loaded.model, 4096)`"""
    facts = CardFacts(model.num_params(), model.num_params(non_embedding=True), model.cfg,
                      tokenizer_vocab=tokenizer_vocab)
    state = _read_json(ckpt_dir / "trainer_state.json") or {}
    facts.step = state.get("step")
    facts.tokens_seen = state.get("tokens") or state.get("tokens_seen")
    run = run_dir_of(ckpt_dir)
    if run is None:
        return facts
    manifest = _read_json(run / "data" / "manifest.json") or {}
    facts.data_sources = [s for s in manifest.get("sources", []) if isinstance(s, dict)]
    facts.data_counts = manifest.get("counts", {}) if isinstance(manifest.get("counts"), dict) else {}
    facts.metrics = {f"pretrain {k}": v for k, v in _last_val_metrics(run / "metrics.jsonl").items() if k != "step"}
    for report in sorted((run / "eval").glob("*.json")) if (run / "eval").is_dir() else []:
        data = _read_json(report)
        if isinstance(data, dict):
            for key, value in data.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    facts.metrics[f"{report.stem} {key}"] = value
    return facts


def _fmt(value: float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:.4g}"


def render_model_card(facts: CardFacts, name: str, arch: str, extra_files: str = "") -> str:
    """Markdown model card (with Hugging Face YAML front matter). Example: `render_model_card(facts, "m", "Llama")`"""
    cfg = facts.cfg
    lines = [
        "---",
        "library_name: transformers",
        "pipeline_tag: text-generation",
        "tags: [slmkit, small-language-model]",
        "---",
        f"# {name}",
        "",
        f"A small decoder-only language model trained from scratch with slmkit, exported as `{arch}` "
        f"(loads with `transformers.AutoModelForCausalLM`, no custom code).{extra_files}",
        "",
        "## Parameters",
        "",
        f"- parameters: {facts.params:,} ({facts.non_embedding_params:,} outside the embeddings)",
        f"- layers {cfg.n_layers}, width {cfg.d_model}, heads {cfg.n_heads} (key/value heads {cfg.kv_heads}), "
        f"MLP width {cfg.ffn_dim} ({cfg.mlp}), norm {cfg.norm}, positions {cfg.pos_emb}",
        f"- context length {cfg.context_length} tokens; vocabulary {cfg.vocab_size} "
        f"(byte-level BPE with {facts.tokenizer_vocab} tokens)",
    ]
    if cfg.is_moe:
        lines.append(f"- mixture of experts: {cfg.n_experts} experts, {cfg.moe_top_k} active per token")
    if facts.step is not None:
        seen = f", {facts.tokens_seen:,} tokens seen" if facts.tokens_seen else ""
        lines.append(f"- trained for {facts.step:,} optimizer steps{seen}")
    lines += ["", "## Data", ""]
    if facts.data_sources:
        for source in facts.data_sources:
            size = f", {source['bytes']:,} bytes" if isinstance(source.get("bytes"), int) else ""
            docs = f", {source['docs_read']:,} documents" if isinstance(source.get("docs_read"), int) else ""
            lines.append(f"- {source.get('role', 'train')}: `{Path(str(source.get('path', '?'))).name}`{docs}{size}")
        for split in ("train", "val"):
            counts = facts.data_counts.get(split)
            if isinstance(counts, dict) and "docs" in counts:
                lines.append(f"- {split} split after cleaning and deduplication: {counts['docs']:,} documents, "
                             f"{counts.get('bytes', 0):,} bytes")
    else:
        lines.append("- not recorded (the checkpoint was exported outside its run directory)")
    lines += ["", "## Metrics", ""]
    if facts.metrics:
        lines += ["| metric | value |", "|---|---|"]
        lines += [f"| {key} | {_fmt(value)} |" for key, value in facts.metrics.items()]
    else:
        lines.append("- none recorded")
    lines += [
        "",
        "## Intended use",
        "",
        "Research and teaching: studying how small language models learn, trying decoding methods, and as a fast "
        "local model for demos (e.g. short children's stories when trained on TinyStories-like data).",
        "",
        "## Limits",
        "",
        "- A small model trained on a narrow corpus: it writes fluent text only in the style of its training data, "
        "makes factual and logical mistakes, and knows nothing outside that data.",
        f"- Inputs longer than {cfg.context_length} tokens are not supported.",
        "- Not evaluated for safety, bias or toxicity; do not use it for decisions about people or in products "
        "without such evaluation.",
        "",
        "## Usage",
        "",
        "```python",
        "from transformers import AutoModelForCausalLM, AutoTokenizer",
        "tok = AutoTokenizer.from_pretrained(PATH); model = AutoModelForCausalLM.from_pretrained(PATH)",
        "ids = tok(tok.bos_token + 'Once upon a time', return_tensors='pt').input_ids",
        "print(tok.decode(model.generate(ids, max_new_tokens=100, do_sample=False)[0], skip_special_tokens=True))",
        "```",
        "",
        "Prompts start with the `<|endoftext|>` token (bos), as in training. Chat models use the chat template in "
        "tokenizer_config.json (`tok.apply_chat_template`).",
        "",
    ]
    return "\n".join(lines)
