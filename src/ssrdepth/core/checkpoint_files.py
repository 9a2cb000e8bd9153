"""Where a checkpoint lies: a file, or a run folder that holds one (no torch needed to find it).

A training run folder holds ``latest.pt`` (the resume point) and, when the run validates, ``best.pt``.
:func:`resolve_checkpoint` is the one place that turns a path given by a user (to ``train --init-from``,
``train --resume``, ``evaluate``, ``predict``, ``export``, ``quantize``, ``serve``) into a file.
:mod:`ssrdepth.checkpoint` re-exports it beside the loader.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

logger = logging.getLogger(__name__)

#: File names inside a run folder.
LATEST = "latest.pt"
BEST = "best.pt"
#: What ``which`` asks for → the names tried, in order.
_CHOICES = {"best": (BEST, LATEST), "latest": (LATEST,)}
#: The file suffixes of what a checkpoint argument names: a checkpoint, or an ONNX export of one.
CHECKPOINT_SUFFIXES = (".pt", ".onnx")


def names_checkpoint(path: str | os.PathLike[str]) -> bool:
    """Whether a path given by a user names a checkpoint rather than an input image or folder: a name
    ending in ``.pt`` or ``.onnx`` (existing or not, so that a mistyped one is reported as a missing
    checkpoint) or a run folder (one holding ``best.pt`` or ``latest.pt``, as :func:`resolve_checkpoint`
    takes)."""
    p = Path(path)
    if p.suffix.lower() in CHECKPOINT_SUFFIXES:
        return True
    return p.is_dir() and any((p / name).is_file() for name in (BEST, LATEST))


def resolve_checkpoint(path: str | os.PathLike[str], which: str = "best", *, announce: bool = True) -> Path:
    """A checkpoint file as given, or a run folder → its ``best.pt`` (``which="best"``, falling back to
    ``latest.pt`` when the run has no validation) or its ``latest.pt`` (``which="latest"``).

    The choice made for a folder is logged at INFO (``announce=False``: at DEBUG).

    Raises:
        FileNotFoundError: nothing at ``path``, or a folder without the checkpoint(s) looked for (the
            message names the folder, the files looked for and any run folders under it).
    """
    if which not in _CHOICES:
        raise ValueError(f"which must be one of {', '.join(_CHOICES)}, got {which!r}")
    p = Path(path)
    if p.is_dir():
        names = _CHOICES[which]
        for name in names:
            if (p / name).is_file():
                why = "its best validation checkpoint" if name == BEST else "its last checkpoint"
                if name == LATEST and which == "best":
                    why += f"; no {BEST}: the run did not validate"
                logger.log(logging.INFO if announce else logging.DEBUG, "%s: using %s (%s)", p, name, why)
                return p / name
        raise FileNotFoundError(
            f"{p}: a folder without a checkpoint (looked for {' and '.join(names)})" + _runs_under(p)
        )
    if not p.is_file():
        raise FileNotFoundError(f"{p}: no such checkpoint file or run folder")
    return p


def _runs_under(folder: Path, shown: int = 3) -> str:
    """``"; run folders under it: a, b, …"`` when sub-folders hold checkpoints (e.g. ``runs/demo``)."""
    runs = sorted({f.parent for f in folder.rglob(LATEST)} | {f.parent for f in folder.rglob(BEST)})
    if not runs:
        return ""
    names = [str(r.relative_to(folder)) for r in runs[:shown]]
    more = f" and {len(runs) - shown} more" if len(runs) > shown else ""
    return f"; run folders under it: {', '.join(names)}{more} (name one of them)"
