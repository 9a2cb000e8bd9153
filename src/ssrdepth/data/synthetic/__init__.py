"""Synthetic stereo street scenes with exact depth: the embedded default data set — the one home of
what a synthetic set is and how it is written.

A procedural generator renders, deterministically from a seed, KITTI-like left/right views of street
scenes and the exact depth of the left view, and writes them in the KITTI tracking layout so that the
same loaders, stereo targets, training and evaluation run on it with no download:

- ``training/image_02/SSSS/NNNNNN.png``, ``training/image_03/SSSS/NNNNNN.png``: left / right RGB;
- ``training/depth/SSSS/NNNNNN.png``: exact depth of the left view, 16-bit PNG, metres × 256,
  0 = no surface (sky) — KITTI's depth-map encoding;
- ``training/regions/SSSS/NNNNNN.png``: the region of every pixel (uint8, :data:`REGIONS`);
- ``training/calib/SSSS.txt``: KITTI tracking calibration (``P0``–``P3``, ``R_rect``, ``Tr_velo_cam``,
  ``Tr_imu_velo``); ``P3[0, 3] = -focal × baseline`` so that the baseline is read back exactly;
- ``synthetic.json``: the generator's settings (seed, sizes, camera, version, features), checked on
  reuse.

The package's rooms: :mod:`.camera` (the rig and the camera's response), :mod:`.geometry` (exact ray
casting of boxes and ellipsoids, shadow rays), :mod:`.shading` (textures, materials, light),
:mod:`.streets` (the street composer, with :mod:`.classic` and their shared :mod:`.parts`); this module renders frames and writes the set.

Geometry: a rectified pinhole stereo rig (KITTI-like focal length, scaled with the image width, and
0.54 m baseline, camera about 1.65 m above the road, looking along +z; x right, y down). The right view
is ray-cast from the right camera centre, so disparity, occlusions and depth agree exactly
(disparity = f·B / Z); the sky is at infinity.

Each sequence is one street walked by the camera (``sequence_length`` frames, about 1 m apart),
with parked and moving vehicles, so a by-sequence split keeps near-duplicate frames on one side.
Sets rendered by an older generator version stay readable by every loader; ``generate`` refuses to
add to them (it names both versions).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from ssrdepth.core.advice import command_line
from ssrdepth.core.hardware import usable_cores
from ssrdepth.core.io import atomic_path, require_not_file, write_json
from ssrdepth.core.png16 import KITTI_SCALE, decode_png16, encode_png16
from ssrdepth.core.processes import worker_pool
from ssrdepth.data.synthetic.camera import (
    BASELINE,
    CAMERA_HEIGHT,
    DEFAULT_SIZE,
    KITTI_CX,
    KITTI_CY,
    KITTI_FOCAL,
    KITTI_SIZE,
    Camera,
    camera_response,
)
from ssrdepth.data.synthetic.geometry import FAR, NEAR, cast
from ssrdepth.data.synthetic.shading import MATERIAL_REGION, REGIONS, shade
from ssrdepth.data.synthetic.streets import LAYOUTS, Features, Scene, make_scene

logger = logging.getLogger(__name__)

__all__ = [
    "BASELINE",
    "CAMERA_HEIGHT",
    "DEFAULT_SIZE",
    "DEPTH_SCALE",
    "FAR",
    "GENERATOR_VERSION",
    "KITTI_CX",
    "KITTI_CY",
    "KITTI_FOCAL",
    "KITTI_SIZE",
    "LAYOUTS",
    "NEAR",
    "REGIONS",
    "Camera",
    "Features",
    "RenderedFrame",
    "SyntheticSettings",
    "calib_text",
    "check_complete",
    "decode_depth",
    "encode_depth",
    "generate_synthetic",
    "read_manifest",
    "render_frame",
    "render_views",
]

#: Depth PNG encoding: 16-bit, metres × 256, 0 = invalid (KITTI depth-map convention,
#: :mod:`ssrdepth.core.png16`).
DEPTH_SCALE = KITTI_SCALE
#: 2: textured road up to the horizon, camera height, lighting and camera response varied per
#: sequence, region maps. 3: streets composed like KITTI's (residential / city / open; parked rows,
#: hedges, fences, houses with roofs, ellipsoid crowns, people), cast shadows and sky occlusion, CC0
#: photo textures, over-exposed sky, vignetting, JPEG and per-frame exposure (:class:`Features`).
GENERATOR_VERSION = 3

_make_scene = make_scene


def _render_view(
    scene: Scene, faces: Any, cam: Camera, origin: np.ndarray, frame: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ray-cast and shade one view from camera centre ``origin`` (world, m) with the scene's faces
    ``faces`` (those of ``frame``).

    Returns the linear RGB image (H, W, 3) float32 (≥ 0; above 1 saturates), depth Z (H, W) float32
    in metres along the optical axis (inf = sky) and the region label of every pixel (H, W) uint8
    (:data:`REGIONS`).
    """
    hits = cast(faces, scene.ellipsoids, cam, origin)
    rgb = shade(scene, faces, scene.ellipsoids, scene.boxes_at(frame), hits, cam, origin)
    regions = np.zeros(hits.depth.shape, np.uint8)
    on_face = hits.face >= 0
    regions[on_face] = MATERIAL_REGION[faces.material[hits.face[on_face]]]
    on_ell = hits.ellipsoid >= 0
    regions[on_ell] = MATERIAL_REGION[scene.ellipsoids.material[hits.ellipsoid[on_ell]]]
    return rgb, hits.depth.astype(np.float32), regions


