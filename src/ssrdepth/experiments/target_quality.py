"""How good are the stereo targets? The synthetic set's cached stereo disparity against its exact
disparity, per kind of surface (the ``training/regions`` maps of :mod:`ssrdepth.data.synthetic`).

Per region: the fraction of pixels with a target (density), and over those the end-point error (mean
absolute disparity error, px) and D1 (KITTI 2015's outlier rate: error > 3 px and > 5 % of the true
disparity; Menze & Geiger 2015). The sky has no true disparity (it is at infinity): a target there is
a false match, so its row gives the density only.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ssrdepth.core.image import BadSampleError, read_pixels
from ssrdepth.data.config import DataConfig

#: KITTI 2015's D1 outlier thresholds (Menze & Geiger 2015): absolute px and relative to the truth.
D1_ABS_PX = 3.0
D1_REL = 0.05


def read_synthetic_png(path: Path) -> np.ndarray:
    """A PNG of the synthetic set (depth, region map) as stored; ValueError naming the file."""
    try:
        return read_pixels(path)  # the one reader: stored values, truncated files refused
    except BadSampleError as exc:
        raise ValueError(
            f"{path}: {exc.problem}; expected a readable PNG (a synthetic set rendered before region maps?)"
        ) from None


#: Depth bins of the per-region rows (m, from the exact depth): near, middle, far.
DEPTH_BINS = (("near (< 10 m)", 0.0, 10.0), ("middle (10–30 m)", 10.0, 30.0), ("far (≥ 30 m)", 30.0, np.inf))
#: The row over every pixel with a true disparity.
ALL = "all with true depth"


def d1_outliers(error: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """KITTI 2015's D1 outliers (Menze & Geiger 2015, the stereo benchmark's devkit): a pixel is bad
    when its absolute disparity error exceeds both 3 px and 5 % of the true disparity. ``error`` and
    ``truth`` in px, any equal shapes; returns a bool array."""
    return (error > D1_ABS_PX) & (error > D1_REL * truth)


def disparity_errors(
    disparity: np.ndarray, valid: np.ndarray, truth: np.ndarray, known: np.ndarray | None = None
) -> dict[str, Any]:
    """A disparity map (px) with its ``valid`` mask against the true disparity (px) where ``known``
    (default: finite and > 0). ``density`` = share of the known pixels that have an estimate; ``epe``
    (mean absolute error, px) and ``d1`` (:func:`d1_outliers` share) over the pixels both valid and
    known (``None`` when there are none). Also ``known`` and ``matched`` pixel counts."""
    if known is None:
        known = np.isfinite(truth) & (truth > 0)
    both = known & valid
    n_known, n_both = int(known.sum()), int(both.sum())
    err = np.abs(disparity[both].astype(np.float64) - truth[both])
    return {
        "known": n_known,
        "matched": n_both,
        "density": n_both / n_known if n_known else None,
        "epe": float(err.mean()) if n_both else None,
        "d1": float(d1_outliers(err, truth[both]).mean()) if n_both else None,
    }


def spread(items: list[Any], n: int | None) -> list[Any]:
    """At most ``n`` of ``items``, spread evenly over the list (all of them for ``None``)."""
    if n is None or len(items) <= n:
        return list(items)
    pick = np.linspace(0, len(items) - 1, n).round().astype(int)
    return [items[i] for i in pick]


def _masks(regions: np.ndarray, depth: np.ndarray) -> dict[str, np.ndarray]:
    """Per-row pixel masks of one frame: the surface regions, the depth bins, every known pixel."""
    from ssrdepth.data.synthetic import REGIONS

    out = {name: regions == r for r, name in enumerate(REGIONS)}
    for name, lo, hi in DEPTH_BINS:
        out[name] = (depth > 0) & (depth >= lo) & (depth < hi)
    out[ALL] = depth > 0
    return out


def synthetic_target_quality(
    cfg: DataConfig, max_pairs: int | None = 200, cache: Any = None
) -> dict[str, Any]:
    """Density, EPE and D1 of ``cfg``'s cached stereo targets (or those of ``cache``, a
    :class:`~ssrdepth.stereo.cache.TargetCache` of the same data set) per region, per depth bin
    (:data:`DEPTH_BINS`) and over every pixel with a true disparity (:data:`ALL`), on at most
    ``max_pairs`` pairs spread evenly over the set (:func:`spread`). ``cfg.source`` must be
    ``"synthetic"``.

    Returns ``{"pairs": n, "matcher": name, "regions": {row: {"pixels", "density", "epe", "d1"}}}``
    (``epe`` in px, ``density`` and ``d1`` fractions; ``None`` where undefined).

    Raises:
        ValueError: not a synthetic source, targets not prepared, or a file missing or unreadable.
    """
    from ssrdepth.data import list_stereo_pairs, target_cache
    from ssrdepth.data.dataset import missing_targets_message, prepare_targets_command
    from ssrdepth.data.synthetic import decode_depth
    from ssrdepth.data.targets import check_targets
    from ssrdepth.stereo.matching import REFERENCES

    if cfg.source != "synthetic":
        raise ValueError(f"target quality needs exact depth: source must be 'synthetic', got {cfg.source!r}")
    pairs = spread(list_stereo_pairs(cfg), max_pairs)
    cache = cache if cache is not None else target_cache(cfg)
    what = f"{cfg.source} (target quality)"
    sums: dict[str, np.ndarray] = {}  # row → [pixels, valid, error sum, outliers]
    root = Path(cfg.root) / "training"
    if cache.method not in REFERENCES:  # matched targets: made from these very images
        check_targets(cache, [(p.key, (p.left, p.right)) for p in pairs], what, prepare_targets_command(cfg))
    missing = [pair.key for pair in pairs if not cache.has(pair.key)]
    if missing:
        keys = [pair.key for pair in pairs]
        raise ValueError(missing_targets_message(cfg, cache, keys, missing, what))
    for pair in pairs:
        disparity, valid = cache.read(pair.key)
        depth = decode_depth(read_synthetic_png(root / "depth" / f"{pair.key}.png"))
        regions = read_synthetic_png(root / "regions" / f"{pair.key}.png")
        exact = np.where(depth > 0, pair.focal * pair.baseline / np.maximum(depth, 1e-6), 0.0)
        err = np.abs(disparity - exact)
        outlier = d1_outliers(err, exact)
        for name, m in _masks(regions, depth).items():
            v = valid & m
            row = sums.setdefault(name, np.zeros(4))
            row += (m.sum(), v.sum(), err[v].sum(), outlier[v].sum())
    out: dict[str, Any] = {}
    for name, (pixels, valid_n, err_sum, bad) in sums.items():
        if not pixels:
            continue
        has = valid_n > 0 and name != "sky"
        out[name] = {
            "pixels": int(pixels),
            "density": float(valid_n / pixels),
            "epe": float(err_sum / valid_n) if has else None,
            "d1": float(bad / valid_n) if has else None,
        }
    return {"pairs": len(pairs), "matcher": cache.method, "regions": out}


def target_quality_section(quality: dict[str, Any]) -> str:
    """The report section (Markdown) for :func:`synthetic_target_quality`'s result."""
    rows = [
        "| region | pixels | density | EPE (px) | D1 |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, q in quality["regions"].items():
        epe = "—" if q["epe"] is None else f"{q['epe']:.2f}"
        d1 = "—" if q["d1"] is None else f"{100 * q['d1']:.1f} %"
        rows.append(f"| {name} | {q['pixels']:,} | {100 * q['density']:.1f} % | {epe} | {d1} |")
    return (
        f"## Stereo targets per region ({quality['matcher']}, {quality['pairs']} pairs)\n\n"
        "The training targets against the exact disparity of the synthetic set: density = pixels with a "
        "target; EPE and D1 (error > 3 px and > 5 %, KITTI 2015) over those; rows per kind of surface, "
        "per band of true depth and over every pixel with a true depth. The sky is at infinity: a "
        "target there is a false match.\n\n" + "\n".join(rows) + "\n"
    )
