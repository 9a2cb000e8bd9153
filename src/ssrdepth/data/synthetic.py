"""Synthetic stereo street scenes with exact depth: the embedded default data set.

A procedural generator renders, deterministically from a seed, KITTI-like left/right views of street
scenes and the exact depth of the left view, and writes them in the KITTI tracking layout so that the
same loaders, stereo targets, training and evaluation run on it with no download:

- ``training/image_02/SSSS/NNNNNN.png``, ``training/image_03/SSSS/NNNNNN.png``: left / right RGB;
- ``training/depth/SSSS/NNNNNN.png``: exact depth of the left view, 16-bit PNG, metres × 256,
  0 = no surface (sky) — KITTI's depth-map encoding;
- ``training/calib/SSSS.txt``: KITTI tracking calibration (``P0``–``P3``, ``R_rect``, ``Tr_velo_cam``,
  ``Tr_imu_velo``); ``P3[0, 3] = -focal × baseline`` so that the baseline is read back exactly;
- ``synthetic.json``: the generator's settings (seed, sizes, camera), checked on reuse.

Geometry: a rectified pinhole stereo rig (KITTI-like focal length, scaled with the image width, and
0.54 m baseline, camera 1.65 m above the road, looking along +z; x right, y down). Every surface is an
axis-aligned rectangle (road plane, sidewalks, faces of buildings, vehicles, poles and trees), so each
view is ray-cast exactly per pixel: with ray direction ``((u - cx)/f, (v - cy)/f, 1)`` the hit
parameter of the nearest surface *is* its depth Z. The right view is ray-cast from the right camera
centre, so disparity, occlusions and depth agree exactly (disparity = f·B / Z). Surfaces carry
world-anchored band-limited random textures (pre-filtered per distance, like a mip-map, to avoid
aliasing), window grids and lane markings, so stereo matching works; the sky is at infinity.

Each sequence is one street walked by the camera (``sequence_length`` frames, about 1 m apart),
with parked and moving vehicles, so a by-sequence split keeps near-duplicate frames on one side.
"""

from __future__ import annotations

import json
import logging
import multiprocessing
import os
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from ssrdepth.core.io import atomic_path, require_not_file, write_json

logger = logging.getLogger(__name__)

#: KITTI colour camera (tracking/raw 2011_09_26 P2): 1242×375 px, f = 721.5377 px, principal point.
KITTI_SIZE = (375, 1242)
KITTI_FOCAL = 721.5377
KITTI_CX = 609.5593
KITTI_CY = 172.854
#: Stereo baseline in metres (KITTI rig, Geiger et al. 2012: 0.54 m).
BASELINE = 0.54
#: Camera height above the road in metres (KITTI rig: 1.65 m).
CAMERA_HEIGHT = 1.65
#: Default rendering size (H, W): half the KITTI resolution — models train at 147×37 or 310×94.
DEFAULT_SIZE = (188, 621)
#: Depth PNG encoding: 16-bit, metres × 256, 0 = invalid (KITTI depth-map convention).
DEPTH_SCALE = 256.0
#: Nothing is rendered beyond this distance (m): the road ends at the horizon, the sky is at infinity.
FAR = 200.0
#: Nearest distance (m) at which surfaces are clipped (nothing in a scene comes this close).
NEAR = 0.5
#: 2: textured road up to the horizon (anisotropic filtering, patches), camera height, lighting and
#: camera response varied per sequence, region maps.
GENERATOR_VERSION = 2

_TEX_SIZE = 128
_TEX_LEVELS = 6
_N_TEXTURES = 8

# Materials (shading rules in _shade).
_ROAD, _SIDEWALK, _FACADE, _BODY, _GLASS, _TYRE, _POLE, _FOLIAGE, _BARK = range(9)

#: Region labels of the ``training/regions`` maps (uint8 PNG, value = index here): for reporting
#: stereo-target density and errors per kind of surface.
REGIONS = ("sky", "road", "sidewalk", "building", "vehicle", "pole/vegetation")
_MATERIAL_REGION = np.array([1, 2, 3, 4, 4, 4, 5, 5, 5], np.uint8)  # indexed by material


@dataclass(frozen=True)
class Camera:
    """Pinhole intrinsics of the rectified pair at one image size; focal/cx/cy in pixels."""

    height: int
    width: int
    focal: float
    cx: float
    cy: float
    baseline: float = BASELINE

    @classmethod
    def kitti_like(cls, size: tuple[int, int] = DEFAULT_SIZE, baseline: float = BASELINE) -> Camera:
        """KITTI's intrinsics scaled to ``size`` = (H, W) (pixel-centre convention)."""
        h, w = size
        sx, sy = w / KITTI_SIZE[1], h / KITTI_SIZE[0]
        return cls(h, w, KITTI_FOCAL * sx, (KITTI_CX + 0.5) * sx - 0.5, (KITTI_CY + 0.5) * sy - 0.5, baseline)

    def projection(self, tx: float = 0.0) -> np.ndarray:
        """KITTI 3×4 projection matrix of a camera displaced by ``tx`` metres along x (P3: tx = -B)."""
        return np.array(
            [
                [self.focal, 0.0, self.cx, self.focal * tx],
                [0.0, self.focal, self.cy, 0.0],
                [0.0, 0.0, 1.0, 0.0],
            ]
        )


