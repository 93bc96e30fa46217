"""`slm data prepare`: read text sources, clean, deduplicate, split into train/val, write <run>/data/.

Documents stream through in batches (memory stays flat on multi-GB inputs): normalize -> drop empty -> drop exact
duplicates (hash of the normalized text) -> find near duplicates (MinHash LSH, report or drop) -> assign a split
-> append to the split file. Val sources are read first, so a training copy of a validation document is the one
dropped (no leakage through exact duplicates).

The split is a pure function of (text, seed): a document lands in the same split however the inputs are ordered
or extended.

Example:
    prepare_stage(PrepareConfig(source=["../shared/data/tinystories-v1-train-sample"], run="runs/ts"))
"""

from __future__ import annotations

import json
import os
import time
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from slmkit.common.atomic import atomic_path, atomic_write_json
from slmkit.common.errors import InputError
from slmkit.common.log import print0
from slmkit.common.runs import RunDir
from slmkit.config import check, opt, to_dict
from slmkit.data.clean import normalize_text, split_score, text_key
from slmkit.data.dedup import NearDuplicateFinder
from slmkit.data.sources import Document, SourceStats, file_sha256, iter_documents, list_source_files

SPLITS = ("train", "val")
_BATCH = 2048  # documents hashed together by the near-duplicate finder
_MAX_EXAMPLES = 20  # near-duplicate pairs listed in the manifest


@dataclass
class PrepareConfig:
    source: list[str] = opt(factory=list, help="text sources: files (.txt .jsonl .json .parquet) or folders of them")
    run: str = opt(None, "run directory (writes data/train.jsonl, data/val.jsonl, data/manifest.json)")
    val_source: list[str] = opt(factory=list, help="sources whose documents all go to val (then --source is all train)")
    val_fraction: float = opt(0.05, "fraction of documents sent to val by a stable hash (ignored with --val-source)")
    seed: int = opt(0, "seed of the train/val split hash")
    text_field: str = opt("text", "field (jsonl/json) or column (parquet) holding the text")
    txt_split: Literal["auto", "endoftext", "file", "paragraph", "line"] = opt(
        "auto", ".txt documents: auto = split on <|endoftext|> if present, else one per file")
    keep_unterminated: bool = opt(False, "keep the text after the last <|endoftext|> (a sampled file ends mid-story)")
    min_chars: int = opt(1, "drop documents shorter than this many characters after cleaning")
    near_dup: Literal["report", "drop", "off"] = opt("report", "near-duplicate documents: report, drop or off")
    near_dup_threshold: float = opt(0.8, "Jaccard similarity of word 5-gram sets at which documents are near dups")
    skip_bad: bool = opt(False, "skip malformed records (counted in the manifest) instead of stopping")

    def __post_init__(self):
        check(self.run is not None, "run", self.run, "a run directory (--run DIR)")
        check(len(self.source) > 0, "source", self.source, "at least one file or folder (--source PATH...)")
        check(0.0 <= self.val_fraction < 1.0, "val_fraction", self.val_fraction, "a fraction in [0, 1)")
        check(0.0 < self.near_dup_threshold <= 1.0, "near_dup_threshold", self.near_dup_threshold, "a value in (0, 1]")
        check(self.min_chars >= 1, "min_chars", self.min_chars, ">= 1")


@dataclass
class _Pending:
    doc: Document
    text: str
    role: str  # "val" (from --val-source) or "train" (from --source)


