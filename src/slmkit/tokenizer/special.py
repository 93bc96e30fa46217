"""Special tokens and the chat template, defined once for every stage.

Special tokens take the first ids, in the order of `SPECIAL_TOKENS` (`<|endoftext|>` is id 0). They are never
produced from ordinary text: `Tokenizer.encode("<|user|>")` spells the string out with byte-level tokens, so a
user cannot inject a role marker. Chat prompts get their special ids from `Tokenizer.encode_chat`, which matches
`render_chat` / `CHAT_TEMPLATE` exactly.

Example:
    render_chat([{"role": "user", "content": "Hi"}], add_generation_prompt=True)
    # '<|user|>\\nHi<|end|>\\n<|assistant|>\\n'
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from slmkit.common.errors import InputError

EOT = "<|endoftext|>"  # end of a document; also the separator between documents in shards and the BOS of a prompt
PAD = "<|pad|>"  # padding in fine-tuning batches (masked out of the loss)
SYSTEM = "<|system|>"
USER = "<|user|>"
ASSISTANT = "<|assistant|>"
END = "<|end|>"  # end of one chat turn

SPECIAL_TOKENS: tuple[str, ...] = (EOT, PAD, SYSTEM, USER, ASSISTANT, END)
"""All special tokens; their ids are their positions here."""

ROLE_TOKENS: dict[str, str] = {"system": SYSTEM, "user": USER, "assistant": ASSISTANT}
"""Chat role name -> the special token that opens a turn of that role."""

# ChatML-like: every turn is `<|role|>\n{content}<|end|>\n`; a generation prompt opens an assistant turn.
# Written for Hugging Face `apply_chat_template` (jinja2); `render_chat` below is the same thing in Python.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] not in ['system', 'user', 'assistant'] %}"
    "{{ raise_exception('chat role must be system, user or assistant') }}"
    "{% endif %}"
    "{{ '<|' + message['role'] + '|>' + '\n' + message['content'] + '<|end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>' + '\n' }}{% endif %}"
)


def chat_turns(messages: Iterable[Mapping[str, str]]) -> list[tuple[str, str]]:
    """Validated (role token, content) pairs of a chat. Example: `chat_turns([{"role": "user", "content": "Hi"}])`"""
    turns = []
    for i, message in enumerate(messages):
        role, content = message.get("role"), message.get("content")
        if role not in ROLE_TOKENS:
            raise InputError(f"messages[{i}].role", found=role, expected="one of system, user, assistant")
        if not isinstance(content, str):
            raise InputError(f"messages[{i}].content", found=type(content).__name__, expected="a string")
        turns.append((ROLE_TOKENS[role], content))
    return turns


def render_chat(messages: Iterable[Mapping[str, str]], add_generation_prompt: bool = False) -> str:
    """The text `CHAT_TEMPLATE` renders for `messages`.

    Example: `render_chat([{"role": "user", "content": "Hi"}])  # '<|user|>\\nHi<|end|>\\n'`
    """
    text = "".join(f"{role}\n{content}{END}\n" for role, content in chat_turns(messages))
    return text + (f"{ASSISTANT}\n" if add_generation_prompt else "")