@dataclass
class _Faces:
    """Axis-aligned rectangles, world coordinates (x right, y down, z forward; road at y = +h)."""

    axis: np.ndarray  # (F,) int: the constant coordinate's axis
    lo: np.ndarray  # (F, 3) lower corner (lo[axis] = hi[axis] = plane)
    hi: np.ndarray  # (F, 3)
    sign: np.ndarray  # (F,) ±1: outward normal = sign · e_axis
    material: np.ndarray  # (F,) int
    color: np.ndarray  # (F, 3) base RGB in [0, 1]
    texture: np.ndarray  # (F,) int texture id
    texel: np.ndarray  # (F,) texel size, m
    contrast: np.ndarray  # (F,)
    origin: np.ndarray  # (F, 3) texture-coordinate origin
    params: np.ndarray  # (F, 4) material parameters (façade window grid)

    @staticmethod
    def concat(parts: list[_Faces]) -> _Faces:
        return _Faces(*(np.concatenate([getattr(p, k) for p in parts]) for k in _Faces.__dataclass_fields__))

    def shifted(self, dz: np.ndarray) -> _Faces:
        """A copy moved along z by ``dz`` (per face)."""
        off = np.zeros((len(dz), 3), np.float64)
        off[:, 2] = dz
        return _Faces(
            self.axis,
            self.lo + off,
            self.hi + off,
            self.sign,
            self.material,
            self.color,
            self.texture,
            self.texel,
            self.contrast,
            self.origin + off,
            self.params,
        )


class _FaceBuilder:
    def __init__(self) -> None:
        self.rows: list[tuple[Any, ...]] = []
        self.box_rows: list[int] = []  # box index per face (for moving objects)
        self.n_boxes = 0

    def box(
        self,
        lo: tuple[float, float, float],
        hi: tuple[float, float, float],
        material: int,
        color: np.ndarray,
        texture: int,
        texel: float,
        contrast: float,
        params: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0),
        skip_bottom: bool = True,
    ) -> int:
        """Add the faces of the box ``lo``..``hi`` (the bottom one is never seen from 1.65 m up)."""
        lo_a, hi_a = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
        for axis in range(3):
            for sign in (-1, 1):
                if skip_bottom and axis == 1 and sign == 1:
                    continue
                flo, fhi = lo_a.copy(), hi_a.copy()
                plane = hi_a[axis] if sign > 0 else lo_a[axis]
                flo[axis] = fhi[axis] = plane
                self.rows.append(
                    (axis, flo, fhi, sign, material, color, texture, texel, contrast, lo_a, params)
                )
                self.box_rows.append(self.n_boxes)
        self.n_boxes += 1
        return self.n_boxes - 1

    def plane_y(
        self,
        y: float,
        xr: tuple[float, float],
        zr: tuple[float, float],
        material: int,
        color: np.ndarray,
        texture: int,
        texel: float,
        contrast: float,
    ) -> None:
        lo = np.array([xr[0], y, zr[0]])
        hi = np.array([xr[1], y, zr[1]])
        self.rows.append((1, lo, hi, -1, material, color, texture, texel, contrast, np.zeros(3), (0.0,) * 4))
        self.box_rows.append(self.n_boxes)
        self.n_boxes += 1

    def build(self) -> _Faces:
        if not self.rows:
            e = np.zeros((0, 3))
            return _Faces(
                np.zeros(0, int),
                e,
                e,
                np.zeros(0, int),
                np.zeros(0, int),
                e,
                np.zeros(0, int),
                np.zeros(0),
                np.zeros(0),
                e,
                np.zeros((0, 4)),
            )
        cols = list(zip(*self.rows, strict=True))
        return _Faces(
            np.array(cols[0], np.int64),
            np.stack(cols[1]),
            np.stack(cols[2]),
            np.array(cols[3], np.int64),
            np.array(cols[4], np.int64),
            np.stack(cols[5]).astype(np.float64),
            np.array(cols[6], np.int64),
            np.array(cols[7], np.float64),
            np.array(cols[8], np.float64),
            np.stack(cols[9]),
            np.array(cols[10], np.float64),
        )


@dataclass(frozen=True)
class _CameraModel:
    """A sequence's camera response (domain randomisation): exposure gain, white balance (RGB
    multipliers), gamma on [0, 1] radiance, Gaussian optical blur σ (px) and sensor noise σ (grey
    levels of 255)."""

    gain: float = 1.0
    white_balance: tuple[float, float, float] = (1.0, 1.0, 1.0)
    gamma: float = 1.0
    blur: float = 0.0
    noise: float = 1.0

    @classmethod
    def random(cls, rng: np.random.Generator) -> _CameraModel:
        wb = rng.uniform(0.9, 1.1, 3)
        return cls(
            gain=float(rng.uniform(0.7, 1.35)),
            white_balance=(float(wb[0]), float(wb[1]), float(wb[2])),
            gamma=float(rng.uniform(0.8, 1.25)),
            blur=float(rng.uniform(0.0, 0.9)),
            noise=float(rng.uniform(0.5, 3.0)),
        )


@dataclass
class _Scene:
    static: _Faces
    moving: _Faces
    moving_speed: np.ndarray  # (F_moving,) m per frame along z
    camera_z: np.ndarray  # (n_frames,) camera position along z per frame
    textures: np.ndarray  # (N_TEX, LEVELS, S, S) float32 in [0, 1]
    lane_lines: np.ndarray  # (K, 2): x position, dashed (1) or solid (0)
    sky_top: np.ndarray
    sky_horizon: np.ndarray
    light: np.ndarray  # unit vector towards the light
    seed: tuple[int, int]
    height: float = CAMERA_HEIGHT  # camera height above the road, m
    ambient: float = 0.5  # shading = ambient + direct · max(n · light, 0)
    direct: float = 0.6
    camera_model: _CameraModel = _CameraModel()

    def faces_at(self, frame: int) -> _Faces:
        if len(self.moving.axis) == 0:
            return self.static
        return _Faces.concat([self.static, self.moving.shifted(self.moving_speed * frame)])


