"""Chunking with overlap and the on-disk FAISS index: persistence, replacement, deletion, committed versions."""

from __future__ import annotations

import numpy as np
import pytest

from slmkit.common.errors import ConfigError, MissingFileError
from slmkit.rag.chunk import chunk_text
from slmkit.rag.index import MANIFEST, VectorIndex

SPEC = {"kind": "test"}


def unit(*rows) -> np.ndarray:
    v = np.array(rows, dtype=np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_chunks_overlap_and_cover_every_word():
    text = " ".join(f"w{i}" for i in range(10))
    chunks = chunk_text(text, size=4, overlap=1)
    assert chunks == ["w0 w1 w2 w3", "w3 w4 w5 w6", "w6 w7 w8 w9"]
    assert chunk_text("one two", size=4, overlap=1) == ["one two"]
    assert chunk_text("   ", size=4, overlap=1) == []
    with pytest.raises(ConfigError):
        chunk_text(text, size=4, overlap=4)


def test_index_search_persistence_replacement_and_deletion(tmp_path):
    folder = tmp_path / "idx"
    index = VectorIndex.create(folder, dim=3, embedder_spec=SPEC)
    index.upsert("a", ["alpha one", "alpha two"], unit([1, 0, 0], [0.9, 0.1, 0]))
    index.upsert("b", ["beta"], unit([0, 1, 0]))
    index.upsert("c", ["gamma"], unit([0, 0, 1]))
    index.save()

    reopened = VectorIndex.open(folder)
    assert reopened.documents() == ["a", "b", "c"] and reopened.embedder_spec == SPEC
    hits = reopened.search(unit([1, 0.05, 0]), k=2)[0]
    assert [h.chunk.text for h in hits] == ["alpha one", "alpha two"]
    assert hits[0].score == pytest.approx(float(unit([1, 0.05, 0])[0] @ unit([1, 0, 0])[0]), abs=1e-6)
    assert hits[0].score >= hits[1].score

    # replace "a" with one chunk pointing elsewhere; delete "b"; both survive a save/open round trip
    reopened.upsert("a", ["alpha new"], unit([0, 0.2, 1]))
    assert reopened.delete("b") == 1 and reopened.delete("missing") == 0
    reopened.save()
    final = VectorIndex.open(folder)
    assert final.documents() == ["c", "a"] and len(final.chunks) == 2 and final.faiss.ntotal == 2
    best = final.search(unit([0, 1, 0]), k=5)[0]
    assert {h.chunk.doc for h in best} == {"a", "c"}  # "b" is gone
    assert best[0].chunk.text == "alpha new"
    assert len({c.id for c in final.chunks.values()}) == 2 and min(c.id for c in final.chunks.values()) >= 3


def test_only_the_committed_version_is_on_disk(tmp_path):
    folder = tmp_path / "idx"
    index = VectorIndex.create(folder, dim=2, embedder_spec=SPEC)
    index.upsert("a", ["x"], unit([1, 0]))
    index.save()
    index.upsert("b", ["y"], unit([0, 1]))
    index.save()
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["chunks-2.jsonl", "index-2.faiss", MANIFEST]
    # an interrupted save (new files written, manifest not yet replaced) leaves the committed version readable
    (folder / "index-3.faiss").write_bytes(b"partial")
    assert VectorIndex.open(folder).documents() == ["a", "b"]


def test_open_errors_are_one_line(tmp_path):
    with pytest.raises(MissingFileError):
        VectorIndex.open(tmp_path / "nothing")
    index = VectorIndex.create(tmp_path / "idx", dim=2, embedder_spec=SPEC)
    with pytest.raises(ConfigError):
        index.upsert("a", ["x", "y"], unit([1, 0]))
