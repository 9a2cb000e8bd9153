"""Where the focal length comes from — the one home of a camera's intrinsics given by the user.

:class:`Intrinsics` is a pinhole camera (``fx``, ``fy``, ``cx``, ``cy`` px at ``width × height``) with
the ``source`` it was read from; :meth:`Intrinsics.at_width` rescales it to another image width
(focal lengths and the principal point scale with the image). The readers:

- ``--focal PX`` (at the image's width): :meth:`Intrinsics.from_focal`;
- ``--fov DEG`` (horizontal field of view): :meth:`Intrinsics.from_fov`, ``fx = W/2 / tan(fov/2)``;
- ``--calib FILE``: :func:`read_calib` — a KITTI calibration (``P2`` of the object and tracking
  files, ``P_rect_02`` of ``calib_cam_to_cam.txt``, read by :mod:`ssrdepth.data.kitti_calib`), an
  OpenCV YAML/JSON camera matrix (``camera_matrix`` or ``K``, 3×3, with ``image_width`` /
  ``image_height``), a ROS CameraInfo YAML (``K`` or ``k``: 9 values, ``width``, ``height``; or the
  ``camera_info_manager`` file's ``camera_matrix: {rows, cols, data}``);
- EXIF: :func:`exif_intrinsics` — ``FocalLengthIn35mmFilm`` (the 35 mm equivalent, defined on the
  frame's diagonal: ``fx = f35 · √(W² + H²) / √(36² + 24²)``, which is ``W · f35 / 36`` for a 3:2
  frame), else ``FocalLength`` (mm) with the sensor's width (given, or from the EXIF focal-plane
  resolution);

and :func:`resolve_intrinsics` picks one by the documented precedence (``--intrinsics``/``--focal`` >
``--calib`` > ``--fov`` > EXIF > nothing: the checkpoint's training camera).

YAML is read by OpenCV's ``cv2.FileStorage`` (a core dependency: the ONNX-only install has it), JSON by
:mod:`json`; no torch.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

#: The 35 mm film frame (mm): 36 × 24, diagonal √(36² + 24²) ≈ 43.27 mm (the 35 mm equivalent focal
#: length is defined on the diagonal).
FILM_WIDTH_MM, FILM_HEIGHT_MM = 36.0, 24.0
FILM_DIAGONAL_MM = math.hypot(FILM_WIDTH_MM, FILM_HEIGHT_MM)

#: EXIF tags (CIPA DC-008): the Exif IFD pointer and the tags read from it.
EXIF_IFD = 0x8769
TAG_FOCAL_LENGTH = 0x920A  # FocalLength, mm (rational)
TAG_FOCAL_35MM = 0xA405  # FocalLengthIn35mmFilm, mm (short)
TAG_FOCAL_PLANE_X_RES = 0xA20E  # FocalPlaneXResolution, px per unit at the original image width
TAG_FOCAL_PLANE_UNIT = 0xA210  # FocalPlaneResolutionUnit: 2 inch, 3 cm, 4 mm, 5 µm
TAG_EXIF_WIDTH = 0xA002  # PixelXDimension (the original image width)
TAG_ORIENTATION = 0x0112
_UNIT_MM = {2: 25.4, 3: 10.0, 4: 1.0, 5: 1e-3}


@dataclass(frozen=True)
class Intrinsics:
    """A pinhole camera: ``fx``, ``fy`` (focal lengths), ``cx``, ``cy`` (principal point), all px at
    an image of ``width × height`` px (``height`` 0 when unknown); ``source`` says where it came from
    (``"--focal"``, ``"--fov 60°"``, ``"calib FILE (P2)"``, ``"EXIF FocalLengthIn35mmFilm 26 mm"``, …)."""

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int
    source: str

    def __post_init__(self) -> None:
        if not (math.isfinite(self.fx) and self.fx > 0 and math.isfinite(self.fy) and self.fy > 0):
            raise ValueError(
                f"{self.source}: the focal length must be a positive number of px, got {self.fx}"
            )
        if self.width <= 0:
            raise ValueError(f"{self.source}: the image width must be > 0 px, got {self.width}")

    @property
    def focal(self) -> float:
        """The horizontal focal length ``fx`` (px at :attr:`width`)."""
        return self.fx

    def at_width(self, width: int, height: int | None = None) -> Intrinsics:
        """The same camera at an image ``width`` px wide (and ``height`` px high, when given; else
        scaled like the width): focal lengths and principal point scale with the image's size."""
        sx = width / self.width
        if height is None:
            height = round(self.height * sx)
        sy = height / self.height if self.height else sx
        if width == self.width and height == self.height:
            return self
        return replace(
            self,
            fx=self.fx * sx,
            fy=self.fy * sy,
            cx=self.cx * sx,
            cy=self.cy * sy,
            width=width,
            height=height,
        )

    def as_tuple(self) -> tuple[float, float, float, float]:
        """``(fx, fy, cx, cy)`` px."""
        return (self.fx, self.fy, self.cx, self.cy)

    @classmethod
    def from_focal(cls, focal: float, width: int, height: int, source: str = "--focal") -> Intrinsics:
        """A focal length (px at ``width``), square pixels, principal point at the image centre."""
        return cls(float(focal), float(focal), width / 2, height / 2, width, height, source)

    @classmethod
    def from_fov(cls, fov_deg: float, width: int, height: int) -> Intrinsics:
        """A horizontal field of view (degrees, 0 < fov < 180): ``fx = W/2 / tan(fov/2)``.

        Raises:
            ValueError: a field of view outside (0°, 180°).
        """
        if not (0 < fov_deg < 180):
            raise ValueError(
                f"--fov: the horizontal field of view must be in (0, 180) degrees, got {fov_deg}"
            )
        focal = width / 2 / math.tan(math.radians(fov_deg) / 2)
        return cls.from_focal(focal, width, height, f"--fov {fov_deg:g}°")


