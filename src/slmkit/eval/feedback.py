"""Human feedback in and out: items for annotators, their ratings, and the fine-tuning data built from them.

Files (under `<run>/feedback/` by default):
- `items.jsonl`: `{"id", "prompt", "outputs": [a] or [a, b]}` written by `slm feedback export` (from a checkpoint that
  answers the prompts, or from an existing file of prompt/output records); `items.csv` is the same for spreadsheets,
  with empty `score`, `preferred`, `correction` columns for the annotator.
- `ratings.jsonl`: `{"id", "score": 1-5 | null, "preferred": "a" | "b" | "tie" | null, "correction": str | null,
  "rater"}`, appended by the web page's rating view and by `slm feedback import` (which reads a filled-in CSV or
  JSONL); the last rating of an (id, rater) wins.
- `slm feedback build` turns ratings (and optionally judge results, `*.judge.jsonl`) into `sft.jsonl`
  (`{"prompt", "response"}`: corrected answers and answers scored >= `min_score`) and `dpo.jsonl`
  (`{"prompt", "chosen", "rejected"}`: the preferred of two outputs, or a correction over a low-scored answer).

Example:
    slm feedback export --ckpt runs/q --prompts prompts.txt --outputs 2 && slm feedback build --run runs/q
"""

from __future__ import annotations

import csv
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slmkit.common.atomic import atomic_write_text
from slmkit.common.errors import ConfigError, InputError, MissingFileError
from slmkit.common.log import print0
from slmkit.config import check, opt
from slmkit.eval.documents import read_json_records

CSV_COLUMNS = ["id", "prompt", "output_a", "output_b", "score", "preferred", "correction", "rater"]
PREFERENCES = ("a", "b", "tie")


def feedback_dir(run: str | Path) -> Path:
    return Path(run) / "feedback"


# ---- items ---------------------------------------------------------------------------------------------------------


def prompts_of(path: Path) -> list[str]:
    """Prompts from a .txt (one per line) or .jsonl/.json (`prompt`, or Alpaca `instruction` + `input`)."""
    if path.suffix == ".txt":
        if not path.is_file():
            raise MissingFileError(path, expected="a text file with one prompt per line")
        return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    prompts = []
    for n, rec in enumerate(read_json_records(path), 1):
        if "prompt" in rec:
            prompts.append(str(rec["prompt"]))
        elif "instruction" in rec:
            prompts.append(str(rec["instruction"]) + (f"\n\n{rec['input']}" if rec.get("input") else ""))
        else:
            raise InputError(f"{path} record {n}", found=f"fields {sorted(rec)}", expected="'prompt' or 'instruction'")
    return prompts


def write_items(items: list[dict[str, Any]], out: Path) -> None:
    """items.jsonl and items.csv side by side (the CSV has empty rating columns for annotators)."""
    atomic_write_text(out, "".join(json.dumps(it, ensure_ascii=False) + "\n" for it in items))
    rows = [[it["id"], it["prompt"], it["outputs"][0], it["outputs"][1] if len(it["outputs"]) > 1 else "", "", "",
             "", ""] for it in items]
    import io

    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CSV_COLUMNS)
    writer.writerows(rows)
    atomic_write_text(out.with_suffix(".csv"), buf.getvalue())


def read_items(path: Path) -> dict[str, dict[str, Any]]:
    """id -> item from items.jsonl."""
    items = {}
    for n, rec in enumerate(read_json_records(path), 1):
        if not isinstance(rec, dict) or "id" not in rec or not isinstance(rec.get("outputs"), list):
            raise InputError(f"{path} record {n}", found=str(rec)[:60], expected='{"id", "prompt", "outputs": [...]}')
        items[str(rec["id"])] = rec
    return items


# ---- ratings ---------------------------------------------------------------------------------------------------------