def _textures(rng: np.random.Generator) -> np.ndarray:
    """Tileable band-limited noise (random phase, 1/f^β amplitude) with pre-filtered levels.

    Level l is low-passed for a footprint of 2^l texels per pixel, so far surfaces do not alias.
    Returns (N_TEX, LEVELS, S, S) float32 in [0, 1].
    """
    s = _TEX_SIZE
    k = np.fft.fftfreq(s) * s
    kk = np.sqrt(k[:, None] ** 2 + k[None, :] ** 2)
    kk[0, 0] = 1.0
    out = np.empty((_N_TEXTURES, _TEX_LEVELS, s, s), np.float32)
    for i in range(_N_TEXTURES):
        beta = rng.uniform(0.5, 1.1)
        spec = (rng.standard_normal((s, s)) + 1j * rng.standard_normal((s, s))) / kk**beta
        spec[0, 0] = 0.0
        base = np.real(np.fft.ifft2(spec))
        scale = 1.0 / (4.0 * base.std() + 1e-12)  # ±2σ → [0, 1]
        for lvl in range(_TEX_LEVELS):
            cutoff = (s / 2) / 2**lvl
            filt = np.exp(-((kk / cutoff) ** 2) * 2.0)
            level = np.real(np.fft.ifft2(np.fft.fft2(base) * filt))
            out[i, lvl] = np.clip(0.5 + level * scale, 0.0, 1.0)
    return out


def _palette(rng: np.random.Generator, kind: str) -> np.ndarray:
    if kind == "facade":
        hue = rng.choice(
            [
                [0.72, 0.62, 0.50],
                [0.80, 0.78, 0.72],
                [0.62, 0.40, 0.32],
                [0.55, 0.58, 0.60],
                [0.85, 0.80, 0.62],
                [0.70, 0.70, 0.75],
            ]
        )
        return np.clip(np.asarray(hue) * rng.uniform(0.8, 1.15), 0, 1)
    if kind == "car":
        hue = rng.choice(
            [
                [0.85, 0.85, 0.85],
                [0.15, 0.15, 0.17],
                [0.55, 0.08, 0.08],
                [0.12, 0.22, 0.50],
                [0.45, 0.47, 0.50],
                [0.75, 0.70, 0.55],
                [0.20, 0.40, 0.25],
            ]
        )
        return np.clip(np.asarray(hue) * rng.uniform(0.85, 1.1), 0, 1)
    raise ValueError(kind)


@dataclass(frozen=True)
class _Street:
    """The layout of one sequence's street (m): the road plane ``h`` below the camera, scene extent
    ``z0``–``z1`` along the road, lanes and shoulders."""

    h: float
    z0: float
    z1: float
    lane: float
    n_left: int
    x_right: float
    x_left: float
    shoulder_r: float
    shoulder_l: float


def _make_scene(seed: int, sequence: int, n_frames: int) -> _Scene:
    """A random street for one sequence (deterministic in ``seed`` and ``sequence``)."""
    rng = np.random.default_rng([seed, sequence, 0x55D])
    h = float(rng.uniform(1.5, 1.8))  # camera height (KITTI: 1.65 m), varied per sequence
    step = rng.uniform(0.6, 1.4)  # m per frame (KITTI: ~1 m at 10 Hz)
    camera_z = np.arange(n_frames) * step
    z_end = camera_z[-1]
    textures = _textures(rng)
    fb = _FaceBuilder()
    street, lines = _road(fb, rng, h, -30.0, z_end + FAR)
    building_lines = _pavements(fb, rng, street)
    _buildings(fb, rng, street, building_lines, z_end)
    _parked_cars(fb, rng, street)
    static = fb.build()
    moving, speeds = _traffic(rng, street, step, n_frames)
    sky_top = np.array([0.35, 0.55, 0.85]) * rng.uniform(0.85, 1.1)
    sky_horizon = np.array([0.82, 0.86, 0.9]) * rng.uniform(0.9, 1.05)
    light = np.array([rng.uniform(-0.6, 0.6), -1.0, rng.uniform(-0.8, 0.3)])
    return _Scene(
        static,
        moving,
        np.asarray(speeds, np.float64),
        camera_z,
        textures,
        np.asarray(lines, np.float64),
        np.clip(sky_top, 0, 1),
        np.clip(sky_horizon, 0, 1),
        light / np.linalg.norm(light),
        (seed, sequence),
        height=h,
        ambient=float(rng.uniform(0.35, 0.65)),
        direct=float(rng.uniform(0.3, 0.8)),
        camera_model=_CameraModel.random(rng),
    )


