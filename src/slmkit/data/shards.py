"""Token shards: flat token ids on disk (`<run>/shards/{split}.bin`) described by `meta.json`.

Each split is one array of uint16 ids (uint32 when the vocabulary has more than 65,535 tokens): every document's
tokens followed by `<|endoftext|>`. meta.json records the tokenizer's sha256 so shards and checkpoints of
different tokenizers are never mixed:

    {"vocab_size": 4096, "dtype": "uint16", "tokenizer_sha256": "...", "eot_id": 0,
     "splits": {"train": {"file": "train.bin", "tokens": N, "bytes": B, "docs": D}}, "bytes_per_token": 4.1}

`bytes` counts the UTF-8 bytes of the text plus one byte per `<|endoftext|>`, so bits-per-byte is comparable
across tokenizers.

Example:
    meta = ShardMeta.load("runs/x"); train = open_shard("runs/x", "train")  # 1-D np.memmap
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from slmkit.common.atomic import atomic_write_json
from slmkit.common.errors import InputError, MissingFileError

META_FILE = "meta.json"
DTYPES = ("uint16", "uint32")


def token_dtype(vocab_size: int) -> np.dtype:
    """The smallest shard dtype for `vocab_size` tokens. Example: `token_dtype(4096) == np.uint16`"""
    if vocab_size > 2**32:
        raise InputError("vocab_size", found=vocab_size, expected="at most 2**32 tokens")
    return np.dtype(np.uint16) if vocab_size <= 65_535 else np.dtype(np.uint32)


def shards_dir_of(run_or_dir: Path | str) -> Path:
    """The shard folder, given a run directory or the shard folder itself. Example: `shards_dir_of("runs/x")`"""
    path = Path(run_or_dir)
    if (path / META_FILE).is_file() or path.name == "shards":
        return path
    if (path / "shards").is_dir() or (path / "data").is_dir() or (path / "recipe.yaml").is_file():
        return path / "shards"  # a run directory
    return path


@dataclass
class SplitInfo:
    """One split's shard: file name (inside the shard folder), token, byte and document counts."""

    file: str
    tokens: int
    bytes: int
    docs: int


@dataclass
class ShardMeta:
    """The contents of meta.json, validated. `path` is where it was loaded from (not saved)."""

    vocab_size: int
    dtype: str
    tokenizer_sha256: str
    eot_id: int
    splits: dict[str, SplitInfo] = field(default_factory=dict)
    path: Path | None = None

    @property
    def np_dtype(self) -> np.dtype:
        return np.dtype(self.dtype)

    def has_split(self, split: str) -> bool:
        return split in self.splits

    def split(self, split: str) -> SplitInfo:
        """The entry of `split`, or an InputError naming the splits there are. Example: `meta.split("train").tokens`"""
        if split not in self.splits:
            raise InputError(str(self.path or META_FILE), found=f"splits {sorted(self.splits)}",
                             expected=f"a '{split}' split", hint="encode it with `slm data encode --splits ...`")
        return self.splits[split]

    def bytes_per_token(self, split: str | None = None) -> float:
        """UTF-8 bytes per token of one split, or of all together. Example: `meta.bytes_per_token("val")`"""
        infos = [self.split(split)] if split else list(self.splits.values())
        tokens = sum(i.tokens for i in infos)
        return sum(i.bytes for i in infos) / tokens if tokens else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "vocab_size": self.vocab_size,
            "dtype": self.dtype,
            "tokenizer_sha256": self.tokenizer_sha256,
            "eot_id": self.eot_id,
            "splits": {name: vars(info).copy() for name, info in self.splits.items()},
            "bytes_per_token": round(self.bytes_per_token(), 6),
        }

    def save(self, shards_dir: Path | str) -> Path:
        """Write meta.json atomically. Example: `meta.save(run.shards_dir)`"""
        path = Path(shards_dir) / META_FILE
        atomic_write_json(path, self.to_json())
        self.path = path
        return path

    @classmethod
    def load(cls, run_or_dir: Path | str) -> ShardMeta:
        """Read and validate meta.json of a shard folder (or of a run directory's shards/).

        Example: `ShardMeta.load("runs/x/shards").tokenizer_sha256`
        """
        path = shards_dir_of(run_or_dir) / META_FILE
        if not path.is_file():
            hint = "run `slm data encode --run R` first"
            raise MissingFileError(path, expected="token shards (meta.json)", hint=hint)
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            expected = "meta.json as written by `slm data encode`"
            raise InputError(str(path), found=f"invalid JSON ({exc})", expected=expected) from None
        return cls.from_json(raw, path)

    @classmethod
    def from_json(cls, raw: Any, path: Path | None = None) -> ShardMeta:
        where = str(path or META_FILE)

        def need(obj: Any, key: str, kind: type | tuple[type, ...], ctx: str = "") -> Any:
            value = obj.get(key) if isinstance(obj, dict) else None
            if not isinstance(value, kind) or isinstance(value, bool):
                raise InputError(f"{where}: {ctx}{key}", found=value, expected=f"a {getattr(kind, '__name__', kind)}")
            return value

        dtype = need(raw, "dtype", str)
        if dtype not in DTYPES:
            raise InputError(f"{where}: dtype", found=dtype, expected=" or ".join(DTYPES))
        splits = {}
        for name, entry in need(raw, "splits", dict).items():
            ctx = f"splits.{name}."
            splits[name] = SplitInfo(
                file=need(entry, "file", str, ctx), tokens=need(entry, "tokens", int, ctx),
                bytes=need(entry, "bytes", int, ctx), docs=need(entry, "docs", int, ctx),
            )
        return cls(vocab_size=need(raw, "vocab_size", int), dtype=dtype,
                   tokenizer_sha256=need(raw, "tokenizer_sha256", str), eot_id=need(raw, "eot_id", int),
                   splits=splits, path=path)


