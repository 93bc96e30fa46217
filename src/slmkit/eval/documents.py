"""Documents of a text file for evaluation: TinyStories `.txt` (separated by `<|endoftext|>`), plain `.txt` (one
document), or `.jsonl` (field `text`).

Example:
    docs = read_documents(Path("../shared/data/tinystories-v1-valid-sample/tinystories_val_1k.txt"))
"""

from __future__ import annotations

import json
from pathlib import Path

from slmkit.common.errors import InputError, MissingFileError

EOT_TEXT = "<|endoftext|>"


def read_documents(path: Path) -> list[str]:
    """Documents of a text file for scoring (see module docstring)."""
    if not path.is_file():
        raise MissingFileError(path, expected="a text file to evaluate")
    try:
        raw = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(str(path), found=f"invalid UTF-8 at byte {exc.start}", expected="UTF-8 text") from None
    if path.suffix == ".jsonl":
        docs = []
        for n, line in enumerate(raw.splitlines(), 1):
            if not line.strip():
                continue
            try:
                docs.append(json.loads(line)["text"])
            except (json.JSONDecodeError, KeyError, TypeError):
                raise InputError(f"{path}:{n}", found=line[:40], expected='a JSON object with a "text" field') from None
        return docs
    docs = [d.strip() for d in raw.split(EOT_TEXT)]
    return [d for d in docs if d]
