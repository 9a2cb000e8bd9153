"""The study's pure pieces against hand-worked numbers: D1, disparity errors, the lidar-like scan,
reference targets, and the advice's seed-noise rule."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ssrdepth.data import build_dataset, target_cache
from ssrdepth.data.config import DataConfig
from ssrdepth.data.reference import prepare_reference_targets, reference_disparity
from ssrdepth.data.synthetic import generate_synthetic
from ssrdepth.experiments.report_writer import seed_noise
from ssrdepth.experiments.study_report import advice
from ssrdepth.experiments.target_quality import d1_outliers, disparity_errors
from ssrdepth.stereo.geometry import HDL64_ELEVATIONS, lidar_like_mask
from ssrdepth.stereo.matching import compute_disparity, default_settings


def test_d1_needs_both_thresholds() -> None:
    truth = np.array([10.0, 100.0, 100.0, 50.0])
    error = np.array([3.5, 4.9, 5.1, 2.9])
    # 3.5 > 3 and > 0.5 (bad); 4.9 > 3 but < 5 (good); 5.1 > 3 and > 5 (bad); 2.9 < 3 (good)
    assert d1_outliers(error, truth).tolist() == [True, False, True, False]


def test_disparity_errors_by_hand() -> None:
    truth = np.array([[10.0, 20.0, 0.0], [40.0, 80.0, np.inf]])  # 0 and inf: unknown
    estimate = np.array([[11.0, 0.0, 5.0], [30.0, 83.0, 7.0]])
    valid = estimate > 0
    e = disparity_errors(estimate, valid, truth)
    # known: 10, 20, 40, 80; matched: 10 (err 1), 40 (err 10: bad), 80 (err 3: not > 3, good)
    assert e["known"] == 4 and e["matched"] == 3
    assert e["density"] == pytest.approx(0.75)
    assert e["epe"] == pytest.approx((1 + 10 + 3) / 3)
    assert e["d1"] == pytest.approx(1 / 3)


KITTI = {"size": (375, 1242), "focal": 721.5377, "principal_point": (609.5593, 172.854)}


def test_hdl64_beams() -> None:
    assert HDL64_ELEVATIONS.size == 64 and HDL64_ELEVATIONS[0] == 2.0
    assert HDL64_ELEVATIONS[31] == pytest.approx(2.0 - 31 / 3) and HDL64_ELEVATIONS[-1] == pytest.approx(
        -24.33
    )


def test_lidar_like_scan_at_kitti_size() -> None:
    mask = lidar_like_mask(KITTI["size"], KITTI["focal"], KITTI["principal_point"], dropout=0.0)
    rows = np.nonzero(mask.any(axis=1))[0]
    # The top beam (+2°) curves up to v = cy − f·tan 2° / cos a at the widest azimuth a = atan(632.44 / f)
    # (cos a = 0.7520): 172.854 − 25.197 / 0.7520 = 139.35 → row 139; nothing above (KITTI: no lidar
    # in the top third).
    assert rows.min() == 139
    # At the principal column, the beams from +2° down to the bottom row's −atan(201.6 / f) = −15.6°:
    # all 32 of the upper block and 14 of the lower one (−8.83 … −15.33°).
    centre = np.nonzero(mask[:, round(KITTI["principal_point"][0])])[0]
    assert centre.size == 46
    # About 46 beams × 452 azimuths (0.18° over the 81.4° field of view) of 465,750 pixels: 4.2 %; the
    # real lidar covers 4.0–4.5 % of the shared KITTI frames.
    assert 0.040 < mask.mean() < 0.045
    dropped = lidar_like_mask(**KITTI, dropout=0.05, rng=np.random.default_rng(1))
    assert dropped.mean() == pytest.approx(0.95 * mask.mean(), rel=0.03) and not (dropped & ~mask).any()


def test_reference_targets() -> None:
    depth = np.array([[0.0, 2.0, 10.0, 150.0]] * 2, np.float32)  # sky, 2 m, 10 m, beyond the lidar range
    exact, valid = reference_disparity(depth, 100.0, 0.5, default_settings("exact"))
    assert valid.tolist() == [[False, True, True, True]] * 2
    assert exact[0].tolist() == pytest.approx([0.0, 25.0, 5.0, 50.0 / 150.0])
    lidar_settings = default_settings("lidar-like", dropout=0.0)
    big = np.full((375, 1242), 10.0, np.float32)
    sparse, hit = reference_disparity(big, 721.5377, 0.54, lidar_settings, (609.5593, 172.854), "0000/000000")
    assert np.array_equal(hit, lidar_like_mask((375, 1242), 721.5377, (609.5593, 172.854), dropout=0.0))
    assert np.allclose(sparse[hit], 721.5377 * 0.54 / 10.0) and not sparse[~hit].any()
    _far, far_hit = reference_disparity(
        np.full((375, 1242), 150.0, np.float32), 721.5377, 0.54, lidar_settings, (609.5593, 172.854)
    )
    assert not far_hit.any()  # beyond the HDL-64E's 120 m: no return
    with pytest.raises(ValueError, match="principal point"):
        reference_disparity(big, 721.5377, 0.54, lidar_settings)


def test_references_are_not_matched_from_images() -> None:
    pair = np.zeros((16, 64), np.uint8)
    with pytest.raises(ValueError, match="come from exact depth"):
        compute_disparity(pair, pair, "exact")
    with pytest.raises(ValueError, match="come from exact depth"):
        compute_disparity(pair, pair, settings=default_settings("lidar-like"))


def _kind(delta1: float, std: float) -> dict:
    return {"seeds": 3, "synthetic": {"delta1": {"mean": delta1, "std": std}}}


def test_advice_follows_the_seed_noise_rule() -> None:
    # 2 SE of a difference over 3 seeds with stds 0.01 and 0.02: 2·√((1e-4 + 4e-4) / 3) = 0.02582
    assert seed_noise(0.01, 0.02, 3) == pytest.approx(0.025820, abs=1e-6)
    results = {
        "variants": [{"name": n, "reference": n == "exact"} for n in ("exact", "sgm", "bm", "elas")],
        "trained": {
            "exact": _kind(0.90, 0.01),
            "sgm": _kind(0.85, 0.01),
            "bm": _kind(0.80, 0.01),
            "elas": _kind(0.84, 0.02),
        },
        "cost": {"methods": {"sgm": {"parallel_pairs_per_s": 7.0}, "elas": {"parallel_pairs_per_s": 9.0}}},
    }
    text = advice(results)
    # sgm − bm = 0.05 > 2·√(2e-4 / 3) = 0.0163: separated; sgm − elas = 0.01 < 0.0258: a tie, elas is cheaper.
    assert text.startswith("sgm targets trained the best network: δ < 1.25 = 0.850 ± 0.010 (3 seeds)")
    assert "ahead of bm (0.800) by more than two standard errors" in text
    assert "do not separate it from elas (0.840), so among those take the cheapest, elas (9.0 pairs/s" in text
    assert "Perfect targets (the exact disparity) reached 0.900" in text and "gain up to 0.050" in text
    assert "lidar-like" not in text  # no lidar-like kind trained: no clause about it


def test_advice_says_where_sparse_targets_teach() -> None:
    results = {
        "variants": [{"name": n, "reference": n != "sgm"} for n in ("exact", "lidar-like", "sgm")],
        "trained": {
            "exact": _kind(0.91, 0.01),
            "lidar-like": _kind(0.93, 0.01) | {"whole_image": {"delta1": {"mean": 0.63, "std": 0.01}}},
            "sgm": _kind(0.90, 0.01) | {"whole_image": {"delta1": {"mean": 0.86, "std": 0.01}}},
        },
        "cost": {"methods": {}},
    }
    text = advice(results)
    assert text.endswith(
        "lidar-like sparse targets reached 0.930 inside the Garg crop, where their points are, but 0.630 "
        "over the whole image (against 0.860 for sgm): sparse targets teach only where they have points."
    )


def test_lidar_like_targets_shrink_like_lidar(tmp_path: Path) -> None:
    root = tmp_path / "synthetic"
    generate_synthetic(root, 4, seed=5, size=(48, 160), sequence_length=2, workers=1, progress=False)
    cfg = DataConfig(
        source="synthetic", root=str(root), size=(12, 40), matcher="lidar-like", max_disparity=64
    )
    assert prepare_reference_targets(cfg, progress=False)["computed"] == 4
    assert prepare_reference_targets(cfg, progress=False)["computed"] == 0  # cached: a rerun resumes
    dataset = build_dataset(cfg, "all", cache=False)
    sample = dataset[0]
    disparity, valid = target_cache(cfg).read(dataset.meta(0)["key"])
    # 48×160 → 12×40 is exactly 4× per axis: an output pixel's footprint is one 4×4 block. It is valid
    # where any scan point falls in its block, its value the mean of those points' disparities / 64 px
    # (a second implementation by block sums, not resize_map).
    assert disparity.shape == (48, 160)
    points = valid & (disparity > 0)
    count = points.reshape(12, 4, 40, 4).sum(axis=(1, 3))
    total = np.where(points, disparity, 0.0).astype(np.float64).reshape(12, 4, 40, 4).sum(axis=(1, 3))
    expected_valid = count > 0
    expected = np.where(expected_valid, total / np.maximum(count, 1) / 64.0, 0.0)
    assert np.array_equal(sample["valid_mask"][0].numpy(), expected_valid)
    np.testing.assert_allclose(sample["target"][0].numpy(), np.clip(expected, 0, 1), atol=1e-5)
    # A dense target's nearest-neighbour mask keeps one pixel per block (OpenCV's INTER_NEAREST takes
    # pixel floor(4·i), the block's top-left): far fewer blocks than "any point in the block".
    assert expected_valid.sum() > points[::4, ::4].sum()


def test_labels_at_the_same_place_are_stacked() -> None:
    from ssrdepth.experiments.study_report import label_offsets

    # exact and lidar-like both at D1 = 0 with nearly the same δ; sgm elsewhere
    assert label_offsets([(0.0, 0.90), (0.0, 0.91), (2.5, 0.80), (0.0, 0.905)]) == [
        (5, 4),
        (5, 15),
        (5, 4),
        (5, 26),
    ]


def test_d1_figure_draws_the_trained_table_and_overlapping_labels_apart(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from matplotlib.figure import Figure

    from ssrdepth.experiments.study_report import _trained_table, d1_figure
    from ssrdepth.experiments.target_quality import ALL

    def stats(delta1: float, std: float) -> dict:
        return {"delta1": {"mean": delta1, "std": std}, "abs_rel": {"mean": 0.1, "std": 0.0},
                "rmse": {"mean": 5.0, "std": 0.0}}  # fmt: skip

    trained = {
        "exact": {"synthetic": stats(0.900, 0.010), "real": None},
        "lidar-like": {"synthetic": stats(0.905, 0.012), "real": None},
        "sgm": {"synthetic": stats(0.850, 0.020), "real": stats(0.600, 0.030)},
    }
    d1 = {"exact": 0.0, "lidar-like": 0.0, "sgm": 0.03}
    results = {
        "trained": trained,
        "quality": {k: {"regions": {ALL: {"d1": v, "density": 1.0}}} for k, v in d1.items()},
    }
    saved: list[Figure] = []
    savefig = Figure.savefig
    monkeypatch.setattr(Figure, "savefig", lambda fig, *a, **k: (saved.append(fig), savefig(fig, *a, **k)))
    labels = d1_figure(tmp_path / "fig.png", results)
    where = {k: offset for k, _, offset in labels}
    assert where["exact"] != where["lidar-like"] and where["sgm"] == (5, 4)
    # The table's numbers, read back from its Markdown: kind → (target D1 %, δ mean ± std, real δ …).
    table: list[tuple[str, str, float, float, float]] = []
    for line in _trained_table(results)[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        kind, target_d1 = cells[0].strip("*"), float(cells[2].rstrip(" %"))
        for cell, where_ in ((cells[3], "synthetic"), (cells[7], "real")):
            if cell != "—":
                mean, std = (float(x) for x in cell.split(" ± "))
                table.append((kind, where_, target_d1, mean, std))
    assert len(table) == 4  # three synthetic points, one real
    # What the figure drew: each error bar's point, its bar's ends, and its marker (filled ● synthetic,
    # hollow □ real); each label's text at its point.
    (fig,) = saved
    (ax,) = fig.axes
    drawn = []
    for bar in ax.containers:
        point, _, (segments,) = bar.lines
        ((x0, y_lo), (_, y_hi)) = segments.get_segments()[0]
        (x,), (y,) = point.get_xdata(), point.get_ydata()
        hollow = point.get_marker() == "s" and point.get_markerfacecolor() == "none"
        assert x == x0 and (hollow or point.get_marker() == "o")
        drawn.append(("real" if hollow else "synthetic", x, y, (y_hi - y_lo) / 2))
    named = [(t.get_text(), t.xy) for t in ax.texts]
    assert len(drawn) == len(named) == len(table)
    for (kind, where_, target_d1, mean, std), (w, x, y, err), (text, xy) in zip(
        table, drawn, named, strict=True
    ):
        assert (text, where_) == (kind, w)
        assert (round(x, 1), round(y, 3), round(err, 3)) == (target_d1, mean, std)
        assert xy == (x, y)
    assert (tmp_path / "fig.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_advice_covers_photometric_and_hybrid_with_the_seed_noise_rule() -> None:
    def mode(crop: float, whole: float, step: float) -> dict:
        return _kind(crop, 0.01) | {
            "mode": True,
            "whole_image": {"delta1": {"mean": whole, "std": 0.01}},
            "step_seconds": {"mean": step, "std": 0.0},
        }

    results = {
        "variants": [{"name": "sgm", "reference": False}],
        "trained": {
            "sgm": mode(0.85, 0.80, 0.60) | {"mode": False},
            "photometric": mode(0.86, 0.79, 0.80),
            "hybrid": mode(0.90, 0.86, 0.70),
        },
        "cost": {"methods": {}},
    }
    text = advice(results)
    # The modes are not matchers: sgm stays the only matcher trained on.
    assert text.startswith("sgm was the only matcher trained on: δ < 1.25 = 0.850 ± 0.010 (3 seeds)")
    # 2 SE of a difference with stds 0.01, 0.01 over 3 seeds: 2·√(2e-4 / 3) = 0.0163. Photometric:
    # +0.01 and −0.01, inside it; hybrid: +0.05 and +0.06, outside it.
    assert text.endswith(
        "Without a matcher's targets (photometric) and with them as hints (hybrid): photometric reached "
        "δ < 1.25 = 0.860, within the seed noise of 0.850 (sgm) in the crop and 0.790, within the seed "
        "noise of 0.800 over the whole image, at 0.80 s per step against 0.60; hybrid reached δ < 1.25 = "
        "0.900, above 0.850 by more than two standard errors (sgm) in the crop and 0.860, above 0.800 by "
        "more than two standard errors over the whole image, at 0.70 s per step against 0.60."
    )
