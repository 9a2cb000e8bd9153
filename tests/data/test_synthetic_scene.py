"""The generator's scene parts (version 3): exact depth of ellipsoids and boxes in both views, shadow
rays worked out by hand, shading that never changes depth, and the feature switches."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from ssrdepth.data import DataConfig, build_source
from ssrdepth.data.synthetic import (
    GENERATOR_VERSION,
    Camera,
    Features,
    _make_scene,
    _render_view,
    generate_synthetic,
    render_frame,
)
from ssrdepth.data.synthetic.geometry import SceneBuilder, cast, occluded
from ssrdepth.data.synthetic.shading import FOLIAGE, ROAD

# A small square camera with the principal point on a pixel centre: pixel (u, v) looks along
# ((u − 16)/50, (v − 16)/50, 1).
CAM = Camera(height=33, width=33, focal=50.0, cx=16.0, cy=16.0, baseline=0.5)


def _sphere_depth(a: float, b: float, centre: np.ndarray, radius: float) -> float:
    """Z of the nearest hit of the ray t·(a, b, 1) on a sphere, from the quadratic by hand."""
    d = np.array([a, b, 1.0])
    qa, qb, qc = d @ d, -2.0 * d @ centre, centre @ centre - radius**2
    return float((-qb - np.sqrt(qb * qb - 4 * qa * qc)) / (2 * qa))


def test_ellipsoid_depth_is_exact_in_both_views() -> None:
    fb = SceneBuilder()
    fb.ellipsoid((0.0, 0.0, 10.0), (1.0, 1.0, 1.0), FOLIAGE, np.full(3, 0.5), 0, 0.05, 0.5)
    faces, ells, _ = fb.build()
    left = cast(faces, ells, CAM, np.zeros(3))
    # The central ray meets the sphere's near pole at Z = 10 − 1 = 9.
    assert left.depth[16, 16] == pytest.approx(9.0, abs=1e-12)
    for u in (12, 14, 19):
        a = (u - 16) / 50
        assert left.depth[16, u] == pytest.approx(
            _sphere_depth(a, 0.0, np.array([0.0, 0.0, 10.0]), 1.0), rel=1e-12
        )
    # Its silhouette: |a| ≤ tan(asin(1/10)) = 0.1005 → pixels 11..21 on the centre row.
    assert np.flatnonzero(np.isfinite(left.depth[16])).tolist() == list(range(11, 22))
    assert (left.ellipsoid[16, 11:22] == 0).all() and (left.face == -1).all()
    # The right camera (0.5 m to the right) sees the sphere centred at x = −0.5: exact depth there too.
    right = cast(faces, ells, CAM, np.array([CAM.baseline, 0.0, 0.0]))
    for u in (12, 14, 15):
        a = (u - 16) / 50
        assert right.depth[16, u] == pytest.approx(
            _sphere_depth(a, 0.0, np.array([-0.5, 0.0, 10.0]), 1.0), rel=1e-12
        )


def test_box_face_depth_and_disparity_in_both_views() -> None:
    # A box whose front face is the plane z = 8 for x in [−1, 1], y in [−1, 1]; a stretched ellipsoid
    # (semi-axes 4, 1, 0.5 at z = 20) behind it is hidden where the box covers it.
    fb = SceneBuilder()
    fb.box((-1.0, -1.0, 8.0), (1.0, 1.0, 9.0), ROAD, np.full(3, 0.5), 0, 0.05, 0.5)
    fb.ellipsoid((0.0, 0.0, 20.0), (4.0, 1.0, 0.5), FOLIAGE, np.full(3, 0.5), 0, 0.05, 0.5)
    faces, ells, boxes = fb.build()
    assert boxes[0].shape == (1, 3)
    left = cast(faces, ells, CAM, np.zeros(3))
    right = cast(faces, ells, CAM, np.array([CAM.baseline, 0.0, 0.0]))
    # Front face: |u − 16| ≤ 50 · 1/8 = 6.25 → columns 10..22, all at Z = 8 exactly.
    assert np.flatnonzero(left.depth[16] == 8.0).tolist() == list(range(10, 23))
    # The right view sees the face at x − 0.5: columns with |u − 16 + 50·0.5/8| ≤ 6.25, i.e. shifted
    # left by the disparity f·B/Z = 3.125 px: 16 − 3.125 ± 6.25 → 6.6..19.1 → columns 7..19.
    assert np.flatnonzero(right.depth[16] == 8.0).tolist() == list(range(7, 20))
    # Beside the box the ellipsoid shows: at a = 7/50 the ray t·(a, 0, 1) meets
    # (x/4)² + y² + ((z − 20)/0.5)² = 1, i.e. (a²/16 + 4)·t² − 160·t + 1599 = 0.
    a = 7 / 50
    t = np.roots([a * a / 16 + 4.0, -160.0, 1599.0])
    assert left.depth[16, 23] == pytest.approx(float(t.real.min()), rel=1e-12)


def test_shadow_rays_by_hand() -> None:
    fb = SceneBuilder()
    fb.box((0.0, 0.0, 0.0), (1.0, 1.0, 1.0), ROAD, np.full(3, 0.5), 0, 0.05, 0.5)  # 1 m cube, bottom at y = 1
    fb.ellipsoid((5.0, 0.0, 0.5), (0.5, 0.5, 0.5), FOLIAGE, np.full(3, 0.5), 0, 0.05, 0.5)
    _faces, ells, boxes = fb.build()
    ground = 2.0  # the road, 1 m below the cube
    points = np.array(
        [
            [0.5, 2.0, 0.5],  # under the cube
            [1.5, 2.0, 0.5],  # beside it
            [
                2.5,
                2.0,
                0.5,
            ],  # where a 45° sun from +x casts the cube's shadow: x − s = 0..1 at y = 2 − s ∈ [0, 1] → x ∈ [1, 3]
            [3.5, 2.0, 0.5],  # past that shadow
            [5.0, 2.0, 0.5],  # under the ellipsoid
            [5.0, 2.0, 1.2],  # beside the ellipsoid
        ]
    )
    up = np.array([0.0, -1.0, 0.0])
    assert occluded(points, up, boxes, ells, ground).tolist() == [True, False, False, False, True, False]
    sun45 = np.array([-1.0, -1.0, 0.0]) / np.sqrt(2.0)  # towards the sun: up and to −x
    assert occluded(points, sun45, boxes, ells, ground).tolist() == [False, True, True, False, False, False]
    # A point on the cube's lit top face is not shadowed by the cube itself.
    assert not occluded(np.array([[0.5, -0.002, 0.5]]), up, boxes, ells, ground).any()


def test_shadows_change_the_image_never_the_depth() -> None:
    cam = Camera.kitti_like((64, 200))
    scene = _make_scene(0, 3, 4)
    assert scene.light.shadows
    flat = dataclasses.replace(
        scene, light=dataclasses.replace(scene.light, shadows=False, sky_occlusion=0.0)
    )
    origin = np.array([0.0, 0.0, scene.camera_z[1]])
    rgb, depth, regions = _render_view(scene, scene.faces_at(1), cam, origin, 1)
    rgb_flat, depth_flat, regions_flat = _render_view(flat, flat.faces_at(1), cam, origin, 1)
    np.testing.assert_array_equal(depth, depth_flat)
    np.testing.assert_array_equal(regions, regions_flat)
    darker = (rgb.sum(2) < rgb_flat.sum(2) - 1e-6).mean()
    assert darker > 0.01  # shadows darken some pixels
    assert (rgb.sum(2) <= rgb_flat.sum(2) + 1e-5).all()  # and brighten none


def test_features_are_deterministic_and_each_changes_the_render() -> None:
    cam = Camera.kitti_like((48, 160))
    base = render_frame(5, 0, 1, 3, camera=cam)
    np.testing.assert_array_equal(base[0], render_frame(5, 0, 1, 3, camera=cam)[0])
    for change in ({"shadows": False}, {"photos": False}, {"camera": False}, {"layout": "classic"}):
        other = render_frame(5, 0, 1, 3, camera=cam, features=Features(**change))  # type: ignore[arg-type]
        assert not np.array_equal(base[0], other[0]), change
    with pytest.raises(ValueError, match="layout must be one of streets, classic"):
        Features(layout="suburb")


def test_streets_park_cars_near_the_camera_and_plant_round_crowns() -> None:
    # Over 12 streets: most residential/city streets have parked vehicles within 6 m of the camera's
    # path at the sides, and every street kind occurs; crowns and bushes are ellipsoids.
    kinds, near_sides = set(), 0
    for sequence in range(12):
        scene = _make_scene(1, sequence, 5)
        kinds.add(scene.kind)
        lo, hi = scene.boxes
        vehicles = (hi[:, 1] - lo[:, 1] > 0.5) & (np.abs((lo[:, 0] + hi[:, 0]) / 2) < 6.5)
        vehicles &= (lo[:, 2] > 0) & (lo[:, 2] < 30) & (np.abs((lo[:, 0] + hi[:, 0]) / 2) > 2.0)
        near_sides += bool(vehicles.any())
        assert len(scene.ellipsoids.centre) > 0
    assert kinds == {"residential", "city", "open"}
    assert near_sides >= 7


def test_a_set_from_an_older_generator_still_loads_and_is_not_added_to(tmp_path: Path) -> None:
    root = tmp_path / "syn"
    generate_synthetic(root, 2, size=(32, 96), workers=1, progress=False)
    manifest = root / "synthetic.json"
    info = json.loads(manifest.read_text())
    info["settings"]["version"] = 2
    info["settings"].pop("features")
    manifest.write_text(json.dumps(info))
    source = build_source(DataConfig(source="synthetic", root=str(root), target="depth"))
    assert len(source.frames) == 2 and source.depth(1) is not None
    with pytest.raises(ValueError, match=f"generator version 2 .*renders version {GENERATOR_VERSION}"):
        generate_synthetic(root, 2, size=(32, 96), workers=1, progress=False)


def test_generate_switches_features_from_the_cli(tmp_path: Path) -> None:
    from ssrdepth.cli import main as cli_main

    root = tmp_path / "syn"
    argv = ["generate", "--out", str(root), "--pairs", "1", "--size", "96x32", "--no-progress"]
    assert cli_main([*argv, "--layout", "classic", "--no-shadows", "--no-camera-effects"]) == 0
    info = json.loads((root / "synthetic.json").read_text())
    assert info["settings"]["features"] == {
        "layout": "classic",
        "shadows": False,
        "photos": True,
        "camera": False,
    }
    assert info["settings"]["version"] == GENERATOR_VERSION
    left, _, _ = render_frame(
        0, 0, 0, 1, camera=Camera.kitti_like((32, 96)), features=Features("classic", False, True, False)
    )
    import cv2

    stored = cv2.imread(str(root / "training/image_02/0000/000000.png"))[:, :, ::-1]
    np.testing.assert_array_equal(stored, left)
    assert cli_main(argv) == 2  # the same folder with other features: refused


def test_a_saturated_sky_is_flat_white_whatever_the_noise() -> None:
    from ssrdepth.data.synthetic.camera import CameraModel, camera_response

    rgb = np.full((40, 60, 3), 0.4, np.float32)
    rgb[:15] = 1.6  # over-exposed: above full scale
    img = camera_response(CameraModel(noise=3.0), rgb, (0, 0), 0, 0)
    assert (img[:12] == 255).all()  # flat: nothing for a stereo matcher to match
    # Below, noise σ = 3 grey levels around 0.4 · 255 = 102, rounded to whole levels.
    assert abs(float(img[20:].std()) - 3.0) < 0.4 and abs(float(img[20:].mean()) - 102.0) < 0.2
