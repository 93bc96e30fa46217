"""`slm rag index` (embed documents into an on-disk vector index) and `slm rag ask` (retrieve, then answer).

Example:
    slm rag index --index runs/x/rag --docs stories.jsonl --embedder minilm
    slm rag index --index runs/x/rag --delete story-12            # drop a document
    slm rag ask --index runs/x/rag --question "Who lost a red ball?" --ckpt runs/instruct --chat
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from slmkit.common.errors import ConfigError
from slmkit.config import check, opt
from slmkit.infer.engine import generate
from slmkit.infer.load import load_checkpoint
from slmkit.infer.sampling import SamplingParams
from slmkit.infer.text import chat_prompt_ids, chat_stop_ids, text_prompt_ids
from slmkit.rag.chunk import chunk_text
from slmkit.rag.documents import read_documents
from slmkit.rag.embed import embedder_from_spec, load_embedder
from slmkit.rag.index import MANIFEST, Hit, VectorIndex


@dataclass
class RagIndexConfig:
    index: str = opt(None, "index folder (created if missing)")
    docs: list[str] = opt(factory=list, help=".txt / .jsonl files or folders to add (a document already in the "
                                             "index is replaced)")
    delete: list[str] = opt(factory=list, help="document ids to remove")
    embedder: str | None = opt(None, "'minilm', 'st:<folder>' or an slmkit checkpoint; default: the index's own "
                                     "(minilm for a new index)")
    pooling: str = opt("mean", "slmkit embedder: 'mean' or 'last' token hidden state")
    chunk_words: int = opt(80, "words per chunk")
    chunk_overlap: int = opt(20, "words shared by consecutive chunks")
    device: str = opt("cpu", "cpu or cuda")

    def __post_init__(self):
        check(self.index is not None, "index", self.index, "a folder (--index DIR)")
        check(bool(self.docs or self.delete), "docs", self.docs, "documents to add (--docs) or ids to --delete")
        check(self.pooling in ("mean", "last"), "pooling", self.pooling, "'mean' or 'last'")


def index_stage(cfg: RagIndexConfig) -> dict[str, Any]:
    """Add, replace and delete documents, then commit the index."""
    folder = Path(cfg.index)
    if (folder / MANIFEST).is_file():
        index = VectorIndex.open(folder)
        embedder = embedder_from_spec(index.embedder_spec, cfg.device)
        if cfg.embedder is not None and load_spec(cfg) != index.embedder_spec:
            raise ConfigError("embedder", cfg.embedder, f"the index's embedder {index.embedder_spec}")
    else:
        embedder = load_embedder(cfg.embedder or "minilm", cfg.pooling, cfg.device)
        index = VectorIndex.create(folder, embedder.dim, embedder.spec)
    deleted = sum(index.delete(doc) for doc in cfg.delete)
    docs = read_documents(cfg.docs) if cfg.docs else []
    added = 0
    for doc_id, text in docs:
        chunks = chunk_text(text, cfg.chunk_words, cfg.chunk_overlap)
        index.upsert(doc_id, chunks, embedder.embed(chunks))
        added += len(chunks)
    index.save()
    summary = {"documents": len(index.documents()), "chunks": len(index.chunks), "added_chunks": added,
               "deleted_chunks": deleted, "version": index.version}
    print(f"rag index: {folder}: {summary['documents']} documents, {summary['chunks']} chunks "
          f"(+{added}, -{deleted}), version {index.version}")
    return summary


def load_spec(cfg: RagIndexConfig) -> dict:
    """The manifest spec the configured embedder would have (without loading a sentence-transformers model)."""
    if cfg.embedder == "minilm":
        return {"kind": "sentence-transformers", "path": "minilm"}
    if cfg.embedder.startswith("st:"):
        return {"kind": "sentence-transformers", "path": cfg.embedder[3:]}
    return {"kind": "slmkit", "ckpt": str(cfg.embedder), "pooling": cfg.pooling}


@dataclass
class RagAskConfig:
    index: str = opt(None, "index folder built by `slm rag index`")
    question: str = opt(None, "the question")
    k: int = opt(3, "chunks retrieved")
    ckpt: str | None = opt(None, "checkpoint that writes the answer (none: only list the retrieved chunks)")
    chat: bool = opt(False, "prompt with the chat template (an instruction-tuned checkpoint)")
    max_tokens: int = opt(80, "new tokens in the answer at most")
    device: str = opt("cpu", "cpu or cuda")

    def __post_init__(self):
        check(self.index is not None, "index", self.index, "a folder (--index DIR)")
        check(bool(self.question), "question", self.question, "a question (--question TEXT)")
        check(self.k >= 1, "k", self.k, ">= 1")


def retrieve(index: VectorIndex, embedder, question: str, k: int) -> list[Hit]:
    """The k best chunks for a question. Example: `retrieve(index, embedder, "Who lost the ball?", 3)`"""
    return index.search(embedder.embed([question]), k)[0]


def grounded_prompt(question: str, hits: list[Hit], max_words: int | None = None) -> str:
    """The passages numbered [1]..[n], then the question and an instruction to cite them.

    Example: `grounded_prompt("Who found the ball?", hits)`
    """
    passages = []
    for number, hit in enumerate(hits, start=1):
        passages.append(f"[{number}] {hit.chunk.text}")
    text = "\n".join(passages)
    if max_words is not None:
        text = " ".join(text.split(" ")[:max_words])
    return (f"Answer the question using only the passages below, and cite them like [1].\n\n{text}\n\n"
            f"Question: {question}\nAnswer:")


def ask_stage(cfg: RagAskConfig, out=None) -> dict[str, Any]:
    """Retrieve the k best chunks, answer from them (with --ckpt), print the answer and its sources."""
    out = out or sys.stdout
    index = VectorIndex.open(cfg.index)
    hits = retrieve(index, embedder_from_spec(index.embedder_spec, cfg.device), cfg.question, cfg.k)
    answer = None
    if cfg.ckpt:
        loaded = load_checkpoint(cfg.ckpt, cfg.device, stage="instruct" if cfg.chat else "base")
        tok, model = loaded.tokenizer, loaded.model
        room = model.cfg.context_length - cfg.max_tokens
        max_words = None
        while True:  # shorten the passages until the prompt leaves room for the answer
            prompt = grounded_prompt(cfg.question, hits, max_words)
            messages = [{"role": "user", "content": prompt}]
            ids = chat_prompt_ids(tok, messages) if cfg.chat else text_prompt_ids(tok, prompt)
            words = sum(len(h.chunk.text.split(" ")) for h in hits) if max_words is None else max_words
            if len(ids) <= room or words == 0:
                break
            max_words = int(words * 0.85)
        stop = set(chat_stop_ids(tok)) if cfg.chat else {tok.eot_id}
        new = generate(model, [ids[-room:]], cfg.max_tokens, SamplingParams(temperature=0),
                       stop_ids=stop)[0]
        answer = tok.decode(new).split("\nQuestion:")[0].strip()
        out.write(f"Answer: {answer}\n\n")
    out.write("Sources:\n")
    for number, hit in enumerate(hits, start=1):
        snippet = hit.chunk.text if len(hit.chunk.text) <= 160 else hit.chunk.text[:157] + "..."
        out.write(f"[{number}] {hit.chunk.doc} (score {hit.score:.3f}): {snippet}\n")
    sources = [{"n": n, "doc": h.chunk.doc, "chunk": h.chunk.id, "score": h.score, "text": h.chunk.text}
               for n, h in enumerate(hits, start=1)]
    return {"answer": answer, "sources": sources}
