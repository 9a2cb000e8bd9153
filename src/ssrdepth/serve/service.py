"""The work behind ``ssrdepth serve``, without Gradio: check an upload, run the shared model, make the
page's outputs (colour map, colour bar, numbers, downloads, point cloud, side-by-side video).

Prediction is ``ssrdepth predict``'s: the same model loading and backend choice
(:mod:`ssrdepth.inference.model`), pre-processing and :func:`~ssrdepth.inference.maps.finish` turning a
map into values, metadata and colours (:mod:`ssrdepth.inference.maps`), the same frame iterator
(:mod:`ssrdepth.inference.inputs`) and side-by-side writer for videos, so a map served here equals
``ssrdepth predict`` on the same file. Maps are ``(H, W)`` float32 at the image's size in one quantity:
``normalised`` [0, 1], ``disparity`` (px at the image's width) or ``depth`` (m).

The camera is ``predict``'s too (:func:`~ssrdepth.data.intrinsics.resolve_intrinsics`): the page's focal
length, an uploaded calibration file, the field of view, or the uploaded photo's EXIF (on by default),
in that order, else the checkpoint's training camera; the one chosen is logged, noted in the page and
written into every output's metadata (``focal_px``, ``focal_source``; the point cloud's ``camera``).
"""

from __future__ import annotations

import itertools
import logging
import os
import shutil
import tempfile
import threading
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ssrdepth.core.checkpoint_files import BEST, CHECKPOINT_SUFFIXES, LATEST, resolve_checkpoint
from ssrdepth.core.image import BadSampleError, as_rgb, image_size, read_image, unreadable_format
from ssrdepth.core.overwrite import check_not_inputs
from ssrdepth.core.stabilise import Stabiliser
from ssrdepth.core.units import check_baseline
from ssrdepth.data.intrinsics import CameraOptions, Intrinsics, resolve_intrinsics
from ssrdepth.inference.inputs import (
    IMAGE_SUFFIXES,
    VIDEO_SUFFIXES,
    InputLimits,
    InputTooLarge,
    video_frames,
    video_info,
)
from ssrdepth.inference.maps import (
    QUANTITIES,
    UNCERTAINTY_COLOUR_MAX,
    cloud_depth,
    colour_map_name,
    convert,
    describe,
    finish,
    predict_normalised,
    predict_with_uncertainty,
    resolve_quantity,
)
from ssrdepth.inference.model import DepthModel, load_model
from ssrdepth.inference.outputs import UNITS, SideBySideWriter, colorize, depth_to_points, write_ply
from ssrdepth.inference.predict import camera_record, training_camera
from ssrdepth.pretrained import NoBundledModel, bundled_checkpoint, describe_bundled, is_bundled

logger = logging.getLogger(__name__)

#: Largest upload accepted (bytes); the page refuses bigger files before they are sent.
MAX_UPLOAD_BYTES = 50 * 2**20
#: Largest image accepted (pixels): a 40-Mpx photo decodes to 120 MB; more is refused, not decoded.
MAX_PIXELS = 40_000_000
#: Frames of a video that are processed (a "short video": 10 s at 15 fps).
MAX_VIDEO_FRAMES = 150
#: Seconds of a video that are processed (frames past them are not decoded).
MAX_VIDEO_SECONDS = 10.0
#: Pixels of all processed frames of a video together: 150 full-HD frames (fewer of larger frames).
MAX_VIDEO_PIXELS = MAX_VIDEO_FRAMES * 1920 * 1080
#: The page's limits, the same for every input path (uploaded images, videos, webcam frames, the HTTP
#: API): checked from headers and container properties before anything is decoded.
PAGE_LIMITS = InputLimits(MAX_PIXELS, MAX_VIDEO_FRAMES, MAX_VIDEO_SECONDS, MAX_VIDEO_PIXELS)
#: Points in the page's 3D view (the downloadable cloud keeps every pixel).
VIEWER_POINTS = 150_000


def _size(n: float) -> str:
    return f"{n / 2**20:.1f} MB" if n >= 2**20 else f"{n / 2**10:.1f} kB"


class UploadError(ValueError):
    """An upload that cannot be used; the message says why and what to do, and is shown in the page."""


# --------------------------------------------------------------------------------------------------
# models