def validate_rating(raw: dict[str, Any], where: str, items: dict[str, dict[str, Any]] | None = None) -> dict | None:
    """A clean rating from a CSV row, a JSONL record or a web request; None when the row holds no judgement at all.

    Example: `validate_rating({"id": "3", "score": "4"}, "row 2")["score"] == 4`
    """
    item_id = str(raw.get("id") or "").strip()
    if not item_id:
        raise InputError(where, found="no id", expected="the item id from items.jsonl")
    if items is not None and item_id not in items:
        raise InputError(where, found=f"id {item_id!r}", expected="an id from items.jsonl")
    score = raw.get("score")
    if score in ("", None):
        score = None
    else:
        try:
            score = int(float(score))
        except (TypeError, ValueError):
            raise InputError(where, found=f"score {score!r}", expected="an integer 1-5 or empty") from None
        if not 1 <= score <= 5:
            raise InputError(where, found=f"score {score}", expected="an integer 1-5 or empty")
    preferred = str(raw.get("preferred") or "").strip().lower() or None
    if preferred is not None and preferred not in PREFERENCES:
        raise InputError(where, found=f"preferred {preferred!r}", expected="a, b, tie or empty")
    if preferred in ("b", "tie") and items is not None and len(items[item_id]["outputs"]) < 2:
        raise InputError(where, found=f"preferred {preferred!r} for an item with one output", expected="a or empty")
    correction = str(raw.get("correction") or "").strip() or None
    if score is None and preferred is None and correction is None:
        return None
    return {"id": item_id, "score": score, "preferred": preferred, "correction": correction,
            "rater": str(raw.get("rater") or "anonymous").strip() or "anonymous"}


def append_rating(ratings_file: Path, rating: dict[str, Any]) -> None:
    """Append one rating line (a cut last line is ignored on reading, so appending is safe)."""
    ratings_file.parent.mkdir(parents=True, exist_ok=True)
    with ratings_file.open("a", encoding="utf-8") as f:
        f.write(json.dumps({**rating, "time": time.time()}, ensure_ascii=False) + "\n")


