"""Image statistics and the domain gap: values worked out by hand, spectra made with a known slope,
the CLI on a tiny render, and real KITTI frames against synthetic ones."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from ssrdepth.cli import main as cli_main
from ssrdepth.core.image import BadSampleError
from ssrdepth.data.image_stats import (
    ANALYSIS_SIZE,
    GRADIENT_BIN_EDGES,
    SPECTRUM_BAND_EDGES,
    TOTAL_TERMS,
    aggregate,
    compare_folders,
    domain_gap,
    image_statistics,
    jensen_shannon_distance,
    list_images,
    subsample,
)
from ssrdepth.data.synthetic import generate_synthetic

from ..conftest import skip_or_fail

H, W = ANALYSIS_SIZE


def write_png(path: Path, rgb: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), rgb[:, :, ::-1] if rgb.ndim == 3 else rgb)
    return path


def noise(seed: int, size: tuple[int, int] = (60, 200)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)


def spectrum_image(alpha: float, seed: int = 0) -> np.ndarray:
    """A grey uint8 image at the analysis size whose power spectrum is ∝ 1/f^alpha (random phases)."""
    f = np.hypot(*np.meshgrid(np.fft.fftfreq(H), np.fft.fftfreq(W), indexing="ij"))
    spectrum = np.fft.fft2(np.random.default_rng(seed).standard_normal((H, W)))
    spectrum *= np.where(f > 0, f, np.inf) ** (-alpha / 2)  # amplitude ∝ f^(−alpha/2); no DC
    x = np.fft.ifft2(spectrum).real
    x = 128 + 30 * (x - x.mean()) / x.std()  # std 30 grey levels: clipping at 0/255 is > 4 sigma away
    return np.clip(np.round(x), 0, 255).astype(np.uint8)


def slope(power_spectrum: np.ndarray) -> float:
    """Least-squares slope of the band log10 powers against log10 of the bands' geometric centres."""
    centres = np.sqrt(SPECTRUM_BAND_EDGES[1:] * SPECTRUM_BAND_EDGES[:-1])
    return float(np.polyfit(np.log10(centres), power_spectrum, 1)[0])


def test_jensen_shannon_distance_by_hand() -> None:
    assert jensen_shannon_distance(np.array([0.2, 0.3, 0.5]), np.array([0.2, 0.3, 0.5])) == 0.0
    assert jensen_shannon_distance(np.array([1.0, 1.0, 0, 0]), np.array([0, 0, 3.0, 1.0])) == pytest.approx(
        1.0
    )
    # P = (1, 0), Q = (½, ½): M = (¾, ¼); KL(P‖M) = log2(4/3) = 0.4150375,
    # KL(Q‖M) = ½ log2(2/3) + ½ log2(2) = 0.2075187; JSD = their mean 0.3112781; distance = √JSD.
    d = jensen_shannon_distance(np.array([1.0, 0.0]), np.array([0.5, 0.5]))
    assert d == pytest.approx(np.sqrt(0.3112781), abs=1e-6)
    assert d == pytest.approx(
        jensen_shannon_distance(np.array([2.0, 2.0]), np.array([5.0, 0.0]))
    )  # scale-free
    with pytest.raises(ValueError, match="non-negative histograms"):
        jensen_shannon_distance(np.array([1.0, 0.0]), np.array([1.0, 0.0, 0.0]))


def test_constant_image_by_hand() -> None:
    s = image_statistics(np.full((50, 120, 3), (200, 100, 50), np.uint8))
    assert s.n_images == 1
    assert s.gradient_histogram[0] == 1.0 and s.gradient_histogram[1:].sum() == 0.0
    np.testing.assert_array_equal(s.edge_density, np.zeros(8))
    # 32 bins of 8 levels: 200 → bin 25, 100 → bin 12, 50 → bin 6; grey 0.299·200 + 0.587·100 + 0.114·50
    # = 124.2 → 124 → bin 15.
    assert [int(np.argmax(h)) for h in s.colour_histogram] == [25, 12, 6]
    assert s.colour_histogram.max(axis=1).tolist() == [1.0, 1.0, 1.0]
    assert int(np.argmax(s.gray_histogram)) == 15 and s.gray_histogram.max() == 1.0
    np.testing.assert_allclose(s.colour_mean, [200 / 255, 100 / 255, 50 / 255])
    np.testing.assert_allclose(s.colour_std, 0.0, atol=1e-12)
    np.testing.assert_allclose(s.power_spectrum, -10.0)  # no power: log10 of the floor 1e-10
    assert set(s.to_dict()) == {
        "colour_histogram",
        "colour_mean",
        "colour_std",
        "gray_histogram",
        "gradient_histogram",
        "power_spectrum",
        "edge_density",
        "n_images",
    }
    with pytest.raises(ValueError, match="uint8"):
        image_statistics(np.zeros((10, 10, 3), np.float32))