def find_demo_models(root: str | os.PathLike[str] = "runs/demo") -> list[Path]:
    """The trained models of ``ssrdepth demo`` under ``root``: per run folder (one holding
    ``latest.pt``) its ``best.pt`` when there is one, else ``latest.pt``; sorted by path."""
    base = Path(root)
    if not base.is_dir():
        return []
    runs = sorted({f.parent for f in base.rglob(LATEST)} | {f.parent for f in base.rglob(BEST)})
    return [resolve_checkpoint(run, announce=False) for run in runs]


def resolve_models(paths: Sequence[str | os.PathLike[str]], demo_root: str | os.PathLike[str]) -> list[Path]:
    """The models to offer: ``paths`` (checked; a run folder gives its ``best.pt``, else ``latest.pt``;
    the word ``bundled`` the model shipped with ssrdepth), or, when none are given, the demo's under
    ``demo_root``, else the bundled model (:mod:`ssrdepth.pretrained`).

    Raises:
        FileNotFoundError: a named file or folder does not exist, or a folder without a checkpoint;
            ``bundled`` named and no bundled model (:class:`~ssrdepth.pretrained.NoBundledModel`).
        ValueError: a file that is neither a ``.pt`` checkpoint nor an ``.onnx`` export, bundled weights
            that do not match their card, or nothing to serve (the message says how to get a model).
    """
    if paths:
        models = [bundled_checkpoint() if is_bundled(p) else resolve_checkpoint(p) for p in paths]
        for p in models:
            if p.suffix.lower() not in CHECKPOINT_SUFFIXES:
                raise ValueError(f"{p}: expected a checkpoint (.pt) or an ONNX export (.onnx) of ours")
        return models
    models = find_demo_models(demo_root)
    if models:
        return models
    try:
        bundled = bundled_checkpoint()
    except NoBundledModel as exc:
        raise ValueError(
            f"no model to serve: none named, no trained demo models under {demo_root}, and {exc.what}. Train "
            "some with 'make demo' (about 15 minutes on 2 cores) or 'ssrdepth train ...', or name "
            "checkpoints or ONNX files: ssrdepth serve runs/NAME/best.pt"
        ) from None
    logger.info(
        "no model named and none under %s: serving the bundled model %s", demo_root, describe_bundled()
    )
    return [bundled]


class ModelCache:
    """One loaded :class:`~ssrdepth.inference.model.DepthModel` per file, shared by every request.

    ``backend="auto"`` is ``predict --backend auto``: the fastest installed backend that passes the parity
    check here (measured once per model file and machine, then cached; docs/deploy.md).
    Loading is serialised by a lock; running a loaded model needs none (ONNX Runtime sessions and
    PyTorch inference are thread-safe; the OpenVINO runner keeps one infer request per thread).
    """

    def __init__(self, backend: str = "auto", device: str = "cpu", threads: int | None = None) -> None:
        self.backend, self.device, self.threads = backend, device, threads
        self._models: dict[Path, DepthModel] = {}
        self._lock = threading.Lock()

    def get(self, path: str | os.PathLike[str]) -> DepthModel:
        key = Path(path).resolve()
        with self._lock:
            model = self._models.get(key)
            if model is None:
                start = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # exporter chatter of the in-memory ONNX export
                    model = load_model(key, backend=self.backend, device=self.device, threads=self.threads)
                self._models[key] = model
                logger.info(
                    "loaded %s (%s, %s) from %s in %.1f s",
                    model.name,
                    model.backend,
                    model.device,
                    key,
                    time.perf_counter() - start,
                )
            return model


# --------------------------------------------------------------------------------------------------
# uploads


def check_upload(path: str | os.PathLike[str], name: str, max_bytes: int = MAX_UPLOAD_BYTES) -> Path:
    """An uploaded file that exists, is not empty and not larger than ``max_bytes``."""
    p = Path(path)
    if not p.is_file():
        raise UploadError(f"{name}: the upload did not arrive; try again")
    size = p.stat().st_size
    if size == 0:
        raise UploadError(f"{name}: the file is empty (0 bytes); upload an image or a short video")
    if size > max_bytes:
        raise UploadError(
            f"{name}: the file is {_size(size)}, more than the {_size(max_bytes)} accepted; "
            "upload a smaller image or a shorter video"
        )
    return p