class _SplitWriter:
    """Appends documents to the train/val temp files and keeps the per-split counts."""

    def __init__(self, paths: dict[str, Path]):
        self.paths = paths
        # Closed by close(), which prepare_stage calls in a `finally`.
        self.files = {split: open(path, "w", encoding="utf-8") for split, path in paths.items()}  # noqa: SIM115
        self.counts = {split: {"docs": 0, "bytes": 0, "chars": 0} for split in paths}
        # The train document with the lowest split score: moved to val if val would otherwise be empty.
        self.lowest_train: tuple[float, int] | None = None

    def write(self, split: str, text: str, source: str) -> None:
        self.files[split].write(json.dumps({"text": text, "source": source}, ensure_ascii=False) + "\n")
        count = self.counts[split]
        count["docs"] += 1
        count["bytes"] += len(text.encode("utf-8"))
        count["chars"] += len(text)

    def close(self) -> None:
        for f in self.files.values():
            f.close()

    def move_one_train_doc_to_val(self) -> None:
        """Give val the train document with the lowest split score (tiny inputs would else have no val at all)."""
        assert self.lowest_train is not None
        index = self.lowest_train[1]
        train_path, val_path = self.paths["train"], self.paths["val"]
        kept_path = train_path.with_name(train_path.name + ".filter")
        with open(train_path, encoding="utf-8") as src, open(kept_path, "w", encoding="utf-8") as kept, \
                open(val_path, "a", encoding="utf-8") as val:
            for i, line in enumerate(src):
                (val if i == index else kept).write(line)
                if i == index:
                    text = json.loads(line)["text"]
                    for split, sign in (("train", -1), ("val", 1)):
                        self.counts[split]["docs"] += sign
                        self.counts[split]["bytes"] += sign * len(text.encode("utf-8"))
                        self.counts[split]["chars"] += sign * len(text)
        os.replace(kept_path, train_path)


def prepare_stage(cfg: PrepareConfig) -> dict[str, Any]:
    """Clean, deduplicate and split `cfg.source` into <run>/data/{train,val}.jsonl plus manifest.json.

    Example: `prepare_stage(PrepareConfig(source=["stories.jsonl"], run="runs/x"))["train"]["docs"]`
    """
    start_time = time.time()
    run = RunDir(cfg.run)
    run.save_stage_config("prepare", to_dict(cfg))
    inputs = [(path, "val") for path in cfg.val_source] + [(path, "train") for path in cfg.source]
    for path, _ in inputs:  # fail on a missing path before any work is done
        list_source_files(path)

    stats: list[SourceStats] = []
    roles: list[str] = []
    counts = {"docs_read": 0, "empty_dropped": 0, "exact_dups_dropped": 0, "near_dups_found": 0,
              "near_dups_dropped": 0, "near_dups_across_splits": 0}
    examples: list[dict[str, str]] = []
    seen_keys: set[bytes] = set()
    finder = NearDuplicateFinder(cfg.near_dup_threshold) if cfg.near_dup != "off" else None
    # Where each document given to the finder came from and where it went (compact: 2M docs stay small).
    added_file, added_line, added_split = array("I"), array("I"), array("b")
    file_index: dict[str, int] = {}
    file_names: list[str] = []

    with atomic_path(run.split_file("train")) as train_tmp, atomic_path(run.split_file("val")) as val_tmp:
        writer = _SplitWriter({"train": train_tmp, "val": val_tmp})

        def flush(batch: list[_Pending]) -> None:
            matches = finder.add_batch([p.text for p in batch]) if finder else [None] * len(batch)
            for item, match in zip(batch, matches):
                score = split_score(item.text, cfg.seed)
                split = item.role if cfg.val_source else ("val" if score < cfg.val_fraction else "train")
                if finder is not None:
                    name = item.doc.source
                    added_file.append(file_index.setdefault(name, len(file_index)))
                    if len(file_names) < len(file_index):
                        file_names.append(name)
                    added_line.append(item.doc.line)
                    added_split.append(SPLITS.index(split))
                if match is not None:
                    counts["near_dups_found"] += 1
                    if len(examples) < _MAX_EXAMPLES:
                        examples.append({"doc": f"{item.doc.source}:{item.doc.line}",
                                         "near_duplicate_of": f"{file_names[added_file[match]]}:{added_line[match]}"})
                    if cfg.near_dup == "drop":
                        counts["near_dups_dropped"] += 1
                        continue
                    if SPLITS[added_split[match]] != split:
                        counts["near_dups_across_splits"] += 1
                if split == "train" and (writer.lowest_train is None or score < writer.lowest_train[0]):
                    writer.lowest_train = (score, writer.counts["train"]["docs"])
                writer.write(split, item.text, item.doc.source)

        try:
            for path, role in inputs:
                batch: list[_Pending] = []
                for doc in iter_documents(path, cfg.text_field, cfg.skip_bad, txt_split=cfg.txt_split,
                                          keep_unterminated=cfg.keep_unterminated, stats=stats):
                    roles.extend([role] * (len(stats) - len(roles)))
                    counts["docs_read"] += 1
                    text = normalize_text(doc.text)
                    if len(text) < cfg.min_chars:
                        counts["empty_dropped"] += 1
                        continue
                    key = text_key(text)
                    if key in seen_keys:
                        counts["exact_dups_dropped"] += 1
                        continue
                    seen_keys.add(key)
                    batch.append(_Pending(doc, text, role))
                    if len(batch) >= _BATCH:
                        flush(batch)
                        batch = []
                flush(batch)
                roles.extend([role] * (len(stats) - len(roles)))
        finally:
            writer.close()
        if writer.counts["train"]["docs"] + writer.counts["val"]["docs"] == 0:
            raise InputError(", ".join(cfg.source + cfg.val_source), found="no documents left after cleaning",
                             expected="at least one non-empty document")
        moved = (writer.counts["val"]["docs"] == 0 and writer.counts["train"]["docs"] >= 2
                 and not cfg.val_source and cfg.val_fraction > 0)
        if moved:
            writer.move_one_train_doc_to_val()

    skipped = sum(s.skipped for s in stats)
    manifest = {
        "sources": [_source_entry(s, role) for s, role in zip(stats, roles)],
        "counts": {**counts, "bad_records_skipped": skipped,
                   "unterminated_tails_dropped": sum(s.tail_dropped for s in stats),
                   **{split: writer.counts[split] for split in SPLITS}},
        "near_dup_examples": examples,
        "val_rule": ("all documents of --val-source" if cfg.val_source
                     else f"split_score(text, seed={cfg.seed}) < {cfg.val_fraction}"
                     + (" (+1 document moved so val is not empty)" if moved else "")),
        "files": {split: str(run.split_file(split)) for split in SPLITS},
        "seconds": round(time.time() - start_time, 3),
        "config": to_dict(cfg),
    }
    atomic_write_json(run.manifest_file, manifest)
    _print_summary(manifest, cfg, len(stats))
    return {**manifest["counts"], "files": manifest["files"], "manifest": str(run.manifest_file)}


