"""The Alpaca Self-Instruct recipe: seed tasks -> few-shot prompt -> parse new tasks -> filter -> Alpaca records.

A prompt shows a few sampled seed tasks in a numbered `###`-separated format and asks the teacher to continue the
list. New tasks are kept only if they are neither too short nor too long, avoid things a text model cannot do
(images, audio, ...), and have ROUGE-L F1 <= 0.7 against every instruction seen so far (seeds and kept tasks).

Example:
    seeds = load_seed_tasks("seed_tasks.jsonl")
    prompt = self_instruct_prompt(random.Random(0).sample(seeds, 3), total=20)
    tasks = parse_tasks(reply_text, first_number=4)
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from slmkit.common.errors import InputError, MissingFileError

# Tasks mentioning these need non-text input or output, which a language model cannot produce (Alpaca's list).
BLACKLIST = ("image", "images", "graph", "graphs", "picture", "pictures", "file", "files", "map", "maps", "draw",
             "plot", "go to", "video", "audio", "music", "flowchart", "diagram")
_BLACKLIST_RE = re.compile(r"\b(" + "|".join(re.escape(w) for w in BLACKLIST) + r")\b", re.IGNORECASE)
_FIELD_RE = re.compile(r"^\s*\d+\s*\.\s*(Instruction|Input|Output)\s*:", re.IGNORECASE | re.MULTILINE)
_ROUGE_TOKEN = re.compile(r"[a-z0-9]+")
NO_INPUT = "<noinput>"


@dataclass(frozen=True)
class Task:
    """One instruction-following example in Alpaca form."""

    instruction: str
    input: str
    output: str

    def to_record(self) -> dict[str, str]:
        return {"instruction": self.instruction, "input": self.input, "output": self.output}


# ------------------------------------------------------------------------------------------------ ROUGE-L
def rouge_tokens(text: str) -> list[str]:
    """Lowercased alphanumeric word tokens (the rouge-score package's tokenizer, without stemming).

    Example: `rouge_tokens("Hello, World!")  # ["hello", "world"]`
    """
    return _ROUGE_TOKEN.findall(text.lower())


def lcs_length(a: list[str], b: list[str]) -> int:
    """Length of the longest common subsequence of two token lists.

    Bit-parallel (Allison-Dix/Hyyro): one big-integer step per token of `b`, so checking a candidate against
    thousands of instructions stays fast in pure Python. Example: `lcs_length(list("abcd"), list("acd"))  # 3`
    """
    if not a or not b:
        return 0
    masks: dict[str, int] = {}
    for i, token in enumerate(a):
        masks[token] = masks.get(token, 0) | (1 << i)
    full = (1 << len(a)) - 1
    v = full
    for token in b:
        u = v & masks.get(token, 0)
        v = ((v + u) | (v - u)) & full
    return len(a) - v.bit_count()


def rouge_l(candidate: str | list[str], reference: str | list[str]) -> float:
    """ROUGE-L F1 of two texts (or token lists): 2PR/(P+R) with P = LCS/|candidate|, R = LCS/|reference|.

    Example: `rouge_l("the cat sat", "the cat sat down")  # 0.857...`
    """
    a = rouge_tokens(candidate) if isinstance(candidate, str) else candidate
    b = rouge_tokens(reference) if isinstance(reference, str) else reference
    lcs = lcs_length(a, b)
    if lcs == 0:
        return 0.0
    precision, recall = lcs / len(a), lcs / len(b)
    return 2 * precision * recall / (precision + recall)


class InstructionPool:
    """Instructions seen so far; `most_similar` is the max ROUGE-L of a candidate against all of them.

    Example: `pool = InstructionPool(["Name a fruit."]); pool.most_similar("Name a red fruit.")  # 0.857...`
    """

    def __init__(self, instructions: list[str] = ()):  # type: ignore[assignment]
        self._tokens: list[list[str]] = []
        for instruction in instructions:
            self.add(instruction)

    def __len__(self) -> int:
        return len(self._tokens)

    def add(self, instruction: str) -> None:
        self._tokens.append(rouge_tokens(instruction))

    def most_similar(self, instruction: str) -> float:
        tokens = rouge_tokens(instruction)
        return max((rouge_l(tokens, other) for other in self._tokens), default=0.0)


# ------------------------------------------------------------------------------------------------ seeds + prompt
def load_seed_tasks(path: Path | str) -> list[Task]:
    """Seed tasks from a Self-Instruct jsonl (`instruction` + `instances[0].input/output` per line).

    Example: `load_seed_tasks("../shared/data/alpaca-seed-tasks/seed_tasks.jsonl")[0].instruction`
    """
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(path, expected="a seed-task .jsonl file", hint="set --seed-tasks")
    tasks = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(where, found=f"invalid JSON ({exc.msg})", expected="one JSON object per line") from None
        try:
            instance = record["instances"][0]
            task = Task(str(record["instruction"]).strip(), str(instance.get("input", "")).strip(),
                        str(instance["output"]).strip())
        except (KeyError, IndexError, TypeError, AttributeError):
            raise InputError(where, found=_short(line), expected='{"instruction": ..., "instances": '
                             '[{"input": ..., "output": ...}]}') from None
        tasks.append(task)
    if not tasks:
        raise InputError(str(path), found="no seed tasks", expected="at least one task per line")
    return tasks


def self_instruct_prompt(examples: list[Task], total: int = 20) -> str:
    """The few-shot prompt: requirements, then `examples` numbered 1..k, ending where task k+1 should begin.

    Example: `self_instruct_prompt(seeds[:3], total=20).endswith("4. Instruction:")`
    """
    lines = [
        f"You are asked to come up with a set of {total} diverse task instructions. These task instructions will "
        "be given to a language model and we will evaluate the language model for completing the instructions.",
        "",
        "Here are the requirements:",
        "1. Try not to repeat the verb for each instruction to maximize diversity.",
        "2. The language used for the instruction also should be diverse. For example, you should combine "
        "questions with imperative instructions.",
        "3. The type of instructions should be diverse: open-ended generation, classification, editing, etc.",
        "4. A language model should be able to complete the instruction. For example, do not ask for any visual "
        "or audio output, and do not ask it to perform an action such as setting a reminder.",
        "5. The instructions should be in English and 1 to 2 sentences long. Either an imperative sentence or a "
        "question is permitted.",
        "6. Generate an appropriate input for the instruction: a specific, realistic example of at most 100 words, "
        f'not a placeholder. If the instruction needs no input, write "{NO_INPUT}" in the input field.',
        "7. The output should be an appropriate response to the instruction and the input, in less than 100 words.",
        "",
        f"List of {total} tasks:",
    ]
    for number, task in enumerate(examples, start=1):
        lines += ["###", f"{number}. Instruction: {task.instruction}", f"{number}. Input:",
                  task.input or NO_INPUT, f"{number}. Output:", task.output]
    lines += ["###", f"{len(examples) + 1}. Instruction:"]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------ parse + filter
def parse_tasks(reply: str, first_number: int, truncated: bool = False) -> list[Task]:
    """Tasks from a reply in the prompt's format; the reply may omit the leading "N. Instruction:".

    `truncated` (finish_reason == "length") drops the last task, which may be cut off.
    Example: `parse_tasks(" Name a color.\\n4. Input:\\n<noinput>\\n4. Output:\\nRed.", first_number=4)`
    """
    text = reply.strip()
    if not re.match(r"\s*(###\s*)?\d+\s*\.\s*Instruction\s*:", text, re.IGNORECASE):
        text = f"{first_number}. Instruction: {text}"
    tasks = []
    for block in text.split("###"):
        parts = _FIELD_RE.split(block)
        # parts = [before, name1, value1, name2, value2, ...]
        fields = {name.lower(): value.strip() for name, value in zip(parts[1::2], parts[2::2])}
        instruction, output = fields.get("instruction", ""), fields.get("output", "")
        if not instruction or not output:
            continue
        task_input = fields.get("input", "")
        tasks.append(Task(instruction, "" if task_input.lower() == NO_INPUT else task_input, output))
    if truncated and tasks:
        tasks.pop()
    return tasks


def rejection_reason(task: Task, pool: InstructionPool, rouge_threshold: float = 0.7, min_words: int = 4,
                     max_words: int = 150) -> str:
    """Why `task` should be dropped ("" = keep it). Example: `rejection_reason(Task("Draw a cat.", "", "x"), pool)`"""
    n_words = len(task.instruction.split())
    if n_words < min_words:
        return "too short"
    if n_words > max_words:
        return "too long"
    if _BLACKLIST_RE.search(task.instruction):
        return "needs non-text input or output"
    if task.instruction.lower().startswith("write a program"):
        return "asks for a program"
    first = task.instruction[0]
    if not first.isascii():
        return "starts with a non-English character"
    if not first.isalnum():
        return "starts with punctuation"
    if pool.most_similar(task.instruction) > rouge_threshold:
        return "too similar to an existing instruction"
    return ""


def _short(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[:limit] + "..."
