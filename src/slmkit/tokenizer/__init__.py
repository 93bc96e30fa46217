"""slmkit.tokenizer: byte-level BPE (train/load/save), special tokens, chat template, a fast proven-identical encoder.

Example:
    from slmkit.tokenizer import Tokenizer
    tok = Tokenizer.from_file("runs/x/tokenizer/tokenizer.json"); tok.decode(tok.encode("hi"))
"""

from slmkit.tokenizer.bpe import Tokenizer
from slmkit.tokenizer.special import CHAT_TEMPLATE, EOT, PAD, SPECIAL_TOKENS, render_chat

__all__ = ["Tokenizer", "CHAT_TEMPLATE", "EOT", "PAD", "SPECIAL_TOKENS", "render_chat"]
