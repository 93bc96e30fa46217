"""Read documents to index: .txt files (one document each) and .jsonl files (one {"text", "id"?} per line).

Example:
    read_documents(["notes/", "stories.jsonl"])  # [("notes/a.txt", "..."), ("stories.jsonl:1", "...")]
"""

from __future__ import annotations

import json
from pathlib import Path

from slmkit.common.errors import InputError, MissingFileError


def read_documents(paths: list[str]) -> list[tuple[str, str]]:
    """(doc id, text) pairs; folders are searched for *.txt and *.jsonl, sorted by name."""
    docs: list[tuple[str, str]] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.suffix in (".txt", ".jsonl") and p.is_file())
        elif path.is_file():
            files = [path]
        else:
            raise MissingFileError(path, expected="a .txt/.jsonl file or a folder of them")
        for file in files:
            if file.suffix == ".jsonl":
                docs.extend(_read_jsonl(file))
            else:
                docs.append((str(file), file.read_text(encoding="utf-8")))
    return docs


def _read_jsonl(file: Path) -> list[tuple[str, str]]:
    docs = []
    for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            text = row["text"]
        except (json.JSONDecodeError, KeyError, TypeError):
            raise InputError(f"{file}:{number}", repr(line[:60]), 'a JSON object with a "text" field') from None
        docs.append((str(row.get("id", f"{file}:{number}")), text))
    return docs
