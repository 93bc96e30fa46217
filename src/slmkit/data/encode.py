"""`slm data encode`: turn `<run>/data/{split}.jsonl` into token shards `<run>/shards/{split}.bin` + meta.json.

Streaming with bounded memory: each split is read in chunks of about `chunk_bytes` of JSONL, chunks are encoded
by a pool of worker processes (at most two chunks per worker in flight) and written in order as they come back.
Processes rather than threads: JSON parsing and list -> array conversion hold the GIL. A worker costs about half
a second to start, so `workers=0` (auto) starts one per core only for corpora large enough to repay it.
All splits go to temp files first; only when every split succeeded is the old meta.json removed, the new shards
renamed into place and the new meta.json written, so a shard folder never mixes two tokenizers (an interrupted
publish leaves no meta.json, which readers refuse).

Example:
    encode_stage(EncodeConfig(run="runs/quickstart"))   # shards/train.bin, shards/val.bin, shards/meta.json
"""

from __future__ import annotations

import itertools
import math
import multiprocessing as mp
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from tqdm import tqdm

from slmkit.common.errors import InputError, MissingFileError, SlmkitError
from slmkit.common.log import eprint, print0
from slmkit.common.runs import RunDir
from slmkit.config import check, opt, to_dict
from slmkit.data.shards import META_FILE, ShardMeta, ShardWriter, SplitInfo, token_dtype
from slmkit.tokenizer import Tokenizer
from slmkit.tokenizer.corpus import text_of_json_line

AUTO_BYTES_PER_WORKER = 16_000_000  # workers=0 starts one process per this much JSONL (start-up costs ~0.5 s each)
CONFIRM_BYTES = 256_000  # text of the first chunk on which the fast encoder is checked against tokenizers

T = TypeVar("T")
R = TypeVar("R")


@dataclass
class EncodeConfig:
    run: str = opt(None, "run directory (reads data/*.jsonl and tokenizer/, writes shards/)")
    splits: list[str] = opt(factory=list, help="splits to encode, e.g. train val (default: every data/*.jsonl)")
    workers: int = opt(0, "worker processes (0 = auto: one per core, fewer for small data; 1 = in this process)")
    tokenizer: str | None = opt(None, "tokenizer.json to use (default: <run>/tokenizer/tokenizer.json)")
    out: str | None = opt(None, "shard folder to write (default: <run>/shards)")
    chunk_bytes: int = opt(1_000_000, "JSONL bytes per work unit; memory stays near 2 x workers x this")
    progress: bool = opt(True, "show a progress bar")

    def __post_init__(self):
        check(self.run is not None, "run", self.run, "a run directory (--run DIR)")
        check(self.workers >= 0, "workers", self.workers, ">= 0 (0 = one per CPU core)")
        check(self.chunk_bytes >= 1, "chunk_bytes", self.chunk_bytes, ">= 1")


# ----------------------------------------------------------------------------------------------- reading
@dataclass
class LineChunk:
    """Consecutive raw lines of one JSONL file; `first_line` is the 1-based number of `lines[0]`."""

    source: str
    first_line: int
    lines: list[bytes]
    nbytes: int


def iter_line_chunks(path: Path, chunk_bytes: int) -> Iterator[LineChunk]:
    """Raw lines of `path` grouped into chunks of about `chunk_bytes` (a longer line is a chunk of its own).

    Example: `sum(len(c.lines) for c in iter_line_chunks(Path("train.jsonl"), 1 << 20))`
    """
    lines: list[bytes] = []
    size, first = 0, 1
    with open(path, "rb") as f:
        for line_no, line in enumerate(f, start=1):
            lines.append(line)
            size += len(line)
            if size >= chunk_bytes:
                yield LineChunk(str(path), first, lines, size)
                lines, size, first = [], 0, line_no + 1
    if lines:
        yield LineChunk(str(path), first, lines, size)


# ----------------------------------------------------------------------------------------------- encoding
@dataclass
class EncodedChunk:
    """One chunk's token ids (each document followed by <|endoftext|>) and its counts."""

    tokens: np.ndarray
    docs: int
    text_bytes: int  # UTF-8 bytes of the text + 1 per <|endoftext|>
    raw_bytes: int  # JSONL bytes read (for the progress bar)


def chunk_texts(chunk: LineChunk) -> list[str]:
    """The non-empty document texts of a chunk. Example: `chunk_texts(next(iter_line_chunks(p, 1000)))`"""
    texts = []
    for offset, line in enumerate(chunk.lines):
        text = text_of_json_line(line, f"{chunk.source}:{chunk.first_line + offset}")
        if text:  # an empty document would only add a stray <|endoftext|>
            texts.append(text)
    return texts


