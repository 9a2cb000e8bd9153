"""Writers (and readers, for checking) of predicted maps: 16-bit PNG, ``.npy``, PFM, colour-mapped PNG,
``.ply`` point clouds and side-by-side videos. Every file says what it holds.

A map is ``(H, W)`` float32 of one *quantity*:

- ``"normalised"``: the network's [0, 1] output (what the checkpoint's ``target`` normalises);
- ``"disparity"``: pixels **at the width of the map** (disparity scales with image width);
- ``"depth"``: metres.

Metadata (a plain dict built by :func:`ssrdepth.inference.maps.describe`) goes into PNG text chunks (key
``"ssrdepth"``, JSON; plus a readable ``"Description"``), into PLY header comments, and into a JSON
sidecar ``FILE.json`` beside ``.npy``, ``.pfm``, ``.ply`` and video files. Every write is atomic.

What a writer cannot represent is recorded in the file's metadata, and the file and its metadata
agree: a 16-bit PNG keeps KITTI's ×256 (other tools read it so) and values above its largest
(255.996 px or m) are stored as that largest value — counted, with the true maximum, in ``clipped``
and in a warning; a colour map saturates outside its range, counted in ``range_clipped``; a point
cloud's dropped pixels are counted in ``dropped_points``. The ``.npy`` and ``.pfm`` floats hold every
value. :func:`is_prediction_file` recognises these files (so that ``predict`` does not take its own
outputs for photos).
"""

from __future__ import annotations

import json
import logging
import os
from contextlib import suppress
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image, PngImagePlugin

from ssrdepth.core.image import read_pixels, read_text_chunks
from ssrdepth.core.io import atomic_open, atomic_path, write_json
from ssrdepth.core.optional import MissingDependency, install_hint
from ssrdepth.core.png16 import KITTI_SCALE, MAX_CODE, decode_png16, png16_clipping
from ssrdepth.core.png16 import encode_png16 as encode_scaled

logger = logging.getLogger(__name__)

#: quantity → unit
UNITS = {"normalised": "1", "disparity": "px", "depth": "m"}

#: 16-bit PNG encodings: stored value = quantity × scale, 0 = invalid. Disparity ×256 and depth ×256
#: are the KITTI conventions (Geiger et al. 2012 stereo devkit: ``disp = png / 256.0``; Uhrig et al.
#: 2017 depth devkit: ``depth = png / 256.0``; 0 = invalid): disparity to 255.996 px, depth to
#: 255.996 m in steps of 1/256 m (~3.9 mm), which covers the kitti protocol's 80 m (millimetres would
#: clip at 65.535 m); normalised ×65535 (full 16-bit range). The scale used is recorded in every file
#: (text chunk ``ssrdepth`` → ``png_scale``) and readers take it from there; these are the defaults.
PNG16_SCALE = {"disparity": KITTI_SCALE, "depth": KITTI_SCALE, "normalised": float(MAX_CODE)}

#: Output kinds the ``predict`` command can write.
OUTPUT_KINDS = ("png16", "npy", "pfm", "color", "ply", "video", "uncertainty")

META_KEY = "ssrdepth"
#: The ``format`` every predicted map's metadata carries (:func:`ssrdepth.inference.maps.describe`).
PREDICTION_FORMAT = "ssrdepth-prediction"


def check_quantity(quantity: str) -> None:
    if quantity not in UNITS:
        raise ValueError(f"unknown quantity {quantity!r}; valid: {', '.join(UNITS)}")


def sidecar_path(path: str | os.PathLike[str]) -> Path:
    """The JSON sidecar of ``path``: ``name.npy`` → ``name.npy.json``."""
    p = Path(path)
    return p.with_name(p.name + ".json")


def write_sidecar(path: str | os.PathLike[str], meta: dict[str, Any]) -> Path:
    side = sidecar_path(path)
    write_json(side, {"file": Path(path).name, **meta})
    return side


