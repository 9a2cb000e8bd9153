"""The inputs of ``ssrdepth predict`` — the one home of what it reads: the command line's paths
split into checkpoint and inputs (:func:`split_checkpoint`), files, folders and glob patterns expanded
into :class:`InputItem` s with unique output names (:func:`list_inputs`, :func:`gather_inputs`),
checked before a model is loaded (:func:`check_inputs`), a video's decoded frames
(:func:`video_frames`, the one frame iterator of ``ssrdepth predict`` and ``ssrdepth serve``) and the
one home of what an input may cost (:class:`InputLimits`: pixels, frames, seconds, checked before
decoding by every input path).

What a listed folder or glob holds that is not taken is said, never dropped in silence
(:meth:`InputListing.notes`): files with a suffix that is no image or video format read here, each
with the reason; ssrdepth's own outputs (their metadata says so: :func:`~.outputs.is_prediction_file`),
counted, taken only when named; other files (text, JSON, arrays, ...), counted in one line.
"""

from __future__ import annotations

import glob
import math
import os
from collections.abc import Generator, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ssrdepth.core.checkpoint_files import names_checkpoint
from ssrdepth.core.image import AVIF_SUFFIXES, HEIF_SUFFIXES, BadSampleError, image_size
from ssrdepth.inference.outputs import is_prediction_file, sidecar_path
from ssrdepth.pretrained import BUNDLED, bundled_checkpoint

