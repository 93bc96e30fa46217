"""slmkit.rag: retrieval-augmented generation (`slm rag index`, `slm rag ask`).

chunk (overlapping word windows), documents (.txt/.jsonl readers), embed (slmkit pooled hidden states or a local
sentence-transformers model), index (FAISS on disk, versioned commits), stage (the CLI stages, grounded prompts).
"""
