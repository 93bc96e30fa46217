"""Read fine-tuning records from jsonl, json, csv and tab-separated files, and split them with a fixed seed.

Every record is a dict of strings plus `where` ("file:line"), so later errors can name the line that caused them.
Tab-separated files without a header (the SMS Spam Collection's `label<TAB>text`, Tatoeba's
`english<TAB>french<TAB>attribution`) take their column names from `columns`; a tab or csv file whose first row
names the required fields is read with that header.

Example:
    records = read_records(Path("SMSSpamCollection"), required=["text", "label"], columns=["label", "text"])
    train, val, test = split_records(records, val_size=0.1, test_size=0.1, seed=123)
"""

from __future__ import annotations

import csv
import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from slmkit.common.errors import InputError, MissingFileError

Record = dict[str, Any]


def _jsonl(path: Path) -> list[Record]:
    out = []
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                raise InputError(f"{path}:{n}", found=line.strip()[:60], expected="one JSON object per line") from None
            if not isinstance(obj, dict):
                raise InputError(f"{path}:{n}", found=type(obj).__name__, expected="a JSON object")
            out.append(dict(obj, where=f"{path}:{n}"))
    return out


def _json(path: Path) -> list[Record]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"{path}:{exc.lineno}", found="invalid JSON", expected="a JSON list of objects") from None
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        data = data["data"]
    if not isinstance(data, list) or not all(isinstance(x, dict) for x in data):
        raise InputError(str(path), found=type(data).__name__, expected="a JSON list of objects")
    return [dict(obj, where=f"{path}[{i}]") for i, obj in enumerate(data)]


def _delimited(path: Path, delimiter: str, required: Sequence[str], columns: Sequence[str] | None) -> list[Record]:
    with open(path, encoding="utf-8", newline="") as f:
        if delimiter == "\t":  # tab files (SMS, Tatoeba) hold unbalanced quotes: no quoting
            rows = [line.rstrip("\r\n").split("\t") for line in f]
        else:
            rows = list(csv.reader(f, delimiter=delimiter))
    rows_with_line = [(n, r) for n, r in enumerate(rows, 1) if any(cell.strip() for cell in r)]
    if not rows_with_line:
        raise InputError(str(path), found="an empty file", expected="rows of examples")
    first = [c.strip() for c in rows_with_line[0][1]]
    if required and all(name in first for name in required):
        header, body = first, rows_with_line[1:]
    elif columns:
        header, body = list(columns), rows_with_line
    else:
        raise InputError(str(path), found=f"header {first[:6]}", expected=f"columns named {', '.join(required)}")
    missing = [r for r in required if r not in header]
    if missing:
        raise InputError(str(path), found=f"columns {header}", expected=f"a column named {missing[0]!r}")
    need = max((header.index(r) for r in required), default=0) + 1
    out = []
    for n, row in body:
        if len(row) < need:
            raise InputError(
                f"{path}:{n}", found=f"{len(row)} field(s)", expected=f"{len(header)} fields ({', '.join(header)})"
            )
        out.append(dict(zip(header, row), where=f"{path}:{n}"))
    return out


def read_records(path: Path | str, required: Sequence[str], columns: Sequence[str] | None = None) -> list[Record]:
    """Records of a jsonl/json/csv/tsv/txt file (format by extension; no extension = tab-separated).

    Raises InputError naming the file (and line) when a required field is missing from a record.
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(path, expected="a jsonl, json, csv or tab-separated data file")
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        records = _jsonl(path)
    elif suffix == ".json":
        records = _json(path)
    elif suffix == ".csv":
        records = _delimited(path, ",", required, columns)
    else:  # .tsv, .txt or no extension
        records = _delimited(path, "\t", required, columns)
    if not records:
        raise InputError(str(path), found="no records", expected="at least one example")
    for record in records:
        for name in required:
            if name not in record and "." in name:  # a nested field, e.g. label.ending of synthetic stories
                record[name] = _nested(record, name)
            if not isinstance(record.get(name), str):
                found = "no such field" if name not in record else type(record[name]).__name__
                raise InputError(f"{record['where']}: field '{name}'", found=found, expected="a string")
    return records


def _nested(record: Record, dotted: str) -> Any:
    node: Any = record
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _count(size: float, n: int, name: str) -> int:
    if size < 0:
        raise InputError(name, found=size, expected="a fraction in [0, 1) or a count >= 1")
    return round(size * n) if size < 1 else int(size)


def split_records(
    records: list[Record], val_size: float, test_size: float, seed: int
) -> tuple[list[Record], list[Record], list[Record]]:
    """Shuffle with `seed`, then cut off validation and test parts (fractions < 1, or counts).

    Example: `split_records(records, 0.1, 0.1, seed=123)  # 80/10/10`
    """
    n = len(records)
    n_val, n_test = _count(val_size, n, "val_size"), _count(test_size, n, "test_size")
    if n_val + n_test >= n:
        raise InputError("val_size/test_size", found=f"{n_val} + {n_test} of {n} examples", expected="fewer than all")
    order = list(range(n))
    random.Random(seed).shuffle(order)
    shuffled = [records[i] for i in order]
    return shuffled[n_val + n_test:], shuffled[:n_val], shuffled[n_val:n_val + n_test]
