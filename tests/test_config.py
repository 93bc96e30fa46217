from dataclasses import dataclass
from typing import Literal

import pytest

from slmkit.common.errors import ConfigError, InputError, MissingFileError
from slmkit.config import build_config, check, dump_yaml, load_yaml, opt, to_dict


@dataclass
class Inner:
    width: int = opt(4, "a width")
    kind: Literal["a", "b"] = opt("a", "a kind")

    def __post_init__(self):
        check(self.width > 0, "width", self.width, "a positive width")


@dataclass
class Outer:
    inner: Inner = opt(factory=Inner, help="nested")
    lr: float = opt(1e-3, "learning rate")
    names: list[str] = opt(factory=list, help="names")
    limit: int | None = opt(None, "optional limit")
    flag: bool = opt(False, "a flag")


def test_yaml_then_dotted_overrides_win():
    cfg = build_config(Outer, {"inner": {"width": 3}, "lr": 0.5}, {"inner.kind": "b", "lr": "2e-3", "names": "x,y"})
    assert cfg.inner == Inner(width=3, kind="b")
    assert cfg.lr == pytest.approx(2e-3)
    assert cfg.names == ["x", "y"]


def test_coercion_of_strings():
    cfg = build_config(Outer, {}, {"limit": "1e3", "flag": "true"})
    assert cfg.limit == 1000 and cfg.flag is True
    assert build_config(Outer, {}, {"limit": "none"}).limit is None


def test_nested_validation_error_names_the_dotted_field():
    with pytest.raises(ConfigError) as err:
        build_config(Outer, {}, {"inner.width": "-2"})
    assert str(err.value) == "inner.width: found -2, expected a positive width"


def test_unknown_key_and_bad_choice_and_bad_type():
    with pytest.raises(ConfigError, match=r"inner\.depth: found 'an unknown option', expected one of kind, width"):
        build_config(Outer, {"inner": {"depth": 1}})
    with pytest.raises(ConfigError, match=r"inner\.kind: found 'c', expected one of a, b"):
        build_config(Outer, {}, {"inner.kind": "c"})
    with pytest.raises(ConfigError, match=r"lr: found 'fast', expected a value of type float"):
        build_config(Outer, {}, {"lr": "fast"})


def test_yaml_round_trip_and_errors(tmp_path):
    cfg = build_config(Outer, {}, {"names": ["a"]})
    path = tmp_path / "c.yaml"
    path.write_text(dump_yaml(to_dict(cfg)))
    assert build_config(Outer, load_yaml(path)) == cfg
    with pytest.raises(MissingFileError, match="nope.yaml: not found"):
        load_yaml(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("a: [1, 2\nb: 3\n")
    with pytest.raises(InputError, match=r"bad\.yaml:\d+: found 'invalid YAML'"):
        load_yaml(bad)
    listy = tmp_path / "list.yaml"
    listy.write_text("- 1\n- 2\n")
    with pytest.raises(InputError, match="found 'list', expected a YAML mapping"):
        load_yaml(listy)
