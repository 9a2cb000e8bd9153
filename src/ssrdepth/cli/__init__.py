"""The ``ssrdepth`` console script: maps each subcommand to its thin module in ``ssrdepth.cli``.

Each command module defines ``add_arguments(parser)`` and ``main(args) -> int``: it parses, calls one
library function (the Python API, in ``ssrdepth.training``, ``ssrdepth.inference``, ...) and prints.
A module whose positionals options may split (``predict [CHECKPOINT] INPUT…``) sets ``INTERMIXED = True``.
Command modules are never imported by other modules. Modules are imported
only when their command runs, so ``ssrdepth --help`` stays fast.
"""

from __future__ import annotations

import argparse
import errno
import importlib
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

#: command name → (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "models": ("ssrdepth.cli.models", "list the networks: parameters, output stride, GFLOPs"),
    "generate": ("ssrdepth.cli.generate", "render the synthetic stereo street data set (KITTI layout)"),
    "prepare-targets": (
        "ssrdepth.cli.prepare_targets",
        "stereo-match a data set into cached disparity targets",
    ),
    "train": ("ssrdepth.cli.train", "train a model in a single stage"),
    "evaluate": ("ssrdepth.cli.evaluate", "evaluate checkpoints or models with a named protocol"),
    "predict": ("ssrdepth.cli.predict", "predict depth for images, folders or videos"),
    "export": ("ssrdepth.cli.export", "export a checkpoint to ONNX / TorchScript"),
    "quantize": ("ssrdepth.cli.quantize", "INT8 ONNX export, refused past an accuracy tolerance"),
    "bench": ("ssrdepth.cli.bench", "measure training and inference speed, write JSON"),
    "reproduce": ("ssrdepth.cli.reproduce", "reproduce the paper's tables on KITTI / NYU"),
    "demo": ("ssrdepth.cli.demo", "the main job on the embedded synthetic data set"),
    "study": ("ssrdepth.cli.study", "measured studies: 'study matchers' (which stereo matcher to train on)"),
    "serve": ("ssrdepth.cli.serve", "a web page to try trained models (needs the [serve] extra)"),
}

#: command → the packaging extra that makes it run (commands not listed run on the core install)
COMMAND_EXTRAS: dict[str, str] = {
    "models": "torch",
    "train": "train",
    "evaluate": "torch",
    "export": "export",
    "bench": "train",
    "reproduce": "demo",
    "demo": "demo",
    "study": "demo",
}


class _Stderr(logging.Handler):
    """Writes to the ``sys.stderr`` of the moment (tests and callers may swap it), above any progress
    bar on it (``tqdm.write`` clears the bars, writes the line and draws them again)."""

    def emit(self, record: logging.LogRecord) -> None:
        from tqdm import tqdm

        tqdm.write(self.format(record), file=sys.stderr)


def print_error(command: str, message: object) -> None:
    """One error line on stderr: ``ssrdepth COMMAND: error: MESSAGE``, ending in exactly one newline
    (a message's own trailing whitespace is dropped), after whatever stdout holds so far."""
    sys.stdout.flush()
    sys.stderr.write(f"ssrdepth {command}: error: {str(message).rstrip()}\n")
    sys.stderr.flush()


def cannot_write_message(exc: OSError, args: argparse.Namespace | None = None) -> str:
    """One line for a write the place refused: ``cannot write PATH: REASON; WAY OUT``. The way out is
    the error's own (:class:`~ssrdepth.core.io.CannotWriteError` raised where the option is known), else
    ``--out`` when the path lies under the command's ``--out``, ``--cache-dir`` for a data-set cache, or
    a writable place in general. A permission error elsewhere may be a read: it says "cannot access"."""
    from ssrdepth.core.io import CannotWriteError

    if isinstance(exc, CannotWriteError) and exc.hint:
        return str(exc)
    path = Path(exc.filename) if exc.filename is not None else None
    reason = exc.strerror or str(exc)
    out = getattr(args, "out", None)
    full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
    room = "with room to spare" if full else "that is writable"
    verb = "write"
    out_dir = Path(out).absolute() if out else None
    if path is not None and out_dir is not None and out_dir in (path.absolute(), *path.absolute().parents):
        hint = f"give another place {room} as --out"
    elif path is not None and ".ssrdepth" in path.parts and hasattr(args, "cache_dir"):
        hint = f"give a folder {room} as --cache-dir (data.cache_dir)"
    else:
        options = [f"--{o.replace('_', '-')}" for o in ("out", "cache_dir") if hasattr(args, o)]
        hint = "free some space" if full else "choose a place you can write to"
        hint += f" ({', '.join(options)})" if options else ""
        if exc.errno in (errno.EACCES, errno.EPERM) and not isinstance(exc, CannotWriteError):
            verb = "access"  # perhaps a read: an input that is not ours
            hint = f"check its permissions, or {hint}"
    where = path if path is not None else "a file"
    return f"cannot {verb} {where}: {reason}; {hint}"