@dataclass(frozen=True)
class RenderedFrame:
    """One rendered stereo frame: ``left``/``right`` uint8 RGB ``(H, W, 3)``, the left view's exact
    ``depth`` ``(H, W)`` float32 in metres (0 = sky) and its ``regions`` ``(H, W)`` uint8
    (indices into :data:`REGIONS`)."""

    left: np.ndarray
    right: np.ndarray
    depth: np.ndarray
    regions: np.ndarray


def render_views(
    seed: int,
    sequence: int,
    frame: int,
    n_frames: int,
    camera: Camera | None = None,
    scene: Scene | None = None,
    features: Features | None = None,
) -> RenderedFrame:
    """Render frame ``frame`` of sequence ``sequence`` with its region map. Deterministic in
    (seed, sequence, frame, n_frames, features)."""
    cam = camera or Camera.kitti_like()
    scene = scene or make_scene(seed, sequence, n_frames, features)
    faces = scene.faces_at(frame)
    left_o = np.array([0.0, 0.0, scene.camera_z[frame]])
    right_o = left_o + np.array([cam.baseline, 0.0, 0.0])
    views = []
    regions = np.zeros((cam.height, cam.width), np.uint8)
    depth = np.zeros((cam.height, cam.width), np.float32)
    for view, o in enumerate((left_o, right_o)):
        rgb, z, reg = _render_view(scene, faces, cam, o, frame)
        if view == 0:
            depth, regions = np.where(np.isfinite(z), z, 0.0).astype(np.float32), reg
        views.append(camera_response(scene.camera_model, rgb, scene.seed, frame, view))
    return RenderedFrame(views[0], views[1], depth, regions)