def is_prediction_file(path: str | os.PathLike[str], sidecar: bool | None = None) -> bool:
    """Whether ``path`` is a map, cloud or video that ssrdepth wrote (``predict`` or ``serve``): a PNG
    whose ``ssrdepth`` text chunk says ``format: ssrdepth-prediction``, or any file whose JSON sidecar
    (:func:`sidecar_path`) says so. Reads the PNG's header chunks only; ``sidecar`` = whether the
    sidecar exists, when the caller listed the folder already (``None``: looked up)."""
    p = Path(path)
    if p.suffix.lower() == ".png":
        with suppress(ValueError, OSError):
            raw = read_text_chunks(p).get(META_KEY)
            if raw and PREDICTION_FORMAT in raw and json.loads(raw).get("format") == PREDICTION_FORMAT:
                return True
    side = sidecar_path(p)
    if not (side.is_file() if sidecar is None else sidecar):
        return False
    try:
        with open(side, encoding="utf-8") as f:
            meta = json.load(f)
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and meta.get("format") == PREDICTION_FORMAT and meta.get("file") == p.name


def _finite(values: np.ndarray) -> np.ndarray:
    return np.where(np.isfinite(values), values, 0.0)


# --- 16-bit PNG -----------------------------------------------------------------------------------


def encode_png16(values: np.ndarray, quantity: str) -> np.ndarray:
    """``(H, W)`` float map → uint16 ``round(value × PNG16_SCALE[quantity])``, clipped to [0, 65535];
    non-finite and negative values become 0 (invalid): :func:`ssrdepth.core.png16.encode_png16`."""
    check_quantity(quantity)
    return encode_scaled(values, PNG16_SCALE[quantity])


def write_png16(
    path: str | os.PathLike[str], values: np.ndarray, quantity: str, meta: dict[str, Any]
) -> Path:
    """Write a ``(H, W)`` map as a 16-bit grey PNG (``value × scale``), metadata in text chunks."""
    if values.ndim != 2:
        raise ValueError(f"{path}: a PNG map must be (H, W), got shape {values.shape}")
    check_quantity(quantity)
    scale = PNG16_SCALE[quantity]
    clip = png16_clipping(values, scale)
    codes = encode_scaled(values, scale, name=str(path), hint="--save npy or pfm keeps every value")
    positive = np.isfinite(values) & (values > 0)
    info = {
        **meta,
        "encoding": f"uint16 = {quantity} [{UNITS[quantity]}] x {scale:g}; 0 = invalid",
        "png_scale": scale,
        "max_storable": MAX_CODE / scale,
        "clipped": clip.as_meta(),
        "invalid_pixels": int(np.count_nonzero(codes == 0)),
        # KITTI's rule: a value under half a step rounds to 0 and reads back as "no value"
        "rounded_to_invalid": int(np.count_nonzero(positive & (codes == 0))),
    }
    png = PngImagePlugin.PngInfo()
    png.add_text(META_KEY, json.dumps(info, default=str))
    description = f"{quantity} [{UNITS[quantity]}] = value / {scale:g}; 0 = invalid"
    if clip.count:
        description += (
            f"; {clip.count} value(s) above {clip.limit:.6g} stored as {clip.limit:.6g}"
            f" (true maximum {clip.true_max:.6g})"
        )
    png.add_text("Description", description)
    img = Image.fromarray(codes)
    with atomic_path(path) as tmp:
        img.save(tmp, format="PNG", pnginfo=png)
    return Path(path)