def read_upload(
    path: str | os.PathLike[str],
    name: str | None = None,
    *,
    max_bytes: int = MAX_UPLOAD_BYTES,
    limits: InputLimits = PAGE_LIMITS,
) -> np.ndarray:
    """Decode an uploaded image → ``(H, W, 3)`` uint8 RGB as viewers show it.

    PNG, JPEG, BMP, TIFF, WebP, PNM; 8- or 16-bit, grey, RGB or RGBA: ssrdepth's one image reader
    (:func:`ssrdepth.core.image.read_image`, as ``ssrdepth predict`` reads files: EXIF orientation
    applied, 16-bit scaled to 8, grey repeated, alpha dropped). The size is checked from the header
    against ``limits`` before any pixel is decoded. ``name`` (the user's file name) is what messages
    mention.

    Raises:
        UploadError: empty, too large (bytes or pixels), or not an image that can be decoded.
    """
    label = name or Path(path).name
    p = check_upload(path, label, max_bytes)
    refused = UploadError(
        f"{label}: not an image that can be decoded (corrupt, truncated, or another kind of file); "
        f"upload an image ({', '.join(IMAGE_SUFFIXES)}) or a short video ({', '.join(VIDEO_SUFFIXES)})"
    )
    try:
        h, w = image_size(p)
    except BadSampleError:
        missing = unreadable_format(p)  # HEIC/AVIF without its decoder: say which package reads it
        raise (UploadError(f"{label}: {missing}") if missing else refused) from None
    _check_pixels(limits, w, h, label)
    try:
        return read_image(p)
    except BadSampleError:
        raise refused from None


def _check_pixels(limits: InputLimits, width: int, height: int, label: str) -> None:
    try:
        limits.check_pixels(width, height, label)
    except InputTooLarge as exc:
        raise UploadError(str(exc)) from None


