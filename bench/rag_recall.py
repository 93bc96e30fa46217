"""Retrieval quality of the RAG embedders: recall@k of "question about a story -> that story", in one run.

The corpus is `--stories` synthetic stories (`slmkit.data.synth`, a fixed seed), chunked as `slm rag index` does
(80 words, 20 overlapping) into one FAISS index per embedder. Each story gets one question built from its
annotations: "Who is the friend of <hero> in the story where <summary>?". The "masked" variant replaces the hero
and friend names by their kinds ("a boy", "an owl"), so that matching names is not enough. A question scores a hit
at k when its story is among the k distinct stories of the best chunks.

Usage:
    OMP_NUM_THREADS=1 python bench/rag_recall.py --embedders minilm runs/ts-tiny runs/ts-small --stories 200
"""

from __future__ import annotations

import argparse
import re
import time

from slmkit.data.synth import generate_stories
from slmkit.rag.chunk import chunk_text
from slmkit.rag.embed import load_embedder
from slmkit.rag.index import VectorIndex

KS = (1, 5, 10)


def questions(story, masked: bool) -> str:
    chars = story.characters
    summary = story.summary.rstrip(".")
    hero = chars["hero"]
    if masked:
        for role in ("hero", "friend"):
            kind = chars[f"{role}_kind"]
            article = "an" if kind[0] in "aeiou" else "a"
            summary = re.sub(rf"\b{re.escape(chars[role])}'s\b", f"the {kind}'s", summary)
            summary = re.sub(rf"\b{re.escape(chars[role])}\b", f"{article} {kind}", summary)
        hero = f"the {chars['hero_kind']}"
    if summary.split()[0] not in (chars["hero"], chars["friend"], f"{chars['hero']}'s", f"{chars['friend']}'s"):
        summary = summary[0].lower() + summary[1:]  # "When Hugo..." -> "when Hugo...", names keep their capital
    return f"Who is the friend of {hero} in the story where {summary}?"


def recall(index: VectorIndex, embedder, queries: list[str], answers: list[str]) -> dict[int, float]:
    hits = {k: 0 for k in KS}
    results = index.search(embedder.embed(queries), k=max(KS) * 6)  # chunks; several may share a story
    for answer, result in zip(answers, results):
        ranked = list(dict.fromkeys(h.chunk.doc for h in result))
        for k in KS:
            hits[k] += answer in ranked[:k]
    return {k: hits[k] / len(queries) for k in KS}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embedders", nargs="+", default=["minilm"])
    parser.add_argument("--stories", type=int, default=200)
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()

    stories = list(generate_stories(args.stories, seed=args.seed))
    docs = [(f"story-{i}", s.text) for i, s in enumerate(stories)]
    chunks = [(doc, chunk) for doc, text in docs for chunk in chunk_text(text, 80, 20)]
    answers = [doc for doc, _ in docs]
    variants = {v: [questions(s, v == "masked") for s in stories] for v in ("names", "masked")}
    print(f"{len(stories)} stories, {len(chunks)} chunks (80 words, overlap 20); e.g.\n  {variants['names'][0]}\n"
          f"  {variants['masked'][0]}\n")
    header = f"{'embedder':<34}{'pooling':<9}" + "".join(f"{f'{v} R@{k}':>13}" for v in variants for k in KS)
    print(header + f"{'chunks/s':>10}")
    for spec in args.embedders:
        for pooling in (("mean", "last") if spec != "minilm" and not spec.startswith("st:") else ("-",)):
            embedder = load_embedder(spec, pooling if pooling != "-" else "mean")
            start = time.perf_counter()
            vectors = embedder.embed([c for _, c in chunks])
            rate = len(chunks) / (time.perf_counter() - start)
            index = VectorIndex.create("unused", embedder.dim, embedder.spec)
            for doc, _ in docs:
                rows = [i for i, (d, _) in enumerate(chunks) if d == doc]
                index.upsert(doc, [chunks[i][1] for i in rows], vectors[rows])
            cells = "".join(f"{recall(index, embedder, variants[v], answers)[k]:>13.3f}" for v in variants for k in KS)
            print(f"{spec:<34}{pooling:<9}{cells}{rate:>10.0f}")


if __name__ == "__main__":
    main()