# --- calibration files -------------------------------------------------------------------------------


def read_calib(path: str | Path, width: int | None = None, height: int | None = None) -> Intrinsics:
    """A calibration file → its camera, at the width the file states (``width`` × ``height``, the
    image's, when it states none: KITTI object/tracking files).

    KITTI (``.txt``): ``P_rect_02`` (raw ``calib_cam_to_cam.txt``, width from ``S_rect_02``), else
    ``P2`` (object, tracking). YAML (``.yaml``/``.yml``) and JSON (``.json``): ``camera_matrix`` or
    ``K``/``k`` (3×3 nested, 9 values, or OpenCV's ``{rows, cols, data}``) with ``image_width`` /
    ``width`` and ``image_height`` / ``height``.

    Raises:
        FileNotFoundError: no such file.
        ValueError: a file that cannot be parsed, or that lacks the camera matrix or, for YAML/JSON,
            the image width (named, with the keys looked for).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"--calib {path}: no such file")
    suffix = path.suffix.lower()
    if suffix in (".yaml", ".yml", ".json"):
        tree = _read_json(path) if suffix == ".json" else _read_yaml(path)
        return _from_tree(tree, path)
    return _from_kitti(path, width, height)


def _from_kitti(path: Path, width: int | None, height: int | None) -> Intrinsics:
    from ssrdepth.data.kitti_calib import read_calib_file

    values = read_calib_file(path)
    key = next((k for k in ("P_rect_02", "P2") if k in values), None)
    if key is None:
        raise ValueError(
            f"--calib {path}: no camera matrix: expected a KITTI P2 (object/tracking calib) or P_rect_02 "
            "(calib_cam_to_cam.txt) line, or give a .yaml/.json camera matrix"
        )
    p = values[key]
    if p.size != 12:
        raise ValueError(f"--calib {path}: {key} has {p.size} values, expected 12 (a 3×4 matrix)")
    size = values.get("S_rect_02")
    if size is not None and size.size == 2:
        w, h = round(float(size[0])), round(float(size[1]))
    elif width is not None:
        w, h = width, height or 0
    else:
        raise ValueError(
            f"--calib {path}: the file does not state the image size (S_rect_02); give the image"
        )
    return Intrinsics(float(p[0]), float(p[5]), float(p[2]), float(p[6]), w, h, f"calib {path} ({key})")


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"--calib {path}: not a readable JSON file ({exc})") from exc


def _read_yaml(path: Path) -> Any:
    import cv2

    try:
        fs = cv2.FileStorage(str(path), cv2.FILE_STORAGE_READ)
    except cv2.error as exc:
        raise ValueError(
            f"--calib {path}: not a readable YAML file ({str(exc).strip().splitlines()[-1]})"
        ) from exc
    try:
        if not fs.isOpened():
            raise ValueError(f"--calib {path}: not a readable YAML file")
        return _node(fs.root())
    finally:
        fs.release()


def _node(n: Any) -> Any:
    """An OpenCV FileNode → dict / list / float / str."""
    if n.isMap():
        return {k: _node(n.getNode(k)) for k in n.keys()}  # noqa: SIM118 (a FileNode, not a dict)
    if n.isSeq():
        return [_node(n.at(i)) for i in range(n.size())]
    if n.isInt() or n.isReal():
        return float(n.real())
    if n.isString():
        return n.string()
    return None


def _find(tree: dict[str, Any], keys: tuple[str, ...]) -> tuple[str, Any] | None:
    for k in keys:
        if k in tree and tree[k] is not None:
            return k, tree[k]
    return None


def _matrix9(value: Any) -> list[float] | None:
    """A 3×3 matrix as nested lists, 9 values, or OpenCV's ``{rows, cols, data}`` → 9 floats."""
    if isinstance(value, dict):
        value = value.get("data")
    if isinstance(value, list) and value and all(isinstance(r, list) for r in value):
        value = [v for r in value for v in r]
    if not isinstance(value, list) or len(value) != 9:
        return None
    try:
        return [float(v) for v in value]
    except (TypeError, ValueError):
        return None