def check_compatible(meta: ShardMeta, tokenizer: Any) -> None:
    """Refuse shards encoded by another tokenizer (compares sha256, vocab size and <|endoftext|> id).

    Example: `check_compatible(ShardMeta.load(run), Tokenizer.from_file(run.tokenizer_file))`
    """
    where = str(meta.path or META_FILE)
    if meta.tokenizer_sha256 != tokenizer.sha256:
        raise InputError(where, found=f"shards of tokenizer {meta.tokenizer_sha256[:12]}",
                         expected=f"shards of tokenizer {tokenizer.sha256[:12]} ({getattr(tokenizer, 'source', '')})",
                         hint="re-run `slm data encode` with this tokenizer")
    if meta.vocab_size != tokenizer.vocab_size or meta.eot_id != tokenizer.eot_id:
        raise InputError(where, found=f"vocab_size {meta.vocab_size}, eot_id {meta.eot_id}",
                         expected=f"vocab_size {tokenizer.vocab_size}, eot_id {tokenizer.eot_id}")


def open_shard(run_or_dir: Path | str, split: str, meta: ShardMeta | None = None) -> np.memmap:
    """The token ids of `split`, memory-mapped read-only (1-D, the meta's dtype). Example: `open_shard(run, "val")`"""
    shards_dir = shards_dir_of(run_or_dir)
    meta = meta or ShardMeta.load(shards_dir)
    info = meta.split(split)
    path = shards_dir / info.file
    if not path.is_file():
        raise MissingFileError(path, expected=f"the '{split}' token shard", hint="re-run `slm data encode`")
    if info.tokens == 0:
        raise InputError(str(path), found="an empty shard (0 tokens)", expected="at least one document")
    expected_size = info.tokens * meta.np_dtype.itemsize
    if path.stat().st_size != expected_size:
        raise InputError(str(path), found=f"{path.stat().st_size} bytes",
                         expected=f"{expected_size} bytes ({info.tokens} {meta.dtype} tokens per meta.json)",
                         hint="the shard is truncated or from another encode; re-run `slm data encode`")
    return np.memmap(path, dtype=meta.np_dtype, mode="r", shape=(info.tokens,))


class ShardWriter:
    """Appends token arrays to a temp file beside `path`; `finalize()` renames it into place, `abort()` drops it.

    Example:
        with ShardWriter(run.shard_file("train"), np.uint16) as w: w.append(ids)   # finalized on success
    """

    def __init__(self, path: Path | str, dtype: np.dtype | str):
        self.path = Path(path)
        self.dtype = np.dtype(dtype)
        self.tokens = 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        self.tmp_path = Path(tmp)
        self._file = os.fdopen(fd, "wb")

    def append(self, tokens: np.ndarray | list[int]) -> None:
        """Write token ids (checked to fit the dtype). Example: `w.append(np.array([5, 9, 0]))`"""
        arr = np.asarray(tokens)
        if arr.size and (arr.min() < 0 or arr.max() > np.iinfo(self.dtype).max):
            raise ValueError(f"token ids out of range for {self.dtype}: [{arr.min()}, {arr.max()}]")
        self._file.write(arr.astype(self.dtype, copy=False).tobytes())
        self.tokens += arr.size

    def close_temp(self) -> Path:
        """Flush and fsync the temp file without renaming it (for writers that publish several files together)."""
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
        return self.tmp_path

    def finalize(self) -> Path:
        """Rename the finished shard onto `path` (replacing an older one). Example: `w.finalize()`"""
        self.close_temp()
        os.chmod(self.tmp_path, 0o644)  # mkstemp made it private; shards are ordinary readable files
        os.replace(self.tmp_path, self.path)
        return self.path

    def abort(self) -> None:
        """Drop the temp file."""
        if not self._file.closed:
            self._file.close()
        self.tmp_path.unlink(missing_ok=True)

    def __enter__(self) -> ShardWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.finalize()
        else:
            self.abort()
