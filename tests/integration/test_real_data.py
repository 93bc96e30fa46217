"""Stage 1 on real TinyStories samples from ../shared/data: prepare -> tokenizer -> encode, then a few training
steps, through the same stage functions the CLI calls."""

from __future__ import annotations

import json

import numpy as np
import pytest

from slmkit.config import build_config
from slmkit.data.encode import EncodeConfig, encode_stage
from slmkit.data.prepare import PrepareConfig, prepare_stage
from slmkit.data.shards import ShardMeta, open_shard
from slmkit.tokenizer import Tokenizer
from slmkit.tokenizer.train import TokenizerTrainConfig, tokenizer_train_stage
from tests.conftest import shared_data


@pytest.mark.slow
def test_tinystories_samples_prepare_tokenize_encode(tmp_path):
    train = shared_data("tinystories-v1-train-sample")
    valid = shared_data("tinystories-v1-valid-sample")
    run = tmp_path / "ts"
    prepare_stage(build_config(PrepareConfig, {"run": str(run), "source": [str(train)], "val_source": [str(valid)]}))
    manifest = json.loads((run / "data" / "manifest.json").read_text())
    assert manifest["counts"]["train"]["docs"] > 2000
    val_docs = (run / "data" / "val.jsonl").read_text().splitlines()
    assert 990 <= len(val_docs) <= 1000  # the 1,000 validation stories (exact duplicates dropped, if any)

    tokenizer_train_stage(build_config(TokenizerTrainConfig, {"run": str(run), "vocab_size": 1024}))
    tok = Tokenizer.from_file(run / "tokenizer" / "tokenizer.json")
    assert tok.vocab_size == 1024
    story = json.loads(val_docs[1])["text"]
    assert tok.decode(tok.encode(story)) == story

    encode_stage(build_config(EncodeConfig, {"run": str(run)}))
    meta = ShardMeta.load(run / "shards")
    assert meta.tokenizer_sha256 == tok.sha256
    val = open_shard(run / "shards", "val")
    assert int(np.sum(val == tok.eot_id)) == len(val_docs)  # one <|endoftext|> after each document
    assert 3.0 < meta.bytes_per_token("val") < 5.0  # TinyStories English with a 1k vocabulary
    first = tok.decode([int(t) for t in val[: 200]]).split("<|endoftext|>")[0]
    assert first == json.loads(val_docs[0])["text"]
