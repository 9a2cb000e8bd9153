"""Stereo matching behind one function: a rectified pair → disparity (px) and a validity mask.

Backends (the three the paper compared, Sec. 4.1):

- ``"sgm"``: semi-global matching (Hirschmüller 2008) — OpenCV ``StereoSGBM``;
- ``"bm"``: block matching (Konolige 1998) — OpenCV ``StereoBM``;
- ``"elas"``: ELAS (Geiger, Roser and Urtasun 2010), the paper's choice — the optional ``pyelas``
  bindings of libelas (GPL-3.0), installed with :data:`ELAS_INSTALL`.

Every backend's parameters live in one frozen, hashable settings dataclass (:class:`SGMSettings`,
:class:`BMSettings`, :class:`ElasSettings`) whose defaults suit KITTI (1242×375, baseline 0.54 m,
disparities up to ~190 px at 4 m). :func:`settings_hash` names the cache of targets computed with them.

Invalid pixels (``valid_mask`` False, ``disparity`` 0): no match (the left border where the
disparity range leaves the right image, textureless or ambiguous regions), non-positive disparity,
failed left-right consistency and hence occluded pixels, removed speckles.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar

import cv2
import numpy as np

from ssrdepth.core.hardware import usable_cores
from ssrdepth.core.processes import worker_pool
from ssrdepth.core.timing import elapsed

#: How to install the optional ELAS backend (libelas bindings, built against numpy's headers).
ELAS_INSTALL = (
    "CPLUS_INCLUDE_PATH=$(python -c 'import numpy; print(numpy.get_include())') "
    "pip install --no-build-isolation pyelas"
)


def _check_max_disparity(value: int, multiple: int, upper: int) -> None:
    if not (isinstance(value, int) and 0 < value <= upper and value % multiple == 0):
        raise ValueError(f"max_disparity must be a positive multiple of {multiple} ≤ {upper}, got {value!r}")


@dataclass(frozen=True)
class SGMSettings:
    """Semi-global matching (OpenCV ``StereoSGBM``) on the grayscale pair.

    max_disparity: search range 0..max_disparity px (multiple of 16). 192 covers KITTI objects down to
        fx·B / 192 ≈ 2 m (fx ≈ 721 px, B = 0.54 m) and is the :class:`TargetScale` default.
    block_size: odd matching window (px); 5 is the usual KITTI choice for SGBM.
    p1, p2: smoothness penalties for disparity changes of 1 px and > 1 px, as multiples of
        ``block_size²`` (OpenCV's recommended 8 and 32).
    uniqueness_ratio: % margin by which the best cost must beat the second best.
    speckle_window, speckle_range: connected components under ``speckle_window`` px whose disparity
        varies by ≤ ``speckle_range`` px are removed (0 window = off).
    pre_filter_cap: clip of the x-derivative pre-filter.
    mode: ``"3way"`` (OpenCV's faster 3-direction variant; as accurate as ``"sgbm"`` on the Middlebury
        and KITTI pairs we measured, docs/stereo.md), ``"sgbm"`` (5 directions), ``"hh"`` (full 8
        directions, slow, memory-hungry), ``"hh4"``.
    lr_max_diff: left-right consistency tolerance (px): the right-view disparity is computed too and a
        pixel whose two disparities differ by more is invalid (occlusion, mismatch); < 0 disables.
    fill_left_border: also match the ``max_disparity`` left-most columns, which OpenCV leaves invalid
        (15 % of a KITTI image at 192 px), by padding both images on the left; disparities that point
        outside the right image stay invalid.
    """

    method: ClassVar[str] = "sgm"
    max_disparity: int = 192
    block_size: int = 5
    p1: int = 8
    p2: int = 32
    uniqueness_ratio: int = 10
    speckle_window: int = 100
    speckle_range: int = 2
    pre_filter_cap: int = 63
    mode: str = "3way"
    lr_max_diff: float = 1.0
    fill_left_border: bool = True

    def __post_init__(self) -> None:
        _check_max_disparity(self.max_disparity, 16, 1024)
        if self.block_size < 1 or self.block_size % 2 == 0:
            raise ValueError(f"block_size must be odd and ≥ 1, got {self.block_size}")
        if not 0 <= self.p1 < self.p2:
            raise ValueError(f"need 0 ≤ p1 < p2, got p1={self.p1}, p2={self.p2}")
        if self.mode not in _SGBM_MODES:
            raise ValueError(f"mode must be one of {', '.join(_SGBM_MODES)}, got {self.mode!r}")


_SGBM_MODES = {
    "sgbm": cv2.StereoSGBM_MODE_SGBM,
    "3way": cv2.StereoSGBM_MODE_SGBM_3WAY,
    "hh": cv2.StereoSGBM_MODE_HH,
    "hh4": cv2.StereoSGBM_MODE_HH4,
}


@dataclass(frozen=True)
class BMSettings:
    """Block matching (OpenCV ``StereoBM``, Konolige 1998) on the grayscale pair.

    max_disparity: search range 0..max_disparity px (multiple of 16).
    block_size: odd SAD window (px, 5..255); larger windows are smoother but fatten edges; 9 had the
        lowest error on the Middlebury pairs and the KITTI road we measured (docs/stereo.md).
    pre_filter_cap, pre_filter_size: normalised-response pre-filter (cap 1..63, odd size 5..255).
    texture_threshold: minimum summed texture in the window for a match.
    uniqueness_ratio, speckle_window, speckle_range (px), lr_max_diff (px), fill_left_border: as in
        :class:`SGMSettings`.
    """

    method: ClassVar[str] = "bm"
    max_disparity: int = 192
    block_size: int = 9
    pre_filter_cap: int = 31
    pre_filter_size: int = 9
    texture_threshold: int = 10
    uniqueness_ratio: int = 15
    speckle_window: int = 100
    speckle_range: int = 2
    lr_max_diff: float = 1.0
    fill_left_border: bool = True

    def __post_init__(self) -> None:
        _check_max_disparity(self.max_disparity, 16, 1024)
        if not (5 <= self.block_size <= 255 and self.block_size % 2 == 1):
            raise ValueError(f"block_size must be odd in 5..255, got {self.block_size}")
        if not 1 <= self.pre_filter_cap <= 63:
            raise ValueError(f"pre_filter_cap must be in 1..63, got {self.pre_filter_cap}")
        if not (5 <= self.pre_filter_size <= 255 and self.pre_filter_size % 2 == 1):
            raise ValueError(f"pre_filter_size must be odd in 5..255, got {self.pre_filter_size}")


@dataclass(frozen=True)
class ElasSettings:
    """ELAS (libelas through ``pyelas``), starting from libelas' ROBOTICS preset (semi-dense, no
    interpolation of large gaps: what Geiger et al. used on KITTI-like street scenes).

    max_disparity: ``disp_max`` (px, ≤ 255 in libelas).
    support_threshold: max uniqueness ratio (best / second best) of support points.
    support_texture: min texture of support points.
    lr_threshold: left-right consistency tolerance (px), checked inside libelas.
    speckle_size: connected components smaller than this (px) are removed.
    ipol_gap_width: gaps up to this width (px) are interpolated (ROBOTICS: 3; MIDDLEBURY: dense).
    filter_median, filter_adaptive_mean: libelas post-filters.
    """

    method: ClassVar[str] = "elas"
    max_disparity: int = 192
    support_threshold: float = 0.85
    support_texture: int = 10
    lr_threshold: int = 2
    speckle_size: int = 200
    ipol_gap_width: int = 3
    filter_median: bool = False
    filter_adaptive_mean: bool = True

    def __post_init__(self) -> None:
        _check_max_disparity(self.max_disparity, 1, 255)


@dataclass(frozen=True)
class ExactSettings:
    """Not a matcher: the exact disparity ``f·B / Z`` of a data set with exact depth (the synthetic
    set), the upper bound of the matcher study. Its targets are written from the depth maps by
    :func:`ssrdepth.data.reference.prepare_reference_targets`, never computed from the images.

    max_disparity: the normalisation maximum (px), as for the matchers.
    """

    method: ClassVar[str] = "exact"
    sparse: ClassVar[bool] = False
    max_disparity: int = 192

    def __post_init__(self) -> None:
        _check_max_disparity(self.max_disparity, 1, 1024)


@dataclass(frozen=True)
class LidarLikeSettings:
    """Not a matcher: the exact disparity sampled where a KITTI-like Velodyne HDL-64E would return a
    point (:func:`ssrdepth.stereo.geometry.lidar_like_mask`), the second reference of the matcher study.
    Sparse: resized to the model size like lidar (an output pixel is valid where any point falls).

    max_disparity: the normalisation maximum (px). azimuth_step: horizontal angle between two points
    of one beam (degrees). dropout: fraction of points lost at random (no return). seed: of the
    dropout, combined with each pair's key so that every target is reproducible.
    """

    method: ClassVar[str] = "lidar-like"
    sparse: ClassVar[bool] = True
    max_disparity: int = 192
    azimuth_step: float = 0.18
    dropout: float = 0.05
    seed: int = 0

    def __post_init__(self) -> None:
        _check_max_disparity(self.max_disparity, 1, 1024)
        if not self.azimuth_step > 0:
            raise ValueError(f"azimuth_step must be > 0 degrees, got {self.azimuth_step}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")


MatcherSettings = SGMSettings | BMSettings | ElasSettings | ExactSettings | LidarLikeSettings

#: method name → settings class (the stereo matchers)
SETTINGS: dict[str, type[SGMSettings] | type[BMSettings] | type[ElasSettings]] = {
    "sgm": SGMSettings,
    "bm": BMSettings,
    "elas": ElasSettings,
}
METHODS = tuple(SETTINGS)
#: reference "matchers": targets made from exact depth (their own cache folders, like a matcher's)
REFERENCES: dict[str, type[ExactSettings] | type[LidarLikeSettings]] = {
    "exact": ExactSettings,
    "lidar-like": LidarLikeSettings,
}


def _reference_message(method: str) -> str:
    return (
        f"{method!r} targets come from exact depth, not from a stereo pair: fill them with "
        "ssrdepth.data.reference.prepare_reference_targets (a data set with exact depth)"
    )


def _check_method(method: str) -> None:
    if method in REFERENCES:
        raise ValueError(_reference_message(method))
    if method not in SETTINGS:
        raise ValueError(f"unknown stereo matcher {method!r}; valid matchers: {', '.join(METHODS)}")


def default_settings(method: str = "sgm", **overrides: Any) -> MatcherSettings:
    """The KITTI default settings of ``method`` (``"sgm"``, ``"bm"``, ``"elas"``, or a reference,
    ``"exact"`` / ``"lidar-like"``), with overrides."""
    if method not in REFERENCES:
        _check_method(method)
    cls = SETTINGS.get(method) or REFERENCES[method]
    names = {f.name for f in fields(cls)}
    unknown = set(overrides) - names
    if unknown:
        raise ValueError(f"unknown {method} settings {sorted(unknown)}; valid: {', '.join(sorted(names))}")
    return cls(**overrides)


def settings_dict(settings: MatcherSettings) -> dict[str, Any]:
    """``{"method": ..., **fields}``: the JSON-able record of ``settings``."""
    return {"method": settings.method, **asdict(settings)}


def settings_from_dict(d: dict[str, Any]) -> MatcherSettings:
    """Inverse of :func:`settings_dict`."""
    d = dict(d)
    return default_settings(str(d.pop("method")), **d)


def settings_hash(settings: MatcherSettings) -> str:
    """12 hex digits of SHA-256 over the method and every setting: equal iff the settings are equal."""
    text = json.dumps(settings_dict(settings), sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _to_gray_u8(image: np.ndarray, name: str) -> np.ndarray:
    """(H, W), (H, W, 1|3|4) uint8 / uint16 / float in [0, 1] (colour as RGB) → contiguous (H, W) uint8."""
    if not isinstance(image, np.ndarray):
        raise ValueError(f"{name} image must be a numpy array, got {type(image).__name__}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 3 and image.shape[2] in (3, 4):
        pass
    elif image.ndim != 2:
        raise ValueError(f"{name} image must be (H, W) gray or (H, W, 3) colour, got shape {image.shape}")
    if image.dtype == np.uint8:
        u8 = image
    elif image.dtype == np.uint16:
        u8 = (image >> 8).astype(np.uint8)
    elif np.issubdtype(image.dtype, np.floating):
        u8 = np.clip(np.rint(image * 255.0), 0, 255).astype(np.uint8)
    else:
        raise ValueError(f"{name} image must be uint8, uint16 or float in [0, 1], got {image.dtype}")
    if u8.ndim == 3:
        u8 = cv2.cvtColor(u8, cv2.COLOR_RGBA2GRAY if u8.shape[2] == 4 else cv2.COLOR_RGB2GRAY)
    return np.ascontiguousarray(u8)


#: How the left padding of :func:`_opencv_disparity` is filled (see ``fill_left_border``).
PAD_BORDER = cv2.BORDER_CONSTANT


def _opencv_matcher(settings: SGMSettings | BMSettings) -> Any:
    if isinstance(settings, SGMSettings):
        area = settings.block_size**2  # one channel: OpenCV's P = factor · channels · block_size²
        return cv2.StereoSGBM.create(
            minDisparity=0,
            numDisparities=settings.max_disparity,
            blockSize=settings.block_size,
            P1=settings.p1 * area,
            P2=settings.p2 * area,
            disp12MaxDiff=-1,  # our own left-right check below covers both backends alike
            preFilterCap=settings.pre_filter_cap,
            uniquenessRatio=settings.uniqueness_ratio,
            # SGBM multiplies speckleRange by 16 itself (its disparities are 1/16 px fixed point).
            speckleWindowSize=settings.speckle_window,
            speckleRange=settings.speckle_range,
            mode=_SGBM_MODES[settings.mode],
        )
    bm = cv2.StereoBM.create(numDisparities=settings.max_disparity, blockSize=settings.block_size)
    bm.setPreFilterType(cv2.StereoBM_PREFILTER_XSOBEL)
    bm.setPreFilterCap(settings.pre_filter_cap)
    bm.setPreFilterSize(settings.pre_filter_size)
    bm.setTextureThreshold(settings.texture_threshold)
    bm.setUniquenessRatio(settings.uniqueness_ratio)
    bm.setSpeckleWindowSize(settings.speckle_window)
    # StereoBM filters speckles on its 1/16 px fixed-point output without rescaling the range.
    bm.setSpeckleRange(16 * settings.speckle_range)
    bm.setDisp12MaxDiff(-1)
    return bm


def _opencv_disparity(matcher: Any, left: np.ndarray, right: np.ndarray, pad: int) -> np.ndarray:
    """OpenCV's 1/16 px fixed point → float32 px, ≤ 0 where invalid.

    OpenCV leaves the ``max_disparity`` left-most columns unmatched; with ``pad`` > 0 both images get
    ``pad`` columns on the left (``PAD_BORDER``) so those columns are matched too, and a disparity
    pointing into the padding (``d > x``) is invalid.
    """
    if pad > 0:
        left = cv2.copyMakeBorder(left, 0, 0, pad, 0, PAD_BORDER)
        right = cv2.copyMakeBorder(right, 0, 0, pad, 0, PAD_BORDER)
    disparity = matcher.compute(left, right).astype(np.float32) * np.float32(1.0 / 16.0)
    if pad > 0:
        disparity = disparity[:, pad:]
        xs = np.arange(disparity.shape[1], dtype=np.float32)[None, :]
        disparity[disparity > xs] = -1.0
    return np.ascontiguousarray(disparity)


def left_right_consistent(disp_left: np.ndarray, disp_right: np.ndarray, max_diff: float) -> np.ndarray:
    """Left-right consistency of ``(H, W)`` disparities (px, ≤ 0 = invalid) of the left and right
    views: left pixel ``x`` with disparity ``d`` is consistent when the right view at ``round(x - d)``
    has a valid disparity within ``max_diff`` px of ``d``. Returns a bool ``(H, W)`` mask."""
    w = disp_left.shape[1]
    xs = np.arange(w, dtype=np.float32)[None, :]
    xr = np.rint(xs - disp_left).astype(np.int64)
    inside = (xr >= 0) & (xr < w)
    dr = np.take_along_axis(disp_right, np.clip(xr, 0, w - 1), axis=1)
    return (disp_left > 0) & inside & (dr > 0) & (np.abs(disp_left - dr) <= max_diff)


def _elas_module() -> Any:
    try:
        import elas  # the pyelas distribution installs the module "elas"
    except ImportError as exc:
        raise ImportError(
            f"the 'elas' stereo matcher needs the optional pyelas bindings (GPL-3.0); install them with: "
            f"{ELAS_INSTALL}"
        ) from exc
    return elas


def elas_available() -> bool:
    """Whether the optional ``pyelas`` bindings can be imported."""
    try:
        _elas_module()
    except ImportError:
        return False
    return True


def _elas_disparity(settings: ElasSettings, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    elas = _elas_module()
    matcher = elas.Elas()
    matcher.set_preset(elas.PRESET_ROBOTICS)
    matcher.disp_min = 0
    matcher.disp_max = settings.max_disparity
    matcher.support_threshold = settings.support_threshold
    matcher.support_texture = settings.support_texture
    matcher.lr_threshold = settings.lr_threshold
    matcher.speckle_size = settings.speckle_size
    matcher.ipol_gap_width = settings.ipol_gap_width
    matcher.filter_median = settings.filter_median
    matcher.filter_adaptive_mean = settings.filter_adaptive_mean
    matcher.subsampling = False
    matcher.postprocess_only_left = True
    disp_left, _ = matcher.process(left, right)
    return np.asarray(disp_left, dtype=np.float32)


def compute_disparity(
    left: np.ndarray,
    right: np.ndarray,
    method: str | None = None,
    settings: MatcherSettings | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Disparity of the left view of a rectified stereo pair.

    Args:
        left, right: ``(H, W)`` gray or ``(H, W, 3)`` RGB images of equal size, uint8 (or uint16, or
            float in [0, 1]); rectified (epipolar lines = image rows), left camera on the left.
        method: ``"sgm"``, ``"bm"`` or ``"elas"``; defaults to ``settings.method``, else ``"sgm"``.
        settings: the backend's settings (default: :func:`default_settings` of ``method``).

    Returns:
        ``disparity``: float32 ``(H, W)`` in pixels (left x minus right x), 0 where invalid;
        ``valid_mask``: bool ``(H, W)``.
    """
    if method is None:
        method = settings.method if settings is not None else "sgm"
    _check_method(method)
    if settings is None:
        settings = default_settings(method)
    elif settings.method != method:
        raise ValueError(f"settings are for {settings.method!r} but method is {method!r}")
    if not isinstance(left, np.ndarray) or not isinstance(right, np.ndarray):
        raise ValueError("left and right images must be numpy arrays")
    if left.shape[:2] != right.shape[:2]:
        raise ValueError(
            f"left and right images must have the same size (a rectified pair), got {left.shape[:2]} "
            f"and {right.shape[:2]}"
        )
    left_u8 = _to_gray_u8(left, "left")
    right_u8 = _to_gray_u8(right, "right")
    if isinstance(settings, ExactSettings | LidarLikeSettings):
        raise ValueError(_reference_message(settings.method))
    if isinstance(settings, ElasSettings):
        disparity = _elas_disparity(settings, left_u8, right_u8)
        valid = np.isfinite(disparity) & (disparity > 0)
    else:
        matcher = _opencv_matcher(settings)
        pad = settings.max_disparity if settings.fill_left_border else 0
        disparity = _opencv_disparity(matcher, left_u8, right_u8, pad)
        valid = disparity > 0
        if settings.lr_max_diff >= 0:
            # The right view's disparity: match the mirrored pair (mirrored right as the "left" image).
            flipped = _opencv_disparity(matcher, right_u8[:, ::-1].copy(), left_u8[:, ::-1].copy(), pad)
            valid &= left_right_consistent(disparity, flipped[:, ::-1], settings.lr_max_diff)
    disparity = np.where(valid, disparity, np.float32(0.0)).astype(np.float32, copy=False)
    return disparity, valid


