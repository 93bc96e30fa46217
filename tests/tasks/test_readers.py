"""Reading fine-tuning data files: formats, headers, missing fields, splits."""

import json

import pytest

from slmkit.common.errors import InputError, MissingFileError
from slmkit.tasks.readers import read_records, split_records


def test_headerless_tab_file_like_sms_spam(tmp_path):
    path = tmp_path / "SMSSpamCollection"
    path.write_text('ham\tGo until "jurong" point\nspam\tFree entry\n', encoding="utf-8")
    records = read_records(path, ["text", "label"], columns=["label", "text"])
    assert [(r["label"], r["text"]) for r in records] == [("ham", 'Go until "jurong" point'), ("spam", "Free entry")]
    assert records[1]["where"].endswith("SMSSpamCollection:2")


def test_csv_with_header_jsonl_and_json(tmp_path):
    (tmp_path / "a.csv").write_text("text,label\n\"hi, there\",pos\n", encoding="utf-8")
    assert read_records(tmp_path / "a.csv", ["text", "label"])[0]["text"] == "hi, there"
    (tmp_path / "a.jsonl").write_text(json.dumps({"text": "x", "label": "y"}) + "\n", encoding="utf-8")
    assert read_records(tmp_path / "a.jsonl", ["text", "label"])[0]["label"] == "y"
    (tmp_path / "a.json").write_text(json.dumps([{"dialogue": "d", "summary": "s"}]), encoding="utf-8")
    assert read_records(tmp_path / "a.json", [])[0]["summary"] == "s"


def test_missing_columns_and_fields_name_the_file_and_field(tmp_path):
    (tmp_path / "a.jsonl").write_text(json.dumps({"text": "x"}) + "\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"a.jsonl:1: field 'label': found 'no such field'"):
        read_records(tmp_path / "a.jsonl", ["text", "label"])
    (tmp_path / "b.csv").write_text("sentence,label\nhello,pos\n", encoding="utf-8")
    with pytest.raises(InputError, match="b.csv"):
        read_records(tmp_path / "b.csv", ["text", "label"])
    (tmp_path / "c.tsv").write_text("ham\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"c.tsv:1: found '1 field\(s\)'"):
        read_records(tmp_path / "c.tsv", ["text", "label"], columns=["label", "text"])
    with pytest.raises(MissingFileError):
        read_records(tmp_path / "nope.jsonl", ["text"])


def test_split_is_seeded_and_disjoint():
    records = [{"text": str(i), "where": str(i)} for i in range(100)]
    train, val, test = split_records(records, 0.1, 0.1, seed=123)
    assert (len(train), len(val), len(test)) == (80, 10, 10)
    assert {r["text"] for r in train + val + test} == {str(i) for i in range(100)}
    assert split_records(records, 0.1, 0.1, seed=123)[1] == val
    assert split_records(records, 0.1, 0.1, seed=124)[1] != val
    assert [len(p) for p in split_records(records, 5, 20, seed=0)] == [75, 5, 20]  # counts
    with pytest.raises(InputError, match="val_size"):
        split_records(records, 60, 40, seed=0)


def test_nested_fields_of_synthetic_stories(tmp_path):
    from slmkit.data.synth import generate_stories

    story = next(iter(generate_stories(1, seed=3)))
    path = tmp_path / "stories.jsonl"
    path.write_text(json.dumps(story.to_record()) + "\n", encoding="utf-8")
    (record,) = read_records(path, ["text", "label.ending"])
    assert record["label.ending"] == story.label["ending"]
