"""The one home of the generic configuration engine: frozen dataclass ↔ plain dict ↔ TOML ↔ ``key=value``.

Every command's configuration is a frozen dataclass (``TrainConfig``, ``BenchConfig``,
``ReproduceConfig``, ``StudyConfig``, ``DemoConfig``); this module reads and writes any of them, so
each command gets TOML files and command-line overrides from the same rules:

- :func:`coerce` checks and converts one value (from TOML or the command line) to a field's type:
  ``bool``, ``int``, ``float``, ``str``, ``X | None``, fixed and variable tuples, and dataclasses
  (from a table of their fields);
- :func:`update` is :func:`dataclasses.replace` applied recursively from a nested mapping, with
  every key checked; :func:`apply_overrides` does the same from dotted ``key=value`` strings
  (:func:`parse_override`);
- :func:`read_toml` / :func:`load_toml` read a file, :func:`to_plain`, :func:`to_toml` and
  :func:`dump_toml` write one (``tomllib`` only reads).

A bad key or value raises ``ValueError`` naming the key (and, for a file, the file) and listing the
valid keys or choices. The dataclasses' own ``__post_init__`` checks run on every change. No torch
here: the engine sits in ``core`` so every floor above can use it.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import fields, is_dataclass
from pathlib import Path
from typing import Any, TypeVar

from ssrdepth.core.sizes import parse_size

T = TypeVar("T")


# --------------------------------------------------------------------------------------------------
# dataclass → plain values


def to_plain(value: Any) -> Any:
    """A dataclass (recursively) as nested plain dicts and lists (tuples become lists): JSON-, TOML-
    and ``torch.load(weights_only=True)``-safe."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, (tuple, list)):
        return [to_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    return value


# --------------------------------------------------------------------------------------------------
# one value → a field's type


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _parse_scalar(text: str) -> Any:
    """A command-line word as TOML reads it (``3`` → 3, ``1e-4`` → 0.0001, ``true`` → True), else the
    text itself."""
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _parse_sequence(text: str, key: str, sizes: bool) -> list[Any]:
    """``"37,147"``, ``"[37, 147]"``, ``"SC,SCRX"`` (bare words) or, where ``sizes`` (a pair of
    integers), ``"147x37"`` (W×H, as the paper and ``ssrdepth models`` write sizes) → a list."""
    t = text.strip()
    if sizes and "x" in t.lower() and "," not in t and not t.startswith("["):
        try:
            return list(parse_size(t))
        except ValueError:
            raise ValueError(
                f"{key}: expected WIDTHxHEIGHT (e.g. 147x37) or H,W (e.g. 37,147), got {text!r}"
            ) from None
    bracketed = t.startswith("[")
    if not bracketed:
        t = f"[{t}]"
    try:
        value = tomllib.loads(f"v = {t}")["v"]
    except tomllib.TOMLDecodeError as exc:
        if bracketed:
            raise ValueError(f"{key}: cannot read {text!r} as a list ({exc})") from None
        # Bare words separated by commas (e.g. model names): each read as a scalar or kept as text.
        return [_parse_scalar(part.strip()) for part in text.split(",")]
    return list(value)


def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def _build(cls: type, value: Any, key: str) -> Any:
    """A dataclass of type ``cls`` from a mapping of its fields (the others keep their defaults)."""
    names = [f.name for f in fields(cls)]
    if not isinstance(value, Mapping):
        listed = ", ".join(f"{key}.{n}" for n in names)
        raise ValueError(f"{key}: expected a table of {_type_name(cls)}'s fields ({listed}), got {value!r}")
    hints = _hints(cls)
    kwargs: dict[str, Any] = {}
    for name, v in value.items():
        if name not in names:
            raise ValueError(
                f"unknown config key {f'{key}.{name}'!r}; valid keys here: {', '.join(f'{key}.{n}' for n in names)}"
            )
        kwargs[name] = coerce(v, hints[name], f"{key}.{name}")
    missing = [
        f.name
        for f in fields(cls)
        if f.name not in kwargs
        and f.default is dataclasses.MISSING
        and f.default_factory is dataclasses.MISSING
    ]
    if missing:
        raise ValueError(f"{key}: missing {', '.join(f'{key}.{n}' for n in missing)}")
    try:
        return cls(**kwargs)
    except ValueError as exc:
        raise ValueError(f"{key}: {exc}") from None


def coerce(value: Any, tp: Any, key: str) -> Any:
    """Check and convert a TOML or command-line value to the field type ``tp``.

    Strings (from the command line) are read as TOML scalars; ``"none"``/``"null"`` is ``None`` for
    an optional field; a tuple field takes a list, ``"a,b"`` or ``"[a, b]"`` (a pair of integers also
    ``"WxH"``); a dataclass field takes a mapping of its fields. Raises ValueError naming ``key``.
    """
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        is_none = value is None or (isinstance(value, str) and value.lower() in ("none", "null"))
        if is_none and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return coerce(value, arg, key)
            except ValueError as exc:
                errors.append(str(exc))
        raise ValueError(errors[0] if errors else f"{key}: bad value {value!r}")
    if origin is tuple:
        args = typing.get_args(tp)
        if isinstance(value, str):
            value = _parse_sequence(value, key, sizes=args == (int, int))
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{key}: expected a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(coerce(v, args[0], key) for v in value)
        if len(value) != len(args):
            raise ValueError(f"{key}: expected {len(args)} values, got {len(value)} ({value!r})")
        return tuple(coerce(v, a, key) for v, a in zip(value, args, strict=True))
    if isinstance(tp, type) and is_dataclass(tp):
        return _build(tp, value, key)
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "on", "1", "false", "no", "off", "0"):
            return value.lower() in ("true", "yes", "on", "1")
        raise ValueError(f"{key}: expected true or false, got {value!r}")
    if tp is int:
        if isinstance(value, str):
            value = _parse_scalar(value)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{key}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, str):
            value = _parse_scalar(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{key}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ValueError(f"{key}: expected a string, got {value!r}")
        return value
    raise ValueError(f"{key}: cannot set a value of type {_type_name(tp)}")


# --------------------------------------------------------------------------------------------------
# nested updates and key=value overrides


def update(obj: T, changes: Mapping[str, Any], prefix: str = "") -> T:
    """``dataclasses.replace(obj, ...)`` recursively with checked, converted values: a key naming a
    nested dataclass takes a mapping of its keys. ``prefix`` (e.g. ``"optim."``) is prepended to the
    keys in messages. Unknown keys and bad values raise ValueError naming the key."""
    names = [f.name for f in fields(obj)]  # type: ignore[arg-type]
    hints = _hints(type(obj))
    kwargs: dict[str, Any] = {}
    for key, value in changes.items():
        full = f"{prefix}{key}"
        if key not in names:
            raise ValueError(
                f"unknown config key {full!r}; valid keys here: {', '.join(prefix + n for n in names)}"
            )
        current = getattr(obj, key)
        if is_dataclass(current):
            if not isinstance(value, Mapping):
                sub = ", ".join(f"{full}.{f.name}" for f in fields(current))
                raise ValueError(f"{full} is a section; set its keys instead: {sub}")
            kwargs[key] = update(current, value, f"{full}.")
        else:
            kwargs[key] = coerce(value, hints[key], full)
    try:
        return dataclasses.replace(obj, **kwargs)  # type: ignore[type-var]
    except ValueError as exc:
        where = prefix.rstrip(".") or "config"
        raise ValueError(f"{where}: {exc}") from None


def parse_override(text: str, example: str = "name=value") -> tuple[str, str]:
    """``"data.size=37,147"`` → ``("data.size", "37,147")``; ``example`` goes into the error message."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise ValueError(f"override {text!r}: expected KEY=VALUE, e.g. {example}")
    return key.strip(), value.strip()


def apply_overrides(
    obj: T,
    overrides: Iterable[str] | Mapping[str, Any],
    *,
    option: str = "--set",
    example: str = "name=value",
    expand: Callable[[list[str]], list[str]] | None = None,
) -> T:
    """Apply dotted ``key=value`` overrides (strings as on the command line, or a mapping of dotted
    keys to values) to the dataclass ``obj``, in order.

    ``option`` names the command-line option in error messages (``"--set k=v: ..."``), ``example``
    shows a valid override, and ``expand`` maps a key's parts to their full path (e.g. a short form
    of a nested key)."""
    items = (
        overrides.items()
        if isinstance(overrides, Mapping)
        else (parse_override(o, example) for o in overrides)
    )
    for key, value in items:
        parts = key.split(".")
        if expand is not None:
            parts = expand(parts)
        nested: Any = value
        for part in reversed(parts):
            nested = {part: nested}
        try:
            obj = update(obj, nested)
        except ValueError as exc:
            raise ValueError(f"{option} {key}={value}: {exc}") from None
    return obj


# --------------------------------------------------------------------------------------------------
# TOML


def read_toml(path: str | Path) -> dict[str, Any]:
    """A TOML file as a dict. FileNotFoundError or ValueError (not valid TOML) naming the file."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such config file")
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{p}: not valid TOML ({exc})") from None