# --------------------------------------------------------------------------------------------------
# Speed (for the ``bench`` command), timed by ssrdepth.core.timing


def _synthetic_pair(
    size: tuple[int, int], max_disparity: int, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """A textured, KITTI-sized rectified pair with a smooth disparity field (for timing only)."""
    h, w = size
    rng = np.random.default_rng(seed)
    texture = cv2.GaussianBlur(rng.integers(0, 256, (h, w + 2 * max_disparity), dtype=np.uint8), (3, 3), 0)
    disp = (np.linspace(0.05, 0.6, h, dtype=np.float32)[:, None] * max_disparity) * np.ones(
        (1, w), np.float32
    )
    left = texture[:, max_disparity : max_disparity + w].copy()
    # right(x) = left(x + d) = texture(x + max_disparity + d)
    map_x = (np.arange(w, dtype=np.float32)[None, :] + max_disparity + disp).astype(np.float32)
    map_y = np.repeat(np.arange(h, dtype=np.float32)[:, None], w, axis=1)
    right = cv2.remap(texture, map_x, map_y, cv2.INTER_LINEAR)
    return left, right


def _time_worker(args: tuple[MatcherSettings, np.ndarray, np.ndarray, int]) -> float:
    """Seconds for ``repeats`` matches of one pair with one OpenCV thread."""
    settings, left, right, repeats = args
    cv2.setNumThreads(1)
    return elapsed(functools.partial(compute_disparity, left, right, settings=settings), repeats)


def benchmark_matchers(
    size: tuple[int, int] = (375, 1242),
    methods: Sequence[str] | None = None,
    repeats: int = 3,
    workers: int | None = None,
    images: tuple[np.ndarray, np.ndarray] | None = None,
    settings: Mapping[str, MatcherSettings] | None = None,
) -> dict[str, Any]:
    """Pairs per second of each backend with its default (KITTI) settings, or of each named setting.

    The pair is ``images`` (left, right; e.g. a real KITTI pair) or else a synthetic textured pair of
    ``size`` ``(H, W)`` (KITTI's 375×1242 by default) with disparities up to 60 % of the range.
    ``single``: one process with one OpenCV thread; ``parallel``: ``workers`` processes (default: all
    cores) with one thread each, every one matching ``repeats`` pairs, as :func:`prepare_targets`
    runs. Backends that are not installed are reported as ``{"error": ...}``. ``settings`` (name →
    settings, e.g. ``{"sgm-block9": default_settings("sgm", block_size=9)}``) replaces ``methods``.

    Returns ``{"size": [H, W], "workers": N, "repeats": R, "opencv": version, "methods": {name:
    {"single_pairs_per_s", "parallel_pairs_per_s", "seconds_per_pair", "density"}}}``.
    """
    if settings is None:
        for m in methods if methods is not None else METHODS:
            _check_method(m)
        settings = {m: default_settings(m) for m in (methods if methods is not None else METHODS)}
    workers = workers or usable_cores()
    if images is None:
        left, right = _synthetic_pair(size, max(s.max_disparity for s in settings.values()))
    else:
        left, right = images
        size = (int(left.shape[0]), int(left.shape[1]))
    result: dict[str, Any] = {
        "size": list(size),
        "workers": workers,
        "repeats": repeats,
        "opencv": cv2.__version__,
        "methods": {},
    }
    for name, setting in settings.items():
        if setting.method == "elas" and not elas_available():
            result["methods"][name] = {"error": f"pyelas not installed: {ELAS_INSTALL}"}
            continue
        threads = cv2.getNumThreads()
        try:
            _time_worker((setting, left, right, 1))  # warm-up
            single = _time_worker((setting, left, right, repeats))
        finally:
            cv2.setNumThreads(threads)
        with worker_pool(workers) as pool:  # spawned: a fork after OpenCV's threads ran can deadlock
            list(pool.map(_time_worker, [(setting, left, right, 1)] * workers))  # start and warm up
            jobs = [(setting, left, right, repeats)] * workers
            wall = elapsed(lambda: list(pool.map(_time_worker, jobs)))  # noqa: B023 (called here)
        _, valid = compute_disparity(left, right, settings=setting)
        result["methods"][name] = {
            "single_pairs_per_s": repeats / single,
            "parallel_pairs_per_s": workers * repeats / wall,
            "seconds_per_pair": single / repeats,
            "density": float(valid.mean()),
        }
    return result
