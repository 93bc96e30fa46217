"""Classification: head shapes, label-token masking, labels, truncation policy."""

import pytest
import torch

from slmkit.common.errors import InputError
from slmkit.model.config import ModelConfig
from slmkit.model.loss import IGNORE_INDEX
from slmkit.model.transformer import Transformer
from slmkit.tasks.classification import ClassificationTask, ClassifyOptions, SequenceClassifier, final_hidden

RECORDS = [
    {"text": "the dog ran to the park", "label": "ham", "where": "f:1"},
    {"text": "win a free prize now", "label": "spam", "where": "f:2"},
    {"text": "the cat sat", "label": "ham", "where": "f:3"},
]


def _lm(tokenizer):
    torch.manual_seed(0)
    return Transformer(ModelConfig(vocab_size=tokenizer.vocab_size, context_length=32, n_layers=2, n_heads=2,
                                   d_model=32))


def test_final_hidden_matches_the_lm_head_input(tokenizer):
    lm = _lm(tokenizer).eval()
    idx = torch.randint(0, tokenizer.vocab_size, (2, 9))
    hidden = final_hidden(lm, idx)  # (B, T, d)
    torch.testing.assert_close(lm.lm_head(hidden), lm(idx).logits)


def test_head_mode_shapes_and_last_non_pad_pooling(tokenizer):
    task = ClassificationTask(ClassifyOptions(), tokenizer, max_len=32)
    examples = task.encode_all(RECORDS, "train")
    assert task.labels == ["ham", "spam"] and [e.label for e in examples] == [0, 1, 0]
    assert examples[0].tokens[0] == tokenizer.eot_id and examples[0].tokens[-1] == tokenizer.eot_id
    model = task.wrap_model(_lm(tokenizer)).eval()
    assert isinstance(model, SequenceClassifier)
    x, y = task.collate(examples, "cpu")
    assert x.shape == (3, max(len(e.tokens) for e in examples)) and y.tolist() == [0, 1, 0]
    out = model(x, y)
    assert out.logits.shape == (3, 2) and out.loss.ndim == 0
    # padding does not change a row's logits: row 2 alone (no padding) == row 2 in the padded batch
    alone, _ = task.collate([examples[2]], "cpu")
    torch.testing.assert_close(model(alone).logits[0], out.logits[2], atol=1e-5, rtol=1e-5)


def test_label_token_mode_trains_only_the_label_position(tokenizer):
    task = ClassificationTask(ClassifyOptions(mode="label_token"), tokenizer, max_len=32)
    examples = task.encode_all(RECORDS, "train")
    assert len(set(task.label_token_ids)) == 2
    x, y = task.collate(examples, "cpu")
    counted = (y != IGNORE_INDEX).sum(dim=1)
    assert counted.tolist() == [1, 1, 1]  # one target per row: the label token
    for row, example in enumerate(examples):
        last = len(example.tokens) - 2
        assert y[row, last].item() == task.label_token_ids[example.label]
    lm = _lm(tokenizer).eval()
    scores = task.class_logits(lm, x)
    assert scores.shape == (3, 2)


def test_unknown_labels_and_overlong_texts(tokenizer):
    task = ClassificationTask(ClassifyOptions(), tokenizer, max_len=8)
    task.encode_all(RECORDS, "train")
    with pytest.raises(InputError, match=r"f:9: field 'label': found 'eggs', expected one of ham, spam"):
        task.encode_all([{"text": "x", "label": "eggs", "where": "f:9"}], "val")
    long = [{"text": "the dog ran to the park and the cat sat on the mat all day", "label": "ham", "where": "f:4"}]
    (kept,) = task.encode_all(long, "val")  # truncate: the start of the text is kept
    assert len(kept.tokens) == 8 and kept.tokens[-1] == tokenizer.eot_id
    strict = ClassificationTask(ClassifyOptions(labels=["ham", "spam"]), tokenizer, max_len=8, overflow="error")
    strict.fix_labels([])
    with pytest.raises(InputError, match=r"f:4: found '\d+ tokens', expected at most 8"):
        strict.encode_all(long, "val")
    dropping = ClassificationTask(ClassifyOptions(labels=["ham", "spam"]), tokenizer, max_len=8, overflow="drop")
    dropping.fix_labels([])
    assert dropping.encode_all(long, "val") == []
    with pytest.raises(InputError, match="at least two classes"):
        ClassificationTask(ClassifyOptions(), tokenizer, 8).encode_all(RECORDS[:1], "train")
