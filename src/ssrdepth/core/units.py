"""Declared units that cannot be right: the one home of the plausibility checks of what a user
declares about a camera or a depth encoding (``--baseline``, ``--focal``, ``--depth-scale``,
``--max-depth``; ``data.baseline``, ``data.focal``, ``data.depth_scale``, ``data.max_depth``).

Each check refuses only values that no real rig or scene has, and says what is likely wrong (most
often a unit off by 1,000: millimetres for metres) and which value of which option fixes it.
"""

from __future__ import annotations

import math

__all__ = [
    "MAX_BASELINE",
    "MAX_DEPTH",
    "MIN_BASELINE",
    "check_baseline",
    "check_depth_median",
    "check_focal",
    "check_max_depth",
]

#: Stereo baselines (m) beyond this are not a camera rig (KITTI 0.54 m; wide automotive rigs ~1.5 m):
#: a value past it is almost certainly millimetres or centimetres.
MAX_BASELINE = 10.0
#: Below 1 mm no two cameras fit side by side (phone dual cameras are ~1 cm apart).
MIN_BASELINE = 0.001
#: Field of view (degrees) a rectified pinhole image can have at most / at least: a focal length past
#: these bounds is in other units (mm) or for another image width.
MAX_FOV_DEG, MIN_FOV_DEG = 170.0, 0.5
#: Median depths (m) no depth sensor reports: indoors over 100 m, anywhere over 1 km, under 1 cm.
MAX_MEDIAN_DEPTH = {"indoor": 100.0, "street": 1000.0, "any": 1000.0}
MIN_MEDIAN_DEPTH = 0.01
#: Normalising depth (m) beyond which ``max_depth`` is not metres (lidar reaches ~120 m).
MAX_DEPTH = 1000.0


def check_baseline(baseline: float | None, option: str = "--baseline") -> None:
    """Refuse a stereo baseline (m) outside [:data:`MIN_BASELINE`, :data:`MAX_BASELINE`].

    Raises:
        ValueError: saying the likely unit and the value of ``option`` that fixes it.
    """
    if baseline is None or not math.isfinite(baseline) or baseline <= 0:
        return  # "must be > 0" is the caller's message
    if baseline > MAX_BASELINE:
        raise ValueError(
            f"{option} {baseline:g}: a stereo baseline of {baseline:g} m is not a camera rig (KITTI's is "
            f"0.54 m); the baseline is in metres: millimetres? use {option} {baseline / 1000:g}"
            + (f" (centimetres: {baseline / 100:g})" if baseline / 100 >= MIN_BASELINE * 10 else "")
        )
    if baseline < MIN_BASELINE:
        raise ValueError(
            f"{option} {baseline:g}: a stereo baseline of {baseline * 1000:g} mm is too small for two "
            f"cameras; the baseline is in metres: kilometres? use {option} {baseline * 1000:g}"
        )


def check_focal(focal: float | None, width: int, option: str = "--focal", what: str = "") -> None:
    """Refuse a focal length (px at an image ``width`` px wide) whose field of view no rectified image
    has (over :data:`MAX_FOV_DEG` or under :data:`MIN_FOV_DEG`).

    Raises:
        ValueError: naming ``what`` (the image), the field of view and the likely mistake.
    """
    if focal is None or not math.isfinite(focal) or focal <= 0 or width < 1:
        return
    fov = math.degrees(2.0 * math.atan(width / (2.0 * focal)))
    where = f" for {what}" if what else ""
    if fov > MAX_FOV_DEG:
        raise ValueError(
            f"{option} {focal:g}: a focal length of {focal:g} px at {width} px wide{where} is a {fov:.0f}° "
            "field of view; the focal length is in pixels at the images' width, not millimetres "
            f"(f_px = f_mm × {width} / sensor width in mm; KITTI: 721.5 px at 1242 px)"
        )
    if fov < MIN_FOV_DEG:
        raise ValueError(
            f"{option} {focal:g}: a focal length of {focal:g} px at {width} px wide{where} is a "
            f"{fov:.2f}° field of view; give it in pixels at these images' width (scaled from another "
            f"resolution? f × {width} / that width)"
        )


def check_max_depth(max_depth: float | None, option: str = "--max-depth") -> None:
    """Refuse a normalising depth beyond :data:`MAX_DEPTH` m (millimetres given for metres)."""
    if max_depth is not None and math.isfinite(max_depth) and max_depth > MAX_DEPTH:
        raise ValueError(
            f"{option} {max_depth:g}: {max_depth:g} m is beyond any depth sensor or lidar; max_depth is "
            f"in metres: millimetres? use {option} {max_depth / 1000:g}"
        )


def check_depth_median(
    median: float, scale: float, what: str, scene: str = "any", option: str = "--depth-scale"
) -> None:
    """Refuse a depth map whose median valid depth (m, decoded with ``scale`` stored values per metre)
    no sensor reports in a ``scene`` ("indoor", "street", "any"): the encoding is declared wrong.

    Raises:
        ValueError: naming ``what`` (the file), the median, the likely encoding and the value of
            ``option`` that decodes it (e.g. millimetres: ``--depth-scale 1000``).
    """
    high = MAX_MEDIAN_DEPTH.get(scene, MAX_MEDIAN_DEPTH["any"])
    if not math.isfinite(median) or MIN_MEDIAN_DEPTH <= median <= high:
        return
    head = (
        f"{what}: median depth {median:,.4g} m with {option} {scale:g} (stored value per metre), which no "
        f"{'indoor ' if scene == 'indoor' else ''}depth sensor reports"
    )
    candidates: list[tuple[float, str]] = []
    if median > high:
        if scale < 1.0:
            candidates.append((1.0 / scale, "the scale is the stored value per metre, not metres per value"))
        candidates.append(
            (scale * 1000.0, "the depth maps look like millimetres" if scale == 1 else "units off by 1,000")
        )
    else:
        if scale > 1.0:
            candidates.append((1.0, "the depth maps look like metres"))
        candidates.append((scale / 1000.0, "units off by 1,000"))
    for new, why in candidates:
        if MIN_MEDIAN_DEPTH <= median * scale / new <= high:
            raise ValueError(
                f"{head}; {why}: use {option} {new:g} (median {median * scale / new:.3g} m; common: 1000 "
                "millimetres, 5000 TUM RGB-D, 256 KITTI-style maps)"
            )
    raise ValueError(
        f"{head}; the maps are not in the units {option} declares: give the stored value per metre "
        "(1000 millimetres, 5000 TUM RGB-D, 256 KITTI-style maps)"
    )