def encode_chunk(tokenizer: Tokenizer, chunk: LineChunk, dtype: np.dtype) -> EncodedChunk:
    """Encode one chunk in this process (one thread). Example: `encode_chunk(tok, chunk, np.uint16).tokens`"""
    texts = chunk_texts(chunk)
    text_bytes = 0
    for offset, text in enumerate(texts):
        try:
            text_bytes += len(text.encode("utf-8")) + 1
        except UnicodeEncodeError:
            raise InputError(f"{chunk.source} (document {offset + 1} from line {chunk.first_line})",
                             found="a lone surrogate escape (e.g. \\ud800)", expected="valid Unicode text") from None
    ids = tokenizer.encode_batch(texts, num_threads=1)
    eot = (tokenizer.eot_id,)
    total = sum(map(len, ids)) + len(ids)
    flat = itertools.chain.from_iterable(itertools.chain(doc, eot) for doc in ids)
    tokens = np.fromiter(flat, dtype=dtype, count=total)
    return EncodedChunk(tokens, len(texts), text_bytes, chunk.nbytes)


class RelayedInputError(InputError):
    """An InputError raised in a worker process, re-raised in the parent (InputError's own signature does not
    survive pickling)."""

    def __init__(self, message: str):
        SlmkitError.__init__(self, message)
        self.where = message.split(":", 1)[0]


_worker_state: dict[str, Any] = {}


def _init_worker(json_text: str, engine: str, dtype: str) -> None:
    os.environ["TOKENIZERS_PARALLELISM"] = "false"  # the pool is the parallelism; no rayon threads per worker
    _worker_state["tokenizer"] = Tokenizer(json_text, engine=engine)  # type: ignore[arg-type]
    _worker_state["dtype"] = np.dtype(dtype)


def _encode_in_worker(chunk: LineChunk) -> EncodedChunk:
    try:
        return encode_chunk(_worker_state["tokenizer"], chunk, _worker_state["dtype"])
    except InputError as exc:
        raise RelayedInputError(str(exc)) from None


def ordered_parallel_map(
    submit: Callable[[T], Any], items: Iterable[T], max_in_flight: int
) -> Iterator[R]:
    """Results of `submit(item).result()` in input order, never holding more than `max_in_flight` items at once
    (unlike Pool.imap or Executor.map, which read the whole input ahead).

    Example: `list(ordered_parallel_map(lambda x: pool.submit(f, x), xs, 4))`
    """
    pending: deque = deque()
    for item in items:
        pending.append(submit(item))
        if len(pending) >= max_in_flight:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


# ----------------------------------------------------------------------------------------------- the stage
def _available_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return os.cpu_count() or 1


def _split_files(cfg: EncodeConfig, run: RunDir) -> dict[str, Path]:
    hint = f"run `slm data prepare --source ... --run {run.root}` first"
    if cfg.splits:
        files = {split: run.split_file(split) for split in cfg.splits}
        for split, path in files.items():
            if not path.is_file():
                raise MissingFileError(path, expected=f"the '{split}' split", hint=hint)
        return files
    files = {p.stem: p for p in sorted(run.data_dir.glob("*.jsonl"))}
    if not files:
        raise MissingFileError(run.split_file("train"), expected="cleaned text splits (data/*.jsonl)", hint=hint)
    return files


def _kept_splits(out_dir: Path, tokenizer: Tokenizer, splits: Iterable[str]) -> dict[str, SplitInfo]:
    """Entries of an existing meta.json that stay valid beside the splits being re-encoded."""
    if not (out_dir / META_FILE).is_file():
        return {}
    try:
        old = ShardMeta.load(out_dir)
    except InputError as exc:
        eprint(f"warning: ignoring unreadable {out_dir / META_FILE}: {exc}")
        return {}
    others = {name: info for name, info in old.splits.items() if name not in set(splits)}
    if old.tokenizer_sha256 != tokenizer.sha256 and others:
        raise InputError(
            str(out_dir / META_FILE),
            found=f"shards of split(s) {sorted(others)} from tokenizer {old.tokenizer_sha256[:12]}",
            expected=f"every split re-encoded with tokenizer {tokenizer.sha256[:12]} (two tokenizers never mix)",
            hint=f"add them to --splits, or delete {out_dir}",
        )
    return {name: info for name, info in others.items() if (out_dir / info.file).is_file()}


def _confirm_engine(tokenizer: Tokenizer, first_file: Path) -> None:
    """Prove the fast encoder on the first chunk of real data; `confirm_fast_engine` falls back on a mismatch."""
    first = next(iter_line_chunks(first_file, CONFIRM_BYTES), None)
    if tokenizer.engine == "tiktoken" and first is not None and not tokenizer.confirm_fast_engine(chunk_texts(first)):
        eprint(f"warning: fast encoder differs from tokenizers on {first_file}; using tokenizers "
               f"({'; '.join(tokenizer.fast_blockers)})")