#: Errors of making or writing a place that is not a folder: a file where a folder is asked for, a path
#: under a file, nothing there to make it in.
_NOT_A_FOLDER = frozenset({errno.ENOTDIR, errno.EEXIST, errno.EISDIR, errno.ENOENT})


def _out_cannot_be_made(exc: OSError, args: argparse.Namespace) -> bool:
    """Whether ``exc`` is the command's ``--out`` (or a path under it) that cannot be made a folder or
    written: ``--out photo.jpg``, ``--out photo.jpg/x``, ``--out /proc/x``."""
    out = getattr(args, "out", None)
    if not out or exc.errno not in _NOT_A_FOLDER or exc.filename is None:
        return False
    path, out_dir = Path(exc.filename).absolute(), Path(out).absolute()
    return out_dir in (path, *path.parents)


def _show_library_logs() -> None:
    """The library logs through module loggers under ``ssrdepth``; a command shows its notes (INFO and
    up) on stderr, as plain lines, once each.

    Other libraries' warnings go through the root logger, shown as ``name: message``. The root gets a
    handler here (one that leaves ``ssrdepth`` records to the handler above) because a library that
    calls ``logging.warning(...)`` on a root without one makes ``logging`` install ``basicConfig``'s
    handler, which then printed every ssrdepth note a second time (as ``INFO:ssrdepth…:``)."""
    log = logging.getLogger("ssrdepth")
    if not any(isinstance(h, _Stderr) for h in log.handlers):
        log.addHandler(_Stderr())
    log.setLevel(logging.INFO)
    root = logging.getLogger()
    if not root.handlers:
        handler = _Stderr()
        handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
        handler.addFilter(lambda record: not record.name.startswith("ssrdepth"))
        root.addHandler(handler)


def _top_parser() -> argparse.ArgumentParser:
    lines = "\n".join(f"  {name:<16} {help_}" for name, (_, help_) in COMMANDS.items())
    p = argparse.ArgumentParser(
        prog="ssrdepth",
        description="Single-stage refinement CNNs for monocular depth estimation.",
        epilog=f"commands:\n{lines}\n\nRun 'ssrdepth COMMAND --help' for a command's options.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--version", action="store_true", help="print the version and exit")
    p.add_argument("command", nargs="?", help="one of the commands below")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help") or args[0] == "--version" or args[0] not in COMMANDS:
        top = _top_parser()
        if args and args[0] == "--version":
            from ssrdepth import __version__

            print(f"ssrdepth {__version__}")
            return 0
        if args and not args[0].startswith("-"):
            top.error(f"unknown command {args[0]!r}; valid commands: {', '.join(COMMANDS)}")
        top.print_help()
        return 0 if args else 2
    name, rest = args[0], args[1:]
    _show_library_logs()
    module_name, help_ = COMMANDS[name]
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:  # a command whose library needs an extra that is not installed
        from ssrdepth.core.optional import missing_message

        if name in COMMAND_EXTRAS and exc.name:
            message = (
                f"this command needs the '{exc.name.split('.')[0]}' package, which is not installed: "
                f"pip install 'ssrdepth[{COMMAND_EXTRAS[name]}]'"
            )
        else:
            message = missing_message(exc)
        print_error(name, message)
        return 2
    parser = argparse.ArgumentParser(prog=f"ssrdepth {name}", description=help_)
    module.add_arguments(parser)
    ns = (parser.parse_intermixed_args if getattr(module, "INTERMIXED", False) else parser.parse_args)(rest)
    try:
        return int(module.main(ns) or 0)
    except OSError as exc:
        # A write the place refused (read-only, permission, no space), or an --out that cannot be a
        # folder (a file, a path under a file, a place where nothing can be made): one line and the fix.
        from ssrdepth.core.io import is_write_error

        if is_write_error(exc) or _out_cannot_be_made(exc, ns):
            print_error(name, cannot_write_message(exc, ns))
            return 1
        if isinstance(exc, FileNotFoundError):  # bad input: the message names the file
            print_error(name, exc)
            return 2
        raise
    except ValueError as exc:
        # Errors from bad input already name the file and the problem: print them without a traceback.
        print_error(name, exc)
        return 2
    except ImportError as exc:
        # A missing optional dependency (a light install): one line naming the extra to install.
        from ssrdepth.core.optional import missing_message

        print_error(name, missing_message(exc))
        return 2
    except KeyboardInterrupt:
        sys.stdout.flush()
        sys.stderr.write(f"ssrdepth {name}: interrupted; finished outputs are kept\n")
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
