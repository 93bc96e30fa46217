"""An on-disk vector index: FAISS inner-product search over unit vectors, plus the chunk texts, by document.

Why FAISS: exact inner-product search (`IndexFlatIP`) is the reference a learner can trust, and `IndexIDMap2` gives
every chunk a stable 64-bit id so documents can be deleted or replaced without rebuilding; the same code scales to
approximate indexes (IVF, HNSW) by changing one factory line.

On disk (one folder):
    manifest.json          the commit point: embedder spec, dim, version, next chunk id
    index-<version>.faiss  the FAISS index of that version
    chunks-<version>.jsonl one {"id", "doc", "text"} per chunk
`save` writes the versioned files first, then renames a new manifest into place, then removes older versions: a
crash at any moment leaves the previous or the new index, never a mix.

Example:
    index = VectorIndex.create("idx", dim=384, embedder_spec={"kind": "sentence-transformers", "path": "minilm"})
    index.upsert("story-1", ["Lily found a ball."], vectors); index.save()
    VectorIndex.open("idx").search(query_vectors, k=3)  # [[Hit(chunk, score), ...]]
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from slmkit.common.atomic import atomic_path, atomic_write_json, atomic_write_text
from slmkit.common.errors import ConfigError, InputError, MissingFileError

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class Chunk:
    id: int
    doc: str
    text: str


@dataclass(frozen=True)
class Hit:
    chunk: Chunk
    score: float  # cosine similarity (vectors are unit length)


class VectorIndex:
    """Chunks of documents and their vectors; add/replace (`upsert`), `delete`, `search`, `save`/`open`."""

    def __init__(self, folder: Path, dim: int, embedder_spec: dict, faiss_index=None, chunks=None, version=0,
                 next_id=0):
        import faiss

        self.folder, self.dim, self.embedder_spec = Path(folder), dim, embedder_spec
        self.faiss = faiss_index if faiss_index is not None else faiss.IndexIDMap2(faiss.IndexFlatIP(dim))
        self.chunks: dict[int, Chunk] = chunks or {}
        self.version, self.next_id = version, next_id

    # ------------------------------------------------------------------------------------------ lifecycle
    @classmethod
    def create(cls, folder: Path | str, dim: int, embedder_spec: dict) -> VectorIndex:
        """A new, empty index (nothing written until `save`)."""
        return cls(Path(folder), dim, embedder_spec)

    @classmethod
    def open(cls, folder: Path | str) -> VectorIndex:
        """Load the committed version of an index folder."""
        import faiss

        folder = Path(folder)
        manifest_path = folder / MANIFEST
        if not manifest_path.is_file():
            raise MissingFileError(manifest_path, expected="a vector index (build one with `slm rag index`)")
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
            version = int(manifest["version"])
            chunks = {}
            for line in (folder / f"chunks-{version}.jsonl").read_text(encoding="utf-8").splitlines():
                row = json.loads(line)
                chunks[int(row["id"])] = Chunk(int(row["id"]), row["doc"], row["text"])
            faiss_index = faiss.read_index(str(folder / f"index-{version}.faiss"))
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            found = f"an unreadable index ({type(exc).__name__})"
            raise InputError(str(folder), found, "a slmkit vector index") from None
        if faiss_index.ntotal != len(chunks):
            raise InputError(str(folder), f"{faiss_index.ntotal} vectors for {len(chunks)} chunks", "one per chunk")
        return cls(folder, int(manifest["dim"]), manifest["embedder"], faiss_index, chunks, version,
                   int(manifest["next_id"]))

    def save(self) -> None:
        """Commit the current state as a new version (see module docstring)."""
        import faiss

        self.folder.mkdir(parents=True, exist_ok=True)
        version = self.version + 1
        with atomic_path(self.folder / f"index-{version}.faiss") as tmp:
            faiss.write_index(self.faiss, str(tmp))
        rows = [json.dumps({"id": c.id, "doc": c.doc, "text": c.text}) + "\n" for c in self.chunks.values()]
        atomic_write_text(self.folder / f"chunks-{version}.jsonl", "".join(rows))
        atomic_write_json(self.folder / MANIFEST, {
            "format": "slmkit-vector-index/1", "version": version, "dim": self.dim, "embedder": self.embedder_spec,
            "next_id": self.next_id, "chunks": len(self.chunks), "documents": len(self.documents()),
        })
        self.version = version
        for old in [*self.folder.glob("index-*.faiss"), *self.folder.glob("chunks-*.jsonl")]:
            if old.stem.split("-")[-1] != str(version):
                old.unlink(missing_ok=True)

    # ------------------------------------------------------------------------------------------ edits
    def documents(self) -> list[str]:
        """Document ids, in insertion order. Example: `index.documents()  # ['story-1', 'story-2']`"""
        return list(dict.fromkeys(c.doc for c in self.chunks.values()))

    def upsert(self, doc: str, texts: list[str], vectors: np.ndarray) -> list[int]:
        """Add a document's chunks, replacing any it had before; returns the new chunk ids."""
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape != (len(texts), self.dim):
            raise ConfigError("vectors", f"shape {vectors.shape}", f"({len(texts)}, {self.dim}), the index's dimension")
        self.delete(doc)
        ids = np.arange(self.next_id, self.next_id + len(texts), dtype=np.int64)
        self.next_id += len(texts)
        if len(texts):
            self.faiss.add_with_ids(vectors, ids)
        for chunk_id, text in zip(ids.tolist(), texts):
            self.chunks[chunk_id] = Chunk(chunk_id, doc, text)
        return ids.tolist()

    def delete(self, doc: str) -> int:
        """Remove every chunk of `doc`; returns how many were removed (0 if it was not there)."""
        ids = [c.id for c in self.chunks.values() if c.doc == doc]
        if ids:
            self.faiss.remove_ids(np.array(ids, dtype=np.int64))
            for chunk_id in ids:
                del self.chunks[chunk_id]
        return len(ids)

    # ------------------------------------------------------------------------------------------ search
    def search(self, queries: np.ndarray, k: int = 5) -> list[list[Hit]]:
        """The k chunks most similar to each query vector (n, dim), best first."""
        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.dim)
        if not self.chunks:
            return [[] for _ in range(len(queries))]
        scores, ids = self.faiss.search(queries, min(k, len(self.chunks)))
        return [
            [Hit(self.chunks[int(i)], float(s)) for s, i in zip(row_scores, row_ids) if i >= 0]
            for row_scores, row_ids in zip(scores, ids)
        ]