def check_frame(frame: np.ndarray, limits: InputLimits = PAGE_LIMITS) -> np.ndarray:
    """A webcam or pasted frame as ``(H, W, 3)`` uint8 RGB (grey repeated, alpha dropped), within
    ``limits.max_pixels``."""
    if not isinstance(frame, np.ndarray) or frame.ndim not in (2, 3) or min(frame.shape[:2]) < 1:
        raise UploadError("the camera frame is empty or not an image; allow the camera and take a picture")
    _check_pixels(limits, frame.shape[1], frame.shape[0], "the camera frame")
    try:
        rgb = as_rgb(frame)
    except ValueError as exc:
        raise UploadError(f"the camera frame cannot be used: {exc}") from None
    if rgb.dtype != np.uint8:
        rgb = (np.clip(rgb, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
    return rgb


def is_video(name: str | os.PathLike[str]) -> bool:
    return Path(name).suffix.lower() in VIDEO_SUFFIXES


# --------------------------------------------------------------------------------------------------
# one image


@dataclass(frozen=True)
class Settings:
    """What the page asks for. ``quantity`` ∈ :data:`ssrdepth.inference.maps.QUANTITIES`; the camera:
    ``focal`` (px at the image's width), ``calib`` (the path of an uploaded calibration file: KITTI
    ``.txt``, OpenCV or ROS ``.yaml``/``.json``, :func:`~ssrdepth.data.intrinsics.read_calib`), ``fov``
    (horizontal field of view, degrees) and ``exif`` (read the uploaded photo's EXIF when nothing else is
    given), resolved as ``predict`` resolves them, else the checkpoint's; ``baseline`` (m) overrides the
    checkpoint's (``None``: the checkpoint's); ``cmap`` is a matplotlib colour map (reversed for depth so
    that near is bright); ``uncertainty``: also the uncertainty map — the model's trained head where it has
    one, else the flip disagreement (a second forward pass; :mod:`ssrdepth.core.confidence`); ``stabilise``: a video's maps through the online stabiliser
    (:mod:`ssrdepth.core.stabilise`).

    Raises:
        UploadError: a bad number, or a calibration file that cannot be read (named, with the problem).
    """

    quantity: str = "native"
    focal: float | None = None
    baseline: float | None = None
    cmap: str = "magma"
    uncertainty: bool = False
    stabilise: bool = False
    fov: float | None = None
    calib: str | None = None
    exif: bool = True

    def __post_init__(self) -> None:
        if self.quantity not in QUANTITIES:
            raise UploadError(f"unknown quantity {self.quantity!r}; valid: {', '.join(QUANTITIES)}")
        for what, v in (("focal length", self.focal), ("baseline", self.baseline)):
            if v is not None and not (np.isfinite(v) and v > 0):
                raise UploadError(f"the {what} must be a positive number, or empty to use the checkpoint's")
        if self.fov is not None and not (np.isfinite(self.fov) and 0 < self.fov < 180):
            raise UploadError(
                f"the field of view must be in (0, 180) degrees (horizontal), or empty; got {self.fov:g}"
            )
        try:
            check_baseline(self.baseline, "the baseline field")
        except ValueError as exc:
            raise UploadError(str(exc)) from None
        resolve_camera(self, 640, 480)  # an unreadable calibration file fails before any work

    def camera_options(self) -> CameraOptions:
        """The camera sources given, for :func:`~ssrdepth.data.intrinsics.resolve_intrinsics`."""
        return CameraOptions(focal=self.focal, calib=self.calib, fov=self.fov, exif=self.exif)


def resolve_camera(
    settings: Settings, width: int, height: int, image_path: str | os.PathLike[str] | None = None
) -> Intrinsics | None:
    """The camera of an image of ``width × height`` px (read from ``image_path`` for its EXIF; ``None``
    for webcam and video frames) by ``predict``'s precedence: focal > calibration file > field of view >
    EXIF > ``None`` (the checkpoint's training camera).

    Raises:
        UploadError: the calibration file cannot be read (its message, naming the file).
    """
    try:
        photo = None if image_path is None else Path(image_path)
        return resolve_intrinsics(settings.camera_options(), width, height, photo)
    except (ValueError, FileNotFoundError) as exc:
        text = str(exc)
        if settings.calib is not None:
            name = Path(settings.calib).name
            text = text.replace(f"--calib {settings.calib}", f"the calibration file {name}")
            text = text.replace(str(settings.calib), name)
        raise UploadError(text) from None


@dataclass
class ImageResult:
    """Everything the page shows for one image. ``image`` ``(H, W, 3)`` uint8 RGB as predicted;
    ``values`` ``(H, W)`` float32 in ``unit``; ``colour`` the colour-mapped ``values`` over ``vrange``;
    ``colorbar`` an RGB picture of the scale; ``files`` the downloads; ``cloud`` the 3D view's file;
    ``timing`` seconds per stage; ``notes`` what could not be made and why."""

    image: np.ndarray
    values: np.ndarray
    quantity: str
    unit: str
    colour: np.ndarray
    vrange: tuple[float, float]
    colorbar: np.ndarray
    files: list[Path]
    cloud: Path | None
    timing: dict[str, float]
    notes: list[str] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)
    #: The uncertainty (trained head, else flip) ``(H, W)`` float32 and its picture (``(H, W, 3)`` uint8), when asked for.
    uncertainty: np.ndarray | None = None
    uncertainty_colour: np.ndarray | None = None

    def stats(self) -> dict[str, float]:
        """min, median, mean, max of the finite values (in ``unit``)."""
        return map_stats(self.values)

    def stats_text(self) -> str:
        s = self.stats()
        head = f"{self.quantity} [{self.unit}], {self.values.shape[1]}×{self.values.shape[0]} px"
        return head + "\n" + "\n".join(f"{k}: {v:.7g}" for k, v in s.items())

    def timing_text(self) -> str:
        parts = [f"{k} {v * 1000:.0f} ms" for k, v in self.timing.items()]
        return " · ".join(parts)


def map_stats(values: np.ndarray) -> dict[str, float]:
    """min, median, mean, max of the finite values of a map (NaN when none is finite)."""
    finite = values[np.isfinite(values)].astype(np.float64)
    if finite.size == 0:
        return dict.fromkeys(("min", "median", "mean", "max"), float("nan"))
    return {
        "min": float(finite.min()),
        "median": float(np.median(finite)),
        "mean": float(finite.mean()),
        "max": float(finite.max()),
    }


def camera(
    model: DepthModel, width: int, settings: Settings, cam: Intrinsics | None = None
) -> tuple[float | None, float | None]:
    """Focal length (px at ``width``) and baseline (m): the resolved camera's focal (``cam``, from
    :func:`resolve_camera`) and the page's baseline, else the checkpoint's, else None."""
    focal = cam.at_width(width).fx if cam is not None else None
    scale = model.scale
    if scale is None:
        return focal, settings.baseline
    return scale.camera(width, focal, settings.baseline, default_width=model.input_size[1])


def colorbar(cmap: str, vmin: float, vmax: float, label: str, width: int = 640) -> np.ndarray:
    """A horizontal colour bar, ``(h, width, 3)`` uint8 RGB, with ticks and ``label`` (quantity and unit)."""
    from matplotlib import colormaps
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure

    dpi = 100
    fig = Figure(figsize=(width / dpi, 0.95), dpi=dpi)
    canvas = FigureCanvasAgg(fig)
    ax = fig.add_axes((0.04, 0.62, 0.92, 0.3))
    mappable = ScalarMappable(norm=Normalize(vmin, vmax), cmap=colormaps[cmap])
    fig.colorbar(mappable, cax=ax, orientation="horizontal", label=label)
    canvas.draw()
    return np.ascontiguousarray(np.asarray(canvas.buffer_rgba())[..., :3])


def _resolve(model: DepthModel, settings: Settings) -> str:
    try:
        return resolve_quantity(model, settings.quantity)
    except ValueError as exc:
        raise UploadError(str(exc).replace("--quantity ", "")) from None


def _depth_for_cloud(
    model: DepthModel, normalised: np.ndarray, settings: Settings, cam: Intrinsics | None
) -> tuple[np.ndarray | None, Intrinsics | None, str | None]:
    """(depth m, the camera) for the point cloud — the resolved camera ``cam``, else the checkpoint's
    training camera — or a note saying what is missing."""
    if model.native_quantity == "normalised":
        return None, None, "no point cloud: the checkpoint's output has no physical scale (normalised)"
    h, w = normalised.shape
    used = cam or training_camera(model, w, h)
    if used is None:
        return (
            None,
            None,
            (
                "no point cloud: give the focal length (px at the image's width), the field of view or a "
                "calibration file"
            ),
        )
    _, baseline = camera(model, w, settings, used)
    if model.native_quantity == "disparity" and baseline is None:
        return None, None, "no point cloud: give the stereo baseline (m)"
    return cloud_depth(model, normalised, used.fx, baseline)[0], used, None


def _write_clouds(
    out: Path, stem: str, depth: np.ndarray, cam: Intrinsics, image: np.ndarray, meta: dict[str, Any]
) -> tuple[Path, Path]:
    """The full cloud (download) and a lighter, y-up one for the 3D view; camera at the origin,
    back-projected with ``cam`` (its principal point at the image's centre when only a focal length
    is known)."""
    intrinsics = cam.as_tuple()
    points, colours = depth_to_points(depth, intrinsics, image)
    no_depth = int(np.count_nonzero(~(np.isfinite(depth) & (depth > 0))))
    cloud_meta = {
        **meta,
        "quantity": "depth",
        "unit": "m",
        "intrinsics": list(intrinsics),
        "camera": camera_record(cam),
        "focal_source": cam.source,
        "dropped_points": {"no_depth": no_depth, "beyond_max_depth": 0},
    }
    full = write_ply(out / f"{stem}.ply", points, colours, cloud_meta)
    if len(points):
        # The view: far outliers (disparity near 0) would shrink the scene to a dot; thin to VIEWER_POINTS.
        keep = points[:, 2] <= np.percentile(points[:, 2], 98.0)
        points, colours = points[keep], None if colours is None else colours[keep]
        step = max(1, int(np.ceil(len(points) / VIEWER_POINTS)))
        points, colours = points[::step], None if colours is None else colours[::step]
    view = points * np.array([1.0, -1.0, 1.0], np.float32)  # y down (camera) → y up (viewer)
    view_meta = {**cloud_meta, "frame": "viewer: x right, y up, z forward; thinned"}
    return full, write_ply(out / "view" / f"{stem}_view.ply", view, colours, view_meta)


def predict_image(
    model: DepthModel,
    image: np.ndarray,
    settings: Settings,
    out_dir: str | os.PathLike[str],
    stem: str = "prediction",
    source: str | None = None,
    image_path: str | os.PathLike[str] | None = None,
) -> ImageResult:
    """Predict one ``(H, W, 3)`` uint8 RGB image and make the page's outputs in ``out_dir``:
    ``STEM_QUANTITY.png`` (16-bit, metadata in text chunks), ``STEM_QUANTITY.npy`` (+ JSON sidecar),
    ``STEM.ply`` (coloured point cloud, m) when the camera is known. ``image_path``: the uploaded file,
    whose EXIF may give the focal length (``settings.exif``).

    Raises:
        UploadError: the quantity cannot be served by this model with the given camera.
    """
    out = Path(out_dir)
    q = _resolve(model, settings)
    h, w = image.shape[:2]
    cam = resolve_camera(settings, w, h, image_path)
    if cam is not None:
        logger.info("camera: focal %.1f px at %d px wide, from %s", cam.fx, w, cam.source)
    focal, baseline = camera(model, w, settings, cam)
    if q == "depth" and model.native_quantity == "disparity" and (focal is None or baseline is None):
        raise UploadError(
            f"{model.source.name}: depth from this disparity model needs the focal length (px at the "
            "image's width) and the stereo baseline (m); the checkpoint has none, so fill in both fields"
        )
    timing: dict[str, float] = {}
    t0 = time.perf_counter()
    maps, unc = predict_with_uncertainty(model, [image], settings.uncertainty)
    normalised, uncertainty = maps[0], None if unc is None else unc[0]
    t1 = time.perf_counter()
    timing["model"] = t1 - t0
    focal_source = cam.source if cam is not None else "checkpoint (training camera)"
    result = finish(
        model, normalised, q, focal=focal, baseline=baseline, cmap=settings.cmap, source=source,
        uncertainty=uncertainty, focal_source=focal_source,
    )  # fmt: skip
    values, meta, cmap = result.values, result.meta, result.cmap
    try:
        colour, (vmin, vmax) = result.colour()
    except ValueError as exc:
        raise UploadError(str(exc)) from None
    bar = colorbar(cmap, vmin, vmax, f"{q} [{result.unit}]")
    kinds = ("png16", "npy", "uncertainty") if uncertainty is not None else ("png16", "npy")
    files = result.write(out / stem, kinds, png16_meta={"colormap": cmap})
    unc_colour = (
        colorize(uncertainty, "viridis", 0.0, UNCERTAINTY_COLOUR_MAX) if uncertainty is not None else None
    )
    notes: list[str] = []
    if cam is not None:
        notes.append(f"camera: focal {cam.fx:.1f} px at {w} px wide, from {cam.source}")
    depth, cloud_cam, note = _depth_for_cloud(model, normalised, settings, cam)
    cloud = None
    if depth is not None and cloud_cam is not None:
        full, cloud = _write_clouds(
            out, stem, depth, cloud_cam, image, describe(model, "depth", (h, w), source)
        )
        files.append(full)
    elif note:
        notes.append(note)
    timing["outputs"] = time.perf_counter() - t1
    return ImageResult(
        image, values, q, result.unit, colour, (vmin, vmax), bar, files, cloud, timing, notes, meta,
        uncertainty, unc_colour,
    )  # fmt: skip


# --------------------------------------------------------------------------------------------------
# a short video


@dataclass
class VideoResult:
    """A side-by-side WebM ``[frame | colour map]`` (VP8: plays in every browser) of the first
    ``frames`` frames, and the first frame's :class:`ImageResult`."""

    first: ImageResult
    video: Path
    frames: int
    fps: float
    truncated: bool
    seconds: float


def _batches(frames: Iterator[np.ndarray], size: int) -> Iterator[list[np.ndarray]]:
    """Lists of up to ``size`` frames, taken from ``frames`` as they are decoded."""
    while batch := list(itertools.islice(frames, size)):
        yield batch


def predict_video(
    model: DepthModel,
    path: str | os.PathLike[str],
    settings: Settings,
    out_dir: str | os.PathLike[str],
    name: str | None = None,
    *,
    limits: InputLimits = PAGE_LIMITS,
    max_bytes: int = MAX_UPLOAD_BYTES,
    batch_size: int = 8,
) -> VideoResult:
    """Predict the first frames of a video within ``limits`` (frames, seconds; each frame's pixels
    checked from the container before decoding, like an image's); the colour range is the first
    frame's, kept for the whole clip (no flicker). Frames are streamed: at most one batch is held.

    Raises:
        UploadError: empty, too large (bytes or pixels), or not a video OpenCV can decode.
    """
    label = name or Path(path).name
    p = check_upload(path, label, max_bytes)
    out = Path(out_dir)
    stem = Path(label).stem
    planned = [
        out / f"{stem}_side_by_side.webm",
        *(out / f"{stem}_{q}.{e}" for q in UNITS for e in ("png", "npy")),
    ]
    try:  # the request folder is fresh; a caller's own folder might hold the upload itself
        check_not_inputs([(f, "an output of the page") for f in planned], [p], out)
    except ValueError:
        raise UploadError(
            f"{label}: an output of the page would overwrite the upload itself ({p}); give the request "
            "an empty output folder"
        ) from None
    start = time.perf_counter()
    try:
        info = video_info(p, limits)
        decoded, fps, _ = video_frames(p, limits)  # the frame iterator of ``ssrdepth predict``
    except InputTooLarge as exc:
        raise UploadError(str(exc).replace(str(p), label, 1)) from None
    except ValueError:
        raise UploadError(
            f"{label}: no frame could be decoded (not a video, or an unsupported codec)"
        ) from None
    fps = fps if 0 < fps <= 240 else 25.0
    done = 0
    try:
        head = next(decoded)  # video_frames decoded it already: a video has a first frame
        first = predict_image(model, head, settings, out, stem, label)
    except BaseException:
        decoded.close()
        raise
    q, cmap, vrange = first.quantity, colour_map_name(settings.cmap, first.quantity), first.vrange
    # a video's frames carry no EXIF: the page's camera, else the checkpoint's
    cam = resolve_camera(settings, head.shape[1], head.shape[0])
    focal, baseline = camera(model, head.shape[1], settings, cam)
    # The page's one side-by-side writer too; OpenCV notes that WebM has no codec tags, then writes VP8.
    writer = SideBySideWriter(out / f"{stem}_side_by_side.webm", fps, fourcc="VP80")
    stab = Stabiliser() if settings.stabilise else None
    try:
        for batch in _batches(itertools.chain([head], decoded), batch_size):
            for rgb, n in zip(batch, predict_normalised(model, batch), strict=True):
                values = convert(model, stab(n) if stab is not None else n, q, focal=focal, baseline=baseline)
                try:
                    writer.write(rgb, colorize(values, cmap, *vrange))
                except ValueError:
                    raise UploadError(
                        "the side-by-side video cannot be written here (OpenCV without VP8)"
                    ) from None
                done += 1
    except InputTooLarge as exc:  # a later frame larger than the container stated
        writer.abort()
        raise UploadError(str(exc).replace(str(p), label, 1)) from None
    except BaseException:
        writer.abort()
        raise
    finally:
        decoded.close()  # releases the capture
    video = writer.close(sidecar=False)
    assert video is not None  # at least the first frame was written
    seconds = time.perf_counter() - start
    budget = limits.frames_to_read(0, info.fps, head.shape[0] * head.shape[1])
    truncated = info.frames > done if info.frames > 0 else budget == done
    logger.info("video %s: %d frame(s) in %.1f s", label, done, seconds)
    return VideoResult(first, video, done, fps, truncated, seconds)


# --------------------------------------------------------------------------------------------------
# request folders


class RequestFolders:
    """A fresh folder per request under ``root`` (a temporary folder when ``None``); only the newest
    ``keep`` are kept, so a long-running server does not fill the disk."""

    def __init__(self, root: str | os.PathLike[str] | None = None, keep: int = 16) -> None:
        self.root = Path(root) if root is not None else Path(tempfile.mkdtemp(prefix="ssrdepth-serve-"))
        self.root.mkdir(parents=True, exist_ok=True)
        self.keep = keep
        self._lock = threading.Lock()
        self._made: list[Path] = []

    def new(self) -> Path:
        with self._lock:
            folder = Path(tempfile.mkdtemp(prefix="request-", dir=self.root))
            self._made.append(folder)
            while len(self._made) > self.keep:
                shutil.rmtree(self._made.pop(0), ignore_errors=True)
            return folder