def read_png_meta(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The ``ssrdepth`` metadata of a PNG written here (empty dict if there is none)."""
    raw = read_text_chunks(path).get(META_KEY)
    return dict(json.loads(raw)) if raw else {}


def read_png16(path: str | os.PathLike[str]) -> tuple[np.ndarray, dict[str, Any]]:
    """Decode a 16-bit map written by :func:`write_png16` → ``(values float32 (H, W), metadata)``;
    values are in the file's quantity and unit (``meta["quantity"]``), 0 = invalid.

    The divisor is the file's recorded ``png_scale`` (a depth file that records ×1000 reads right
    too); without it, the default :data:`PNG16_SCALE` of the recorded quantity."""
    meta = read_png_meta(path)
    scale = png16_scale(meta)
    if scale is None:
        raise ValueError(
            f"{path}: not a 16-bit map written by ssrdepth (no '{META_KEY}' text chunk with png_scale "
            "or quantity); read it with its own scale, e.g. cv2.imread(path, cv2.IMREAD_UNCHANGED) / 256"
        )
    raw = read_pixels(path)  # refuses a truncated file, naming it
    if raw.dtype != np.uint16 or raw.ndim != 2:
        raise ValueError(
            f"{path}: cannot decode as a 16-bit single-channel PNG (got {raw.dtype}, {raw.shape})"
        )
    return decode_png16(raw, scale), meta


def png16_scale(meta: dict[str, Any]) -> float | None:
    """Stored value per unit of a 16-bit map's metadata: its ``png_scale``, else the default of its
    ``quantity`` (:data:`PNG16_SCALE`), else ``None``."""
    if meta.get("png_scale"):
        return float(meta["png_scale"])
    quantity = meta.get("quantity")
    return PNG16_SCALE.get(str(quantity))


# --- NumPy and PFM --------------------------------------------------------------------------------


def write_npy(path: str | os.PathLike[str], values: np.ndarray, meta: dict[str, Any]) -> Path:
    """``(H, W)`` float32 ``.npy`` plus the JSON sidecar ``path.json``."""
    with atomic_open(path, "wb") as f:
        np.save(f, values.astype(np.float32, copy=False), allow_pickle=False)
    write_sidecar(path, {**meta, "dtype": "float32", "layout": "(H, W), row 0 = top"})
    return Path(path)


def write_pfm(path: str | os.PathLike[str], values: np.ndarray, meta: dict[str, Any]) -> Path:
    """Portable float map: header ``Pf\\nW H\\n-1\\n`` (grey, little-endian), rows bottom to top as
    the format requires; plus the JSON sidecar ``path.json``."""
    if values.ndim != 2:
        raise ValueError(f"{path}: a PFM map must be (H, W), got shape {values.shape}")
    h, w = values.shape
    with atomic_open(path, "wb") as f:
        f.write(f"Pf\n{w} {h}\n-1.0\n".encode("ascii"))
        f.write(np.ascontiguousarray(values[::-1].astype("<f4")).tobytes())
    write_sidecar(path, {**meta, "dtype": "float32", "layout": "PFM: rows stored bottom to top"})
    return Path(path)


def read_pfm(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a grey or colour PFM → ``(H, W)`` or ``(H, W, 3)`` float32, row 0 = top."""
    with open(path, "rb") as f:
        kind = f.readline().strip()
        if kind not in (b"Pf", b"PF"):
            raise ValueError(f"{path}: not a PFM file (header {kind[:8]!r})")
        try:
            w, h = (int(v) for v in f.readline().split())
            scale = float(f.readline().strip())
        except ValueError:
            raise ValueError(f"{path}: bad PFM header; expected 'W H' then the scale") from None
        dtype = "<f4" if scale < 0 else ">f4"
        channels = 3 if kind == b"PF" else 1
        payload = f.read(w * h * channels * 4 + 1)
    if len(payload) != w * h * channels * 4:
        raise ValueError(
            f"{path}: truncated or inconsistent PFM ({len(payload)} bytes of pixels; {w}×{h}×{channels} float32 expected "
            f"{w * h * channels * 4})"
        )
    data = np.frombuffer(payload, dtype=dtype)
    shape = (h, w, 3) if channels == 3 else (h, w)
    return data.reshape(shape)[::-1].astype(np.float32)


# --- colour maps ----------------------------------------------------------------------------------


def value_range(values: np.ndarray, fixed: tuple[float, float] | None = None) -> tuple[float, float]:
    """``fixed`` if given, else the 1st–99th percentile of the finite values (robust per-image range)."""
    if fixed is not None:
        lo, hi = float(fixed[0]), float(fixed[1])
        if not hi > lo:
            raise ValueError(f"colour range must be MIN,MAX with MAX > MIN, got {fixed}")
        return lo, hi
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = (float(v) for v in np.percentile(finite, [1.0, 99.0]))
    return (lo, hi) if hi > lo else (lo, lo + 1e-6)


