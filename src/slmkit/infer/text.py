"""The text side of generation: streaming detokenization, stop strings, chat prompts, few-shot prompts.

The engine yields token ids; `TextStream` turns them into text pieces that are always whole UTF-8 characters and
never show any part of a stop string (text that could still become one is held back until it cannot).

Example:
    stream = TextStream(tokenizer, stop=["\\n\\n"])
    for token in tokens: print(stream.push(token), end="")
    print(stream.finish(), end="")   # whatever was held back, unless a stop string matched
"""

from __future__ import annotations

import codecs
import json
import random
from collections.abc import Mapping, Sequence
from pathlib import Path

from slmkit.common.errors import InputError, MissingFileError
from slmkit.tokenizer.special import END


class StreamingDecoder:
    """Token ids -> text pieces, never emitting a broken UTF-8 character (partial bytes wait for the next token).

    Example: `dec = StreamingDecoder(tok); "".join(dec.push(i) for i in ids) + dec.flush() == tok.decode(ids)`
    """

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self._utf8 = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def push(self, token: int) -> str:
        if token >= self.tokenizer.vocab_size:  # a model padded past its tokenizer's vocabulary: no text to show
            return ""
        return self._utf8.decode(self.tokenizer.token_bytes(token))

    def flush(self) -> str:
        """Bytes still waiting at the end (an incomplete character becomes U+FFFD, as `decode` would show it)."""
        return self._utf8.decode(b"", final=True)


class TextStream:
    """Streaming detokenization with stop strings. `push` returns text safe to show; `stopped` turns True once a
    stop string appeared (the text before it was already returned; the stop string itself never is).

    Example: `s = TextStream(tok, ["END"]); shown = s.push(t); ...; shown += s.finish()`
    """

    def __init__(self, tokenizer, stop: Sequence[str] = ()):
        self.decoder = StreamingDecoder(tokenizer)
        self.stop = [s for s in stop if s]
        self.held = ""  # decoded text not shown yet: it may be the start of a stop string
        self.text = ""  # everything shown so far
        self.stopped = False

    def push(self, token: int) -> str:
        if self.stopped:
            return ""
        return self._release(self.decoder.push(token))

    def finish(self) -> str:
        """Text still held back at the end of generation."""
        if self.stopped:
            return ""
        piece = self._release(self.decoder.flush(), final=True)
        return piece

    def _release(self, new: str, final: bool = False) -> str:
        held = self.held + new
        for stop in self.stop:
            at = held.find(stop)
            if at >= 0:
                self.stopped = True
                self.held = ""
                return self._show(held[:at])
        keep = 0 if final else _longest_stop_prefix_suffix(held, self.stop)
        self.held = held[len(held) - keep :] if keep else ""
        return self._show(held[: len(held) - keep])

    def _show(self, piece: str) -> str:
        self.text += piece
        return piece


def _longest_stop_prefix_suffix(text: str, stops: Sequence[str]) -> int:
    """Length of the longest end of `text` that is a proper prefix of some stop string (must be held back)."""
    best = 0
    for stop in stops:
        for n in range(min(len(stop) - 1, len(text)), best, -1):
            if stop.startswith(text[-n:]):
                best = n
                break
    return best


def chat_stop_ids(tokenizer) -> frozenset[int]:
    """Token ids that end an assistant turn: `<|end|>` and `<|endoftext|>`. Example: `chat_stop_ids(tok)`"""
    return frozenset({tokenizer.special_ids[END], tokenizer.eot_id})


def text_prompt_ids(tokenizer, text: str) -> list[int]:
    """Prompt ids of plain text: `<|endoftext|>` (where every training document starts) then the text.

    Example: `text_prompt_ids(tok, "Once upon a time")[0] == tok.eot_id`
    """
    return [tokenizer.eot_id, *tokenizer.encode(text)]


def chat_prompt_ids(tokenizer, messages: Sequence[Mapping[str, str]]) -> list[int]:
    """Prompt ids for the next assistant turn of a chat: `<|endoftext|>`, then the chat template (`render_chat`)
    with the generation prompt. Example: `chat_prompt_ids(tok, [{"role": "user", "content": "Hi"}])`
    """
    return [tokenizer.eot_id, *tokenizer.encode_chat(messages, add_generation_prompt=True)]


# ----------------------------------------------------------------------------------------------- few-shot prompts
def load_examples(path: Path | str, input_key: str = "input", output_key: str = "output") -> list[dict[str, str]]:
    """Read few-shot examples from a jsonl file, one `{"input": ..., "output": ...}` object per line.

    Example: `load_examples("examples.jsonl")[0]["output"]`
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(path, expected="a jsonl file of few-shot examples")
    examples = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            raise InputError(f"{path}:{n}", found=line[:40], expected="one JSON object per line") from None
        if not isinstance(row, dict) or not isinstance(row.get(input_key), str) or not isinstance(
            row.get(output_key), str
        ):
            raise InputError(f"{path}:{n}", found=line[:60], expected=f'string fields "{input_key}" and "{output_key}"')
        examples.append({"input": row[input_key], "output": row[output_key]})
    if not examples:
        raise InputError(str(path), found="no examples", expected="at least one JSON line")
    return examples


def few_shot_prompt(
    examples: Sequence[Mapping[str, str]],
    query: str,
    k: int = 3,
    instruction: str = "",
    seed: int | None = None,
    input_label: str = "Input",
    output_label: str = "Output",
) -> str:
    """A prompt of `k` solved examples then the query, ending where the model should write the answer.

    Examples are the first k, or k drawn with `seed`. The natural stop string is "\\n\\n" (the example separator).
    Example: `few_shot_prompt([{"input": "2+2", "output": "4"}], "3+3", k=1)`
    gives 'Input: 2+2\\nOutput: 4\\n\\nInput: 3+3\\nOutput:'.
    """
    if k < 0 or k > len(examples):
        raise InputError("few-shot k", found=k, expected=f"between 0 and the {len(examples)} examples available")
    chosen = list(examples[:k]) if seed is None else random.Random(seed).sample(list(examples), k)
    parts = [instruction.strip() + "\n\n"] if instruction.strip() else []
    parts += [f"{input_label}: {ex['input']}\n{output_label}: {ex['output']}\n\n" for ex in chosen]
    parts.append(f"{input_label}: {query}\n{output_label}:")
    return "".join(parts)
