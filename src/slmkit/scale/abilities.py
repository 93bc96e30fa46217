"""A task-level ability tracked across model sizes: recalling which character a story is about.

Each probe names a character twice and then reaches a point where the name comes again ("... One day,"); the
model is scored right when, among ten common story names, the one in the prompt is the likeliest continuation
(summed log-probability of the name's tokens). Chance is 1/10; a model that only learned which names are frequent
stays there; a model that reads the name back from its context (attention to the earlier mentions) climbs towards 1.

Example:
    name_recall_accuracy(model, tokenizer)  # {"accuracy": 0.83, "chance": 0.1, "probes": 30}
"""

from __future__ import annotations

import torch

NAMES = ["Lily", "Tom", "Ben", "Sue", "Max", "Mia", "Anna", "Sam", "Tim", "Lucy"]
PROBES = [
    "Once upon a time, there was a little dog named {n}. Every day, {n} ran in the park. One day,",
    "There was a girl called {n} who loved red apples. One morning, {n} went to the shop with mom. At the shop,",
    "In a small town lived a cat. Her name was {n}. The birds liked {n} very much. Every morning, the birds liked",
]


@torch.no_grad()
def _candidate_scores(model, prompt: list[int], candidates: list[list[int]]) -> torch.Tensor:
    """Summed log-probability (n_candidates,) of each candidate continuation of `prompt`, in one batch."""
    rows = [prompt + c for c in candidates]
    width = max(len(r) for r in rows)
    ids = torch.zeros(len(rows), width, dtype=torch.long, device=model.device)  # (n, T) right-padded
    for i, row in enumerate(rows):
        ids[i, : len(row)] = torch.tensor(row)
    logprobs = torch.log_softmax(model(ids).logits.float(), dim=-1)  # (n, T, V)
    scores = torch.zeros(len(rows))
    for i, cand in enumerate(candidates):
        positions = torch.arange(len(prompt) - 1, len(prompt) - 1 + len(cand))  # each predicts the next token
        scores[i] = logprobs[i, positions, torch.tensor(cand)].sum()
    return scores


def name_recall_accuracy(model, tokenizer) -> dict[str, float]:
    """Share of the 30 probes where the prompt's name is the likeliest of the ten names."""
    was_training = model.training
    model.eval()
    names = [tokenizer.encode(" " + name) for name in NAMES]
    correct = total = 0
    try:
        for probe in PROBES:
            for i, name in enumerate(NAMES):
                prompt = [tokenizer.eot_id, *tokenizer.encode(probe.format(n=name))]
                prompt = prompt[-(model.cfg.context_length - max(map(len, names))) :]
                correct += int(_candidate_scores(model, prompt, names).argmax()) == i
                total += 1
    finally:
        model.train(was_training)
    return {"accuracy": correct / total, "chance": 1 / len(NAMES), "probes": total}
