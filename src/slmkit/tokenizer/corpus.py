"""Training text for the tokenizer, streamed from .jsonl (`{"text": ...}` per line) or .txt files.

A .txt file is split into documents at the `<|endoftext|>` marker (the TinyStories release format); the marker
and the whitespace around it are dropped. Text without markers is read in line-aligned pieces of about 1 MB so
no single string gets huge.

Example:
    for text in iter_training_texts(["runs/x/data/train.jsonl"], max_bytes=10_000_000): ...
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path

from slmkit.common.errors import InputError, MissingFileError
from slmkit.tokenizer.special import EOT

TXT_PIECE_CHARS = 1_000_000  # a .txt document longer than this (no markers) is yielded in pieces of about this size


def text_of_json_line(line: str | bytes, where: str) -> str | None:
    """The "text" of one JSONL line; None for a blank line. Example: `text_of_json_line('{"text": "hi"}', "f:1")`"""
    if not line.strip():
        return None
    try:
        record = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError):
        shown = line[:60].decode("utf-8", "replace") if isinstance(line, bytes) else line[:60]
        raise InputError(where, found=shown, expected='one JSON object per line, like {"text": "..."}') from None
    text = record.get("text") if isinstance(record, dict) else None
    if not isinstance(text, str):
        raise InputError(where, found=str(record)[:60], expected='a JSON object with a string field "text"')
    return text


def iter_jsonl_texts(path: Path) -> Iterator[str]:
    """Texts of a JSONL file, in order. Example: `list(iter_jsonl_texts(Path("train.jsonl")))`"""
    with open(path, "rb") as f:
        for line_no, line in enumerate(f, start=1):
            text = text_of_json_line(line, f"{path}:{line_no}")
            if text:
                yield text


def iter_txt_texts(path: Path) -> Iterator[str]:
    """Documents of a plain-text file (see module docstring). Example: `list(iter_txt_texts(Path("stories.txt")))`"""
    buffer: list[str] = []
    size = 0
    with open(path, encoding="utf-8", errors="strict", newline="") as f:
        try:
            for line in f:
                pieces = line.split(EOT)
                for i, piece in enumerate(pieces):
                    if i > 0:  # a marker ended the document in `buffer`
                        doc = "".join(buffer).strip()
                        if doc:
                            yield doc
                        buffer, size = [], 0
                    buffer.append(piece)
                    size += len(piece)
                if size >= TXT_PIECE_CHARS:
                    yield "".join(buffer)
                    buffer, size = [], 0
        except UnicodeDecodeError as exc:
            raise InputError(str(path), found=f"invalid UTF-8 at byte {exc.start}", expected="UTF-8 text") from None
    doc = "".join(buffer).strip()
    if doc:
        yield doc


def iter_training_texts(paths: Iterable[Path | str], max_bytes: int | None = None) -> Iterator[str]:
    """Documents of every file in turn, stopping before the UTF-8 total would pass `max_bytes`.

    Example: `sum(1 for _ in iter_training_texts(["a.txt", "b.jsonl"]))`
    """
    total = 0
    for path in map(Path, paths):
        if not path.is_file():
            raise MissingFileError(path, expected="a .txt or .jsonl file of training text")
        if path.suffix == ".jsonl":
            texts = iter_jsonl_texts(path)
        elif path.suffix == ".txt":
            texts = iter_txt_texts(path)
        else:
            found = f"a {path.suffix or 'suffix-less'} file"
            raise InputError(str(path), found=found, expected="a .txt or .jsonl file")
        for text in texts:
            size = len(text.encode("utf-8", errors="surrogatepass"))
            if max_bytes is not None and total + size > max_bytes:
                return
            total += size
            yield text
