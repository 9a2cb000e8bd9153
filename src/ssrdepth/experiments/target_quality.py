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


def _read_png(path: Path) -> np.ndarray:
    try:
        return read_pixels(path)  # the one reader: stored values, truncated files refused
    except BadSampleError as exc:
        raise ValueError(
            f"{path}: {exc.problem}; expected a readable PNG (a synthetic set rendered before region maps?)"
        ) from None


def synthetic_target_quality(cfg: DataConfig, max_pairs: int | None = 200) -> dict[str, Any]:
    """Density, EPE and D1 of ``cfg``'s cached stereo targets per region, on at most ``max_pairs``
    pairs spread evenly over the set. ``cfg.source`` must be ``"synthetic"``.

    Returns ``{"pairs": n, "matcher": name, "regions": {region: {"pixels", "density", "epe", "d1"}}}``
    (``epe`` in px, ``density`` and ``d1`` fractions; ``None`` where undefined).

    Raises:
        ValueError: not a synthetic source, targets not prepared, or a file missing or unreadable.
    """
    from ssrdepth.data import list_stereo_pairs, target_cache
    from ssrdepth.data.dataset import missing_targets_message
    from ssrdepth.data.synthetic import REGIONS, decode_depth

    if cfg.source != "synthetic":
        raise ValueError(f"target quality needs exact depth: source must be 'synthetic', got {cfg.source!r}")
    pairs = list_stereo_pairs(cfg)
    if max_pairs is not None and len(pairs) > max_pairs:
        pick = np.linspace(0, len(pairs) - 1, max_pairs).round().astype(int)
        pairs = [pairs[i] for i in pick]
    cache = target_cache(cfg)
    n = len(REGIONS)
    pixels, valid_n, bad, err_sum = (np.zeros(n) for _ in range(4))
    root = Path(cfg.root) / "training"
    missing = [pair.key for pair in pairs if not cache.has(pair.key)]
    if missing:
        keys = [pair.key for pair in pairs]
        raise ValueError(missing_targets_message(cfg, cache, keys, missing, f"{cfg.source} (target quality)"))
    for pair in pairs:
        disparity, valid = cache.read(pair.key)
        depth = decode_depth(_read_png(root / "depth" / f"{pair.key}.png"))
        regions = _read_png(root / "regions" / f"{pair.key}.png")
        exact = np.where(depth > 0, pair.focal * pair.baseline / np.maximum(depth, 1e-6), 0.0)
        err = np.abs(disparity - exact)
        outlier = (err > D1_ABS_PX) & (err > D1_REL * exact)
        for r in range(n):
            m = regions == r
            v = valid & m
            pixels[r] += m.sum()
            valid_n[r] += v.sum()
            err_sum[r] += err[v].sum()
            bad[r] += outlier[v].sum()
    out: dict[str, Any] = {}
    for r, name in enumerate(REGIONS):
        if not pixels[r]:
            continue
        has = valid_n[r] > 0 and name != "sky"
        out[name] = {
            "pixels": int(pixels[r]),
            "density": float(valid_n[r] / pixels[r]),
            "epe": float(err_sum[r] / valid_n[r]) if has else None,
            "d1": float(bad[r] / valid_n[r]) if has else None,
        }
    return {"pairs": len(pairs), "matcher": cfg.matcher, "regions": out}


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
        "target; EPE and D1 (error > 3 px and > 5 %, KITTI 2015) over those. The sky is at infinity: a "
        "target there is a false match.\n\n" + "\n".join(rows) + "\n"
    )