def _encoded_chunks(tokenizer: Tokenizer, files: list[Path], cfg: EncodeConfig, workers: int, dtype: np.dtype):
    """Yields (file index, EncodedChunk) for every chunk of every file, in order."""
    items = ((i, chunk) for i, path in enumerate(files) for chunk in iter_line_chunks(path, cfg.chunk_bytes))
    if workers == 1:
        for i, chunk in items:
            yield i, encode_chunk(tokenizer, chunk, dtype)
        return
    # spawn, not fork: a forked child of a process that already ran rayon threads (tokenizers) can deadlock.
    # ProcessPoolExecutor (not Pool): a worker that dies raises BrokenProcessPool instead of hanging.
    init = (tokenizer.json_text, tokenizer.engine, dtype.str)
    with ProcessPoolExecutor(workers, mp.get_context("spawn"), initializer=_init_worker, initargs=init) as pool:
        yield from ordered_parallel_map(
            lambda item: _Tagged(item[0], pool.submit(_encode_in_worker, item[1])), items, 2 * workers
        )


class _Tagged:
    """A Future tagged with its file index; `.result()` returns (index, result)."""

    def __init__(self, index: int, future: Future):
        self.index, self.future = index, future

    def result(self) -> tuple[int, EncodedChunk]:
        return self.index, self.future.result()


def encode_stage(cfg: EncodeConfig) -> dict:
    """Encode the run's text splits into token shards + meta.json; returns the meta as a dict.

    Example: `encode_stage(EncodeConfig(run="runs/x", workers=2))["splits"]["train"]["tokens"]`
    """
    run = RunDir(cfg.run)
    tok_path = Path(cfg.tokenizer) if cfg.tokenizer else run.tokenizer_file
    if not tok_path.is_file():
        hint = f"run `slm tokenizer train --run {run.root}` first"
        raise MissingFileError(tok_path, expected="a tokenizer.json", hint=hint)
    tokenizer = Tokenizer.from_file(tok_path)
    out_dir = Path(cfg.out) if cfg.out else run.shards_dir
    split_files = _split_files(cfg, run)
    kept = _kept_splits(out_dir, tokenizer, split_files)
    dtype = token_dtype(tokenizer.vocab_size)
    names, files = list(split_files), list(split_files.values())
    total_bytes = sum(p.stat().st_size for p in files)
    workers = cfg.workers or min(_available_cores(), max(1, total_bytes // AUTO_BYTES_PER_WORKER))
    workers = min(workers, max(1, math.ceil(total_bytes / cfg.chunk_bytes)))  # no more workers than chunks
    _confirm_engine(tokenizer, files[0])

    writers = {name: ShardWriter(out_dir / f"{name}.bin", dtype) for name in names}
    counts = {name: {"docs": 0, "bytes": 0} for name in names}
    start = time.perf_counter()
    try:
        bar = tqdm(total=total_bytes, unit="B", unit_scale=True, desc="encode", disable=None if cfg.progress else True)
        with bar:
            for index, chunk in _encoded_chunks(tokenizer, files, cfg, workers, dtype):
                name = names[index]
                writers[name].append(chunk.tokens)
                counts[name]["docs"] += chunk.docs
                counts[name]["bytes"] += chunk.text_bytes
                bar.update(chunk.raw_bytes)
        for name, path in split_files.items():
            if counts[name]["docs"] == 0:
                raise InputError(str(path), found="no documents", expected="at least one non-empty JSONL text")
        for writer in writers.values():
            writer.close_temp()
    except BaseException:
        for writer in writers.values():
            writer.abort()
        raise
    seconds = time.perf_counter() - start

    # Publish: no meta while shards are swapped, so a crash here leaves a folder that readers refuse.
    (out_dir / META_FILE).unlink(missing_ok=True)
    for writer in writers.values():
        writer.finalize()
    splits = dict(kept)
    for name in names:
        splits[name] = SplitInfo(f"{name}.bin", writers[name].tokens, counts[name]["bytes"], counts[name]["docs"])
    meta = ShardMeta(tokenizer.vocab_size, dtype.name, tokenizer.sha256, tokenizer.eot_id, splits)
    meta.save(out_dir)
    run.save_stage_config("encode", to_dict(cfg))

    new_tokens = sum(writers[n].tokens for n in names)
    for name in names:
        info = splits[name]
        bpt = meta.bytes_per_token(name)
        print0(f"encode: {name}: {info.docs} docs, {info.tokens:,} tokens, {bpt:.2f} bytes/token")
    seconds = max(seconds, 1e-9)
    print0(f"encode: {total_bytes / 1e6:.1f} MB in {seconds:.1f}s ({total_bytes / 1e6 / seconds:.1f} MB/s, "
           f"{new_tokens / seconds:,.0f} tokens/s), {workers} worker(s), {tokenizer.engine} engine -> {out_dir}")
    return {**meta.to_json(), "shards": str(out_dir), "workers": workers, "engine": tokenizer.engine}