def load_ratings(ratings_file: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """(id, rater) -> the latest rating."""
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    if ratings_file.is_file():
        for line in ratings_file.read_text(encoding="utf-8").splitlines():
            try:
                rec = json.loads(line)
                latest[(rec["id"], rec.get("rater", "anonymous"))] = rec
            except (json.JSONDecodeError, KeyError, TypeError):
                continue
    return latest


def read_annotations(path: Path, items: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Ratings from a filled-in CSV (CSV_COLUMNS) or JSONL; unrated rows are skipped."""
    if not path.is_file():
        raise MissingFileError(path, expected="a ratings file (.csv or .jsonl)")
    if path.suffix == ".csv":
        with path.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            if "id" not in (reader.fieldnames or []):
                raise InputError(str(path), found=f"columns {reader.fieldnames}", expected=f"columns {CSV_COLUMNS}")
            rows = [(f"{path}:{n}", row) for n, row in enumerate(reader, 2)]
    else:
        rows = [(f"{path} record {n}", rec) for n, rec in enumerate(read_json_records(path), 1)]
    ratings = [validate_rating(row, where, items) for where, row in rows]
    return [r for r in ratings if r is not None]


# ---- building training data ---------------------------------------------------------------------------------------


def build_training_data(items: dict[str, dict[str, Any]], ratings: list[dict[str, Any]],
                        judged: list[dict[str, Any]] | None = None, min_score: int = 4,
                        judge_min: float | None = None) -> tuple[list[dict], list[dict]]:
    """(SFT records, DPO pairs) from ratings and judge results.

    SFT: a correction, else an output rated >= min_score (the first output for single-output items, else the
    preferred one). DPO: the preferred over the other output; a correction over an output scored below min_score.
    Judge results (records with `item.id` and a numeric score) add SFT answers scored >= judge_min, and for two-output
    items judged both, the higher-scored output as chosen.
    """
    sft: dict[tuple[str, str], dict] = {}
    dpo: dict[tuple[str, str, str], dict] = {}

    def add_sft(prompt: str, response: str, source: str):
        sft.setdefault((prompt, response), {"prompt": prompt, "response": response, "source": source})

    def add_pair(prompt: str, chosen: str, rejected: str, source: str):
        if chosen != rejected:
            dpo.setdefault((prompt, chosen, rejected), {"prompt": prompt, "chosen": chosen, "rejected": rejected,
                                                        "source": source})

    for r in ratings:
        item = items.get(r["id"])
        if item is None:
            continue
        prompt, outputs = item["prompt"], item["outputs"]
        rated = outputs[{"a": 0, "b": 1}.get(r["preferred"] or "a", 0)]
        if r["correction"]:
            add_sft(prompt, r["correction"], "correction")
            if r["score"] is not None and r["score"] < min_score:
                add_pair(prompt, r["correction"], rated, "correction")
        elif r["score"] is not None and r["score"] >= min_score and r["preferred"] != "tie":
            add_sft(prompt, rated, "rating")
        if r["preferred"] in ("a", "b") and len(outputs) > 1:
            chosen = outputs[0] if r["preferred"] == "a" else outputs[1]
            add_pair(prompt, chosen, outputs[1] if r["preferred"] == "a" else outputs[0], "preference")
    by_item: dict[str, dict[int, float]] = {}
    for rec in judged or []:
        item_ref = rec.get("item", {})
        score = next((s["mean"] for s in rec.get("scores", {}).values()), None)
        if score is None or "id" not in item_ref or item_ref["id"] not in items:
            continue
        by_item.setdefault(item_ref["id"], {})[int(item_ref.get("output_index", 0))] = score
    for item_id, scores in by_item.items():
        item = items[item_id]
        for index, score in scores.items():
            if judge_min is not None and score >= judge_min:
                add_sft(item["prompt"], item["outputs"][index], "judge")
        if len(scores) >= 2 and scores.get(0) != scores.get(1) and {0, 1} <= set(scores):
            best = 0 if scores[0] > scores[1] else 1
            add_pair(item["prompt"], item["outputs"][best], item["outputs"][1 - best], "judge")
    return list(sft.values()), list(dpo.values())


def sample_outputs(cfg: FeedbackExportConfig, prompts: list[str]) -> tuple[list[list[str]], Path | None]:
    """`cfg.outputs` sampled answers per prompt from `cfg.ckpt` (output b with another seed), and the run directory
    the checkpoint lives in (None when it is a bare checkpoint folder)."""
    import torch

    from slmkit.infer.engine import generate
    from slmkit.infer.load import load_checkpoint
    from slmkit.infer.sampling import SamplingParams

    loaded = load_checkpoint(cfg.ckpt)
    tok = loaded.tokenizer
    end_ids = {tok.eot_id} | ({tok.special_ids["<|end|>"]} if cfg.chat else set())
    if cfg.chat:
        ids = [tok.encode_chat([{"role": "user", "content": p}], add_generation_prompt=True) for p in prompts]
    else:
        ids = [[tok.eot_id] + tok.encode(p) for p in prompts]
    params = SamplingParams(temperature=cfg.temperature)
    per_prompt: list[list[str]] = [[] for _ in prompts]
    with torch.inference_mode():
        for k in range(cfg.outputs):
            new = generate(loaded.model, ids, cfg.max_tokens, params, seed=cfg.seed + 7919 * k, stop_ids=end_ids)
            for i, out in enumerate(new):
                per_prompt[i].append(tok.decode(out))
    run = next((p for p in loaded.path.resolve().parents if (p / "ckpt").is_dir()), None)
    return per_prompt, run


def judge_items(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One record per output with the fields both built-in rubrics need, keyed back by id and output_index."""
    return [{"id": it["id"], "output_index": k, "prompt": it["prompt"], "continuation": out,
             "instruction": it["prompt"], "output": "", "response": out}
            for it in items for k, out in enumerate(it["outputs"])]


# ---- stages ----------------------------------------------------------------------------------------------------------


@dataclass
class FeedbackExportConfig:
    out: str | None = opt(None, "items file (default: <run>/feedback/items.jsonl; a .csv is written beside it)")
    run: str | None = opt(None, "run directory (default: the checkpoint's)")
    ckpt: str | None = opt(None, "checkpoint that answers the prompts")
    prompts: str | None = opt(None, "prompts: .txt lines, or .jsonl/.json with prompt or instruction/input")
    records: str | None = opt(None, "instead of generating: a .jsonl with prompt + output (or continuation)")
    outputs: int = opt(1, "outputs per prompt (2 for pairwise preference)")
    max_tokens: int = opt(200, "new tokens per output")
    temperature: float = opt(0.8, "sampling temperature")
    seed: int = opt(0, "sampling seed (output b uses another seed)")
    chat: bool = opt(False, "wrap prompts in the chat template (instruction-tuned checkpoints)")

    def __post_init__(self):
        check(self.outputs in (1, 2), "outputs", self.outputs, "1 or 2")
        check((self.ckpt is None) != (self.records is None), "ckpt", self.ckpt,
              "either --ckpt with --prompts (generate) or --records (existing outputs)")
        check(self.ckpt is None or self.prompts is not None, "prompts", self.prompts, "a prompts file with --ckpt")


def feedback_export_stage(cfg: FeedbackExportConfig) -> dict[str, Any]:
    """Write items for annotators; returns {"items": n, "out": path}."""
    if cfg.records is not None:
        items = []
        for n, rec in enumerate(read_json_records(Path(cfg.records)), 1):
            output = rec.get("output", rec.get("continuation", rec.get("response")))
            if "prompt" not in rec or output is None:
                raise InputError(f"{cfg.records} record {n}", found=f"fields {sorted(rec)}",
                                 expected="prompt and output (or continuation / response)")
            items.append({"id": f"{n:05d}", "prompt": rec["prompt"], "outputs": [output]})
        run = Path(cfg.run) if cfg.run else Path(cfg.records).parent
    else:
        prompts = prompts_of(Path(cfg.prompts))
        outputs, ckpt_run = sample_outputs(cfg, prompts)
        items = [{"id": f"{i + 1:05d}", "prompt": p, "outputs": o} for i, (p, o) in enumerate(zip(prompts, outputs,
                                                                                                 strict=True))]
        run = Path(cfg.run) if cfg.run else ckpt_run
    if run is None and cfg.out is None:
        raise ConfigError("out", None, "--out FILE or --run DIR (the checkpoint is not inside a run directory)")
    out = Path(cfg.out) if cfg.out else feedback_dir(run) / "items.jsonl"
    write_items(items, out)
    judge_file = out.with_name("judge_items.jsonl")
    atomic_write_text(judge_file, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in judge_items(items)))
    print0(f"wrote {len(items)} items to {out} and {out.with_suffix('.csv')} (for `slm judge`: {judge_file})")
    return {"items": len(items), "out": str(out)}


@dataclass
class FeedbackImportConfig:
    file: str = opt(None, "filled-in ratings: .csv (items.csv columns) or .jsonl")
    run: str = opt(None, "run directory whose feedback/ holds items.jsonl and ratings.jsonl")

    def __post_init__(self):
        check(self.file is not None, "file", self.file, "a ratings file (--file)")
        check(self.run is not None, "run", self.run, "a run directory (--run)")


def feedback_import_stage(cfg: FeedbackImportConfig) -> dict[str, Any]:
    """Validate every row first (nothing is written on an error), then append to ratings.jsonl."""
    fdir = feedback_dir(cfg.run)
    items = read_items(fdir / "items.jsonl")
    ratings = read_annotations(Path(cfg.file), items)
    for rating in ratings:
        append_rating(fdir / "ratings.jsonl", rating)
    print0(f"imported {len(ratings)} ratings into {fdir / 'ratings.jsonl'}")
    return {"ratings": len(ratings)}


@dataclass
class FeedbackBuildConfig:
    run: str = opt(None, "run directory with feedback/items.jsonl and ratings.jsonl")
    judged: list[str] = opt(factory=list, help="judge results (.judge.jsonl) over feedback items")
    min_score: int = opt(4, "ratings >= this make SFT examples")
    judge_min: float | None = opt(None, "judge scores >= this make SFT examples (default: judge only ranks pairs)")

    def __post_init__(self):
        check(self.run is not None, "run", self.run, "a run directory (--run)")
        check(1 <= self.min_score <= 5, "min_score", self.min_score, "1-5")


def feedback_build_stage(cfg: FeedbackBuildConfig) -> dict[str, Any]:
    fdir = feedback_dir(cfg.run)
    items = read_items(fdir / "items.jsonl")
    ratings = list(load_ratings(fdir / "ratings.jsonl").values())
    judged = [rec for path in cfg.judged for rec in read_json_records(Path(path))]
    sft, dpo = build_training_data(items, ratings, judged, cfg.min_score, cfg.judge_min)
    atomic_write_text(fdir / "sft.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in sft))
    atomic_write_text(fdir / "dpo.jsonl", "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in dpo))
    print0(f"{len(ratings)} ratings -> {len(sft)} SFT examples ({fdir / 'sft.jsonl'}), "
           f"{len(dpo)} DPO pairs ({fdir / 'dpo.jsonl'})")
    return {"ratings": len(ratings), "sft": len(sft), "dpo": len(dpo)}