def _from_tree(tree: Any, path: Path) -> Intrinsics:
    if not isinstance(tree, dict):
        raise ValueError(f"--calib {path}: expected a mapping with camera_matrix (or K) and image_width")
    found = _find(tree, ("camera_matrix", "K", "k", "intrinsic_matrix"))
    if found is None:
        raise ValueError(
            f"--calib {path}: no camera matrix: expected camera_matrix or K (3×3, or 9 values); has "
            f"{', '.join(sorted(tree)) or 'nothing'}"
        )
    key, value = found
    m = _matrix9(value)
    if m is None:
        raise ValueError(f"--calib {path}: {key} is not a 3×3 matrix (9 numbers)")
    w = _find(tree, ("image_width", "width"))
    h = _find(tree, ("image_height", "height"))
    if w is None or not isinstance(w[1], (int, float)) or not w[1] > 0:
        raise ValueError(
            f"--calib {path}: no image width (image_width or width, px): the focal length ({key}) "
            "holds at the calibrated image's width, which the file must state"
        )
    height = int(h[1]) if h is not None and isinstance(h[1], (int, float)) else 0
    return Intrinsics(m[0], m[4], m[2], m[5], int(w[1]), height, f"calib {path} ({key})")


# --- EXIF --------------------------------------------------------------------------------------------


def _exif_value(exif: Any, tag: int) -> float | None:
    value = exif.get(tag)
    if value is None:
        try:
            value = exif.get_ifd(EXIF_IFD).get(tag)
        except (KeyError, ValueError, TypeError):
            value = None
    try:
        out = float(value) if value is not None else None
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return out if out is not None and math.isfinite(out) and out > 0 else None


