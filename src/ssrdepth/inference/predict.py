"""``ssrdepth predict``: depth or disparity maps for images, folders, globs and videos — the command.

The Python API is the command: :func:`load_model` gives a :class:`DepthModel` (a checkpoint run by
PyTorch, or its ONNX export run by ONNX Runtime; ``None`` or ``"bundled"``: the model shipped in the
package, :mod:`ssrdepth.pretrained`), :func:`predict` maps one image to one map, :func:`predict_batch`
several, and :func:`predict_files` is the whole command (files in, files out).

The rooms: :mod:`.model` (the loaded model and its backend), :mod:`.maps` (what a map means and the
finished result made from it; the quantities and their conversion are described there), :mod:`.inputs`
(paths, folders, globs, video frames); this module holds the command's options, its per-map writer and
the image and video loops, and re-exports the public names of the rooms.
"""

from __future__ import annotations

import itertools
import logging
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from ssrdepth.core.image import BadSampleError, image_size, prepare_image, read_image
from ssrdepth.core.overwrite import check_not_inputs
from ssrdepth.core.stabilise import Stabiliser
from ssrdepth.core.units import check_baseline, check_max_depth
from ssrdepth.data.intrinsics import CameraOptions, Intrinsics, resolve_intrinsics
from ssrdepth.inference.align import AlignRequest, align_depth
from ssrdepth.inference.backends import BACKENDS
from ssrdepth.inference.inputs import (
    IMAGE_SUFFIXES,
    PREDICT_LIMITS,
    VIDEO_SUFFIXES,
    InputItem,
    InputLimits,
    InputListing,
    check_inputs,
    gather_inputs,
    list_inputs,
    split_checkpoint,
)
from ssrdepth.inference.inputs import video_frames as _frames
from ssrdepth.inference.maps import (
    QUANTITIES,
    MapResult,
    _focal_baseline,
    camera_meta,
    cloud_depth,
    colour_map_name,
    convert,
    describe,
    finish,
    map_paths,
    predict,
    predict_batch,
    predict_normalised,
    predict_with_uncertainty,
    resolve_quantity,
)
from ssrdepth.inference.model import DepthModel, load_model, resolve_device
from ssrdepth.inference.outputs import (
    OUTPUT_KINDS,
    SideBySideWriter,
    colorize,
    depth_to_points,
    range_clipped,
    sidecar_path,
    value_range,
    write_ply,
)

logger = logging.getLogger(__name__)

__all__ = [
    "BACKENDS",
    "DEFAULT_IMAGE_OUTPUTS",
    "DEFAULT_VIDEO_OUTPUTS",
    "IMAGE_SUFFIXES",
    "QUANTITIES",
    "VIDEO_SUFFIXES",
    "DepthModel",
    "InputItem",
    "InputListing",
    "MapResult",
    "PredictOptions",
    "PredictReport",
    "camera_record",
    "check_inputs",
    "cloud_depth",
    "colour_map_name",
    "convert",
    "describe",
    "finish",
    "gather_inputs",
    "list_inputs",
    "load_model",
    "predict",
    "predict_batch",
    "predict_files",
    "predict_normalised",
    "predict_with_uncertainty",
    "prepare_image",
    "resolve_device",
    "resolve_quantity",
    "split_checkpoint",
    "training_camera",
]

#: Outputs written when ``--save`` is not given.
DEFAULT_IMAGE_OUTPUTS = ("png16", "color")
DEFAULT_VIDEO_OUTPUTS = ("video",)


