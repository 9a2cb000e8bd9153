"""Target quality per region: exact targets have zero error; a known error is measured exactly."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from ssrdepth.data import list_stereo_pairs, target_cache
from ssrdepth.data.config import DataConfig
from ssrdepth.data.synthetic import REGIONS, decode_depth, generate_synthetic
from ssrdepth.experiments.target_quality import ALL, synthetic_target_quality, target_quality_section


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> DataConfig:
    root = tmp_path_factory.mktemp("tq") / "synthetic"
    generate_synthetic(root, 4, seed=5, size=(48, 160), sequence_length=2, workers=1, progress=False)
    return DataConfig(source="synthetic", root=str(root), max_disparity=64)


def _exact(cfg: DataConfig, key: str, focal: float, baseline: float) -> tuple[np.ndarray, np.ndarray]:
    t = Path(cfg.root) / "training"
    depth = decode_depth(cv2.imread(str(t / "depth" / f"{key}.png"), cv2.IMREAD_UNCHANGED))
    regions = cv2.imread(str(t / "regions" / f"{key}.png"), cv2.IMREAD_UNCHANGED)
    return np.where(depth > 0, focal * baseline / np.maximum(depth, 1e-6), 0.0).astype(np.float32), regions


def test_exact_targets_have_zero_error_and_a_known_offset_is_measured(tiny: DataConfig) -> None:
    pairs = list_stereo_pairs(tiny)
    cache = target_cache(tiny)
    road = REGIONS.index("road")
    # Counted here, from the region maps and the exact depth: pixels per region, and the road's pixels
    # with a true disparity in even columns (made 4 px too far right) and odd columns (2 px).
    pixels: dict[str, int] = {}
    known = road_even = road_odd = 0
    for p in pairs:  # exact disparity everywhere but the sky
        exact, regions = _exact(tiny, p.key, p.focal, p.baseline)
        odd = (np.arange(exact.shape[1]) % 2 == 1)[None, :]
        shifted = np.where(regions == road, exact + np.where(odd, 2.0, 4.0), exact)
        cache.write(p.key, shifted, exact > 0)
        on_road = (regions == road) & (exact > 0)
        # D1 by hand: 4 px > 3 px, and > 5 % of the truth below 80 px; 2 px < 3 px is never an outlier.
        assert exact[on_road].max() < 80.0
        road_even += int((on_road & ~odd).sum())
        road_odd += int((on_road & odd).sum())
        known += int((exact > 0).sum())
        for r, name in enumerate(REGIONS):
            pixels[name] = pixels.get(name, 0) + int((regions == r).sum())
    assert road_even > 0 and road_odd > 0
    q = synthetic_target_quality(tiny)
    assert q["pairs"] == 4 and q["matcher"] == "sgm"
    regions = q["regions"]
    assert regions["sky"]["density"] == 0.0 and regions["sky"]["epe"] is None
    assert regions["sky"]["pixels"] == pixels["sky"] > 0
    for name in ("sidewalk", "building"):  # both drawn in every street of this set
        assert regions[name]["pixels"] == pixels[name] > 0
        assert regions[name]["density"] == pytest.approx(1.0)
        assert regions[name]["epe"] == pytest.approx(0.0, abs=1e-2)  # 16-bit PNG: 1/256 px steps
        assert regions[name]["d1"] == 0.0
    n_road = road_even + road_odd
    assert regions["road"]["pixels"] == pixels["road"]
    assert regions["road"]["density"] == pytest.approx(n_road / pixels["road"])
    assert regions["road"]["epe"] == pytest.approx((4 * road_even + 2 * road_odd) / n_road, abs=1e-2)
    assert regions["road"]["d1"] == pytest.approx(road_even / n_road)
    # Over every pixel with a true depth, only the road is wrong.
    everything = regions[ALL]
    assert everything["pixels"] == known and everything["density"] == pytest.approx(1.0)
    assert everything["d1"] == pytest.approx(road_even / known)
    assert everything["epe"] == pytest.approx((4 * road_even + 2 * road_odd) / known, abs=1e-2)
    text = target_quality_section(q)
    assert f"| road | {pixels['road']:,} |" in text
    assert f"| {(4 * road_even + 2 * road_odd) / n_road:.2f} | {100 * road_even / n_road:.1f} % |" in text


def test_other_sources_are_refused(tiny: DataConfig) -> None:
    with pytest.raises(ValueError, match="source must be 'synthetic'"):
        synthetic_target_quality(DataConfig(source="kitti-tracking", root=tiny.root))


def test_targets_at_other_settings_are_named_with_the_option_that_uses_them(tiny: DataConfig) -> None:
    from dataclasses import replace

    cache = target_cache(tiny)  # the 64-px set: complete (written by the test above, or here)
    for p in list_stereo_pairs(tiny):
        if not cache.has(p.key):
            cache.write(p.key, np.full((48, 160), 10.0, np.float32))
    with pytest.raises(ValueError) as info:
        synthetic_target_quality(replace(tiny, max_disparity=96))
    message = str(info.value)
    assert message.startswith(
        "4 of 4 stereo targets of synthetic (target quality) are not cached for matcher sgm, max_disparity 96"
    )
    assert (
        "made with matcher sgm, max_disparity 64 (4 of 4): use them with --max-disparity 64 (--set data.max_disparity=64)"
        in message
    )
    assert message.endswith("--matcher sgm --max-disparity 96")
