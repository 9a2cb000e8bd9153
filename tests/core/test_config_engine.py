"""The generic config engine on small hand-made dataclasses: values by hand, round trips, errors naming the key."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ssrdepth.core.config_engine import (
    apply_overrides,
    coerce,
    dump_toml,
    load_toml,
    read_toml,
    to_plain,
    update,
)


@dataclass(frozen=True)
class Item:
    label: str
    size: tuple[int, int]


@dataclass(frozen=True)
class Inner:
    on: bool = True
    ratio: float = 0.5


@dataclass(frozen=True)
class Outer:
    name: str = "a"
    count: int = 1
    sizes: tuple[int, int] = (37, 147)
    names: tuple[str, ...] = ("x", "y")
    pairs: tuple[tuple[str, int], ...] | None = None
    limit: int | None = None
    inner: Inner = field(default_factory=Inner)
    extra: Inner | None = None
    items: tuple[Item, ...] = ()

    def __post_init__(self) -> None:
        if self.count < 0:
            raise ValueError(f"count must be ≥ 0, got {self.count}")


def test_coerce_by_hand() -> None:
    assert coerce("3", int, "k") == 3 and coerce(5.0, int, "k") == 5 and coerce("1e-3", float, "k") == 0.001
    assert coerce("yes", bool, "k") is True and coerce("none", int | None, "k") is None
    assert coerce("147x37", tuple[int, int], "k") == (37, 147)  # W×H in, (H, W) out
    assert coerce("37,147", tuple[int, int], "k") == (37, 147)
    assert coerce("SC,SCRX", tuple[str, ...], "k") == ("SC", "SCRX")  # bare words
    assert coerce('[["1", 30]]', tuple[tuple[str, int], ...], "k") == (("1", 30),)
    assert coerce({"label": "a", "size": [2, 3]}, Item, "k") == Item("a", (2, 3))
    with pytest.raises(ValueError, match=r"k: missing k\.size"):
        coerce({"label": "a"}, Item, "k")
    with pytest.raises(
        ValueError, match=r"unknown config key 'k\.lable'; valid keys here: k\.label, k\.size"
    ):
        coerce({"lable": "a", "size": [2, 3]}, Item, "k")
    with pytest.raises(ValueError, match="k: expected an integer, got 'three'"):
        coerce("three", int, "k")


def test_overrides_of_nested_optional_and_tuple_fields() -> None:
    got = apply_overrides(
        Outer(),
        [
            "inner.ratio=0.25",
            "extra.on=false",  # None becomes the class's defaults plus the change
            "pairs=[['1', 30], ['2', 20]]",
            "names=p,q,r",
            "sizes=310x94",
            "limit=7",
            'items=[{label = "b", size = [4, 5]}]',
        ],
        option="--option",
    )
    assert got == Outer(
        inner=Inner(ratio=0.25),
        extra=Inner(on=False),
        pairs=(("1", 30), ("2", 20)),
        names=("p", "q", "r"),
        sizes=(94, 310),
        limit=7,
        items=(Item("b", (4, 5)),),
    )
    assert apply_overrides(got, {"limit": None, "inner.on": False}) == Outer(
        inner=Inner(on=False, ratio=0.25),
        extra=Inner(on=False),
        pairs=got.pairs,
        names=got.names,
        sizes=got.sizes,
        items=got.items,
    )
    cases = {
        "cont=2": r"--option cont=2: unknown config key 'cont'; valid keys here: name, count, sizes",
        "inner.of=1": r"--option inner.of=1: unknown config key 'inner\.of'; valid keys here: inner\.on",
        "inner=1": "inner is a section; set its keys instead: inner.on, inner.ratio",
        "count=-1": "--option count=-1: config: count must be ≥ 0, got -1",
        "sizes=1,2,3": "sizes: expected 2 values",
        "count": "expected KEY=VALUE, e.g. count=2",
    }
    for override, message in cases.items():
        with pytest.raises(ValueError, match=message):
            apply_overrides(Outer(), [override], option="--option", example="count=2")


def test_toml_round_trip_by_hand(tmp_path: Path) -> None:
    cfg = Outer(
        name='q"uote',
        count=3,
        pairs=(("1", 30),),
        extra=Inner(ratio=0.125),
        items=(Item("b", (4, 5)), Item("c", (6, 7))),
    )
    text = dump_toml(cfg)
    assert text == (
        'name = "q\\"uote"\n'
        "count = 3\n"
        "sizes = [37, 147]\n"
        'names = ["x", "y"]\n'
        'pairs = [["1", 30]]\n'
        'items = [{label = "b", size = [4, 5]}, {label = "c", size = [6, 7]}]\n'
        "\n[inner]\non = true\nratio = 0.5\n"
        "\n[extra]\non = true\nratio = 0.125\n"
    )  # limit (None) is left out: reading restores its default, None
    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    assert load_toml(path, Outer()) == cfg
    assert update(Outer(), to_plain(cfg)) == cfg
    # A hand-written file, with an array of tables for the items.
    path.write_text(
        'count = 2\n[[items]]\nlabel = "z"\nsize = [1, 2]\n[inner]\non = false\n', encoding="utf-8"
    )
    assert load_toml(path, Outer()) == Outer(count=2, items=(Item("z", (1, 2)),), inner=Inner(on=False))
    path.write_text("[inner]\nrate = 1.0\n", encoding="utf-8")
    with pytest.raises(
        ValueError, match=r"c\.toml: unknown config key 'inner\.rate'; valid keys here: inner\.on"
    ):
        load_toml(path, Outer())
    path.write_text("count = ", encoding="utf-8")
    with pytest.raises(ValueError, match=r"c\.toml: not valid TOML"):
        read_toml(path)
    with pytest.raises(FileNotFoundError, match=r"missing\.toml: no such config file"):
        read_toml(tmp_path / "missing.toml")


def test_dump_refuses_a_none_that_would_read_back_as_another_value() -> None:
    @dataclass(frozen=True)
    class Opt:
        n: int | None = 3

    with pytest.raises(ValueError, match="n is None but its default is not"):
        dump_toml(Opt(n=None))


def test_engine_imports_without_torch() -> None:
    code = "import sys, ssrdepth.core.config_engine; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