@dataclass(frozen=True)
class PredictOptions:
    """What ``predict_files`` writes. ``outputs`` ⊂ :data:`ssrdepth.inference.outputs.OUTPUT_KINDS`; ``None``
    means png16 + color for images and a side-by-side video for videos (per-frame files for a video
    only when asked for). ``intrinsics`` = (fx, fy, cx, cy) px at the input image's size; a ``ply``
    point cloud is back-projected with the resolved camera (below; the checkpoint's training camera when
    none is given, the principal point at the image's centre when only a focal length is known);
    ``focal`` (px at the image's width) and ``baseline`` (m) override the checkpoint's for depth;
    ``calib`` (a calibration file), ``fov`` (degrees) and ``exif`` (read the image's EXIF when nothing
    else is given; ``sensor_width`` mm for its FocalLength) are the other sources of the focal length,
    resolved per image by :func:`~ssrdepth.data.intrinsics.resolve_intrinsics` (--intrinsics/--focal >
    --calib > --fov > EXIF > the checkpoint's training camera) and applied to every model kind.
    ``color_range`` fixes the colour map's range (in the map's unit); ``None`` = per image (1–99 %),
    and for videos the first batch's range, kept for the whole video (no flicker). ``stabilise``: for
    videos, run the frames through the online stabiliser of this strength λ
    (:class:`ssrdepth.core.stabilise.Stabiliser`, τ its default; ``None``: frame by frame). ``limits``:
    what one input may cost (pixels of an image or frame, frames and seconds of a video), checked from
    the header or container before anything is decoded (:class:`~ssrdepth.inference.inputs.InputLimits`). ``align``:
    scale the depth to points, known distances or the camera height (:mod:`ssrdepth.inference.align`;
    depth only, still images only, the fit in every output's metadata under ``alignment``)."""

    outputs: tuple[str, ...] | None = None
    quantity: str = "native"
    batch_size: int = 8
    cmap: str = "magma"
    color_range: tuple[float, float] | None = None
    intrinsics: tuple[float, float, float, float] | None = None
    focal: float | None = None
    baseline: float | None = None
    max_depth: float | None = None
    stabilise: float | None = None
    limits: InputLimits = PREDICT_LIMITS
    align: AlignRequest | None = None
    calib: str | None = None
    fov: float | None = None
    exif: bool = True
    sensor_width: float | None = None

    def camera(self) -> CameraOptions:
        """The camera sources given, for :func:`~ssrdepth.data.intrinsics.resolve_intrinsics`."""
        return CameraOptions(self.intrinsics, self.focal, self.calib, self.fov, self.exif, self.sensor_width)

    def __post_init__(self) -> None:
        if self.stabilise is not None:
            Stabiliser(self.stabilise)  # a bad strength fails before anything is read
        bad = [o for o in self.outputs or () if o not in OUTPUT_KINDS]
        if bad:
            raise ValueError(f"unknown output(s) {bad}; valid: {', '.join(OUTPUT_KINDS)}")
        if self.batch_size < 1:
            raise ValueError(f"batch size must be ≥ 1, got {self.batch_size}")
        check_baseline(self.baseline)  # metres: a baseline in millimetres is refused with the fix
        check_max_depth(self.max_depth)