#: Colour maps OpenCV also has (the same matplotlib tables as 256-entry LUTs: within 1 of matplotlib's
#: bytes), used when matplotlib is not installed (the minimal ``[onnx]`` install).
_OPENCV_CMAPS = {
    "magma": cv2.COLORMAP_MAGMA,
    "inferno": cv2.COLORMAP_INFERNO,
    "plasma": cv2.COLORMAP_PLASMA,
    "viridis": cv2.COLORMAP_VIRIDIS,
    "cividis": cv2.COLORMAP_CIVIDIS,
    "turbo": cv2.COLORMAP_TURBO,
    "twilight": cv2.COLORMAP_TWILIGHT,
    "twilight_shifted": cv2.COLORMAP_TWILIGHT_SHIFTED,
}


def _opencv_lut(cmap: str) -> np.ndarray | None:
    """``(256, 3)`` uint8 RGB table of ``cmap`` (or its ``_r`` reverse) from OpenCV, or ``None``."""
    base, reverse = (cmap[:-2], True) if cmap.endswith("_r") else (cmap, False)
    lut: np.ndarray
    if base == "gray":
        lut = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1)
    elif base in _OPENCV_CMAPS:
        ramp = np.arange(256, dtype=np.uint8)[:, None]
        lut = cv2.cvtColor(cv2.applyColorMap(ramp, _OPENCV_CMAPS[base]), cv2.COLOR_BGR2RGB)[:, 0]
    else:
        return None
    return np.ascontiguousarray(lut[::-1] if reverse else lut)


def range_clipped(values: np.ndarray, vmin: float, vmax: float) -> dict[str, int]:
    """How many finite values a colour map over ``[vmin, vmax]`` saturates: ``{"below": n, "above": m}``
    (drawn as the first and the last colour; a per-image 1–99 % range saturates about 1 % each side)."""
    finite = values[np.isfinite(values)]
    return {"below": int(np.count_nonzero(finite < vmin)), "above": int(np.count_nonzero(finite > vmax))}


def colorize(values: np.ndarray, cmap: str, vmin: float, vmax: float) -> np.ndarray:
    """``(H, W)`` → ``(H, W, 3)`` uint8 RGB through a matplotlib colour map (e.g. ``magma``, ``turbo``);
    values are clipped to ``[vmin, vmax]``; non-finite values are drawn black. Without matplotlib,
    the maps OpenCV also has (magma, inferno, plasma, viridis, cividis, turbo, twilight, gray, and their ``_r`` reverses) come from OpenCV's tables."""
    t = np.clip((_finite(values) - vmin) / (vmax - vmin), 0.0, 1.0)
    try:
        from matplotlib import colormaps  # imported here: matplotlib is slow to import
    except ImportError:
        lut = _opencv_lut(cmap)
        if lut is None:
            raise MissingDependency(
                f"colour map {cmap!r} needs matplotlib ({install_hint('matplotlib')}); without it: "
                f"{', '.join([*_OPENCV_CMAPS, 'gray'])} (and their _r reverses)"
            ) from None
        # matplotlib's indexing of a 256-entry map: floor(t × 256), 1.0 → the last entry
        rgb = lut[np.minimum((t * 256).astype(np.int64), 255)]
    else:
        if cmap not in colormaps:
            raise ValueError(f"unknown colour map {cmap!r}; e.g. magma, turbo, viridis, inferno, plasma")
        rgb = colormaps[cmap](t, bytes=True)[..., :3]
    rgb[~np.isfinite(values)] = 0
    return np.ascontiguousarray(rgb)


