"""The one home of a command line that ssrdepth suggests to the user: :func:`command_line` quotes
every word for a POSIX shell (``shlex.join``), so a suggestion runs as printed even when a path has
spaces, brackets, quotes or non-ASCII letters in it. Errors, hints and reports build their suggested
commands here, with every option the data source needs (e.g.
:meth:`ssrdepth.data.config.DataConfig.source_arguments`)."""

from __future__ import annotations

import os
import shlex

__all__ = ["command_line", "options"]

Word = str | int | float | os.PathLike[str]


def _word(value: Word) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value)) if abs(value) < 1e15 else repr(value)
    return os.fspath(value) if isinstance(value, os.PathLike) else str(value)


def command_line(*args: Word) -> str:
    """``ssrdepth ARGS…`` as one shell-quoted line, e.g. ``command_line("generate", "--out", "my data")``
    → ``ssrdepth generate --out 'my data'``. Floats that are whole print without ``.0``."""
    return shlex.join(["ssrdepth", *(_word(a) for a in args)])


def options(*args: Word) -> str:
    """Options to add to the command the user ran, shell-quoted like :func:`command_line`, e.g.
    ``options("--pattern", "left/{name}.jpg", "right/{name}.jpg")`` → ``--pattern 'left/{name}.jpg' …``."""
    return shlex.join(_word(a) for a in args)
