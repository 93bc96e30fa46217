"""Read documents from text sources: TinyStories `.txt`, plain `.txt`, `.jsonl`, `.json`, `.parquet`, and folders.

Every reader yields `Document(text, source, line)` and raises one `InputError` naming `file:line` for malformed
input, or (with `skip_bad=True`) skips the bad record and counts it in a `SourceStats`.

`.txt` files are split into documents by `txt_split`:
  - "auto" (default): "endoftext" if the file contains `<|endoftext|>`, else "file"
  - "endoftext": TinyStories format, documents separated by `<|endoftext|>` (usually on its own line)
  - "file": the whole file is one document; "paragraph": blank-line separated; "line": one document per line

Example:
    for doc in iter_documents("data/tinystories/TinyStories-valid.txt"):
        print(doc.source, doc.line, doc.text[:40])
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from slmkit.common.errors import InputError, MissingFileError

SUPPORTED_EXTENSIONS = (".txt", ".jsonl", ".json", ".parquet")
ENDOFTEXT = "<|endoftext|>"
TxtSplit = Literal["auto", "endoftext", "file", "paragraph", "line"]
TXT_SPLITS: tuple[str, ...] = ("auto", "endoftext", "file", "paragraph", "line")
_MAX_WHERE = 20  # how many skipped locations a SourceStats remembers (enough to find them, bounded for huge inputs)


@dataclass(frozen=True)
class Document:
    """One document: its raw text, the file name it came from, and where in that file.

    `line` is the 1-based line where the document starts (.txt, .jsonl) or its 1-based record number (.json,
    .parquet).
    """

    text: str
    source: str
    line: int


@dataclass
class SourceStats:
    """What reading one file produced: documents yielded, bad records skipped (and where), and why it was ignored."""

    path: str
    docs: int = 0
    skipped: int = 0
    skipped_where: list[str] = field(default_factory=list)
    tail_dropped: int = 0  # unterminated text after the last <|endoftext|> (a byte-range sample ends mid-story)
    ignored: str = ""  # non-empty when a folder member was not a document file (e.g. a JSON metadata object)

    def skip(self, where: str, reason: str) -> None:
        self.skipped += 1
        if len(self.skipped_where) < _MAX_WHERE:
            self.skipped_where.append(f"{where}: {reason}")


# ------------------------------------------------------------------------------------------------ file discovery
def list_source_files(path: Path | str) -> list[Path]:
    """The document files behind `path`: the file itself, or a folder's supported files (recursive, sorted).

    Hidden files and folders are left out, and so are other extensions inside a folder (a SOURCE.md beside the
    data is fine). Example: `list_source_files("/work/shared/data/tinystories-v1-train-sample")`
    """
    path = Path(path)
    if not path.exists():
        raise MissingFileError(path, expected=f"a file ({', '.join(SUPPORTED_EXTENSIONS)}) or a folder of them")
    if path.is_file():
        if path.suffix.lower() not in SUPPORTED_EXTENSIONS:
            raise InputError(str(path), found=f"extension {path.suffix!r}",
                             expected=f"one of {', '.join(SUPPORTED_EXTENSIONS)} (or a folder of such files)")
        return [path]
    files = sorted(
        p for p in path.rglob("*")
        if p.is_file() and p.suffix.lower() in SUPPORTED_EXTENSIONS
        and not any(part.startswith(".") for part in p.relative_to(path).parts)
    )
    if not files:
        raise InputError(str(path), found="a folder with no document files",
                         expected=f"at least one {', '.join(SUPPORTED_EXTENSIONS)} file inside")
    return files


def file_sha256(path: Path | str) -> str:
    """Hex SHA-256 of a file, read in 1 MiB chunks. Example: `file_sha256("a.txt")[:8]`"""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# ------------------------------------------------------------------------------------------------ public entry
def iter_documents(
    path: Path | str,
    text_field: str = "text",
    skip_bad: bool = False,
    *,
    txt_split: str = "auto",
    keep_unterminated: bool = False,
    stats: list[SourceStats] | None = None,
) -> Iterator[Document]:
    """Yield every document under `path` (a file or a folder), in a stable order.

    `stats`, when given, receives one `SourceStats` per file read. `keep_unterminated` keeps the text after the last
    `<|endoftext|>` of a TinyStories file (dropped by default: sampled files end mid-story).
    Example: `sum(1 for _ in iter_documents("stories.jsonl", text_field="text"))`
    """
    if txt_split not in TXT_SPLITS:
        raise InputError("txt_split", found=txt_split, expected=f"one of {', '.join(TXT_SPLITS)}")
    root = Path(path)
    in_folder = root.is_dir()
    for file in list_source_files(root):
        file_stats = SourceStats(path=str(file))
        if stats is not None:
            stats.append(file_stats)
        yield from iter_file_documents(file, text_field, skip_bad, txt_split=txt_split,
                                       keep_unterminated=keep_unterminated, stats=file_stats, in_folder=in_folder)


def iter_file_documents(
    file: Path,
    text_field: str = "text",
    skip_bad: bool = False,
    *,
    txt_split: str = "auto",
    keep_unterminated: bool = False,
    stats: SourceStats | None = None,
    in_folder: bool = False,
) -> Iterator[Document]:
    """Yield the documents of one file (see `iter_documents`). Example: `list(iter_file_documents(Path("a.txt")))`"""
    stats = stats if stats is not None else SourceStats(path=str(file))
    suffix = file.suffix.lower()
    if suffix == ".txt":
        mode = txt_split if txt_split != "auto" else ("endoftext" if _contains_endoftext(file) else "file")
        reader = _read_txt(file, mode, skip_bad, keep_unterminated, stats)
    elif suffix == ".jsonl":
        reader = _read_jsonl(file, text_field, skip_bad, stats)
    elif suffix == ".json":
        reader = _read_json(file, text_field, skip_bad, stats, in_folder)
    elif suffix == ".parquet":
        reader = _read_parquet(file, text_field, skip_bad, stats)
    else:
        raise InputError(str(file), found=f"extension {file.suffix!r}", expected=f"one of {SUPPORTED_EXTENSIONS}")
    for doc in reader:
        stats.docs += 1
        yield doc


# ------------------------------------------------------------------------------------------------ .txt
def _contains_endoftext(file: Path) -> bool:
    marker = ENDOFTEXT.encode()
    tail = b""
    with open(file, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            if marker in tail + chunk:
                return True
            tail = chunk[-len(marker):]
    return False


def _decode_line(raw: bytes, where: str) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(where, found=f"byte 0x{raw[exc.start]:02x} at column {exc.start + 1} that is not UTF-8",
                         expected="UTF-8 text") from None


def _read_txt(file: Path, mode: str, skip_bad: bool, keep_unterminated: bool, stats: SourceStats) -> Iterator[Document]:
    name = file.name
    parts: list[str] = []  # lines of the document being collected
    start = 0  # line where it starts (0 = not started)
    bad = ""  # why the current document must be skipped ("" = fine)

    def flush() -> Document | None:
        nonlocal parts, start, bad
        doc = None
        text = "\n".join(parts)
        if bad:
            stats.skip(f"{file}:{start}", bad)
        elif text.strip():
            doc = Document(text=text, source=name, line=start)
        parts, start, bad = [], 0, ""
        return doc

    lineno = 0
    with open(file, "rb") as f:
        for raw in f:
            lineno += 1
            if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]  # a UTF-8 byte-order mark is not text
            try:
                line = _decode_line(raw, f"{file}:{lineno}").rstrip("\r\n")
            except InputError as err:
                if not skip_bad:
                    raise
                # Keep the line non-blank so the bad document is skipped whole, not split at this line.
                bad, line = _reason(err), "\ufffd"
                start = start or lineno
            if mode == "line":
                parts, start = [line], lineno
                doc = flush()
                if doc:
                    yield doc
            elif mode == "paragraph" and not line.strip():
                doc = flush()
                if doc:
                    yield doc
            elif mode == "endoftext" and ENDOFTEXT in line:
                pieces = line.split(ENDOFTEXT)
                for i, piece in enumerate(pieces):
                    if i > 0:
                        doc = flush()
                        if doc:
                            yield doc
                    if piece.strip():
                        parts.append(piece)
                        start = start or lineno
            else:
                if line.strip() or parts:
                    parts.append(line)
                    start = start or lineno
    if mode == "endoftext" and not keep_unterminated and "\n".join(parts).strip():
        stats.tail_dropped += 1
        return
    doc = flush()
    if doc:
        yield doc


# ------------------------------------------------------------------------------------------------ records
def _reason(err: InputError) -> str:
    """The message of an InputError without its leading location."""
    return str(err)[len(err.where) + 2:]


def _snippet(value: object, limit: int = 60) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=repr)
    return text if len(text) <= limit else text[:limit] + "..."


def _json_type(value: object) -> str:
    names = {bool: "boolean", int: "number", float: "number", type(None): "null", list: "array", dict: "object"}
    return names.get(type(value), type(value).__name__)


def _record_text(record: object, text_field: str, where: str) -> str:
    """The text field of one JSON record, or an InputError saying exactly what is wrong."""
    if not isinstance(record, dict):
        raise InputError(where, found=f"a JSON {_json_type(record)} {_snippet(record)}",
                         expected=f'a JSON object with a "{text_field}" field')
    if text_field not in record:
        keys = ", ".join(sorted(map(str, record))[:8]) or "no keys"
        raise InputError(where, found=f"an object with keys [{keys}]", expected=f'a "{text_field}" field',
                         hint="choose the field with --text-field")
    value = record[text_field]
    if not isinstance(value, str):
        raise InputError(where, found=f"{text_field} = {_snippet(value)} (a JSON {_json_type(value)})",
                         expected="a string")
    return value


def _read_jsonl(file: Path, text_field: str, skip_bad: bool, stats: SourceStats) -> Iterator[Document]:
    with open(file, "rb") as f:
        for lineno, raw in enumerate(f, start=1):
            where = f"{file}:{lineno}"
            try:
                line = _decode_line(raw[3:] if lineno == 1 and raw.startswith(b"\xef\xbb\xbf") else raw, where)
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise InputError(where, found=f"invalid JSON ({exc.msg} at column {exc.colno}): "
                                     f"{_snippet(line.strip())!r}", expected="one JSON object per line") from None
                text = _record_text(record, text_field, where)
            except InputError as err:
                if not skip_bad:
                    raise
                stats.skip(where, _reason(err))
                continue
            yield Document(text=text, source=file.name, line=lineno)


def _read_json(file: Path, text_field: str, skip_bad: bool, stats: SourceStats, in_folder: bool) -> Iterator[Document]:
    raw = file.read_bytes()
    text = _decode_line(raw, str(file)) if not raw.startswith(b"\xef\xbb\xbf") else _decode_line(raw[3:], str(file))
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{file}:{exc.lineno}", found=f"invalid JSON ({exc.msg} at column {exc.colno})",
                         expected="a JSON list of objects") from None
    if not isinstance(data, list):
        if in_folder and isinstance(data, dict):
            # A folder (say a synth output folder) may hold metadata such as meta.json beside the records.
            stats.ignored = "a JSON object (metadata), not a list of records"
            return
        raise InputError(str(file), found=f"a JSON {type(data).__name__}", expected="a JSON list of objects")
    for i, record in enumerate(data, start=1):
        where = f"{file}: record {i}"
        try:
            doc_text = _record_text(record, text_field, where)
        except InputError as err:
            if not skip_bad:
                raise
            stats.skip(where, _reason(err))
            continue
        yield Document(text=doc_text, source=file.name, line=i)


def _read_parquet(file: Path, text_field: str, skip_bad: bool, stats: SourceStats) -> Iterator[Document]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(file)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(str(file), found=f"an unreadable Parquet file ({_snippet(str(exc), 80)})",
                         expected="a Parquet file") from None
    names = parquet.schema_arrow.names
    if text_field not in names:
        raise InputError(str(file), found=f"columns [{', '.join(names[:8])}]", expected=f'a "{text_field}" column',
                         hint="choose the column with --text-field")
    column_type = parquet.schema_arrow.field(text_field).type
    if not (pa.types.is_string(column_type) or pa.types.is_large_string(column_type)):
        raise InputError(f"{file}: column {text_field}", found=f"type {column_type}", expected="a string column")
    row = 0
    for batch in parquet.iter_batches(columns=[text_field], batch_size=4096):
        for value in batch.column(0).to_pylist():
            row += 1
            if value is None:
                where = f"{file}: row {row}"
                if not skip_bad:
                    raise InputError(where, found=f'a null "{text_field}"', expected="a string")
                stats.skip(where, f'a null "{text_field}"')
                continue
            yield Document(text=value, source=file.name, line=row)
