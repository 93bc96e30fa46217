"""The name-recall probe: a model that copies from its context scores 1, one that only knows name frequencies 0.1."""

from __future__ import annotations

from types import SimpleNamespace

import torch
from torch import nn

from slmkit.scale.abilities import NAMES, name_recall_accuracy
from slmkit.tokenizer import Tokenizer


class OracleModel(nn.Module):
    """An induction copier: at each position, +20 for every token that followed an earlier occurrence of the current
    token; or a fixed bonus for the tokens of one favourite name (a model that only knows name frequencies)."""

    def __init__(self, vocab_size: int, favourite: list[int] | None = None):
        super().__init__()
        self.cfg = SimpleNamespace(context_length=256)
        self.vocab_size, self.favourite = vocab_size, favourite
        self.anchor = nn.Parameter(torch.zeros(1))

    @property
    def device(self):
        return self.anchor.device

    def forward(self, ids):
        B, T = ids.shape
        logits = torch.zeros(B, T, self.vocab_size)
        if self.favourite is None:
            for b in range(B):
                row = ids[b].tolist()
                for t in range(T):
                    for s in range(t):
                        if row[s] == row[t]:
                            logits[b, t, row[s + 1]] += 20.0
            return SimpleNamespace(logits=logits)
        logits[:, :, self.favourite] = 20.0
        return SimpleNamespace(logits=logits)


def test_copier_scores_one_and_frequency_model_scores_chance(encoded_run):
    tok = Tokenizer.from_file(encoded_run / "tokenizer" / "tokenizer.json")
    copier = name_recall_accuracy(OracleModel(tok.vocab_size), tok)
    assert copier["probes"] == 30 and copier["accuracy"] == 1.0
    lily = tok.encode(" " + NAMES[0])
    frequent = name_recall_accuracy(OracleModel(tok.vocab_size, favourite=lily), tok)
    assert frequent["accuracy"] == frequent["chance"] == 0.1
