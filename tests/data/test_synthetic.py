"""The synthetic generator: determinism, exact geometry, depth ↔ disparity, and stereo matching on it."""

from __future__ import annotations

import logging
from pathlib import Path

import cv2
import numpy as np
import pytest

from ssrdepth.cli import main as cli_main
from ssrdepth.core.scale import disparity_to_depth
from ssrdepth.data import DataConfig, build_source, generate_synthetic, list_stereo_pairs, render_frame
from ssrdepth.data.synthetic import (
    BASELINE,
    KITTI_FOCAL,
    Camera,
    _make_scene,
    _render_view,
    decode_depth,
)

CAM = Camera.kitti_like((96, 320))  # a quarter of KITTI's 375×1242 (about)


def disparity_from_depth(depth: np.ndarray, focal: float, baseline: float = BASELINE) -> np.ndarray:
    """Exact disparity (px) = f·B / Z for Z > 0, else 0, as float32: the package's one reciprocal
    (:func:`ssrdepth.core.scale.disparity_to_depth`)."""
    return disparity_to_depth(np.asarray(depth, dtype=np.float32), focal, baseline)


def test_render_is_deterministic_in_the_seed() -> None:
    a = render_frame(3, 1, 2, 4, camera=CAM)
    b = render_frame(3, 1, 2, 4, camera=CAM)
    c = render_frame(4, 1, 2, 4, camera=CAM)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(a[0], c[0])
    left, right, depth = a
    assert left.shape == right.shape == (96, 320, 3) and left.dtype == np.uint8
    assert depth.shape == (96, 320) and depth.dtype == np.float32


def test_road_depth_by_hand() -> None:
    # Just below the image centre the camera (h = 1.5–1.8 m up, per sequence; KITTI 1.65 m), looking
    # along the road, sees its own lane: the road plane y = h meets the ray (u − cx, v − cy, f)/f at
    # Z = h·f / (v − cy).
    for sequence in range(3):
        scene = _make_scene(0, sequence, 3)
        assert 1.5 <= scene.height <= 1.8
        _, _, depth = render_frame(0, sequence, 0, 3, camera=CAM, scene=scene)
        cols = np.arange(int(CAM.cx) - 15, int(CAM.cx) + 15)
        for v in range(CAM.height - 6, CAM.height):
            expected = scene.height * CAM.focal / (v - CAM.cy)
            np.testing.assert_allclose(depth[v, cols], expected, rtol=1e-5)


def test_views_agree_with_the_exact_disparity() -> None:
    # Warping the right view by the exact disparity f·B/Z reproduces the left view up to what differs
    # between real views too (sensor noise σ = 0.5–3 grey levels and JPEG per view, view-dependent
    # highlights, bilinear resampling of sharp leaf clumps: 90th percentile 5–13.3 grey levels
    # measured); a 2 px error in the disparity is plainly worse (about twice that).
    h, w = CAM.height, CAM.width
    uu, vv = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    for sequence in range(3):
        left, right, depth = render_frame(7, sequence, 1, 4, camera=CAM)
        disparity = disparity_from_depth(depth, CAM.focal, CAM.baseline)
        p90 = []
        for shift in (0.0, 2.0):
            x = uu - disparity - shift
            warped = cv2.remap(right, x, vv, cv2.INTER_LINEAR)
            seen = (depth > 0) & (x >= 0)
            diff = np.abs(warped.astype(np.float64) - left).mean(axis=2)[seen]
            p90.append(np.percentile(diff, 90))
        assert p90[0] < 15.0 and p90[1] > 2.0 * p90[0]


def test_right_view_depth_agrees_with_disparity() -> None:
    # Ray-cast the right camera too: the point seen at left pixel u with depth Z is seen by the right
    # camera at u − f·B/Z with the same depth Z (a pure x-translation), except where occluded.
    h, w = CAM.height, CAM.width
    uu, vv = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    scene = _make_scene(7, 0, 4)
    _, _, depth = render_frame(7, 0, 1, 4, camera=CAM, scene=scene)
    _, right_z, _ = _render_view(
        scene, scene.faces_at(1), CAM, np.array([CAM.baseline, 0.0, scene.camera_z[1]])
    )
    right_z = np.where(np.isfinite(right_z), right_z, 0).astype(np.float32)
    x = uu - disparity_from_depth(depth, CAM.focal, CAM.baseline)
    seen = (depth > 0) & (x >= 0)
    at_right = cv2.remap(right_z, x, vv, cv2.INTER_NEAREST)
    rel = np.abs(at_right[seen] - depth[seen]) / depth[seen]
    assert (rel < 0.01).mean() > 0.9


def test_stereo_matching_accuracy_against_exact_disparity() -> None:
    """SGM (``ssrdepth.stereo``, default settings) on synthetic pairs at 96×320: at most 5 % of its
    valid pixels are off by more than 3 px (KITTI's D1 threshold), and it is valid on at least 75 %
    of the pixels with a surface (measured: 0.3–1.6 % and 85–93 %)."""
    from ssrdepth.stereo import compute_disparity, default_settings

    for sequence in range(3):
        left, right, depth = render_frame(3, sequence, 0, 10, camera=CAM)
        exact = disparity_from_depth(depth, CAM.focal, CAM.baseline)
        disparity, valid = compute_disparity(left, right, settings=default_settings("sgm"))
        both = valid & (exact > 0)
        bad = np.abs(disparity[both] - exact[both]) > 3.0
        assert bad.mean() < 0.05
        assert both.sum() / (exact > 0).sum() > 0.75