def render_frame(
    seed: int,
    sequence: int,
    frame: int,
    n_frames: int,
    camera: Camera | None = None,
    scene: Scene | None = None,
    features: Features | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Render frame ``frame`` of sequence ``sequence``.

    Returns ``(left, right, depth)``: uint8 RGB ``(H, W, 3)`` each, and the left view's exact depth
    ``(H, W)`` float32 in metres (0 = sky). Deterministic in (seed, sequence, frame, n_frames,
    features).
    """
    r = render_views(seed, sequence, frame, n_frames, camera, scene, features)
    return r.left, r.right, r.depth


@dataclass(frozen=True)
class SyntheticSettings:
    """Everything that determines the rendered set (written to ``synthetic.json``)."""

    n_pairs: int
    seed: int = 0
    height: int = DEFAULT_SIZE[0]
    width: int = DEFAULT_SIZE[1]
    sequence_length: int = 50
    baseline: float = BASELINE
    version: int = GENERATOR_VERSION
    features: Features = field(default_factory=Features)
    #: The focal length × KITTI's (scaled to the width): sets rendered by another camera.
    focal_scale: float = 1.0

    def camera(self) -> Camera:
        return Camera.kitti_like((self.height, self.width), self.baseline, self.focal_scale)

    def sequences(self) -> list[int]:
        """Frames per sequence: full sequences of ``sequence_length``, the remainder last."""
        n, k = divmod(self.n_pairs, self.sequence_length)
        return [self.sequence_length] * n + ([k] if k else [])


def calib_text(cam: Camera) -> str:
    """KITTI tracking calibration text: P0..P3, R_rect, Tr_velo_cam, Tr_imu_velo (row-major)."""

    def fmt(m: np.ndarray) -> str:
        return " ".join(f"{x:.12e}" for x in np.asarray(m, np.float64).ravel())

    p_left = cam.projection(0.0)
    p_right = cam.projection(-cam.baseline)
    lines = [
        f"P0: {fmt(p_left)}",
        f"P1: {fmt(p_right)}",
        f"P2: {fmt(p_left)}",
        f"P3: {fmt(p_right)}",
        f"R_rect {fmt(np.eye(3))}",
        # Velodyne → camera as mounted in KITTI (x fwd, y left, z up → x right, y down, z fwd).
        f"Tr_velo_cam {fmt(np.array([[0, -1, 0, 0], [0, 0, -1, 0], [1, 0, 0, 0]]))}",
        f"Tr_imu_velo {fmt(np.hstack([np.eye(3), np.zeros((3, 1))]))}",
    ]
    return "\n".join(lines) + "\n"


def encode_depth(depth: np.ndarray) -> np.ndarray:
    """Metres → 16-bit PNG values (× 256, rounded; 0 stays 0 = invalid): :func:`~ssrdepth.core.png16.encode_png16`."""
    return encode_png16(depth, DEPTH_SCALE)


def decode_depth(png: np.ndarray) -> np.ndarray:
    """16-bit PNG values → metres (0 = invalid): :func:`~ssrdepth.core.png16.decode_png16`."""
    return decode_png16(png, DEPTH_SCALE)


def _frame_paths(root: Path, sequence: int, frame: int) -> tuple[Path, Path, Path, Path]:
    name = f"{sequence:04d}/{frame:06d}.png"
    t = root / "training"
    return t / "image_02" / name, t / "image_03" / name, t / "depth" / name, t / "regions" / name


def _rendered(root: Path, sequence: int, frame: int) -> bool:
    """Whether every file of one frame is there (written atomically, so present means finished)."""
    return all(p.exists() for p in _frame_paths(root, sequence, frame))


def _write_png(path: Path, array: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        if not cv2.imwrite(str(tmp), array):
            raise OSError(f"could not write {path}")


def _render_sequence(args: tuple[Path, SyntheticSettings, int, int]) -> int:
    root, settings, sequence, n_frames = args
    cam = settings.camera()
    scene: Scene | None = None
    done = 0
    for frame in range(n_frames):
        if _rendered(root, sequence, frame):
            done += 1
            continue  # resumed: already rendered by an earlier, interrupted run
        paths = _frame_paths(root, sequence, frame)
        scene = scene or make_scene(settings.seed, sequence, n_frames, settings.features)
        r = render_views(settings.seed, sequence, frame, n_frames, cam, scene)
        _write_png(paths[0], cv2.cvtColor(r.left, cv2.COLOR_RGB2BGR))
        _write_png(paths[1], cv2.cvtColor(r.right, cv2.COLOR_RGB2BGR))
        _write_png(paths[2], encode_depth(r.depth))
        _write_png(paths[3], r.regions)
        done += 1
    return done


def _iter_jobs(root: Path, settings: SyntheticSettings) -> Iterator[tuple[Path, SyntheticSettings, int, int]]:
    for sequence, n_frames in enumerate(settings.sequences()):
        yield root, settings, sequence, n_frames


def _earlier_render(out: Path, settings: SyntheticSettings) -> dict[str, Any]:
    """The manifest already in ``out`` when it was rendered with ``settings`` (a render to resume or
    check), ``{}`` for a new or empty folder.

    Raises:
        ValueError: ``out`` holds another generator version's set, a set rendered with other settings
            (each setting that differs is named), or files that are not a synthetic set.
    """
    manifest = out / "synthetic.json"
    if not manifest.exists():
        if out.exists() and any(out.iterdir()):
            raise ValueError(
                f"{out} exists and is not a synthetic data set (no synthetic.json); choose an empty folder"
            )
        return {}
    old = read_manifest(out)
    old_version = (old.get("settings") or {}).get("version")
    if old_version != GENERATOR_VERSION:
        raise ValueError(
            f"{out} holds a synthetic set rendered by generator version {old_version} ({manifest}); "
            f"this ssrdepth renders version {GENERATOR_VERSION}. The old set still loads for "
            "training and evaluation as it is; to render the new one, choose another folder or "
            "delete this one (the demo: --fresh all)"
        )
    stored = {"focal_scale": 1.0, **(old.get("settings") or {})}  # older sets: KITTI's focal
    wanted = asdict(settings)
    if stored != wanted:
        differ = ", ".join(
            f"{k} {stored.get(k)!r} there, {wanted.get(k)!r} asked"
            for k in sorted(set(stored) | set(wanted))
            if stored.get(k) != wanted.get(k)
        )
        raise ValueError(
            f"{out} already holds a synthetic set rendered with other settings ({manifest}: {differ}); "
            "an interrupted render resumes only with the same settings: repeat them, or choose "
            "another folder or delete it"
        )
    return old


def generate_synthetic(
    root: str | os.PathLike[str],
    n_pairs: int,
    seed: int = 0,
    size: tuple[int, int] = DEFAULT_SIZE,
    sequence_length: int = 50,
    workers: int | None = None,
    progress: bool = True,
    features: Features | None = None,
    focal_scale: float = 1.0,
) -> SyntheticSettings:
    """Render ``n_pairs`` stereo pairs with exact depth into ``root`` (KITTI tracking layout).

    ``size`` is (H, W) (default half KITTI, 188×621); the camera is KITTI's scaled to it with a
    0.54 m baseline, its focal length × ``focal_scale`` (another camera; written in the calibration). Deterministic in ``seed`` and ``features`` (default: everything on): the same
    call gives identical files. An interrupted run resumes (finished frames are kept); a folder
    rendered with other settings, or by another generator version, is refused (ValueError naming
    both). ``workers`` processes render sequences in parallel (default: CPU count, at most 8).
    """
    if n_pairs < 1:
        raise ValueError(f"n_pairs must be ≥ 1, got {n_pairs}")
    if sequence_length < 1:
        raise ValueError(f"sequence_length must be ≥ 1, got {sequence_length}")
    if min(size) < 16:
        raise ValueError(f"size must be (H, W) with H, W ≥ 16, got {size}")
    out = require_not_file(root, "the folder to render into (--out)")
    settings = SyntheticSettings(
        n_pairs,
        seed,
        int(size[0]),
        int(size[1]),
        sequence_length,
        features=features or Features(),
        focal_scale=float(focal_scale),
    )
    settings.camera()  # a bad focal scale fails before anything is written
    manifest = out / "synthetic.json"
    old = _earlier_render(out, settings)
    cam = settings.camera()
    info = {
        "format": "ssrdepth-synthetic",
        "settings": asdict(settings),
        "camera": asdict(cam),
        "layout": "KITTI tracking: training/image_02|image_03/SSSS/NNNNNN.png, training/calib/SSSS.txt",
        "depth": "training/depth/SSSS/NNNNNN.png: uint16, metres × 256, 0 = invalid (sky)",
        "regions": "training/regions/SSSS/NNNNNN.png: uint8, "
        + ", ".join(f"{i} = {n}" for i, n in enumerate(REGIONS)),
        "complete": False,
    }
    if old.get("complete") is True:
        info["complete"] = True  # re-running a finished set checks its files and keeps it usable
    elif old:
        logger.info("%s: resuming an interrupted render (finished frames are kept)", out)
    write_json(manifest, info)
    for sequence in range(len(settings.sequences())):
        path = out / "training" / "calib" / f"{sequence:04d}.txt"
        with atomic_path(path) as tmp:
            tmp.write_text(calib_text(cam))
    jobs = list(_iter_jobs(out, settings))
    if info["complete"] and all(_rendered(out, seq, f) for _, _, seq, n in jobs for f in range(n)):
        logger.info("%s: all %d pairs are already rendered", out, n_pairs)
        return settings  # nothing to render: no worker processes started
    logger.info("rendering %d synthetic stereo pairs into %s", n_pairs, out)
    n_workers = max(1, min(workers or min(usable_cores(), 8), len(jobs)))
    bar = tqdm(total=n_pairs, desc="rendering synthetic pairs", unit="pair", disable=not progress)
    if n_workers == 1:
        for job in jobs:
            bar.update(_render_sequence(job))
    else:
        with worker_pool(n_workers) as pool:  # spawned, dying with this process (core/processes.py)
            for n in pool.map(_render_sequence, jobs):
                bar.update(n)
    bar.close()
    info["complete"] = True
    write_json(manifest, info)
    return settings


def read_manifest(root: str | os.PathLike[str]) -> dict[str, Any]:
    """``ROOT/synthetic.json`` as a dict; FileNotFoundError / ValueError naming the file and the fix."""
    require_not_file(root, "the synthetic set's folder", " (render one with: ssrdepth generate --out DIR)")
    manifest = Path(root) / "synthetic.json"
    if not manifest.is_file():
        raise FileNotFoundError(
            f"{root}: no synthetic data set here (synthetic.json missing); "
            f"render one with: {command_line('generate', '--out', root)}"
        )
    try:
        info = json.loads(manifest.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ValueError(
            f"{manifest}: unreadable ({exc}); delete the folder and render it again with: "
            + command_line("generate", "--out", root)
        ) from None
    if not isinstance(info, dict):
        raise ValueError(f"{manifest}: not a synthetic data set manifest (expected a JSON object)")
    return info


def _feature_flags(features: dict[str, Any]) -> list[str]:
    """``ssrdepth generate``'s options that render with ``features`` (a manifest's), for a resume command."""
    flags = [] if features.get("layout", "streets") == "streets" else ["--layout", str(features["layout"])]
    off = {"shadows": "--no-shadows", "photos": "--no-photos", "camera": "--no-camera-effects"}
    return flags + [flag for key, flag in off.items() if features.get(key, True) is False]


def check_complete(root: str | os.PathLike[str]) -> dict[str, Any]:
    """The manifest of a fully rendered set; a set whose render was interrupted (``"complete"`` not
    true in ``synthetic.json``) is refused with the command that resumes it.

    Raises:
        FileNotFoundError: no ``synthetic.json``. ValueError: an incomplete or unreadable set.
    """
    info = read_manifest(root)
    if info.get("complete") is True:
        return info
    st = info.get("settings", {})
    done = len(list((Path(root) / "training" / "image_03").glob("*/*.png")))
    resume = command_line(
        "generate", "--out", root, "--pairs", st.get("n_pairs"), "--seed", st.get("seed"),
        "--size", f"{st.get('width')}x{st.get('height')}", "--sequence-length", st.get("sequence_length"),
        *_feature_flags(st.get("features") or {}),
    )  # fmt: skip
    raise ValueError(
        f"{root}: the synthetic set is incomplete ({done} of {st.get('n_pairs')} pairs rendered; the "
        f"render was interrupted, synthetic.json says complete: false); finish it with: {resume} "
        "(it resumes), or delete the folder"
    )
