"""Documents of a text file for evaluation: TinyStories `.txt` (separated by `<|endoftext|>`), plain `.txt` (one
document), or `.jsonl` (field `text`).

Example:
    docs = read_documents(Path("../shared/data/tinystories-v1-valid-sample/tinystories_val_1k.txt"))
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from slmkit.common.errors import InputError, MissingFileError

EOT_TEXT = "<|endoftext|>"


def read_documents(path: Path) -> list[str]:
    """Documents of a text file for scoring (see module docstring)."""
    return [doc for group in read_sourced_documents(path).values() for doc in group]


def read_sourced_documents(path: Path) -> dict[str, list[str]]:
    """Documents grouped by their `source` field (.jsonl records that have one, e.g. a run's data/val.jsonl), else
    all under the file's name. Example: `read_sourced_documents(Path("runs/q/data/val.jsonl"))`"""
    if not path.is_file():
        raise MissingFileError(path, expected="a text file to evaluate")
    try:
        raw = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(str(path), found=f"invalid UTF-8 at byte {exc.start}", expected="UTF-8 text") from None
    if path.suffix != ".jsonl":
        docs = [d.strip() for d in raw.split(EOT_TEXT)]
        return {path.name: [d for d in docs if d]}
    groups: dict[str, list[str]] = {}
    for n, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            groups.setdefault(str(record.get("source") or path.name), []).append(record["text"])
        except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
            raise InputError(f"{path}:{n}", found=line[:40], expected='a JSON object with a "text" field') from None
    return groups


def read_json_records(path: Path, what: str = "records") -> list[dict[str, Any]]:
    """JSON objects from .jsonl (one per line) or .json (a list); errors name the file and line.

    Example: `read_json_records(Path("items.jsonl"), "items to judge")`
    """
    if not path.is_file():
        raise MissingFileError(path, expected=f"{what} (.jsonl or .json)")
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(str(path), found=f"invalid JSON at line {exc.lineno}", expected="a JSON list") from None
        if not isinstance(data, list) or not all(isinstance(d, dict) for d in data):
            raise InputError(str(path), found=type(data).__name__, expected="a JSON list of objects")
        return data
    records = []
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                raise InputError(f"{path}:{n}", found=line[:40], expected="one JSON object per line") from None
            if not isinstance(record, dict):
                raise InputError(f"{path}:{n}", found=type(record).__name__, expected="a JSON object")
            records.append(record)
    return records
