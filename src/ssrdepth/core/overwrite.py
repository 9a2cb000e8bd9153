"""The rule that a command never writes over one of its inputs: :func:`check_not_inputs`, called with
every planned output before anything is written (``predict``'s maps, ``serve``'s page outputs,
``export``'s and ``quantize``'s files). Outputs and inputs are compared as resolved paths and as files
(device and inode: hard links and symbolic links to the same file are the same input).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterable
from pathlib import Path


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


def check_not_inputs(
    outputs: Iterable[tuple[Path, str]],
    inputs: Iterable[Path],
    out_dir: Path | None = None,
    frame_folders: Iterable[tuple[Path, str]] = (),
    suggestion: Path | None = None,
) -> None:
    """Refuse, before anything is written, when a planned output is one of the inputs: the same path
    once resolved, or the same file (:func:`os.path.samefile`: links). ``outputs``: (path, what is
    written there); ``frame_folders``: (folder, prefix) of numbered per-frame files
    (``PREFIX_000000_...``) whose count is not known yet; ``suggestion``: the ``--out`` the message
    proposes (default: ``OUT_DIR-depth`` beside ``out_dir``).

    Raises:
        ValueError: naming the input, the output that would overwrite it, and ``--out`` to change.
    """
    ids: dict[tuple[int, int], Path] = {}
    resolved: dict[Path, Path] = {}
    for p in inputs:
        resolved[p.resolve()] = p
        key = _identity(p)
        if key is not None:
            ids[key] = p

    def refuse(inp: Path, out: Path, what: str) -> ValueError:
        where = out_dir if out_dir is not None else out.parent
        other = suggestion or (where.parent / f"{where.name}-depth" if where.name else Path("depth"))
        place = "output" if suggestion is not None else "output folder without inputs in it"
        return ValueError(
            f"{inp} is an input and would be overwritten by {what} ({out}); nothing was written: choose "
            f"another {place}, e.g. --out {shlex.quote(str(other))}"
        )

    for out, what in outputs:
        inp = resolved.get(out.resolve())
        if inp is None and out.exists():
            key = _identity(out)
            inp = ids.get(key) if key is not None else None
        if inp is not None:
            raise refuse(inp, out, what)
    for folder, prefix in frame_folders:
        pattern = re.compile(re.escape(prefix) + r"_\d{6}_")
        where = folder.resolve()
        for path, inp in resolved.items():
            if path.parent == where and pattern.match(path.name):
                raise refuse(inp, path, f"the per-frame maps of {prefix}")