@dataclass
class PredictReport:
    """What ``predict_files`` did: files written, inputs that failed (file, problem), what folders and
    globs held that was left out (``skipped``: one line each, :meth:`InputListing.notes`), counts, time."""

    written: list[Path] = field(default_factory=list)
    failures: list[tuple[str, str]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    images: int = 0
    frames: int = 0
    seconds: float = 0.0


class _Writer:
    """Writes the selected outputs of one map (shared by images and video frames)."""

    def __init__(self, model: DepthModel, opts: PredictOptions, out_dir: Path) -> None:
        self.model, self.opts, self.out = model, opts, out_dir
        aligned = opts.align is not None and opts.quantity == "native"  # alignment gives metres
        self.quantity = resolve_quantity(model, "depth" if aligned else opts.quantity)
        self._camera = opts.camera()
        self._logged: set[str] = set()
        self._cameras: dict[tuple[int, int, str | None], Intrinsics | None] = {}  # a file read once per size

    def intrinsics(self, shape: tuple[int, ...], path: str | None = None) -> Intrinsics | None:
        """The camera of an image of ``shape`` ``(H, W, …)`` read from ``path`` (EXIF; ``None`` for
        video frames), by the options' precedence; the source is logged once per source."""
        key = (int(shape[1]), int(shape[0]), path)
        if key not in self._cameras:
            if len(self._cameras) > 256:  # many photos: keep the memory flat
                self._cameras.clear()
            self._cameras[key] = resolve_intrinsics(self._camera, key[0], key[1], path)
        cam = self._cameras[key]
        if cam is not None and cam.source not in self._logged:
            self._logged.add(cam.source)
            logger.info("focal length %.1f px (at %d px wide) from %s", cam.fx, cam.width, cam.source)
        return cam

    def check(self, outputs: Sequence[str]) -> None:
        """Fail before any work when an output cannot be made with what was given."""
        self._camera.check()  # an unreadable --calib or a bad --fov fails before any image is read
        if self.opts.align is not None and self.quantity != "depth":
            raise ValueError(f"alignment scales depth (m): use --quantity depth, not {self.quantity}")
        if "ply" in outputs:
            if self.model.native_quantity == "normalised":
                raise ValueError(f"{self.model.source}: a point cloud needs a disparity or depth checkpoint")
            w, h = self.model.reference_width, self.model.input_size[0]
            given = resolve_intrinsics(replace(self._camera, exif=False), w, h)
            if given is None and not self._camera.exif and training_camera(self.model, w, h) is None:
                raise ValueError(
                    f"--save ply needs the camera and {self.model.source} records no training focal: give "
                    "--focal PX, --fov DEG, --calib FILE or --intrinsics FX,FY,CX,CY (px at the input size)"
                )
            if self.model.native_quantity == "disparity":
                _focal_baseline(self.model, w, given.fx if given is not None else None, self.opts.baseline)
        if self.quantity == "depth" and self.model.native_quantity == "disparity":
            w = self.model.reference_width  # the given camera (not EXIF: per image), at a nominal size
            cam = resolve_intrinsics(replace(self._camera, exif=False), w, self.model.input_size[0])
            _focal_baseline(self.model, w, cam.fx if cam is not None else None, self.opts.baseline)

    def focal(self, shape: tuple[int, ...], path: str | None = None) -> tuple[float | None, str | None]:
        """The focal length (px at the image's width) of an image of ``shape`` and where it came from;
        ``(None, None)``: none given, the checkpoint's training camera."""
        cam = self.intrinsics(shape, path)
        return (cam.fx, cam.source) if cam is not None else (None, None)

    def values(self, normalised: np.ndarray) -> np.ndarray:
        focal, _ = self.focal(normalised.shape)
        return convert(self.model, normalised, self.quantity, focal=focal, baseline=self.opts.baseline)

    def cmap(self) -> str:
        return colour_map_name(self.opts.cmap, self.quantity)

    def write(
        self,
        name: str,
        rgb: np.ndarray,
        normalised: np.ndarray,
        outputs: Sequence[str],
        source: str,
        vrange: tuple[float, float] | None = None,
        uncertainty: np.ndarray | None = None,
        **extra: Any,
    ) -> list[Path]:
        focal, focal_source = self.focal(normalised.shape, None if "frame" in extra else source)
        result = finish(
            self.model,
            normalised,
            self.quantity,
            focal=focal,
            baseline=self.opts.baseline,
            cmap=self.opts.cmap,
            source=source,
            uncertainty=uncertainty,
            focal_source=focal_source,
            **extra,
        )
        if self.opts.align is not None:
            cam = self.intrinsics(normalised.shape, None if "frame" in extra else source)
            given = self.opts.intrinsics or ((cam.fx, cam.fy, cam.cx, cam.cy) if cam is not None else None)
            result.values, al = align_depth(result.values, self.opts.align, given, focal)
            result.meta["alignment"] = al.as_meta()
        base = self.out / name
        written = result.write(base, outputs, vrange or self.opts.color_range)
        if "ply" in outputs:
            written.append(self._ply(base.with_name(f"{base.name}.ply"), rgb, normalised, source, extra))
        return written

    def ply_camera(self, shape: tuple[int, ...], path: str | None = None) -> Intrinsics:
        """The camera of a point cloud of an image of ``shape`` ``(H, W, …)``: the resolved one
        (:meth:`intrinsics`: --intrinsics/--focal > --calib > --fov > EXIF; principal point at the
        image's centre when only a focal length is known), else the checkpoint's training camera.

        Raises:
            ValueError: neither is known (the message names the options).
        """
        cam = self.intrinsics(shape, path) or training_camera(self.model, int(shape[1]), int(shape[0]))
        if cam is None:
            raise ValueError(
                f"{path or 'the frame'}: no camera for the point cloud (no EXIF focal length, and "
                f"{self.model.source} records no training focal): give --focal PX, --fov DEG, --calib FILE "
                "or --intrinsics FX,FY,CX,CY"
            )
        return cam

    def depth_for_ply(self, normalised: np.ndarray, cam: Intrinsics) -> tuple[np.ndarray, dict[str, Any]]:
        """Depth (m) of a normalised map in camera ``cam`` (at the map's size), aligned when asked, and
        the metadata saying how."""
        depth, meta = cloud_depth(self.model, normalised, cam.fx, self.opts.baseline)
        if self.opts.align is not None:
            depth, al = align_depth(depth, self.opts.align, cam.as_tuple())
            meta = {**meta, "alignment": al.as_meta()}
        return depth, meta

    def _ply(
        self, path: Path, rgb: np.ndarray, normalised: np.ndarray, source: str, extra: dict[str, Any]
    ) -> Path:
        cam = self.ply_camera(normalised.shape, None if "frame" in extra else source)
        depth, more = self.depth_for_ply(normalised, cam)
        image8 = rgb if rgb.dtype == np.uint8 else (np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8)
        points, colours = depth_to_points(depth, cam.as_tuple(), image8, self.opts.max_depth)
        meta = describe(self.model, "depth", depth.shape, source, **extra, **more)
        has_depth = np.isfinite(depth) & (depth > 0)
        beyond = has_depth & (depth > self.opts.max_depth) if self.opts.max_depth is not None else None
        meta.update(
            intrinsics=list(cam.as_tuple()),
            camera=camera_record(cam),
            focal_source=cam.source,
            max_depth=self.opts.max_depth,
            dropped_points={
                "no_depth": int(np.count_nonzero(~has_depth)),
                "beyond_max_depth": int(np.count_nonzero(beyond)) if beyond is not None else 0,
            },
        )
        return write_ply(path, points, colours, meta)


def training_camera(model: DepthModel, width: int, height: int) -> Intrinsics | None:
    """The checkpoint's training camera at an image of ``width × height`` px (its focal length scaled
    to ``width``, :meth:`~ssrdepth.core.scale.TargetScale.camera`; principal point at the centre), or
    ``None`` when the checkpoint records no training focal."""
    if model.scale is None:
        return None
    focal, _ = model.scale.camera(width, default_width=model.input_size[1])
    if not focal:
        return None
    return Intrinsics.from_focal(focal, width, height, "checkpoint (training camera)")


def camera_record(cam: Intrinsics) -> dict[str, Any]:
    """What a point cloud's metadata says of its camera: ``fx``, ``fy``, ``cx``, ``cy`` (px at
    ``width`` × ``height``) and ``source``."""
    return {
        "fx": cam.fx,
        "fy": cam.fy,
        "cx": cam.cx,
        "cy": cam.cy,
        "width": cam.width,
        "height": cam.height,
        "source": cam.source,
    }


def _frame_name(item: InputItem, index: int) -> str:
    """A video's per-frame output name: ``NAME/NAME_000000`` (under a folder named after the video)."""
    return f"{item.name}/{item.name}_{index:06d}"


def planned_outputs(
    items: Sequence[InputItem], out: Path, quantity: str, opts: PredictOptions
) -> tuple[list[tuple[Path, str]], list[tuple[Path, str]]]:
    """Every file ``predict_files`` will write for ``items`` in ``out`` — (path, what it is) — and the
    (folder, prefix) of each video's numbered per-frame files."""
    files: list[tuple[Path, str]] = [(out, "the output folder")]  # `--out photo.jpg`
    frames: list[tuple[Path, str]] = []
    for it in items:
        outputs = opts.outputs or (DEFAULT_IMAGE_OUTPUTS if it.kind == "image" else DEFAULT_VIDEO_OUTPUTS)
        if it.kind == "video":
            if "video" in outputs:
                path = out / f"{it.name}_side_by_side.mp4"
                files += [(path, f"the side-by-side video of {it.path}"), (sidecar_path(path), "its sidecar")]
            if any(o != "video" for o in outputs):
                first = out / _frame_name(it, 0)
                frames.append((first.parent, first.name[: -len("_000000")]))
            continue
        base = out / it.name
        for kind, path in map_paths(base, quantity, outputs).items():
            files.append((path, f"the {kind} map of {it.path}"))
            if kind in ("npy", "pfm", "uncertainty"):
                files.append((sidecar_path(path), f"the sidecar of the {kind} map of {it.path}"))
        if "ply" in outputs:
            ply = base.with_name(f"{base.name}.ply")
            files += [(ply, f"the point cloud of {it.path}"), (sidecar_path(ply), "its sidecar")]
    return files, frames


def _check_image_limits(path: Path, limits: InputLimits) -> None:
    """An image's size from its header against ``limits``, before a pixel is decoded; a header that
    cannot be read is left to the decoder, whose message says more."""
    try:
        height, width = image_size(path)
    except BadSampleError:
        return
    limits.check_pixels(width, height, path)


def _batches(items: Sequence[Any], size: int) -> Iterator[list[Any]]:
    for i in range(0, len(items), size):
        yield list(items[i : i + size])


def predict_files(
    model: DepthModel,
    inputs: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    options: PredictOptions | None = None,
    *,
    recursive: bool = False,
    progress: bool = True,
) -> PredictReport:
    """The ``predict`` command: every image and video in ``inputs`` → files in ``out_dir``.

    A file that cannot be read is recorded in the report's ``failures`` and the others go on; what
    folders and globs held that is not an input (other formats, ssrdepth's own outputs, text files) is
    logged as one warning and kept in ``skipped``; bad paths, empty folders, impossible output requests
    and an output that would overwrite an input (:func:`~ssrdepth.core.overwrite.check_not_inputs`) raise before any
    file is written.
    """
    from tqdm import tqdm

    opts = options or PredictOptions()
    listing = list_inputs(inputs, recursive)
    items = listing.items
    out = Path(out_dir)
    writer = _Writer(model, opts, out)
    kinds = {it.kind for it in items}
    if opts.align is not None:
        opts.align.check_inputs(
            sum(it.kind == "image" for it in items), sum(it.kind == "video" for it in items)
        )
    writer.check(
        [
            *((opts.outputs or DEFAULT_IMAGE_OUTPUTS) if "image" in kinds else ()),
            *((opts.outputs or DEFAULT_VIDEO_OUTPUTS) if "video" in kinds else ()),
        ]
    )
    files, frame_folders = planned_outputs(items, out, writer.quantity, opts)
    check_not_inputs(files, [it.path for it in items], out, frame_folders)
    report = PredictReport(skipped=listing.notes())
    if report.skipped:
        logger.warning("not predicted:\n  %s", "\n  ".join(report.skipped))
    start = time.perf_counter()
    images = [it for it in items if it.kind == "image"]
    videos = [it for it in items if it.kind == "video"]
    if opts.stabilise is not None and not videos:
        logger.warning("stabilisation filters videos over time: it changes nothing for still images")
    with tqdm(total=len(images), unit="img", desc="predict", disable=not progress or not images) as bar:
        outputs = opts.outputs or DEFAULT_IMAGE_OUTPUTS
        for chunk in _batches(images, opts.batch_size):
            loaded = []
            for it in chunk:
                try:
                    _check_image_limits(it.path, opts.limits)
                    loaded.append((it, read_image(it.path)))
                except ValueError as exc:
                    report.failures.append((str(it.path), str(exc)))
                    bar.update(1)
            maps, unc = predict_with_uncertainty(model, [im for _, im in loaded], "uncertainty" in outputs)
            for k, ((it, rgb), n) in enumerate(zip(loaded, maps, strict=True)):
                u = None if unc is None else unc[k]
                report.written += writer.write(it.name, rgb, n, outputs, str(it.path), uncertainty=u)
                report.images += 1
                bar.update(1)
    for it in videos:
        try:
            report.frames += _predict_video(model, writer, it, opts, report, progress)
        except ValueError as exc:
            report.failures.append((str(it.path), str(exc)))
    report.seconds = time.perf_counter() - start
    return report


def _predict_video(
    model: DepthModel,
    writer: _Writer,
    item: InputItem,
    opts: PredictOptions,
    report: PredictReport,
    progress: bool,
) -> int:
    from tqdm import tqdm

    frames, fps, count = _frames(item.path, opts.limits)
    outputs = opts.outputs or DEFAULT_VIDEO_OUTPUTS
    per_frame = [o for o in outputs if o != "video"]
    video: SideBySideWriter | None = None
    if "video" in outputs:
        video = SideBySideWriter(writer.out / f"{item.name}_side_by_side.mp4", fps)
    vrange = opts.color_range
    stab = Stabiliser(opts.stabilise) if opts.stabilise is not None else None
    done = 0
    size: tuple[int, int] = (0, 0)
    saturated = {"below": 0, "above": 0}  # colour-map values outside the kept range, all frames
    try:
        with tqdm(total=count, unit="frame", desc=item.path.name, disable=not progress) as bar:
            batch: list[np.ndarray] = []
            # Streamed: at most one batch of decoded frames is held (memory flat in video length).
            for frame in itertools.chain(frames, [None]):
                if frame is not None:
                    batch.append(frame)
                    if len(batch) < opts.batch_size:
                        continue
                if not batch:
                    break
                maps, unc = predict_with_uncertainty(model, batch, "uncertainty" in per_frame)
                for k, (rgb, n) in enumerate(zip(batch, maps, strict=True)):
                    if stab is not None:
                        n = stab(n)
                    size = (rgb.shape[0], rgb.shape[1])
                    values = writer.values(n)
                    if vrange is None:
                        vrange = value_range(values)
                    if video is not None:
                        video.write(rgb, colorize(values, writer.cmap(), *vrange))
                        for side, n_out in range_clipped(values, *vrange).items():
                            saturated[side] += n_out
                    if per_frame:
                        name = _frame_name(item, done)
                        u = None if unc is None else unc[k]
                        report.written += writer.write(
                            name, rgb, n, per_frame, str(item.path), vrange, uncertainty=u, frame=done
                        )
                    done += 1
                    bar.update(1)
                batch = []
    except BaseException:
        if video is not None:
            video.abort()
        raise
    if video is not None:
        meta = describe(model, writer.quantity, size, str(item.path))
        if size[1] > 0:  # a video without a decodable frame has no camera to describe
            focal, focal_source = writer.focal(size)
            meta.update(camera_meta(model, size[1], focal, opts.baseline, writer.quantity, focal_source))
        meta.update(colormap=writer.cmap(), range=list(vrange) if vrange else None, range_clipped=saturated)
        if stab is not None:
            meta["stabilised"] = {"strength": stab.strength, "tolerance": stab.tolerance, "scale": stab.scale}
        path = video.close(meta)
        if path is not None:
            report.written.append(path)
    return done
