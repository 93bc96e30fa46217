"""`slm tokenizer train`: learn a byte-level BPE from the run's training split (or given .txt/.jsonl files).

Byte-level (GPT-2 style, no prefix space, no normalizer), so every string is representable and decoding is
lossless. Special tokens take ids 0..5 (see `special.py`), then the 256 bytes, then merges in the order learned.

Example:
    tokenizer_train_stage(TokenizerTrainConfig(run="runs/quickstart", vocab_size=4096))
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tokenizers import Tokenizer as HFTokenizer
from tokenizers import decoders, models, pre_tokenizers, trainers

from slmkit.common.errors import InputError, MissingFileError
from slmkit.common.log import eprint, print0
from slmkit.common.runs import RunDir
from slmkit.config import check, opt, to_dict
from slmkit.tokenizer.bpe import Tokenizer
from slmkit.tokenizer.corpus import iter_training_texts
from slmkit.tokenizer.special import SPECIAL_TOKENS

MIN_VOCAB = 256 + len(SPECIAL_TOKENS)  # every byte plus the special tokens
SAMPLE_BYTES = 1_000_000  # training text kept aside to report bytes per token


@dataclass
class TokenizerTrainConfig:
    run: str = opt(None, "run directory (reads data/train.jsonl, writes tokenizer/tokenizer.json)")
    vocab_size: int = opt(4096, f"tokens in the vocabulary, special tokens and the 256 bytes included (>= {MIN_VOCAB})")
    input: list[str] = opt(factory=list, help="training text: .jsonl ({\"text\": ...}) or .txt files "
                           "(default: <run>/data/train.jsonl)")
    min_frequency: int = opt(2, "a pair must occur this often to be merged")
    max_bytes: int = opt(200_000_000, "train on at most this many bytes of text (the first documents)")
    out: str | None = opt(None, "where to write tokenizer.json (default: <run>/tokenizer/tokenizer.json)")

    def __post_init__(self):
        check(self.run is not None, "run", self.run, "a run directory (--run DIR)")
        check(MIN_VOCAB <= self.vocab_size <= 2**32, "vocab_size", self.vocab_size,
              f"an integer in [{MIN_VOCAB}, 2**32] (256 bytes + {len(SPECIAL_TOKENS)} special tokens at least)")
        check(self.min_frequency >= 1, "min_frequency", self.min_frequency, ">= 1")
        check(self.max_bytes >= 1, "max_bytes", self.max_bytes, ">= 1")


def train_tokenizer(
    texts: Iterable[str], vocab_size: int = 4096, min_frequency: int = 2, show_progress: bool = False
) -> Tokenizer:
    """Train a byte-level BPE on `texts` (in memory; nothing is written).

    Example: `tok = train_tokenizer(["Once upon a time"] * 100, vocab_size=300)`
    """
    hf = HFTokenizer(models.BPE())
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    hf.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # all 256 bytes, seen in training or not
        show_progress=show_progress,
    )
    hf.train_from_iterator(texts, trainer=trainer)
    return Tokenizer(hf.to_str(pretty=True), source="trained tokenizer")


class _SampledTexts:
    """Passes texts through while counting them and keeping the first `SAMPLE_BYTES` as a sample."""

    def __init__(self, texts: Iterator[str]):
        self.texts, self.sample, self.docs, self.bytes, self.sample_bytes = texts, [], 0, 0, 0

    def __iter__(self) -> Iterator[str]:
        for text in self.texts:
            size = len(text.encode("utf-8", errors="surrogatepass"))
            self.docs += 1
            self.bytes += size
            if self.sample_bytes < SAMPLE_BYTES:
                self.sample.append(text)
                self.sample_bytes += size
            yield text


def bytes_per_token(tokenizer: Tokenizer, texts: list[str]) -> float:
    """UTF-8 bytes per token over `texts` (higher = better compression). Example: `bytes_per_token(tok, ["hi"])`"""
    n_bytes = sum(len(t.encode("utf-8")) for t in texts)
    n_tokens = sum(len(ids) for ids in tokenizer.encode_batch(texts))
    return n_bytes / max(1, n_tokens)


def _input_paths(cfg: TokenizerTrainConfig, run: RunDir) -> list[Path]:
    if cfg.input:
        return [Path(p) for p in cfg.input]
    default = run.split_file("train")
    if not default.is_file():
        raise MissingFileError(default, expected="the cleaned training split",
                               hint=f"run `slm data prepare --source ... --run {run.root}` first, or pass --input")
    return [default]


def tokenizer_train_stage(cfg: TokenizerTrainConfig) -> dict:
    """Train the run's tokenizer and write it atomically; returns a summary.

    Example: `tokenizer_train_stage(TokenizerTrainConfig(run="runs/x", vocab_size=2048))["bytes_per_token"]`
    """
    run = RunDir(cfg.run)
    paths = _input_paths(cfg, run)
    out = Path(cfg.out) if cfg.out else run.tokenizer_file
    texts = _SampledTexts(iter_training_texts(paths, max_bytes=cfg.max_bytes))
    start = time.perf_counter()
    tokenizer = train_tokenizer(texts, cfg.vocab_size, cfg.min_frequency, show_progress=True)
    seconds = time.perf_counter() - start
    if texts.docs == 0:
        raise InputError(", ".join(map(str, paths)), found="no text", expected="at least one non-empty document")
    if tokenizer.vocab_size < cfg.vocab_size:
        eprint(f"warning: the text allowed only {tokenizer.vocab_size} of {cfg.vocab_size} tokens "
               f"(no pair left occurring >= {cfg.min_frequency} times); train on more text for a full vocabulary")
    tokenizer.save(out)
    bpt = bytes_per_token(tokenizer, texts.sample)
    run.save_stage_config("tokenizer", to_dict(cfg))
    print0(f"tokenizer: {tokenizer.vocab_size} tokens from {texts.bytes / 1e6:.1f} MB ({texts.docs} docs) "
           f"in {seconds:.1f}s -> {out}")
    why = f" ({'; '.join(tokenizer.fast_blockers)})" if tokenizer.fast_blockers else ""
    print0(f"tokenizer: {bpt:.2f} bytes/token on {texts.sample_bytes / 1e6:.2f} MB of the training text; "
           f"encoder: {tokenizer.engine}{why}")
    return {
        "tokenizer": str(out),
        "vocab_size": tokenizer.vocab_size,
        "sha256": tokenizer.sha256,
        "train_bytes": texts.bytes,
        "train_docs": texts.docs,
        "bytes_per_token": round(bpt, 4),
        "engine": tokenizer.engine,
    }