#: Image suffixes taken from folders and globs; HEIC/HEIF need pillow-heif (``ssrdepth[heif]``) and
#: AVIF Pillow 11.3+: without them such a file is listed and reported with the fix, not skipped.
IMAGE_SUFFIXES = (
    *(".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".pgm", ".pnm", ".tif", ".tiff", ".webp"),
    *HEIF_SUFFIXES,
    *AVIF_SUFFIXES,
)
VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")
#: Suffixes of files that are plainly not pictures (text, tables, arrays, clouds, models, archives):
#: counted in one line when a folder holds them; any other suffix is reported per file.
OTHER_SUFFIXES = (
    ".txt", ".json", ".csv", ".tsv", ".md", ".xml", ".yaml", ".yml", ".toml", ".ini", ".cfg", ".log",
    ".npy", ".npz", ".pfm", ".ply", ".pcd", ".bin", ".pt", ".pth", ".onnx", ".pdf", ".html", ".zip",
    ".tar", ".gz", ".py", ".sh", ".db", ".mat", ".h5", ".xmp", ".aae",
)  # fmt: skip


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


@dataclass
class InputListing:
    """What :func:`list_inputs` found: the ``items`` to process, and what was left out of folders and
    globs: ``skipped`` (file, reason) for files of a suffix no reader here takes, ``own_outputs``
    (files ssrdepth wrote), ``other_files`` (text, arrays and the like)."""

    items: list[InputItem]
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    own_outputs: list[Path] = field(default_factory=list)
    other_files: list[Path] = field(default_factory=list)

    def notes(self) -> list[str]:
        """One line per skipped file, one for ssrdepth's outputs, one for the other files."""
        lines = [f"{path}: skipped: {reason}" for path, reason in self.skipped]
        if self.skipped:
            lines.append(
                f"formats read: images {', '.join(IMAGE_SUFFIXES)}; videos {', '.join(VIDEO_SUFFIXES)}"
            )
        if self.own_outputs:
            lines.append(
                f"left out {len(self.own_outputs)} file(s) that ssrdepth wrote (their metadata says so), e.g. "
                f"{self.own_outputs[0]}: outputs are not read back as photos; name a file to predict it anyway"
            )
        if self.other_files:
            kinds = sorted({f.suffix.lower() or "no suffix" for f in self.other_files})
            lines.append(f"left out {len(self.other_files)} file(s) that are not images ({', '.join(kinds)})")
        return lines


def _unknown(path: Path) -> str:
    return (
        f"'{path.suffix}' is not an image or video format read here; convert it to PNG or JPEG (or name "
        "the file itself if it is an image under another suffix)"
    )


def _sort_listed(files: Iterable[Path], listing: InputListing, whole_folder: bool = True) -> list[Path]:
    """The files of a folder (``whole_folder``: every file in it is among ``files``) or of a glob that
    are inputs; the rest recorded in ``listing``."""
    files = list(files)
    names = {str(f) for f in files} if whole_folder else None
    keep = []
    for f in files:
        suffix = f.suffix.lower()
        if suffix in IMAGE_SUFFIXES or suffix in VIDEO_SUFFIXES:
            if is_prediction_file(f, sidecar=None if names is None else str(sidecar_path(f)) in names):
                listing.own_outputs.append(f)
            else:
                keep.append(f)
        elif not suffix or f.name.startswith(".") or suffix in OTHER_SUFFIXES:
            listing.other_files.append(f)
        else:
            listing.skipped.append((f, _unknown(f)))
    return keep


def list_inputs(inputs: Sequence[str | os.PathLike[str]], recursive: bool = False) -> InputListing:
    """Expand files, folders (images and videos inside; ``recursive`` for sub-folders) and glob
    patterns into items with unique output names, and what was left out (:class:`InputListing`). A
    file named itself is always taken; from folders and globs, ssrdepth's own outputs are not.

    Raises:
        FileNotFoundError: a path that does not exist or a pattern that matches nothing.
        ValueError: a folder with no images or videos in it (saying what it holds), or no input at all.
    """
    listing = InputListing([])
    found: list[tuple[Path, str]] = []
    for raw in inputs:
        text = str(raw)
        p = Path(text)
        if p.is_dir():
            before = (len(listing.skipped), len(listing.own_outputs), len(listing.other_files))
            files = sorted(f for f in (p.rglob("*") if recursive else p.iterdir()) if f.is_file())
            files = _sort_listed(files, listing)
            if not files:
                held = [
                    f"{n} {what}"
                    for n, what in zip(
                        (
                            len(listing.skipped) - before[0],
                            len(listing.own_outputs) - before[1],
                            len(listing.other_files) - before[2],
                        ),
                        ("file(s) of another format", "output(s) of ssrdepth", "non-image file(s)"),
                        strict=True,
                    )
                    if n
                ]
                raise ValueError(
                    f"{p}: no images or videos in this folder"
                    f"{' (it holds ' + ', '.join(held) + ')' if held else ''} (looked for "
                    f"{', '.join(IMAGE_SUFFIXES + VIDEO_SUFFIXES)}"
                    f"{'' if recursive else '; use --recursive for sub-folders'})"
                )
            found += [(f, f.relative_to(p).with_suffix("").as_posix()) for f in files]
        elif p.is_file():
            found.append((p, p.stem))
        elif any(c in text for c in "*?["):
            matches = sorted(Path(m) for m in glob.glob(text, recursive=True) if Path(m).is_file())
            if not matches:
                raise FileNotFoundError(f"{text}: no file matches this pattern")
            found += [(m, m.stem) for m in _sort_listed(matches, listing, whole_folder=False)]
        else:
            raise FileNotFoundError(f"{p}: no such file or folder")
    if not found:
        lines = listing.notes()
        raise ValueError(
            "no input given: name images, folders, glob patterns or videos"
            + (f" ({'; '.join(lines)})" if lines else "")
        )
    used: set[str] = set()
    for path, name in found:
        unique, n = name, 2
        while unique in used:
            unique, n = f"{name}-{n}", n + 1
        used.add(unique)
        listing.items.append(InputItem(path, _kind(path), unique))
    return listing


def gather_inputs(inputs: Sequence[str | os.PathLike[str]], recursive: bool = False) -> list[InputItem]:
    """The items of :func:`list_inputs` (what was left out is in its :class:`InputListing`).

    Raises:
        FileNotFoundError: a path that does not exist or a pattern that matches nothing.
        ValueError: a folder with no images or videos in it, or no input at all.
    """
    return list_inputs(inputs, recursive).items


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


@dataclass(frozen=True)
class InputLimits:
    """What one input may cost, checked before it is decoded: the one home of these limits, used by
    every input path (``predict``'s video reader, the page's images, videos, webcam frames and API).

    max_pixels: pixels of one image or one video frame (W × H). max_frames: frames of a video that are
    decoded (the rest are not read). max_seconds: seconds of a video that are decoded (frames past it,
    by the container's fps, are not read). max_video_pixels: pixels of all decoded frames of a video
    together (frames × W × H: larger frames, fewer of them). ``None``: no limit.
    """

    max_pixels: int | None = None
    max_frames: int | None = None
    max_seconds: float | None = None
    max_video_pixels: int | None = None

    def check_pixels(self, width: int, height: int, what: str | os.PathLike[str]) -> None:
        """Refuse an image or frame of ``width`` × ``height`` px beyond ``max_pixels``.

        Raises:
            InputTooLarge: naming ``what`` (the file), its size and the limit.
        """
        if self.max_pixels is not None and width * height > self.max_pixels:
            raise InputTooLarge(
                f"{what}: {width}×{height} pixels ({width * height / 1e6:.3g} Mpx) is more than the "
                f"{self.max_pixels / 1e6:g} Mpx accepted (max_pixels); use a smaller image or video"
            )

    def frames_to_read(self, count: int, fps: float, pixels: int = 0) -> int | None:
        """How many frames of a video with ``count`` frames (0: unknown) at ``fps`` (0: unknown) of
        ``pixels`` each (0: unknown) are decoded: the least of ``count``, ``max_frames``,
        ``max_seconds`` × ``fps`` and ``max_video_pixels`` / ``pixels`` (at least 1); None: all."""
        bounds = [count] if count > 0 else []
        if self.max_frames is not None:
            bounds.append(self.max_frames)
        if self.max_seconds is not None and fps > 0:
            bounds.append(max(1, math.ceil(self.max_seconds * fps - 1e-9)))
        if self.max_video_pixels is not None and pixels > 0:
            bounds.append(max(1, self.max_video_pixels // pixels))
        return min(bounds) if bounds else None


class InputTooLarge(ValueError):
    """An input beyond an :class:`InputLimits` limit; the message names the file and the limit."""


#: ``ssrdepth predict``'s limits: Pillow's decompression-bomb limit (2 × ``Image.MAX_IMAGE_PIXELS``,
#: which :func:`~ssrdepth.core.image.read_image` enforces for images) for video frames too; videos
#: are streamed whole.
PREDICT_LIMITS = InputLimits(max_pixels=2 * 89_478_485)


@dataclass(frozen=True)
class VideoInfo:
    """What a video's container states, read without decoding a frame: ``width`` × ``height`` px
    (0 when not stated), ``frames`` (0 when not stated), ``fps`` (0 when not stated)."""

    width: int
    height: int
    frames: int
    fps: float

    @property
    def seconds(self) -> float | None:
        """Duration (s) from frames and fps, None when either is unknown."""
        return self.frames / self.fps if self.frames > 0 and self.fps > 0 else None


def _open(path: Path) -> tuple[cv2.VideoCapture, VideoInfo]:
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        cap.release()
        raise ValueError(f"{path}: cannot open this video (unsupported container or codec, or not a video)")
    info = VideoInfo(
        int(cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0),
        int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0),
        max(int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0), 0),
        float(cap.get(cv2.CAP_PROP_FPS) or 0.0),
    )
    return cap, info


def video_info(path: Path, limits: InputLimits = PREDICT_LIMITS) -> VideoInfo:
    """The container's frame size, frame count and fps, read without decoding a frame, with the frame
    size checked against ``limits``.

    Raises:
        ValueError: OpenCV cannot open the file; :class:`InputTooLarge` when its frames are too large.
    """
    cap, info = _open(Path(path))
    cap.release()
    if info.width and info.height:
        limits.check_pixels(info.width, info.height, path)
    return info


def video_frames(
    path: Path, limits: InputLimits = PREDICT_LIMITS
) -> tuple[Generator[np.ndarray, None, None], float, int]:
    """Decoded RGB frames of a video, its fps (0 when unknown) and the (estimated) number of frames
    the iterator yields: the one frame iterator of ``ssrdepth predict`` and ``ssrdepth serve``.

    ``limits`` are enforced before decoding: the frame size the container states is checked first; at
    most :meth:`InputLimits.frames_to_read` frames are decoded. Frames are streamed (one decoded at a
    time); each decoded frame's size is checked too (a container may state none). The capture is
    released when the frames run out or the generator is closed.

    Raises:
        ValueError: naming the file when OpenCV cannot open it or decode its first frame;
            :class:`InputTooLarge` (a ValueError) when its frames are beyond ``limits.max_pixels``.
    """
    cap, info = _open(Path(path))
    if info.width and info.height:
        try:
            limits.check_pixels(info.width, info.height, path)
        except InputTooLarge:
            cap.release()
            raise
    ok, first = cap.read()
    if not ok or first is None:
        cap.release()
        raise ValueError(f"{path}: no frame could be decoded (unsupported codec or empty video)")
    try:
        limits.check_pixels(first.shape[1], first.shape[0], path)
    except InputTooLarge:
        cap.release()
        raise
    budget = limits.frames_to_read(info.frames, info.fps, first.shape[0] * first.shape[1])

    def gen() -> Generator[np.ndarray, None, None]:
        try:
            frame: np.ndarray | None = first
            done = 0
            while frame is not None and (budget is None or done < budget):
                if frame.shape[:2] != first.shape[:2]:
                    limits.check_pixels(frame.shape[1], frame.shape[0], path)
                yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
                done += 1
                if budget is not None and done >= budget:
                    break
                # No fps stated: the decoder's timestamps bound the duration.
                timed = limits.max_seconds is not None and info.fps <= 0
                if timed and cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0 >= (limits.max_seconds or 0.0):
                    break
                ok, nxt = cap.read()
                frame = nxt if ok else None
        finally:
            cap.release()

    estimate = max(info.frames, 1) if budget is None else budget
    return gen(), info.fps, estimate