def test_generated_tree_reads_back_exactly(tmp_path: Path) -> None:
    root = tmp_path / "syn"
    settings = generate_synthetic(
        root, 5, seed=2, size=(48, 160), sequence_length=3, workers=1, progress=False
    )
    assert settings.sequences() == [3, 2]
    pairs = list_stereo_pairs(DataConfig(source="synthetic", root=str(root)))
    assert [p.key for p in pairs] == [
        "0000/000000",
        "0000/000001",
        "0000/000002",
        "0001/000000",
        "0001/000001",
    ]
    # KITTI's focal scaled to the width; the baseline read back from P2/P3 is exactly 0.54 m.
    assert pairs[0].focal == pytest.approx(KITTI_FOCAL * 160 / 1242, rel=1e-9)
    assert pairs[0].baseline == pytest.approx(BASELINE, rel=1e-9)
    cam = settings.camera()
    for sequence, frame, key in ((0, 2, "0000/000002"), (1, 1, "0001/000001")):
        left, right, depth = render_frame(2, sequence, frame, settings.sequences()[sequence], camera=cam)
        png = cv2.imread(str(root / "training/depth" / f"{key}.png"), cv2.IMREAD_UNCHANGED)
        assert png.dtype == np.uint16
        stored = decode_depth(png)
        # Depth × 256 rounded: within 1/512 m; sky (0) stays 0.
        assert np.abs(stored - depth).max() <= 1 / 512 + 1e-6
        assert np.array_equal(stored == 0, depth == 0)
        # The disparity the stored depth implies matches the exact one to that rounding.
        d_stored = disparity_from_depth(stored, cam.focal, BASELINE)
        d_exact = disparity_from_depth(depth, cam.focal, BASELINE)
        tol = cam.focal * BASELINE / np.maximum(stored, 1e-3) ** 2 / 512 * 1.01 + 1e-5
        assert np.all(np.abs(d_stored - d_exact) <= tol)
        np.testing.assert_array_equal(
            cv2.imread(str(root / "training/image_02" / f"{key}.png"))[:, :, ::-1], left
        )
        np.testing.assert_array_equal(
            cv2.imread(str(root / "training/image_03" / f"{key}.png"))[:, :, ::-1], right
        )
    source = build_source(DataConfig(source="synthetic", root=str(root), target="depth"))
    assert source.depth_kind == "exact"


def test_generate_resumes_refuses_other_settings_and_runs_from_the_cli(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "syn"
    assert cli_main(["generate", "--out", str(root), "--pairs", "3", "--size", "96x32", "--no-progress"]) == 0
    assert "3 pairs (96×32, 1 sequence(s), seed 0)" in capsys.readouterr().out
    target = root / "training/image_03/0000/000001.png"
    before = target.read_bytes()
    target.unlink()
    generate_synthetic(root, 3, size=(32, 96), workers=1, progress=False)  # resumes the missing frame
    assert target.read_bytes() == before
    # A complete set is checked, not rendered again: no frame is written, and the log says so.
    mtimes = {p: p.stat().st_mtime_ns for p in root.rglob("*.png")}
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="ssrdepth.data.synthetic"):
        generate_synthetic(root, 3, size=(32, 96), workers=1, progress=False)
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*.png")} == mtimes
    assert "all 3 pairs are already rendered" in caplog.text and "rendering 3" not in caplog.text
    with pytest.raises(ValueError, match="rendered with other settings") as refused:
        generate_synthetic(root, 4, size=(32, 96), workers=1, progress=False)
    # it names what differs (the pair count), and nothing else
    assert "synthetic.json: n_pairs 3 there, 4 asked); an interrupted render resumes only" in str(
        refused.value
    )
    assert cli_main(["generate", "--out", str(root), "--pairs", "4", "--size", "96x32", "--no-progress"]) == 2
    assert "rendered with other settings" in capsys.readouterr().err
    missing = tmp_path / "nothing"
    with pytest.raises(FileNotFoundError, match="ssrdepth generate --out"):
        build_source(DataConfig(source="synthetic", root=str(missing)))


def test_an_interrupted_render_is_refused_then_resumed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A render killed after 1 of 3 pairs is not a data set (it used to load as a 1-pair set): loaders
    refuse it naming the command that resumes it; following that command gives the full set, equal
    to an uninterrupted render."""
    import shlex

    import ssrdepth.data.synthetic as synthetic

    root = tmp_path / "syn"
    written = 0
    original = synthetic._write_png

    def killed_after_one_pair(path: Path, array: np.ndarray) -> None:
        nonlocal written
        if written == 4:  # left, right, depth, regions of the first pair
            raise KeyboardInterrupt
        written += 1
        original(path, array)

    monkeypatch.setattr(synthetic, "_write_png", killed_after_one_pair)
    with pytest.raises(KeyboardInterrupt):
        generate_synthetic(root, 3, size=(32, 96), workers=1, progress=False)
    monkeypatch.setattr(synthetic, "_write_png", original)

    cfg = DataConfig(source="synthetic", root=str(root), target="depth")
    with pytest.raises(ValueError, match=r"incomplete \(1 of 3 pairs rendered") as refused:
        build_source(cfg)
    with pytest.raises(ValueError, match="incomplete"):
        list_stereo_pairs(DataConfig(source="synthetic", root=str(root)))
    command = str(refused.value).split("finish it with: ")[1].split(" (it resumes)")[0]
    argv = shlex.split(command)
    assert argv[:2] == ["ssrdepth", "generate"]
    assert cli_main([*argv[1:], "--no-progress"]) == 0  # the advice, followed
    assert len(build_source(cfg).frames) == 3

    clean = tmp_path / "clean"
    generate_synthetic(clean, 3, size=(32, 96), workers=1, progress=False)
    for kind in ("image_02", "image_03", "depth"):
        for f in sorted((clean / "training" / kind).rglob("*.png")):
            assert (root / f.relative_to(clean)).read_bytes() == f.read_bytes(), f