def _road(
    fb: _FaceBuilder, rng: np.random.Generator, h: float, z0: float, z1: float
) -> tuple[_Street, list[tuple[float, float]]]:
    """The road plane with its lanes; returns the street layout and the lane lines (x, dashed)."""
    # The ego lane is centred on the camera (x = 0), 3.5 m lanes, 0–2 lanes to the left.
    lane = 3.5
    n_left = int(rng.integers(0, 3))
    shoulder_r, shoulder_l = rng.uniform(0.5, 3.0), rng.uniform(0.5, 3.0)
    x_right = lane / 2 + shoulder_r
    x_left = -lane / 2 - lane * n_left - shoulder_l
    lines = [(lane / 2, 0.0), (-lane / 2 - lane * n_left, 0.0)]
    lines += [(-lane / 2 - lane * k, 1.0) for k in range(n_left)]
    asphalt = np.full(3, rng.uniform(0.30, 0.55)) * np.array([1.0, 1.0, rng.uniform(1.0, 1.08)])
    fb.plane_y(h, (-80.0, 80.0), (z0, z1), _ROAD, asphalt, int(rng.integers(_N_TEXTURES)), 0.03, 0.6)

    street = _Street(h, z0, z1, lane, n_left, x_right, x_left, shoulder_r, shoulder_l)
    return street, lines


def _pavements(fb: _FaceBuilder, rng: np.random.Generator, street: _Street) -> list[tuple[int, float]]:
    """Raised pavements on both sides with poles, signs and trees; returns (side, x) of the
    building lines behind them."""
    h, z0, z1 = street.h, street.z0, street.z1
    x_right, x_left = street.x_right, street.x_left
    curb = 0.15
    building_lines = []
    for side, x_curb in ((1, x_right), (-1, x_left)):
        walk = rng.uniform(2.0, 4.5)
        xs = sorted((x_curb, x_curb + side * walk))
        fb.box(
            (xs[0], h - curb, z0),
            (xs[1], h, z1),
            _SIDEWALK,
            np.full(3, rng.uniform(0.55, 0.7)),
            int(rng.integers(_N_TEXTURES)),
            0.03,
            0.35,
        )
        building_lines.append((side, x_curb + side * walk))
        # Poles and trees along the sidewalk.
        z = z0 + rng.uniform(0, 10)
        while z < z1 - 20:
            x = x_curb + side * rng.uniform(0.4, 0.9)
            if rng.random() < 0.55:
                top = h - rng.uniform(4.0, 8.0)
                fb.box(
                    (x - 0.08, top, z - 0.08),
                    (x + 0.08, h - curb, z + 0.08),
                    _POLE,
                    np.full(3, rng.uniform(0.35, 0.6)),
                    int(rng.integers(_N_TEXTURES)),
                    0.02,
                    0.5,
                )
                if rng.random() < 0.5:  # a sign plate
                    fb.box(
                        (x - 0.35, top + 0.4, z - 0.04),
                        (x + 0.35, top + 1.1, z + 0.04),
                        _POLE,
                        rng.uniform(0.1, 0.9, 3),
                        int(rng.integers(_N_TEXTURES)),
                        0.02,
                        0.4,
                    )
            else:
                trunk_top = h - rng.uniform(2.2, 3.2)
                fb.box(
                    (x - 0.15, trunk_top, z - 0.15),
                    (x + 0.15, h - curb, z + 0.15),
                    _BARK,
                    np.array([0.35, 0.27, 0.2]),
                    int(rng.integers(_N_TEXTURES)),
                    0.02,
                    0.6,
                )
                r = rng.uniform(1.0, 2.0)
                crown = (x - r, trunk_top - 2 * r * rng.uniform(0.8, 1.2), z - r)
                fb.box(
                    crown,
                    (x + r, trunk_top + 0.3, z + r),
                    _FOLIAGE,
                    np.array([0.25, 0.45, 0.18]) * rng.uniform(0.7, 1.2),
                    int(rng.integers(_N_TEXTURES)),
                    0.06,
                    0.9,
                )
            z += rng.uniform(10.0, 30.0)
    return building_lines


def _buildings(
    fb: _FaceBuilder,
    rng: np.random.Generator,
    street: _Street,
    building_lines: list[tuple[int, float]],
    z_end: float,
) -> None:
    """Façades along both sides with gaps (alleys), varied heights and set-backs; sometimes a building
    closing the street."""
    h, z0, z1 = street.h, street.z0, street.z1
    for side, x_front in building_lines:
        if rng.random() < 0.1:
            continue  # an open side (field, parking lot): the road plane runs to the horizon
        z = z0
        while z < z1:
            length = rng.uniform(8.0, 30.0)
            if rng.random() < 0.2:
                z += rng.uniform(3.0, 12.0)  # alley
                continue
            x = x_front + side * rng.uniform(0.0, 2.0)
            height = rng.uniform(5.0, 25.0)
            xs = sorted((x, x + side * rng.uniform(8.0, 15.0)))
            floor = rng.uniform(2.8, 3.6)
            grid = (rng.uniform(2.2, 4.0), floor, rng.uniform(0.8, 1.5), floor * rng.uniform(0.35, 0.55))
            fb.box(
                (xs[0], h - height, z),
                (xs[1], h, z + length),
                _FACADE,
                _palette(rng, "facade"),
                int(rng.integers(_N_TEXTURES)),
                0.05,
                0.45,
                grid,
            )
            z += length
    if rng.random() < 0.4:  # a building closing the street
        zc = z_end + rng.uniform(60.0, 150.0)
        floor = rng.uniform(2.8, 3.6)
        grid = (rng.uniform(2.2, 4.0), floor, rng.uniform(0.8, 1.5), floor * 0.45)
        fb.box(
            (-60.0, h - rng.uniform(8, 30), zc),
            (60.0, h, zc + 10),
            _FACADE,
            _palette(rng, "facade"),
            int(rng.integers(_N_TEXTURES)),
            0.05,
            0.45,
            grid,
        )


