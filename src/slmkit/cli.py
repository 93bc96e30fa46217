"""The `slm` command: one table of subcommands -> (config dataclass, stage function).

Each subcommand's options are generated from its config dataclass (LitGPT-style: the CLI is the function signature):
a field `lr` becomes `--lr`, a nested field `optim.lr` becomes `--optim.lr`; `--config recipe.yaml` supplies the same
keys from YAML and flags override it. Nothing imports this module.

Example:
    slm pretrain --run runs/x --model.preset tiny --optim.lr 3e-3 --max-steps 500
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import MISSING
from typing import Any, Literal, get_args, get_origin

from slmkit.common.errors import SlmkitError
from slmkit.config import build_config, cli_fields, field_default, load_yaml
from slmkit.stages import STAGES, Stage


def _flag_kwargs(name: str, field: Any, tp: Any) -> dict[str, Any]:
    """argparse kwargs for one config leaf; values stay strings and are coerced by `build_config`."""
    default = field_default(field)
    help_text = field.metadata.get("help", "")
    if default is not MISSING:
        shown = default if not isinstance(default, list) else " ".join(map(str, default)) or "[]"
        help_text = f"{help_text} (default: {shown})"
    else:
        help_text = f"{help_text} (required)"
    kwargs: dict[str, Any] = {"help": help_text, "default": argparse.SUPPRESS, "metavar": name.split(".")[-1].upper()}
    inner = tp
    if get_origin(inner) is not None and type(None) in get_args(inner):
        inner = next(a for a in get_args(inner) if a is not type(None))
    if get_origin(inner) is Literal:
        kwargs["metavar"] = "{" + ",".join(map(str, get_args(inner))) + "}"
    if get_origin(inner) in (list, tuple):
        kwargs["nargs"] = "+"
    if inner is bool:
        kwargs["nargs"] = "?"
        kwargs["const"] = "true"
        kwargs["metavar"] = "BOOL"
    return kwargs


def _add_command_parser(subparsers: Any, cmd: Stage, leaf: str) -> None:
    parser = subparsers.add_parser(leaf, help=cmd.help, description=cmd.help)
    parser.set_defaults(_command=cmd)
    parser.add_argument("--config", metavar="YAML", help="YAML file with the same keys as the options below")
    config_cls, _ = cmd.load()
    for name, field, tp in cli_fields(config_cls):
        kwargs = _flag_kwargs(name, field, tp)
        if name in cmd.positional:
            kwargs.pop("metavar", None)
            kwargs["nargs"] = "*" if kwargs.get("nargs") == "+" else "?"  # a list positional takes many words
            parser.add_argument(name, **kwargs)
            continue
        flags = [f"--{name}"]
        if "_" in name:
            flags.append(f"--{name.replace('_', '-')}")
        parser.add_argument(*flags, dest=f"opt:{name}", **kwargs)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The full argparse tree; `only` limits config imports to one command (fast startup)."""
    parser = argparse.ArgumentParser(
        prog="slm", description="slmkit: build small language models from scratch, end to end."
    )
    from slmkit import __version__

    parser.add_argument("--version", action="version", version=f"slmkit {__version__}")
    top = parser.add_subparsers(title="commands", metavar="COMMAND")
    groups: dict[str, Any] = {}
    for cmd in STAGES.values():  # every stage is a subcommand
        words = cmd.command.split()
        if len(words) == 1:
            if only in (None, cmd.command):
                _add_command_parser(top, cmd, words[0])
            else:
                top.add_parser(words[0], help=cmd.help)
            continue
        group, leaf = words
        if group not in groups:
            gp = top.add_parser(group, help=f"{group} commands ({group} --help lists them)")
            groups[group] = gp.add_subparsers(title=f"{group} commands", metavar="COMMAND")
        if only in (None, cmd.command, group):
            _add_command_parser(groups[group], cmd, leaf)
        else:
            groups[group].add_parser(leaf, help=cmd.help)
    return parser


def _which_command(argv: list[str]) -> str | None:
    words = [a for a in argv if not a.startswith("-")][:2]
    names = {c.command for c in STAGES.values()}
    if len(words) >= 2 and " ".join(words) in names:
        return " ".join(words)
    if words and (words[0] in names or any(n.startswith(words[0] + " ") for n in names)):
        return words[0]
    return None


# Optional packages and the extra that installs each: a command that needs one says so in one line.
OPTIONAL_PACKAGES = {
    "openai": "teacher", "huggingface_hub": "download", "fastapi": "serve", "uvicorn": "serve",
    "transformers": "export", "gguf": "export", "onnx": "onnx", "onnxruntime": "onnx", "rouge_score": "eval",
    "sacrebleu": "eval", "textstat": "eval", "scipy": "scale", "faiss": "rag", "sentence_transformers": "rag",
}


def missing_package_message(exc: BaseException, command: str) -> str | None:
    """The one-line hint for an optional package that is not installed, or None for any other error."""
    name = getattr(exc, "name", None) or ""
    if isinstance(exc, ModuleNotFoundError) and name.split(".")[0] in OPTIONAL_PACKAGES:
        extra = OPTIONAL_PACKAGES[name.split(".")[0]]
        return f"`slm {command}` needs the optional package '{name}': pip install 'slmkit[{extra}]'"
    cause = exc.__cause__ or exc.__context__  # e.g. torch.onnx wraps the missing onnx module in its own error
    return missing_package_message(cause, command) if cause is not None and cause is not exc else None


def main(argv: list[str] | None = None) -> int:
    """Entry point of `slm`. Example: `main(["data", "synth", "--n", "10", "--out", "/tmp/s"])`"""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--"]:  # torchrun passes a leading "--" through (it protects our options from its parser)
        argv = argv[1:]
    try:
        parser = build_parser(only=_which_command(argv))
        args = parser.parse_args(argv)
        cmd: Stage | None = getattr(args, "_command", None)
        if cmd is None:
            parser.print_help()
            return 0
        config_cls, stage = cmd.load()
        base = load_yaml(args.config) if args.config else {}
        overrides = {k[4:]: v for k, v in vars(args).items() if k.startswith("opt:")}
        for name in cmd.positional:
            if getattr(args, name, None) is not None:
                overrides[name] = getattr(args, name)
        cfg = build_config(config_cls, base, overrides)
        stage(cfg)
        return 0
    except SlmkitError as err:
        print(f"error: {err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # an optional package missing is a setup mistake, not a bug: one line, exit 2
        hint = missing_package_message(exc, " ".join(argv[:2]))
        if hint is None:
            raise
        print(f"error: {hint}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
