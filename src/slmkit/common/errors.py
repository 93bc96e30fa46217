"""One family of user-facing errors.

A `SlmkitError` is something the *user* can fix (a missing file, a malformed line, an impossible config).
The CLI prints its message on one line and exits with status 2; bugs still raise ordinary tracebacks.

Example:
    raise ConfigError("model.n_heads", found=5, expected="a divisor of model.d_model=128")
"""

from __future__ import annotations


class SlmkitError(Exception):
    """Base class for errors the user can cause and fix."""

    exit_code = 2


def _describe(where: str, found: object, expected: str, hint: str = "") -> str:
    msg = f"{where}: found {found!r}, expected {expected}"
    return f"{msg} ({hint})" if hint else msg


class ConfigError(SlmkitError):
    """A config field has an impossible value.

    Example: ConfigError("train.lr", found=-1.0, expected="a positive number")
    """

    def __init__(self, field: str, found: object, expected: str, hint: str = ""):
        self.field, self.found, self.expected, self.hint = field, found, expected, hint
        super().__init__(_describe(field, found, expected, hint))


class InputError(SlmkitError):
    """An input file is missing, empty or malformed.

    Example: InputError("data.jsonl:12", found="'{bad'", expected="one JSON object per line")
    """

    def __init__(self, where: str, found: object, expected: str, hint: str = ""):
        self.where = where
        super().__init__(_describe(where, found, expected, hint))


class MissingFileError(InputError):
    """A required file or folder does not exist.

    Example: MissingFileError("runs/x/tokenizer/tokenizer.json", hint="run `slm tokenizer train --run runs/x` first")
    """

    def __init__(self, path: object, expected: str = "an existing file", hint: str = ""):
        SlmkitError.__init__(self, f"{path}: not found, expected {expected}" + (f" ({hint})" if hint else ""))
        self.where = str(path)
