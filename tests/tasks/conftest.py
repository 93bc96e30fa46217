"""A real (tiny, in-process trained) tokenizer for the task tests."""

import pytest

from slmkit.tokenizer import Tokenizer


@pytest.fixture(scope="session")
def tokenizer(encoded_run) -> Tokenizer:
    return Tokenizer.from_file(encoded_run / "tokenizer" / "tokenizer.json")
