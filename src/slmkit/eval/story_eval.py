"""`slm eval stories`: let the model finish story beginnings and score the stories it writes.

Beginnings come from `--prompts` (a `.txt` of TinyStories stories separated by `<|endoftext|>` or one per line, or
`.jsonl` with `prompt` or `text`; a story is cut after its first sentence) or, by default, from the built-in
synthetic generator with a seed that is not the one the training data used. The report (eval/stories.json in the
checkpoint's run directory, or `--out`) holds every metric of eval/stories.py plus the samples
(eval/stories_samples.jsonl).

Example:
    slm eval stories --ckpt runs/quickstart --n 50 --aoa-norms ../shared/data/kuperman-aoa-norms/AoA_51715_words.csv
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from slmkit.common.atomic import atomic_write_json, atomic_write_text
from slmkit.common.device import pick_device
from slmkit.common.errors import InputError, MissingFileError
from slmkit.common.log import print0
from slmkit.config import check, opt, to_dict
from slmkit.eval import stories as m
from slmkit.eval.documents import read_documents, read_json_records
from slmkit.infer.engine import generate
from slmkit.infer.load import load_checkpoint
from slmkit.infer.sampling import SamplingParams

EVAL_SEED_OFFSET = 1_000_003  # synthetic beginnings come from stories the training data (seed 0..) did not contain


@dataclass
class StoryEvalConfig:
    ckpt: str | None = opt(None, "checkpoint folder, ckpt/<stage> folder, or run directory")
    stories: str | None = opt(None, "score these stories instead of generating: .jsonl with prompt + continuation, "
                              "or a TinyStories .txt (each cut after its first sentence): a reference row")
    prompts: str | None = opt(None, "story beginnings: .txt or .jsonl (default: synthetic stories)")
    n: int = opt(50, "number of stories to write")
    seed: int = opt(0, "seed for beginnings and sampling")
    max_tokens: int = opt(200, "new tokens per story")
    temperature: float = opt(0.7, "sampling temperature (0 = greedy)")
    top_p: float | None = opt(0.95, "nucleus sampling mass")
    reference: list[str] = opt(factory=list, help="training text for novelty and the grammar proxy "
                               "(default: the run's data/train.jsonl when there is one)")
    easy_words: str | None = opt(None, "easy-word list file (default: Dale–Chall list shipped with textstat)")
    aoa_norms: str | None = opt(None, "age-of-acquisition CSV (Kuperman et al. 2012), optional")
    device: str = opt("auto", "auto, cpu, cuda")
    out: str | None = opt(None, "report path (default: <run>/eval/stories.json)")

    def __post_init__(self):
        check(self.ckpt is not None or self.stories is not None, "ckpt", self.ckpt,
              "a checkpoint (--ckpt DIR), or stories to score (--stories FILE)")
        check(self.n >= 2, "n", self.n, ">= 2 stories (self-BLEU compares stories with each other)")
        check(self.max_tokens >= 1, "max_tokens", self.max_tokens, ">= 1")
        check(self.temperature >= 0, "temperature", self.temperature, ">= 0")


def first_sentence(text: str, max_words: int = 25) -> str:
    """The beginning the model continues: the first sentence, at most `max_words` words.

    Example: `first_sentence("Tom had a ball. It was red.") == "Tom had a ball."`
    """
    sentence = (m.sentences(text) or [text.strip()])[0]
    words = sentence.split()
    return " ".join(words[:max_words])


def load_beginnings(cfg: StoryEvalConfig) -> list[str]:
    """`cfg.n` story beginnings from the prompts file or the synthetic generator."""
    if cfg.prompts is None:
        from slmkit.data.synth import generate_stories

        return [first_sentence(s.text) for s in generate_stories(cfg.n, seed=cfg.seed + EVAL_SEED_OFFSET)]
    path = Path(cfg.prompts)
    if path.suffix == ".jsonl":
        if not path.is_file():
            raise MissingFileError(path, expected="a .jsonl of story beginnings")
        out = []
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                out.append(row["prompt"] if "prompt" in row else first_sentence(row["text"]))
            except (json.JSONDecodeError, KeyError, TypeError):
                expected = 'a JSON object with "prompt" or "text"'
                raise InputError(f"{path}:{n}", found=line[:40], expected=expected) from None
    else:
        docs = read_documents(path)
        if len(docs) == 1 and "\n" in docs[0]:  # a plain file with one beginning per line
            docs = [d for d in docs[0].splitlines() if d.strip()]
        out = [first_sentence(d) for d in docs]
    if len(out) < cfg.n:
        raise InputError(str(path), found=f"{len(out)} beginnings", expected=f"at least n={cfg.n}")
    return out[: cfg.n]


def read_stories(path: Path, n: int) -> tuple[list[str], list[str]]:
    """(beginnings, continuations) of existing stories: prompt/continuation records, or TinyStories documents cut
    after their first sentence."""
    if path.suffix == ".jsonl":
        pairs = []
        for k, rec in enumerate(read_json_records(path), 1):
            if not isinstance(rec.get("prompt"), str) or not isinstance(rec.get("continuation"), str):
                raise InputError(f"{path} record {k}", found=f"fields {sorted(rec)}",
                                 expected="prompt and continuation strings")
            pairs.append((rec["prompt"], rec["continuation"]))
    else:
        pairs = []
        for doc in read_documents(path):
            head = first_sentence(doc, max_words=10_000)
            pairs.append((head, doc[len(head):] if doc.startswith(head) else " " + doc))
    if len(pairs) < 2:
        raise InputError(str(path), found=f"{len(pairs)} stories", expected="at least 2")
    pairs = pairs[:n]
    return [p for p, _ in pairs], [c for _, c in pairs]


def _reference_files(cfg: StoryEvalConfig, run_dir: Path | None) -> list[Path]:
    if cfg.reference:
        return [Path(p) for p in cfg.reference]
    if run_dir is not None and (run_dir / "data" / "train.jsonl").is_file():
        return [run_dir / "data" / "train.jsonl"]
    return []


def _run_dir_of(ckpt_dir: Path) -> Path | None:
    """The run directory above a checkpoint folder (`<run>/ckpt/<stage>/step_N`), if it looks like one."""
    for parent in ckpt_dir.resolve().parents:
        if (parent / "ckpt").is_dir() and (parent / "tokenizer").is_dir():
            return parent
    return None


def score_stories(beginnings: list[str], continuations: list[str], *, easy_words: frozenset[str],
                  index: m.NgramIndex | None, aoa: dict[str, float] | None) -> dict[str, Any]:
    """Every story metric over (beginning, continuation) pairs; the story is beginning + continuation."""
    full = [b + c for b, c in zip(beginnings, continuations, strict=True)]
    kept = [m.consistency(b, c) for b, c in zip(beginnings, continuations, strict=True)]
    named = [k["names_kept"] for k in kept if not math.isnan(k["names_kept"])]
    metrics: dict[str, Any] = {
        "age": {
            "easy_word_share": float(np.mean([m.easy_word_share(t, easy_words) for t in continuations])),
            "flesch_kincaid_grade": float(np.mean([m.flesch_kincaid_grade(t) for t in full])),
        },
        "creativity": {
            "distinct_1": m.distinct_n(continuations, 1),
            "distinct_2": m.distinct_n(continuations, 2),
            "distinct_3": m.distinct_n(continuations, 3),
            "self_bleu": m.self_bleu(continuations),
        },
        "consistency": {
            "names_kept": float(np.mean(named)) if named else None,
            "stories_with_named_characters": len(named),
            "new_names_per_story": float(np.mean([k["new_names"] for k in kept])),
            "repetition_4gram": float(np.mean([m.repetition_rate(t, 4) for t in continuations])),
        },
        "length": {"words_per_story": float(np.mean([len(m.words_of(t)) for t in continuations]))},
    }
    if aoa is not None:
        metrics["age"].update(m.age_of_acquisition(continuations, aoa))
    if index is not None:
        metrics["creativity"].update(m.novelty(full, index))
        metrics["grammar_proxy"] = {"attested_bigram_share": float(np.mean(
            [m.attested_bigram_share(t, index) for t in continuations]))}
    return metrics


def story_eval_stage(cfg: StoryEvalConfig) -> dict[str, Any]:
    """Write cfg.n stories from beginnings, score them, save the report and samples; returns the report."""
    easy_words = m.load_easy_words(cfg.easy_words)
    aoa = m.load_aoa_norms(cfg.aoa_norms) if cfg.aoa_norms else None
    run_dir, checkpoint, seconds = None, None, 0.0
    if cfg.stories is not None:
        beginnings, continuations = read_stories(Path(cfg.stories), cfg.n)
    else:
        loaded = load_checkpoint(cfg.ckpt, device=pick_device(cfg.device))
        run_dir, checkpoint = _run_dir_of(loaded.path), str(loaded.path)
        beginnings = load_beginnings(cfg)
        tok = loaded.tokenizer
        prompts = [[tok.eot_id] + tok.encode(b) for b in beginnings]
        params = SamplingParams(temperature=cfg.temperature, top_p=cfg.top_p)
        start = time.perf_counter()
        with torch.inference_mode():
            outputs = generate(loaded.model, prompts, cfg.max_tokens, params, seed=cfg.seed, stop_ids={tok.eot_id})
        seconds = time.perf_counter() - start
        continuations = [tok.decode(ids) for ids in outputs]
    references = _reference_files(cfg, run_dir)
    index = m.NgramIndex([d for path in references for d in read_documents(path)]) if references else None

    report = {
        "checkpoint": checkpoint,
        "scored_file": cfg.stories,
        "config": to_dict(cfg),
        "stories": len(continuations),
        "reference_words": index.n_words if index is not None else 0,
        "generation_seconds": round(seconds, 2),
        "metrics": score_stories(beginnings, continuations, easy_words=easy_words, index=index, aoa=aoa),
        "samples": [{"prompt": b, "continuation": c} for b, c in zip(beginnings[:5], continuations[:5], strict=True)],
    }
    out = Path(cfg.out) if cfg.out else (run_dir / "eval" / "stories.json" if run_dir else None)
    if out is not None:
        atomic_write_json(out, report)
        lines = [json.dumps({"prompt": b, "continuation": c}) for b, c in zip(beginnings, continuations, strict=True)]
        atomic_write_text(out.with_name(out.stem + "_samples.jsonl"), "\n".join(lines) + "\n")
        print0(f"wrote {out}")
    print0(json.dumps(report["metrics"], indent=2))
    return report