def _source_entry(stats: SourceStats, role: str) -> dict[str, Any]:
    path = Path(stats.path)
    entry: dict[str, Any] = {
        "path": str(path), "role": role, "sha256": file_sha256(path), "bytes": path.stat().st_size,
        "docs_read": stats.docs, "skipped": stats.skipped,
    }
    if stats.skipped_where:
        entry["skipped_where"] = stats.skipped_where
    if stats.tail_dropped:
        entry["unterminated_tail_dropped"] = stats.tail_dropped
    if stats.ignored:
        entry["ignored"] = stats.ignored
    return entry


def _print_summary(manifest: dict[str, Any], cfg: PrepareConfig, n_files: int) -> None:
    c = manifest["counts"]
    near = f"{c['near_dups_found']} near duplicates found (Jaccard >= {cfg.near_dup_threshold})"
    if cfg.near_dup == "drop":
        near += f", {c['near_dups_dropped']} dropped"
    elif cfg.near_dup == "off":
        near = "near-duplicate check off"
    print0(f"prepare: read {c['docs_read']} documents from {n_files} file(s) in {manifest['seconds']:.1f} s")
    print0(f"  dropped {c['empty_dropped']} empty, {c['exact_dups_dropped']} exact duplicates; {near}")
    if c["bad_records_skipped"]:
        print0(f"  skipped {c['bad_records_skipped']} malformed records (see {RunDir(cfg.run).manifest_file})")
    if c["unterminated_tails_dropped"]:
        print0(f"  dropped {c['unterminated_tails_dropped']} unterminated story tail(s) after the last <|endoftext|>")
    for split in SPLITS:
        s = c[split]
        print0(f"  {split:5s}: {s['docs']:>8d} docs {s['bytes'] / 1e6:8.2f} MB -> {manifest['files'][split]}")