def test_power_spectrum_slope_of_made_spectra() -> None:
    pink = image_statistics(spectrum_image(2.0)).power_spectrum
    white = image_statistics(spectrum_image(0.0)).power_spectrum
    assert pink.shape == white.shape == (16,)
    assert slope(pink) == pytest.approx(-2.0, abs=0.25)
    assert slope(white) == pytest.approx(0.0, abs=0.15)
    # White noise of std 30/255: mean power σ² in every band; the mean log10 of an exponential
    # variable is log10(mean) − γ/ln 10 = log10(σ²) − 0.2507.
    # (The lowest bands hold a few dozen FFT samples, so one image's value there scatters by ~0.2.)
    level = np.log10((30 / 255) ** 2) - 0.2507
    assert white.mean() == pytest.approx(level, abs=0.05)
    np.testing.assert_allclose(white[8:], level, atol=0.1)
    # A steeper spectrum falls faster: the slopes order as the exponents.
    assert slope(image_statistics(spectrum_image(3.0)).power_spectrum) < slope(pink) - 0.5


def test_vertical_ramp_and_a_line_in_the_bottom_band() -> None:
    rows = np.arange(H, dtype=np.int64)
    ramp = np.repeat((20 + 2 * rows)[:, None], W, axis=1).astype(np.uint8)  # 2 levels per row
    s = image_statistics(ramp)
    # Sobel/8 of a 2-level-per-row ramp: 2/255 = 0.00784 per pixel in every row but the first and
    # the last (reflected border: zero gradient), so 92 of 94 rows in that bin, 2 in the flat bin.
    expected = np.zeros(len(GRADIENT_BIN_EDGES) - 1)
    expected[0] = 2 / H
    expected[np.searchsorted(GRADIENT_BIN_EDGES, 2 / 255, side="right") - 1] = (H - 2) / H
    np.testing.assert_allclose(s.gradient_histogram, expected)
    np.testing.assert_array_equal(s.edge_density, np.zeros(8))  # a Sobel response of 16 < 50
    lined = ramp.copy()
    lined[86:91] = 255  # rows 86–90; bands of 12,12,12,12,12,12,11,11 rows: the last is rows 83–93
    # Canny marks one full row at each side of the line (rows 85 and 90): 2 × 310 of the band's 11 × 310.
    np.testing.assert_allclose(image_statistics(lined).edge_density, [0, 0, 0, 0, 0, 0, 0, 2 / 11])


def test_domain_gap_is_zero_for_equal_statistics_symmetric_and_its_total_as_documented() -> None:
    a, b = image_statistics(noise(1)), image_statistics(spectrum_image(2.0))
    same = domain_gap(a, a)
    assert set(same) == {*TOTAL_TERMS, "colour_moments", "total"}
    assert all(v == 0.0 for v in same.values()), same
    ab, ba = domain_gap(a, b), domain_gap(b, a)
    assert ab == pytest.approx(ba) and all(v > 0 for v in ab.values())
    scaled = [
        ab["colour_histogram"],
        ab["gray_histogram"],
        ab["gradient_histogram"],
        ab["power_spectrum"] / (1 + ab["power_spectrum"]),
        min(ab["edge_density"], 1.0),
    ]
    assert ab["total"] == pytest.approx(np.mean(scaled))