def _parked_cars(fb: _FaceBuilder, rng: np.random.Generator, street: _Street) -> None:
    """Parked vehicles on wide shoulders."""
    h, z0, z1 = street.h, street.z0, street.z1
    x_right, x_left, shoulder_r, shoulder_l = (
        street.x_right,
        street.x_left,
        street.shoulder_r,
        street.shoulder_l,
    )
    for side, x_curb, shoulder in ((1, x_right, shoulder_r), (-1, x_left, shoulder_l)):
        if shoulder < 2.0:
            continue
        z = z0 + rng.uniform(0, 8)
        while z < z1 - 40:
            if rng.random() < 0.6:
                width = rng.uniform(1.6, 1.9)
                xc = x_curb - side * (0.25 + width / 2)
                _car(fb, rng, xc, z, width, h)
            z += rng.uniform(5.5, 12.0)


def _traffic(
    rng: np.random.Generator, street: _Street, step: float, n_frames: int
) -> tuple[_Faces, list[float]]:
    """Moving vehicles and their speeds (m per frame, per face)."""
    h, z0, z1, lane, n_left = street.h, street.z0, street.z1, street.lane, street.n_left
    # Moving vehicles: one ahead in the ego lane (never closer than 6 m), traffic in the left lanes.
    mb = _FaceBuilder()
    speeds: list[float] = []
    if rng.random() < 0.5:
        d0 = rng.uniform(8.0, 40.0)
        v = step + rng.uniform(-0.3, 0.3) * step
        if n_frames > 1:
            v = max(v, step - (d0 - 6.0) / (n_frames - 1))
        first = len(mb.rows)
        _car(mb, rng, rng.uniform(-0.3, 0.3), d0, rng.uniform(1.6, 1.9), h)
        speeds += [v] * (len(mb.rows) - first)
    for k in range(n_left):
        xc = -lane * (k + 1) + rng.uniform(-0.3, 0.3)
        v = step * rng.uniform(-1.5, 1.2)
        z = z0 + rng.uniform(0.0, 30.0)
        while z < z1 - 50:
            first = len(mb.rows)
            _car(mb, rng, xc, z, rng.uniform(1.6, 1.9), h)
            speeds += [v] * (len(mb.rows) - first)
            z += rng.uniform(15.0, 60.0)
    moving = mb.build()
    return moving, speeds


def _car(fb: _FaceBuilder, rng: np.random.Generator, xc: float, z: float, width: float, h: float) -> None:
    """A box vehicle with its rear at ``z`` on the road ``h`` m below the camera: body, glass cabin,
    two dark axles (wheels)."""
    van = rng.random() < 0.15
    length = rng.uniform(4.6, 5.5) if van else rng.uniform(3.8, 4.8)
    color = _palette(rng, "car")
    tex = int(rng.integers(_N_TEXTURES))
    body_top = h - (rng.uniform(1.0, 1.2) if not van else rng.uniform(1.7, 2.1))
    fb.box(
        (xc - width / 2, body_top, z), (xc + width / 2, h - 0.3, z + length), _BODY, color, tex, 0.03, 0.25
    )
    if not van:
        cab = rng.uniform(0.45, 0.6) * length
        c0 = z + rng.uniform(0.15, 0.3) * length
        fb.box(
            (xc - width / 2 + 0.1, body_top - rng.uniform(0.4, 0.55), c0),
            (xc + width / 2 - 0.1, body_top, c0 + cab),
            _GLASS,
            color,
            tex,
            0.03,
            0.3,
        )
    for az in (z + 0.15 * length, z + 0.85 * length - 0.6):
        fb.box(
            (xc - width / 2 + 0.05, h - 0.62, az),
            (xc + width / 2 - 0.05, h, az + 0.6),
            _TYRE,
            np.full(3, 0.08),
            tex,
            0.02,
            0.5,
        )