def exif_intrinsics(path: str | Path, sensor_width_mm: float | None = None) -> Intrinsics | None:
    """The camera an image file's EXIF states, at the image's size as read (orientation applied), or
    ``None`` when it states no usable focal length (or the file has no EXIF).

    ``FocalLengthIn35mmFilm`` (0xA405) first: ``fx = f35 · √(W² + H²) / 43.27`` (the equivalent is
    defined on the diagonal; ``W · f35 / 36`` for a 3:2 frame); else ``FocalLength`` (0x920A, mm)
    with the sensor width ``sensor_width_mm`` (along the image's long side): ``fx = f · max(W, H) /
    sensor_width_mm``, or with the EXIF focal-plane resolution (0xA20E px per 0xA210 unit at the
    original width 0xA002). Square pixels, principal point at the centre.
    """
    from ssrdepth.core.image import read_exif

    path = Path(path)
    header = read_exif(path)
    if header is None:
        return None
    exif, width, height = header
    if exif.get(TAG_ORIENTATION) in (5, 6, 7, 8):  # rotated by 90°: read_image swaps the sides
        width, height = height, width
    f35 = _exif_value(exif, TAG_FOCAL_35MM)
    if f35 is not None:
        fx = f35 * math.hypot(width, height) / FILM_DIAGONAL_MM
        return Intrinsics.from_focal(fx, width, height, f"EXIF FocalLengthIn35mmFilm {f35:g} mm")
    f_mm = _exif_value(exif, TAG_FOCAL_LENGTH)
    if f_mm is None:
        return None
    long_side = max(width, height)
    if sensor_width_mm is not None and sensor_width_mm > 0:
        fx = f_mm * long_side / sensor_width_mm
        return Intrinsics.from_focal(
            fx, width, height, f"EXIF FocalLength {f_mm:g} mm, sensor {sensor_width_mm:g} mm wide"
        )
    res = _exif_value(exif, TAG_FOCAL_PLANE_X_RES)
    unit = _UNIT_MM.get(int(_exif_value(exif, TAG_FOCAL_PLANE_UNIT) or 2))  # EXIF's default unit: inch
    if res is not None and unit is not None:
        original = _exif_value(exif, TAG_EXIF_WIDTH) or long_side
        fx = f_mm * res / unit * long_side / original
        return Intrinsics.from_focal(
            fx, width, height, f"EXIF FocalLength {f_mm:g} mm, focal-plane resolution"
        )
    logger.info(
        "%s: EXIF FocalLength %g mm but no sensor width: give --sensor-width MM or --focal", path, f_mm
    )
    return None


# --- precedence --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CameraOptions:
    """What the user gave for the camera (every field optional), resolved per image by
    :func:`resolve_intrinsics`: ``intrinsics`` (fx, fy, cx, cy) and ``focal`` px at the image's size,
    ``calib`` a calibration file (:func:`read_calib`), ``fov`` degrees, ``exif`` whether to read the
    image's EXIF when nothing else is given, ``sensor_width_mm`` for EXIF ``FocalLength``."""

    intrinsics: tuple[float, float, float, float] | None = None
    focal: float | None = None
    calib: str | Path | None = None
    fov: float | None = None
    exif: bool = True
    sensor_width_mm: float | None = None

    def check(self) -> None:
        """Fail before any work on a bad value: a calibration file that cannot be read, a bad field of
        view or focal length (the errors of :func:`read_calib` and :class:`Intrinsics`)."""
        resolve_intrinsics(self, 640, 480, None)


def resolve_intrinsics(
    options: CameraOptions, width: int, height: int, image_path: str | Path | None = None
) -> Intrinsics | None:
    """The camera of an image of ``width × height`` px, by precedence: ``--intrinsics``/``--focal``
    (``focal`` overrides ``fx``, ``fy`` kept in ratio) > ``--calib`` (rescaled from the file's width)
    > ``--fov`` > the EXIF of ``image_path`` > ``None`` (the checkpoint's training camera).

    Raises:
        FileNotFoundError, ValueError: a calibration file that cannot be read; a bad focal or fov.
    """
    o = options
    if o.intrinsics is not None:
        fx, fy, cx, cy = (float(v) for v in o.intrinsics)
        src = "--intrinsics"
        if o.focal is not None:
            fx, fy, src = float(o.focal), fy * float(o.focal) / fx, "--focal (--intrinsics: cx, cy)"
        return Intrinsics(fx, fy, cx, cy, width, height, src)
    if o.focal is not None:
        return Intrinsics.from_focal(o.focal, width, height)
    if o.calib is not None:
        return read_calib(o.calib, width, height).at_width(width, height)
    if o.fov is not None:
        return Intrinsics.from_fov(o.fov, width, height)
    if o.exif and image_path is not None:
        found = exif_intrinsics(image_path, o.sensor_width_mm)
        if found is not None:
            return found.at_width(width, height)
    return None
