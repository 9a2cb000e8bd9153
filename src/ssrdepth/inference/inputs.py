"""The inputs of ``ssrdepth predict`` — the one home of what it reads: the command line's paths
split into checkpoint and inputs (:func:`split_checkpoint`), files, folders and glob patterns expanded
into :class:`InputItem` s with unique output names (:func:`gather_inputs`), checked before a model is
loaded (:func:`check_inputs`), and a video's decoded frames (:func:`video_frames`, the one frame
iterator of ``ssrdepth predict`` and ``ssrdepth serve``).
"""

from __future__ import annotations

import glob
import os
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ssrdepth.core.checkpoint_files import names_checkpoint
from ssrdepth.core.image import BadSampleError, image_size
from ssrdepth.pretrained import BUNDLED, bundled_checkpoint

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".pgm", ".pnm", ".tif", ".tiff", ".webp")
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")


@dataclass(frozen=True)
class InputItem:
    """One image or video to process; ``name`` is its output path under ``--out`` without suffix."""

    path: Path
    kind: str
    name: str


def split_checkpoint(paths: Sequence[str]) -> tuple[str | None, list[str]]:
    """``ssrdepth predict``'s positionals → ``(checkpoint, inputs)``.

    The first path is the checkpoint when it is the word ``bundled`` or names a checkpoint
    (:func:`ssrdepth.core.checkpoint_files.names_checkpoint`: ends in ``.pt`` or ``.onnx``, or is a run
    folder holding ``best.pt`` or ``latest.pt``); otherwise every path is an input and the checkpoint is
    ``None``: the bundled model, whose presence and sha256 are checked here, before any input is read.

    Raises:
        ValueError: a checkpoint and no inputs after it, or bundled weights that do not match their card.
        NoBundledModel (a FileNotFoundError): no checkpoint among ``paths`` and this ssrdepth ships no
            pretrained model; the message says to give one.
    """
    if not paths:
        raise ValueError("no input given: name images, folders, glob patterns or videos")
    first = paths[0]
    if first == BUNDLED or names_checkpoint(first):
        if len(paths) == 1:
            raise ValueError(
                f"{first}: a checkpoint and no inputs; name images, folders, glob patterns or videos after it"
            )
        return first, list(paths[1:])
    bundled_checkpoint()
    return None, list(paths)


def _kind(path: Path) -> str:
    return "video" if path.suffix.lower() in VIDEO_SUFFIXES else "image"


def gather_inputs(inputs: Sequence[str | os.PathLike[str]], recursive: bool = False) -> list[InputItem]:
    """Expand files, folders (images and videos inside; ``recursive`` for sub-folders) and glob
    patterns into a list of items with unique output names.

    Raises:
        FileNotFoundError: a path that does not exist or a pattern that matches nothing.
        ValueError: a folder with no images or videos in it, or no input at all.
    """
    suffixes = IMAGE_SUFFIXES + VIDEO_SUFFIXES
    found: list[tuple[Path, str]] = []
    for raw in inputs:
        text = str(raw)
        p = Path(text)
        if p.is_dir():
            files = sorted(f for f in (p.rglob("*") if recursive else p.iterdir()) if f.is_file())
            files = [f for f in files if f.suffix.lower() in suffixes]
            if not files:
                raise ValueError(
                    f"{p}: no images or videos in this folder (looked for {', '.join(suffixes)}"
                    f"{'' if recursive else '; use --recursive for sub-folders'})"
                )
            found += [(f, f.relative_to(p).with_suffix("").as_posix()) for f in files]
        elif p.is_file():
            found.append((p, p.stem))
        elif any(c in text for c in "*?["):
            matches = sorted(Path(m) for m in glob.glob(text, recursive=True) if Path(m).is_file())
            if not matches:
                raise FileNotFoundError(f"{text}: no file matches this pattern")
            found += [(m, m.stem) for m in matches]
        else:
            raise FileNotFoundError(f"{p}: no such file or folder")
    if not found:
        raise ValueError("no input given: name images, folders, glob patterns or videos")
    items, used = [], set()
    for path, name in found:
        unique, n = name, 2
        while unique in used:
            unique, n = f"{name}-{n}", n + 1
        used.add(unique)
        items.append(InputItem(path, _kind(path), unique))
    return items


def check_inputs(items: Sequence[InputItem]) -> None:
    """Fail fast, before a model is loaded (``--backend auto`` would time the backends first), when no
    input can be used: the image headers are read in order until one reads (a video counts as usable);
    a ValueError naming the first unreadable file when none does. Unreadable files beside a readable
    one are reported per file by :func:`~ssrdepth.inference.predict.predict_files`."""
    first: BadSampleError | None = None
    for item in items:
        if item.kind == "video":
            return
        try:
            image_size(item.path)
            return
        except BadSampleError as exc:
            first = first or exc
    if first is not None:
        n = len(items)
        raise ValueError(
            f"{first}; {'none of the ' + str(n) + ' inputs is' if n > 1 else 'the input is not'} a readable image"
        )


def video_frames(path: Path) -> tuple[Generator[np.ndarray, None, None], float, int]:
    """Decoded RGB frames of a video, its fps (0 when unknown) and (estimated) frame count: the one
    frame iterator of ``ssrdepth predict`` and ``ssrdepth serve``; the capture is released when the
    frames run out or the generator is closed. ValueError naming the file when OpenCV cannot open it
    or decode its first frame."""
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise ValueError(f"{path}: cannot open this video (unsupported container or codec, or not a video)")
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    ok, first = cap.read()
    if not ok or first is None:
        cap.release()
        raise ValueError(f"{path}: no frame could be decoded (unsupported codec or empty video)")

    def gen() -> Generator[np.ndarray, None, None]:
        try:
            frame: np.ndarray | None = first
            while frame is not None:
                yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
                ok, nxt = cap.read()
                frame = nxt if ok else None
        finally:
            cap.release()

    return gen(), fps, max(count, 1)