def test_aggregate_is_the_mean_over_images() -> None:
    s = [image_statistics(noise(i)) for i in range(3)]
    mean2 = aggregate(s[:2])
    assert mean2.n_images == 2
    np.testing.assert_allclose(mean2.power_spectrum, (s[0].power_spectrum + s[1].power_spectrum) / 2)
    np.testing.assert_allclose(mean2.colour_histogram.sum(axis=1), 1.0)
    all3, nested = aggregate(s), aggregate([mean2, s[2]])  # weighted by n_images: the same mean
    assert nested.n_images == 3
    np.testing.assert_allclose(nested.edge_density, all3.edge_density)
    np.testing.assert_allclose(nested.colour_mean, all3.colour_mean)
    with pytest.raises(ValueError, match="no image statistics"):
        aggregate([])


def test_folders_listing_subsampling_and_unreadable_files(tmp_path: Path) -> None:
    paths = [write_png(tmp_path / "a" / f"{i}.png", noise(i)) for i in range(5)]
    write_png(tmp_path / "a" / "deeper" / "x.JPG", noise(9))
    (tmp_path / "a" / "notes.txt").write_text("not an image")
    listed = list_images(tmp_path / "a")
    assert [p.name for p in listed] == ["0.png", "1.png", "2.png", "3.png", "4.png", "x.JPG"]
    assert subsample(paths[::-1], 3) == [paths[0], paths[2], paths[4]]  # sorted, evenly spaced
    result = compare_folders(paths, paths[::-1], max_images=3)
    assert result["n_images"] == {"synthetic": 3, "real": 3}
    assert all(v == 0.0 for v in result["distances"].values())
    assert result["statistics"]["real"]["n_images"] == 3
    json.dumps(result)  # JSON-ready
    broken = tmp_path / "a" / "broken.png"
    broken.write_bytes(b"not a png")
    with pytest.raises(BadSampleError, match=r"broken\.png"):
        compare_folders(paths, [*paths, broken])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"empty: no images \(png/jpg\) found"):
        list_images(tmp_path / "empty")


def test_generate_compare_from_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    photos = tmp_path / "photos"
    for i in range(2):
        write_png(photos / f"{i}.png", noise(i, (120, 400)))
    out = tmp_path / "syn"
    argv = [
        "generate",
        "--out",
        str(out),
        "--pairs",
        "2",
        "--size",
        "160x48",
        "--workers",
        "1",
        "--no-progress",
    ]
    assert cli_main([*argv, "--compare", str(photos)]) == 0
    printed = capsys.readouterr().out
    assert "2 synthetic vs 2 real images at 310×94" in printed and "total" in printed
    result = json.loads((out / "domain_gap.json").read_text(encoding="utf-8"))
    assert set(result) >= {"distances", "n_images", "statistics", "definitions"}
    assert set(result["distances"]) == {*TOTAL_TERMS, "colour_moments", "total"}
    assert result["n_images"] == {"synthetic": 2, "real": 2}
    assert result["distances"]["total"] > 0

    empty = tmp_path / "no_photos"
    empty.mkdir()
    other = tmp_path / "not_rendered"
    assert cli_main([*argv[:2], str(other), *argv[3:], "--compare", str(empty)]) == 2
    err = capsys.readouterr().err
    assert (
        err
        == f"ssrdepth generate: error: {empty}: no images (png/jpg) found (searched recursively for *.png, *.jpg, *.jpeg)\n"
    )
    assert not other.exists()  # refused before rendering


@pytest.mark.shared_data
def test_real_frames_are_closer_to_each_other_than_to_synthetic_ones(
    shared_data: Path, tmp_path: Path
) -> None:
    frames = shared_data / "kitti_object" / "training" / "image_2"
    real = sorted(frames.glob("*.png"))
    if len(real) < 7:
        skip_or_fail(f"needs the 7 real KITTI frames in {frames} (found {len(real)})")
    generate_synthetic(tmp_path / "syn", 4, size=ANALYSIS_SIZE, workers=1, progress=False)
    synthetic = list_images(tmp_path / "syn" / "training" / "image_02")
    first, last = real[:3], real[-4:]
    real_real = compare_folders(first, last)["distances"]["total"]
    real_synthetic = min(compare_folders(synthetic, side)["distances"]["total"] for side in (first, last))
    assert real_real < real_synthetic, (real_real, real_synthetic)