def load_toml(path: str | Path, base: T) -> T:
    """``base`` updated from a TOML file of its fields (:func:`read_toml`, then :func:`update`); errors
    name the file and the key."""
    d = read_toml(path)
    try:
        return update(base, d)
    except ValueError as exc:
        raise ValueError(f"{Path(path)}: {exc}") from None


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if math.isinf(v):
            return "inf" if v > 0 else "-inf"
        if math.isnan(v):
            return "nan"
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, Mapping):  # a dataclass inside a list: an inline table
        return "{" + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items() if x is not None) + "}"
    raise ValueError(f"cannot write {v!r} to TOML")


def to_toml(d: Mapping[str, Any], _prefix: str = "") -> str:
    """A nested dict as TOML: plain keys first, then one ``[section]`` per nested mapping. ``None``
    values are left out (TOML has no null; reading restores the default, see :func:`dump_toml`)."""
    lines = [f"{k} = {_toml_value(v)}" for k, v in d.items() if v is not None and not isinstance(v, Mapping)]
    for k, v in d.items():
        if isinstance(v, Mapping):
            name = f"{_prefix}{k}"
            lines.append(f"\n[{name}]")
            lines.append(to_toml(v, f"{name}.").strip("\n"))
    return "\n".join(line for line in lines if line) + "\n"


def dump_toml(obj: Any) -> str:
    """A dataclass as TOML that :func:`load_toml` on its class's defaults reads back to an equal object.

    ValueError where that cannot hold: a field that is ``None`` although its default is not (TOML has
    no null, so reading it back would restore the default)."""
    for f in fields(obj):
        if getattr(obj, f.name) is None and f.default is not None:
            raise ValueError(f"{f.name} is None but its default is not: TOML cannot write it")
    return to_toml(to_plain(obj))
