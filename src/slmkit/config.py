"""Typed configs: dataclasses validated in `__post_init__`, loaded from YAML, overridden by dotted keys.

Every stage is a function taking one config dataclass. The same dataclass feeds the CLI (one `--a.b` flag per
field, LitGPT-style), YAML recipes (the same keys), and the resolved copy saved in the run directory.

Example:
    cfg = build_config(PretrainConfig, yaml_dict, {"optim.lr": "3e-4"})
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import MISSING, field, fields, is_dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args, get_origin, get_type_hints

import yaml

from slmkit.common.errors import ConfigError, InputError, MissingFileError

T = TypeVar("T")


def opt(default: Any = MISSING, help: str = "", *, factory: Any = MISSING, cli: bool = True) -> Any:
    """A dataclass field with a help string (shown by `slm <cmd> --help`).

    Example: `lr: float = opt(3e-4, "peak learning rate")`
    """
    meta = {"help": help, "cli": cli}
    if factory is not MISSING:
        return field(default_factory=factory, metadata=meta)
    return field(default=default, metadata=meta)


def check(condition: bool, field_name: str, found: object, expected: str) -> None:
    """Raise `ConfigError` unless `condition`. Example: `check(self.lr > 0, "lr", self.lr, "> 0")`"""
    if not condition:
        raise ConfigError(field_name, found=found, expected=expected)


# ----------------------------------------------------------------------------------------------- conversion
def to_dict(cfg: Any) -> dict[str, Any]:
    """A plain dict (YAML/JSON-safe) of a config dataclass. Example: `to_dict(ModelConfig())["d_model"]`"""
    out: dict[str, Any] = {}
    for f in fields(cfg):
        out[f.name] = _plain(getattr(cfg, f.name))
    return out


def _plain(value: Any) -> Any:
    if is_dataclass(value):
        return to_dict(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _strip_optional(tp: Any) -> tuple[Any, bool]:
    origin = get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        if len(args) == 1:
            return args[0], True
    return tp, False


def _coerce(value: Any, tp: Any, name: str) -> Any:
    """Convert a YAML or CLI value to the annotated type, or raise a ConfigError naming the field."""
    tp, optional = _strip_optional(tp)
    if value is None or (optional and isinstance(value, str) and value.lower() in ("none", "null", "")):
        if optional:
            return None
        raise ConfigError(name, found=value, expected=f"a value of type {getattr(tp, '__name__', tp)}")
    origin = get_origin(tp)
    try:
        if is_dataclass(tp):
            if not isinstance(value, dict):
                raise ConfigError(name, found=value, expected="a mapping of sub-options")
            return from_dict(tp, value, prefix=name)
        if origin is Literal:
            choices = get_args(tp)
            if value not in choices:
                raise ConfigError(name, found=value, expected=f"one of {', '.join(map(str, choices))}")
            return value
        if origin in (list, tuple):
            (item_tp, *_) = get_args(tp) or (Any,)
            if isinstance(value, str):
                value = [v for v in value.split(",") if v]
            if not isinstance(value, (list, tuple)):
                value = [value]
            return [_coerce(v, item_tp, f"{name}[{i}]") for i, v in enumerate(value)]
        if origin is dict:
            if not isinstance(value, dict):
                raise ConfigError(name, found=value, expected="a mapping")
            return dict(value)
        if tp is bool:
            if isinstance(value, bool):
                return value
            text = str(value).lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ConfigError(name, found=value, expected="true or false")
        if tp is int:
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, float) and value.is_integer():
                return int(value)
            if isinstance(value, str):
                return int(float(value)) if ("e" in value.lower() and float(value).is_integer()) else int(value)
            return int(value)
        if tp is float:
            return float(value)
        if tp is str:
            return str(value)
        if tp is Path:
            return Path(value)
        return value
    except ConfigError:
        raise
    except (TypeError, ValueError):
        raise ConfigError(name, found=value, expected=f"a value of type {getattr(tp, '__name__', tp)}") from None


def from_dict(cls: type[T], data: dict[str, Any], prefix: str = "") -> T:
    """Build config `cls` from a (possibly partial, nested) dict; unknown keys are errors.

    Example: `from_dict(ModelConfig, {"d_model": 128})`
    """
    hints = get_type_hints(cls)
    known = {f.name: f for f in fields(cls)}
    unknown = [k for k in data if k not in known]
    if unknown:
        key = f"{prefix}.{unknown[0]}" if prefix else unknown[0]
        raise ConfigError(key, found="an unknown option", expected=f"one of {', '.join(sorted(known))}")
    kwargs = {}
    for key, value in data.items():
        full = f"{prefix}.{key}" if prefix else key
        kwargs[key] = _coerce(value, hints[key], full)
    try:
        return cls(**kwargs)
    except ConfigError as err:
        if prefix and not err.field.startswith(prefix + "."):
            raise ConfigError(f"{prefix}.{err.field}", err.found, err.expected, err.hint) from None
        raise


def merge_dicts(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Recursive dict merge; `override` wins. Example: `merge_dicts({"a": {"b": 1}}, {"a": {"c": 2}})`"""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge_dicts(out[key], value)
        else:
            out[key] = value
    return out


def dotted_to_nested(flat: dict[str, Any]) -> dict[str, Any]:
    """`{"optim.lr": 1}` -> `{"optim": {"lr": 1}}`. Dashes in keys become underscores."""
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        parts = key.replace("-", "_").split(".")
        node = nested
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return nested


def build_config(cls: type[T], base: dict[str, Any] | None = None, overrides: dict[str, Any] | None = None) -> T:
    """Config from a YAML-like dict plus dotted overrides. Example: `build_config(C, {}, {"optim.lr": "1e-3"})`"""
    data = merge_dicts(base or {}, dotted_to_nested(overrides or {}))
    expand = getattr(cls, "expand_presets", None)  # e.g. a model preset name filling in the model's fields
    if expand is not None:
        data = expand(data)
    return from_dict(cls, data)


# ----------------------------------------------------------------------------------------------- YAML files
def load_yaml(path: Path | str) -> dict[str, Any]:
    """Read a YAML mapping; clear errors for a missing or malformed file. Example: `load_yaml("recipe.yaml")`"""
    path = Path(path)
    if not path.is_file():
        raise MissingFileError(path, expected="a YAML config file")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise InputError(where, found="invalid YAML", expected="a YAML mapping of options") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(str(path), found=type(data).__name__, expected="a YAML mapping of options")
    return data


def dump_yaml(data: dict[str, Any]) -> str:
    """YAML text of a plain dict, keys in insertion order. Example: `dump_yaml(to_dict(cfg))`"""
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True)


def cli_fields(cls: type) -> list[tuple[str, dataclasses.Field, Any]]:
    """Flattened (dotted name, field, type) of every CLI-visible leaf option of a config class."""
    out = []
    hints = get_type_hints(cls)
    for f in fields(cls):
        if not f.metadata.get("cli", True):
            continue
        tp, _ = _strip_optional(hints[f.name])
        if is_dataclass(tp):
            out.extend((f"{f.name}.{name}", sub, subtp) for name, sub, subtp in cli_fields(tp))
        else:
            out.append((f.name, f, hints[f.name]))
    return out


def field_default(f: dataclasses.Field) -> Any:
    """The default value of a dataclass field (calling its factory)."""
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:  # type: ignore[misc]
        return f.default_factory()  # type: ignore[misc]
    return MISSING