def write_color_png(
    path: str | os.PathLike[str],
    values: np.ndarray,
    meta: dict[str, Any],
    cmap: str = "magma",
    vrange: tuple[float, float] | None = None,
) -> Path:
    """Colour-mapped 8-bit RGB PNG of a ``(H, W)`` map; ``vrange`` fixed or per image (1–99 %)."""
    vmin, vmax = value_range(values, vrange)
    rgb = colorize(values, cmap, vmin, vmax)
    info = {
        **meta,
        "colormap": cmap,
        "range": [vmin, vmax],
        "range_kind": "fixed" if vrange else "per-image",
        "range_clipped": range_clipped(values, vmin, vmax),
    }
    png = PngImagePlugin.PngInfo()
    png.add_text(META_KEY, json.dumps(info, default=str))
    q = meta.get("quantity", "value")
    png.add_text("Description", f"{q} colour-mapped with {cmap}: {vmin:g} .. {vmax:g} {UNITS.get(q, '')}")
    with atomic_path(path) as tmp:
        Image.fromarray(rgb).save(tmp, format="PNG", pnginfo=png)
    return Path(path)


# --- point clouds ---------------------------------------------------------------------------------


def depth_to_points(
    depth: np.ndarray,
    intrinsics: tuple[float, float, float, float],
    image: np.ndarray | None = None,
    max_depth: float | None = None,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Back-project a depth map (m) with pinhole intrinsics ``(fx, fy, cx, cy)`` (px, same size as
    ``depth``): X = (u − cx)·Z/fx, Y = (v − cy)·Z/fy, Z = depth (camera frame: x right, y down, z forward).

    Pixels with depth ≤ 0, non-finite or beyond ``max_depth`` are dropped. Returns ``(points (N, 3)
    float32 m, colours (N, 3) uint8 or None)``; ``image`` is ``(H, W, 3)`` RGB uint8 of the same size.
    """
    fx, fy, cx, cy = intrinsics
    h, w = depth.shape
    v, u = np.mgrid[0:h, 0:w]
    keep = np.isfinite(depth) & (depth > 0)
    if max_depth is not None:
        keep &= depth <= max_depth
    z = depth[keep].astype(np.float64)
    pts = np.stack([(u[keep] - cx) * z / fx, (v[keep] - cy) * z / fy, z], axis=1).astype(np.float32)
    colours = None
    if image is not None:
        if image.shape[:2] != (h, w):
            raise ValueError(f"image size {image.shape[:2]} differs from the depth map's {(h, w)}")
        colours = np.ascontiguousarray(image.reshape(h, w, -1)[keep][:, :3]).astype(np.uint8)
    return pts, colours


def write_ply(
    path: str | os.PathLike[str], points: np.ndarray, colours: np.ndarray | None, meta: dict[str, Any]
) -> Path:
    """Binary little-endian PLY: ``float x, y, z`` (m) [+ ``uchar red, green, blue``]; metadata in
    header comments and the JSON sidecar."""
    n = len(points)
    fields = [("x", "<f4"), ("y", "<f4"), ("z", "<f4")]
    if colours is not None:
        fields += [("red", "u1"), ("green", "u1"), ("blue", "u1")]
    rec = np.empty(n, dtype=fields)
    rec["x"], rec["y"], rec["z"] = points[:, 0], points[:, 1], points[:, 2]
    if colours is not None:
        rec["red"], rec["green"], rec["blue"] = colours[:, 0], colours[:, 1], colours[:, 2]
    comments = [f"comment {k}: {json.dumps(v, default=str)}" for k, v in meta.items()]
    props = [f"property {'float' if t == '<f4' else 'uchar'} {name}" for name, t in fields]
    header = "\n".join(["ply", "format binary_little_endian 1.0", *comments, f"element vertex {n}", *props])
    with atomic_open(path, "wb") as f:
        f.write((header + "\nend_header\n").encode("utf-8"))
        f.write(rec.tobytes())
    write_sidecar(path, {**meta, "points": n, "frame": "camera: x right, y down, z forward; metres"})
    return Path(path)


def read_ply(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a binary little-endian PLY written by :func:`write_ply` → structured vertex array."""
    types = {"float": "<f4", "uchar": "u1"}
    with open(path, "rb") as f:
        if f.readline().strip() != b"ply":
            raise ValueError(f"{path}: not a PLY file")
        n, fields = 0, []
        while True:
            line = f.readline().decode("utf-8").strip()
            if not line:
                raise ValueError(f"{path}: PLY header has no end_header")
            if line == "end_header":
                break
            parts = line.split()
            if parts[0] == "format" and parts[1] != "binary_little_endian":
                raise ValueError(f"{path}: only binary_little_endian PLY is read here")
            if parts[0] == "element" and parts[1] == "vertex":
                n = int(parts[2])
            if parts[0] == "property":
                fields.append((parts[2], types[parts[1]]))
        return np.frombuffer(f.read(), dtype=fields, count=n)


# --- video ----------------------------------------------------------------------------------------


class SideBySideWriter:
    """Writes ``[input frame | colour map]`` frames to a video, atomically: frames go to a temporary
    file that is renamed over ``path`` by :meth:`close` (on error, nothing is left). The one
    side-by-side writer: ``ssrdepth predict``'s MP4 (``fourcc`` ``mp4v``) and the web page's WebM
    (``VP80``, plays in every browser); the container follows ``path``'s suffix."""

    def __init__(self, path: str | os.PathLike[str], fps: float, fourcc: str = "mp4v") -> None:
        self.path = Path(path)
        self.fps = fps if fps and fps > 0 else 25.0
        self.fourcc = fourcc
        self._tmp_ctx: Any = None
        self._tmp: Path | None = None
        self._writer: cv2.VideoWriter | None = None
        self._size: tuple[int, ...] = (0, 0)
        self.frames = 0

    def write(self, frame_rgb: np.ndarray, colour_rgb: np.ndarray) -> None:
        """``frame_rgb`` and ``colour_rgb``: ``(H, W, 3)`` uint8 RGB of the same size."""
        both = np.concatenate([frame_rgb, colour_rgb], axis=1)
        if self._writer is not None and both.shape[:2] != self._size:
            # OpenCV drops a frame of another size without a word: the file would lack it.
            raise ValueError(
                f"{self.path}: frame {self.frames} is {both.shape[1] // 2}×{both.shape[0]} px, the video "
                f"{self._size[1] // 2}×{self._size[0]}; a video's frames must keep one size"
            )
        if self._writer is None:
            self._size = both.shape[:2]
            self._tmp_ctx = atomic_path(self.path)
            self._tmp = self._tmp_ctx.__enter__()
            h, w = both.shape[:2]
            fourcc = cv2.VideoWriter.fourcc(*self.fourcc)
            self._writer = cv2.VideoWriter(str(self._tmp), fourcc, self.fps, (w, h))
            if not self._writer.isOpened():
                self.abort()
                raise ValueError(f"{self.path}: OpenCV cannot write an {self.fourcc} video here")
        self._writer.write(cv2.cvtColor(both, cv2.COLOR_RGB2BGR))
        self.frames += 1

    def abort(self) -> None:
        """Stop and remove the unfinished file (after an error); nothing is left at ``path``."""
        if self._writer is not None:
            self._writer.release()
            self._writer = None
        if self._tmp_ctx is not None:
            ctx, self._tmp_ctx = self._tmp_ctx, None
            with suppress(RuntimeError):
                ctx.__exit__(RuntimeError, RuntimeError("aborted"), None)

    def close(self, meta: dict[str, Any] | None = None, sidecar: bool = True) -> Path | None:
        """Finish the file (rename into place) and write its sidecar (unless ``sidecar`` is false);
        ``None`` if no frame was written."""
        if self._writer is None:
            return None
        self._writer.release()
        self._writer = None
        ctx, self._tmp_ctx = self._tmp_ctx, None
        ctx.__exit__(None, None, None)
        if not sidecar:
            return self.path
        write_sidecar(
            self.path,
            {
                **(meta or {}),
                "frames": self.frames,
                "fps": self.fps,
                "layout": "left: input frame, right: colour-mapped prediction",
            },
        )
        return self.path
