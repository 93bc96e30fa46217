"""Loaders: every supported format, folder discovery, and every malformed-input path."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from slmkit.common.errors import InputError, MissingFileError
from slmkit.data.sources import SourceStats, iter_documents, list_source_files
from tests.conftest import shared_data


def texts(path, **kwargs) -> list[str]:
    return [d.text for d in iter_documents(path, **kwargs)]


# ------------------------------------------------------------------------------------------------ .txt
def test_tinystories_txt_splits_on_endoftext_lines_and_drops_unterminated_tail(tmp_path):
    f = tmp_path / "ts.txt"
    f.write_text("One day Lily ran.\nShe smiled.\n<|endoftext|>\n\nTom sat.\n<|endoftext|>\nHalf a sto", "utf-8")
    stats: list[SourceStats] = []
    docs = list(iter_documents(f, stats=stats))
    assert [d.text for d in docs] == ["One day Lily ran.\nShe smiled.", "Tom sat."]
    assert [d.line for d in docs] == [1, 5]
    assert docs[0].source == "ts.txt"
    assert stats[0].docs == 2 and stats[0].tail_dropped == 1
    assert texts(f, keep_unterminated=True)[-1] == "Half a sto"


def test_endoftext_inline_and_trailing_separator(tmp_path):
    f = tmp_path / "inline.txt"
    f.write_text("first story<|endoftext|>second story\n<|endoftext|>\n", "utf-8")
    stats: list[SourceStats] = []
    assert [d.text for d in iter_documents(f, stats=stats)] == ["first story", "second story"]
    assert stats[0].tail_dropped == 0


def test_plain_txt_is_one_document_unless_told_otherwise(tmp_path):
    f = tmp_path / "plain.txt"
    f.write_text("\ufeffpara one\nstill one\n\n\npara two\r\nline b\n", "utf-8")
    assert texts(f) == ["para one\nstill one\n\n\npara two\nline b"]  # BOM gone, CRLF line split
    assert texts(f, txt_split="paragraph") == ["para one\nstill one", "para two\nline b"]
    assert texts(f, txt_split="line") == ["para one", "still one", "para two", "line b"]
    assert [d.line for d in iter_documents(f, txt_split="paragraph")] == [1, 5]


def test_txt_with_invalid_utf8_names_file_and_line(tmp_path):
    f = tmp_path / "bad.txt"
    f.write_bytes(b"good story\n<|endoftext|>\nbad \xff byte\nmore\n<|endoftext|>\nlast one\n<|endoftext|>\n")
    with pytest.raises(InputError, match=r"bad\.txt:3: found .byte 0xff at column 5.*expected UTF-8"):
        texts(f)
    stats: list[SourceStats] = []
    assert texts(f, skip_bad=True, stats=stats) == ["good story", "last one"]  # the whole bad story is skipped
    assert stats[0].skipped == 1 and stats[0].skipped_where[0].startswith(f"{f}:3")


# ------------------------------------------------------------------------------------------------ .jsonl
def test_jsonl_reads_the_named_field_and_skips_blank_lines(tmp_path):
    f = tmp_path / "d.jsonl"
    f.write_text('{"text": "a", "x": 1}\n\n{"text": "b"}\n', "utf-8")
    docs = list(iter_documents(f))
    assert [(d.text, d.line) for d in docs] == [("a", 1), ("b", 3)]
    g = tmp_path / "story.jsonl"
    g.write_text('{"story": "s1"}\n', "utf-8")
    assert texts(g, text_field="story") == ["s1"]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{bad json", r"bad\.jsonl:2: found .invalid JSON \(.*column.*expected one JSON object per line"),
        ('{"txt": "x"}', r'bad\.jsonl:2: found .an object with keys \[txt\]., expected a "text" field'),
        ('{"text": 5}', r"bad\.jsonl:2: found 'text = 5 \(a JSON number\)', expected a string"),
        ('{"text": null}', r"bad\.jsonl:2: found 'text = null \(a JSON null\)', expected a string"),
        ('["text"]', r'bad\.jsonl:2: found .a JSON array \["text"\]., expected a JSON object'),
    ],
)
def test_jsonl_bad_records_raise_with_file_and_line(tmp_path, line, message):
    f = tmp_path / "bad.jsonl"
    f.write_text('{"text": "ok"}\n' + line + '\n{"text": "after"}\n', "utf-8")
    with pytest.raises(InputError, match=message):
        texts(f)
    stats: list[SourceStats] = []
    assert texts(f, skip_bad=True, stats=stats) == ["ok", "after"]
    assert stats[0].skipped == 1 and stats[0].skipped_where[0].startswith(f"{f}:2: ")


def test_jsonl_invalid_utf8(tmp_path):
    f = tmp_path / "u.jsonl"
    f.write_bytes(b'{"text": "ok"}\n{"text": "\xc3("}\n')
    with pytest.raises(InputError, match=r"u\.jsonl:2: found .byte 0xc3"):
        texts(f)


# ------------------------------------------------------------------------------------------------ .json, .parquet
def test_json_list_of_objects(tmp_path):
    f = tmp_path / "d.json"
    f.write_text(json.dumps([{"text": "one"}, {"text": "two"}]), "utf-8")
    assert [(d.text, d.line) for d in iter_documents(f)] == [("one", 1), ("two", 2)]


def test_json_errors(tmp_path):
    f = tmp_path / "d.json"
    f.write_text('[{"text": "one"},\n {"text": 2}]', "utf-8")
    with pytest.raises(InputError, match=r"d\.json: record 2: found 'text = 2 \(a JSON number\)', expected a string"):
        texts(f)
    assert texts(f, skip_bad=True) == ["one"]
    f.write_text('[{"text": "one"},\n {"text": ]', "utf-8")
    with pytest.raises(InputError, match=r"d\.json:2: found .invalid JSON"):
        texts(f)
    f.write_text('{"text": "not a list"}', "utf-8")
    with pytest.raises(InputError, match=r"d\.json: found .a JSON dict., expected a JSON list of objects"):
        texts(f)


def test_parquet_column_and_errors(tmp_path):
    f = tmp_path / "d.parquet"
    pq.write_table(pa.table({"text": ["p1", None, "p3"], "n": [1, 2, 3]}), f)
    with pytest.raises(InputError, match=r"d\.parquet: row 2: found .a null \"text\""):
        texts(f)
    assert [(d.text, d.line) for d in iter_documents(f, skip_bad=True)] == [("p1", 1), ("p3", 3)]
    with pytest.raises(InputError, match=r'found .columns \[text, n\]., expected a "body" column'):
        texts(f, text_field="body")
    with pytest.raises(InputError, match=r"column n: found .type int64., expected a string column"):
        texts(f, text_field="n")
    broken = tmp_path / "broken.parquet"
    broken.write_bytes(b"not parquet at all")
    with pytest.raises(InputError, match=r"broken\.parquet: found .an unreadable Parquet file"):
        texts(broken)


# ------------------------------------------------------------------------------------------------ paths
def test_folder_is_read_recursively_in_sorted_order(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "z.txt").write_text("zz", "utf-8")
    (tmp_path / "a.jsonl").write_text('{"text": "aa"}\n', "utf-8")
    (tmp_path / "SOURCE.md").write_text("# not data", "utf-8")
    (tmp_path / ".hidden.txt").write_text("hidden", "utf-8")
    (tmp_path / "meta.json").write_text('{"n": 1}', "utf-8")  # metadata object beside records: ignored
    stats: list[SourceStats] = []
    assert texts(tmp_path, stats=stats) == ["aa", "zz"]
    assert [Path(s.path).name for s in stats] == ["a.jsonl", "z.txt", "meta.json"]  # b/z.txt < meta.json
    assert stats[2].ignored and not stats[0].ignored


def test_missing_path_unknown_extension_and_empty_folder(tmp_path):
    with pytest.raises(MissingFileError, match=r"nope\.txt: not found"):
        list_source_files(tmp_path / "nope.txt")
    md = tmp_path / "notes.md"
    md.write_text("x", "utf-8")
    with pytest.raises(InputError, match=r"notes\.md: found .extension '.md'"):
        texts(md)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="a folder with no document files"):
        texts(empty)


# ------------------------------------------------------------------------------------------------ real data
def test_real_tinystories_samples():
    train = shared_data("tinystories-v1-train-sample")
    stats: list[SourceStats] = []
    docs = list(iter_documents(train, stats=stats))
    assert len(docs) == 2316 and stats[0].tail_dropped == 1  # SOURCE.md: 2,316 complete stories + 1 truncated
    assert docs[0].text.startswith("One day, a little girl named Lily found a needle in her room.")
    valid = list(iter_documents(shared_data("tinystories-v1-valid-sample")))
    assert len(valid) == 1000 and valid[0].text.startswith("Spot. Spot saw the shiny car")
    assert "\n\n" in valid[0].text  # paragraphs inside a story survive
    v2 = list(iter_documents(shared_data("tinystories-v2-gpt4-train-sample")))
    assert len(v2) == 1727 and v2[0].text.lstrip().startswith("Once upon a time there was a little boy named Ben.")