def _render_view(
    scene: _Scene, faces: _Faces, cam: Camera, origin: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ray-cast one view from camera centre ``origin`` (world, m).

    Returns the linear RGB image (H, W, 3) float32 in [0, 1], depth Z (H, W) float32 in metres
    along the optical axis (inf = sky) and the region label of every pixel (H, W) uint8
    (:data:`REGIONS`).
    """
    height, width = cam.height, cam.width
    dx = ((np.arange(width) - cam.cx) / cam.focal).astype(np.float64)
    dy = ((np.arange(height) - cam.cy) / cam.focal).astype(np.float64)
    zbuf = np.full((height, width), np.inf, np.float64)
    fid = np.full((height, width), -1, np.int64)

    # Back-face culling, near/far clipping and screen bounding boxes, vectorised over faces.
    rel_lo = faces.lo - origin
    rel_hi = faces.hi - origin
    axis = faces.axis
    plane = rel_lo[np.arange(len(axis)), axis]
    front = faces.sign * (-plane) > 0  # camera on the outward side
    zlo = np.maximum(rel_lo[:, 2], NEAR)
    zhi = np.minimum(rel_hi[:, 2], FAR)
    keep = front & (zlo <= zhi)
    idx = np.nonzero(keep)[0]
    lo = rel_lo[idx].copy()
    hi = rel_hi[idx].copy()
    lo[:, 2], hi[:, 2] = zlo[idx], zhi[idx]
    corners = np.stack(
        [
            np.stack([(lo, hi)[i][:, 0], (lo, hi)[j][:, 1], (lo, hi)[k][:, 2]], -1)
            for i in (0, 1)
            for j in (0, 1)
            for k in (0, 1)
        ],
        1,
    )  # (F, 8, 3)
    u = cam.cx + cam.focal * corners[..., 0] / corners[..., 2]
    v = cam.cy + cam.focal * corners[..., 1] / corners[..., 2]
    u0 = np.maximum(np.ceil(u.min(1)), 0).astype(np.int64)
    u1 = np.minimum(np.floor(u.max(1)), width - 1).astype(np.int64)
    v0 = np.maximum(np.ceil(v.min(1)), 0).astype(np.int64)
    v1 = np.minimum(np.floor(v.max(1)), height - 1).astype(np.int64)
    visible = (u0 <= u1) & (v0 <= v1)

    with np.errstate(divide="ignore", invalid="ignore"):
        for n in np.nonzero(visible)[0]:
            f = idx[n]
            a = axis[f]
            c = plane[f]
            flo, fhi = lo[n], hi[n]
            cu, cv = dx[u0[n] : u1[n] + 1], dy[v0[n] : v1[n] + 1]
            if a == 2:
                t = c
                x = t * cu
                y = t * cv
                inside = ((y >= flo[1]) & (y <= fhi[1]))[:, None] & ((x >= flo[0]) & (x <= fhi[0]))[None, :]
                tt = np.full(inside.shape, t)
            elif a == 0:
                tc = c / cu
                cols = (tc >= flo[2]) & (tc <= fhi[2]) & (tc > 0)
                y = tc[None, :] * cv[:, None]
                inside = cols[None, :] & (y >= flo[1]) & (y <= fhi[1])
                tt = np.broadcast_to(tc[None, :], inside.shape)
            else:
                tr = c / cv
                rows = (tr >= flo[2]) & (tr <= fhi[2]) & (tr > 0)
                x = tr[:, None] * cu[None, :]
                inside = rows[:, None] & (x >= flo[0]) & (x <= fhi[0])
                tt = np.broadcast_to(tr[:, None], inside.shape)
            zb = zbuf[v0[n] : v1[n] + 1, u0[n] : u1[n] + 1]
            upd = inside & (tt < zb)
            if upd.any():
                zb[upd] = tt[upd]
                fid[v0[n] : v1[n] + 1, u0[n] : u1[n] + 1][upd] = f

    rgb = _shade(scene, faces, cam, origin, zbuf, fid, dx, dy)
    regions = np.where(fid >= 0, _MATERIAL_REGION[faces.material[np.maximum(fid, 0)]], 0).astype(np.uint8)
    return rgb, zbuf.astype(np.float32), regions


def _sample(
    textures: np.ndarray, tex: np.ndarray, level: np.ndarray, s: np.ndarray, r: np.ndarray
) -> np.ndarray:
    """Bilinear, wrapped texture lookup at texel coordinates (s, r); all arrays (P,) → float32 (P,)."""
    size = textures.shape[-1]  # a power of two: wrap with a bit mask
    mask = size - 1
    flat = textures.reshape(-1)
    base = (tex * textures.shape[1] + level) * (size * size)
    s0, r0 = np.floor(s), np.floor(r)
    fs, fr = (s - s0).astype(np.float32), (r - r0).astype(np.float32)
    i0 = s0.astype(np.int64) & mask
    j0 = r0.astype(np.int64) & mask
    i1, j1 = (i0 + 1) & mask, (j0 + 1) & mask
    row0, row1 = base + j0 * size, base + j1 * size
    top = flat[row0 + i0] + (flat[row0 + i1] - flat[row0 + i0]) * fs
    bottom = flat[row1 + i0] + (flat[row1 + i1] - flat[row1 + i0]) * fs
    return top + (bottom - top) * fr


def _shade(
    scene: _Scene,
    faces: _Faces,
    cam: Camera,
    origin: np.ndarray,
    zbuf: np.ndarray,
    fid: np.ndarray,
    dx: np.ndarray,
    dy: np.ndarray,
) -> np.ndarray:
    """Colour every pixel from its surface (world-anchored, so both views agree), or the sky.

    Returns (H, W, 3) float32 in [0, 1].
    """
    height, width = zbuf.shape
    out = np.empty((height * width, 3), np.float32)
    flat_fid = fid.ravel()
    sky = np.flatnonzero(flat_fid < 0)
    if sky.size:
        # A vertical gradient plus clouds sampled by ray direction (at infinity: zero disparity).
        sy, sx = dy[sky // width], dx[sky % width]
        gy = np.clip((sy + 0.35) / 0.4, 0.0, 1.0).astype(np.float32)[:, None]
        grad = scene.sky_top.astype(np.float32) * (1 - gy) + scene.sky_horizon.astype(np.float32) * gy
        clouds = _sample(
            scene.textures, np.zeros(sky.size, np.int64), np.full(sky.size, 2), sx * 300, sy * 300
        )
        out[sky] = grad * (0.85 + 0.3 * clouds[:, None])

    hit = np.flatnonzero(flat_fid >= 0)
    if hit.size:
        rows, cols = hit // width, hit % width
        ids = flat_fid[hit]
        t = zbuf.ravel()[hit]
        ddx, ddy = dx[cols], dy[rows]
        px = origin[0] + t * ddx  # world hit points (m)
        py = origin[1] + t * ddy
        pz = origin[2] + t
        a = faces.axis[ids]
        o = faces.origin[ids]
        # In-plane coordinates (m): along the face and across it.
        s = np.where(a == 0, pz - o[:, 2], px - o[:, 0])
        r = np.where(a == 1, pz - o[:, 2], py)
        texel = faces.texel[ids]
        d_axis = np.abs(np.where(a == 0, ddx, np.where(a == 1, ddy, 1.0)))
        cos = d_axis / np.sqrt(ddx * ddx + ddy * ddy + 1.0)
        # Texels per pixel along the image row (what stereo matching compares): horizontal planes
        # (road, pavements) are not foreshortened along rows, so they keep their grain up to the
        # horizon (anisotropic filtering) instead of blurring to flat grey as isotropic mip-mapping
        # does at grazing angles; the grain then aliases along columns, identically in both views.
        footprint = t / cam.focal / np.where(a == 1, 1.0, np.maximum(cos, 0.05)) / texel
        level = np.clip(np.rint(np.log2(np.maximum(footprint, 1e-6))), 0, _TEX_LEVELS - 1).astype(np.int64)
        noise = _sample(scene.textures, faces.texture[ids], level, s / texel, r / texel)
        mat = faces.material[ids]
        # Lambert shading with a fixed light per sequence (identical in both views), per face.
        normal = np.zeros((len(faces.axis), 3))
        normal[np.arange(len(faces.axis)), faces.axis] = faces.sign
        shade = (scene.ambient + scene.direct * np.maximum(normal @ scene.light, 0.0)).astype(np.float32)
        lit = (faces.color * shade[:, None]).astype(np.float32)
        contrast = faces.contrast.astype(np.float32)
        color = lit[ids] * (1.0 + contrast[ids] * (2.0 * noise - 1.0))[:, None]

        # Road markings: solid and dashed (3 m on, 6 m off) white lines, 0.15 m wide.
        road = np.flatnonzero(mat == _ROAD)
        if road.size:
            rx, rz = px[road], pz[road]
            # Repaired patches and tar seams: darker blobs of a coarse second texture (0.5 m texels).
            coarse = _sample(
                scene.textures,
                (faces.texture[ids[road]] + 3) % _N_TEXTURES,
                np.clip(level[road] - 4, 0, _TEX_LEVELS - 1),
                rx / 0.5,
                rz / 0.5,
            )
            color[road] *= np.where(coarse > 0.68, 0.7, 1.0).astype(np.float32)[:, None]
            mark = np.zeros(road.size, bool)
            for x_line, dashed in scene.lane_lines:
                on = np.abs(rx - x_line) < 0.075
                if dashed:
                    on &= np.mod(rz, 9.0) < 3.0
                mark |= on
            sel = road[mark]
            color[sel] = (0.85 * shade[ids[sel]] * (0.9 + 0.2 * noise[sel]))[:, None]
        # Façade window grid (window every params[0] m along, every params[1] m up).
        fac = np.flatnonzero((mat == _FACADE) & (a != 1))
        if fac.size:
            prm = faces.params[ids[fac]]
            up = scene.height - py[fac]
            in_col = np.mod(s[fac], prm[:, 0]) < prm[:, 2]
            in_row = np.mod(up - 1.0, prm[:, 1]) < prm[:, 3]
            sel = fac[in_col & in_row & (up > 2.0)]
            glass = np.array([0.12, 0.15, 0.2], np.float32) * (1.0 + 1.2 * noise[sel, None]) + 0.05
            color[sel] = glass * shade[ids[sel], None]
        side = np.flatnonzero((mat == _GLASS) & (a != 1))  # cabin sides are windows, roofs body colour
        if side.size:
            glass = np.array([0.1, 0.12, 0.15], np.float32) * (1.0 + 1.5 * noise[side, None]) + 0.03
            color[side] = glass * shade[ids[side], None]
        out[hit] = color
    return np.clip(out, 0.0, 1.0).reshape(height, width, 3)


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
    scene: _Scene | None = None,
) -> RenderedFrame:
    """Render frame ``frame`` of sequence ``sequence`` with its region map. Deterministic in
    (seed, sequence, frame, n_frames)."""
    cam = camera or Camera.kitti_like()
    scene = scene or _make_scene(seed, sequence, n_frames)
    faces = scene.faces_at(frame)
    left_o = np.array([0.0, 0.0, scene.camera_z[frame]])
    right_o = left_o + np.array([cam.baseline, 0.0, 0.0])
    views = []
    regions = np.zeros((cam.height, cam.width), np.uint8)
    depth = np.zeros((cam.height, cam.width), np.float32)
    for view, o in enumerate((left_o, right_o)):
        rgb, z, reg = _render_view(scene, faces, cam, o)
        if view == 0:
            depth, regions = np.where(np.isfinite(z), z, 0.0).astype(np.float32), reg
        views.append(_camera_response(scene, rgb, frame, view))
    return RenderedFrame(views[0], views[1], depth, regions)


def render_frame(
    seed: int,
    sequence: int,
    frame: int,
    n_frames: int,
    camera: Camera | None = None,
    scene: _Scene | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Render frame ``frame`` of sequence ``sequence``.

    Returns ``(left, right, depth)``: uint8 RGB ``(H, W, 3)`` each, and the left view's exact depth
    ``(H, W)`` float32 in metres (0 = sky). Deterministic in (seed, sequence, frame, n_frames).
    """
    r = render_views(seed, sequence, frame, n_frames, camera, scene)
    return r.left, r.right, r.depth


def _camera_response(scene: _Scene, rgb: np.ndarray, frame: int, view: int) -> np.ndarray:
    """Linear radiance (H, W, 3) in [0, 1] → the 8-bit image a camera records: the sequence's
    exposure, white balance and gamma, optical blur (the same in both views), then sensor noise
    (independent per view). Deterministic in (scene seed, frame, view)."""
    cam = scene.camera_model
    wb = np.asarray(cam.white_balance, np.float32)
    out = (np.clip(rgb * np.float32(cam.gain) * wb, 0.0, 1.0) ** np.float32(cam.gamma)).astype(np.float32)
    if cam.blur > 0.05:
        out = np.asarray(cv2.GaussianBlur(out, (0, 0), cam.blur), np.float32)
    noise_rng = np.random.default_rng([scene.seed[0], scene.seed[1], frame, view, 0xA0])
    noise = noise_rng.standard_normal(out.shape, dtype=np.float32) * np.float32(cam.noise)
    return np.clip(out * 255.0 + noise + 0.5, 0, 255).astype(np.uint8)


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

    def camera(self) -> Camera:
        return Camera.kitti_like((self.height, self.width), self.baseline)

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
    """Metres → 16-bit PNG values (× 256, rounded; 0 stays 0 = invalid)."""
    return np.clip(np.rint(depth * DEPTH_SCALE), 0, 65535).astype(np.uint16)


def decode_depth(png: np.ndarray) -> np.ndarray:
    """16-bit PNG values → metres (0 = invalid)."""
    return png.astype(np.float32) / DEPTH_SCALE


def _frame_paths(root: Path, sequence: int, frame: int) -> tuple[Path, Path, Path, Path]:
    name = f"{sequence:04d}/{frame:06d}.png"
    t = root / "training"
    return t / "image_02" / name, t / "image_03" / name, t / "depth" / name, t / "regions" / name


def _write_png(path: Path, array: np.ndarray) -> None:
    with atomic_path(path) as tmp:
        if not cv2.imwrite(str(tmp), array):
            raise OSError(f"could not write {path}")


def _render_sequence(args: tuple[Path, SyntheticSettings, int, int]) -> int:
    root, settings, sequence, n_frames = args
    cam = settings.camera()
    scene: _Scene | None = None
    done = 0
    for frame in range(n_frames):
        paths = _frame_paths(root, sequence, frame)
        if all(p.exists() for p in paths):
            done += 1
            continue  # resumed: already rendered by an earlier, interrupted run
        scene = scene or _make_scene(settings.seed, sequence, n_frames)
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


def generate_synthetic(
    root: str | os.PathLike[str],
    n_pairs: int,
    seed: int = 0,
    size: tuple[int, int] = DEFAULT_SIZE,
    sequence_length: int = 50,
    workers: int | None = None,
    progress: bool = True,
) -> SyntheticSettings:
    """Render ``n_pairs`` stereo pairs with exact depth into ``root`` (KITTI tracking layout).

    ``size`` is (H, W) (default half KITTI, 188×621); the camera is KITTI's scaled to it with a
    0.54 m baseline. Deterministic in ``seed``: the same call gives identical files. An interrupted
    run resumes (finished frames are kept); a folder rendered with other settings is refused.
    ``workers`` processes render sequences in parallel (default: CPU count, at most 8).
    """
    if n_pairs < 1:
        raise ValueError(f"n_pairs must be ≥ 1, got {n_pairs}")
    if sequence_length < 1:
        raise ValueError(f"sequence_length must be ≥ 1, got {sequence_length}")
    if min(size) < 16:
        raise ValueError(f"size must be (H, W) with H, W ≥ 16, got {size}")
    out = require_not_file(root, "the folder to render into (--out)")
    settings = SyntheticSettings(n_pairs, seed, int(size[0]), int(size[1]), sequence_length)
    manifest = out / "synthetic.json"
    old: dict[str, Any] = {}
    if manifest.exists():
        old = read_manifest(out)
        if old.get("settings") != asdict(settings):
            raise ValueError(
                f"{out} already holds a synthetic set rendered with other settings ({manifest}); "
                "choose another folder or delete it"
            )
    elif out.exists() and any(out.iterdir()):
        raise ValueError(
            f"{out} exists and is not a synthetic data set (no synthetic.json); choose an empty folder"
        )
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
    n_workers = max(1, min(workers or min(os.cpu_count() or 1, 8), len(jobs)))
    bar = tqdm(total=n_pairs, desc="rendering synthetic pairs", unit="pair", disable=not progress)
    if n_workers == 1:
        for job in jobs:
            bar.update(_render_sequence(job))
    else:
        # spawn, not fork: forked workers of a process that already initialised CUDA (or holds
        # threads) crash or hang.
        with ProcessPoolExecutor(n_workers, mp_context=multiprocessing.get_context("spawn")) as pool:
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
            f"render one with: ssrdepth generate --out {root}"
        )
    try:
        info = json.loads(manifest.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ValueError(
            f"{manifest}: unreadable ({exc}); delete the folder and render it again with ssrdepth generate"
        ) from None
    if not isinstance(info, dict):
        raise ValueError(f"{manifest}: not a synthetic data set manifest (expected a JSON object)")
    return info


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
    resume = (
        f"ssrdepth generate --out {root} --pairs {st.get('n_pairs')} --seed {st.get('seed')} "
        f"--size {st.get('width')}x{st.get('height')} --sequence-length {st.get('sequence_length')}"
    )
    raise ValueError(
        f"{root}: the synthetic set is incomplete ({done} of {st.get('n_pairs')} pairs rendered; the "
        f"render was interrupted, synthetic.json says complete: false); finish it with: {resume} "
        "(it resumes), or delete the folder"
    )


def disparity_from_depth(depth: np.ndarray, focal: float, baseline: float = BASELINE) -> np.ndarray:
    """Exact disparity (px) = f·B / Z for Z > 0, else 0."""
    return np.where(depth > 0, focal * baseline / np.maximum(depth, 1e-6), 0.0).astype(np.float32)
