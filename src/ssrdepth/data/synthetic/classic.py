"""The version-2 street composition (``Features(layout="classic")``): façades on both sides, pavements
with poles, sign plates and box trees, cars on wide shoulders — kept for the ablation in docs/data.md."""

from __future__ import annotations

import numpy as np

from ssrdepth.data.synthetic.geometry import SceneBuilder
from ssrdepth.data.synthetic.parts import Street, Textures, add_vehicle, palette
from ssrdepth.data.synthetic.shading import BARK, FACADE, FOLIAGE, POLE, ROAD, SIDEWALK


def classic_road(
    fb: SceneBuilder, rng: np.random.Generator, tex: Textures, h: float, z0: float, z1: float
) -> tuple[Street, list[tuple[float, float]]]:
    lane = 3.5
    n_left = int(rng.integers(0, 3))
    shoulder_r, shoulder_l = rng.uniform(0.5, 3.0), rng.uniform(0.5, 3.0)
    x_right = lane / 2 + shoulder_r
    x_left = -lane / 2 - lane * n_left - shoulder_l
    lines = [(lane / 2, 0.0), (-lane / 2 - lane * n_left, 0.0)]
    lines += [(-lane / 2 - lane * k, 1.0) for k in range(n_left)]
    asphalt = np.full(3, rng.uniform(0.30, 0.55)) * np.array([1.0, 1.0, rng.uniform(1.0, 1.08)])
    fb.plane_y(h, (-80.0, 80.0), (z0, z1), ROAD, asphalt, tex.noise(), 0.03, 0.6)
    parking = (bool(shoulder_r >= 2.0), bool(shoulder_l >= 2.0))
    return Street(h, z0, z1, lane, n_left, float(x_right), float(x_left), parking), lines


def _classic_furniture(
    fb: SceneBuilder,
    rng: np.random.Generator,
    tex: Textures,
    street: Street,
    side: int,
    x_curb: float,
    curb: float,
) -> None:
    """Version 2's poles, sign plates and box trees along one pavement."""
    h, z0, z1 = street.h, street.z0, street.z1
    z = z0 + rng.uniform(0, 10)
    while z < z1 - 20:
        x = x_curb + side * rng.uniform(0.4, 0.9)
        if rng.random() < 0.55:
            top = h - rng.uniform(4.0, 8.0)
            fb.box(
                (x - 0.08, top, z - 0.08),
                (x + 0.08, h - curb, z + 0.08),
                POLE,
                np.full(3, rng.uniform(0.35, 0.6)),
                tex.noise(),
                0.02,
                0.5,
            )
            if rng.random() < 0.5:
                fb.box(
                    (x - 0.35, top + 0.4, z - 0.04),
                    (x + 0.35, top + 1.1, z + 0.04),
                    POLE,
                    rng.uniform(0.1, 0.9, 3),
                    tex.noise(),
                    0.02,
                    0.4,
                )
        else:
            trunk_top = h - rng.uniform(2.2, 3.2)
            fb.box(
                (x - 0.15, trunk_top, z - 0.15),
                (x + 0.15, h - curb, z + 0.15),
                BARK,
                np.array([0.35, 0.27, 0.2]),
                tex.noise(),
                0.02,
                0.6,
            )
            r = rng.uniform(1.0, 2.0)
            crown = (x - r, trunk_top - 2 * r * rng.uniform(0.8, 1.2), z - r)
            fb.box(
                crown,
                (x + r, trunk_top + 0.3, z + r),
                FOLIAGE,
                np.array([0.25, 0.45, 0.18]) * rng.uniform(0.7, 1.2),
                tex.noise(),
                0.06,
                0.9,
            )
        z += rng.uniform(10.0, 30.0)


def classic_sides(
    fb: SceneBuilder, rng: np.random.Generator, tex: Textures, street: Street, z_end: float
) -> None:
    """Version 2: pavements with poles, signs and box trees; façades; cars on wide shoulders."""
    h, z0, z1 = street.h, street.z0, street.z1
    curb = 0.15
    lines = []
    for side, x_curb in ((1, street.x_right), (-1, street.x_left)):
        walk = rng.uniform(2.0, 4.5)
        xs = sorted((x_curb, x_curb + side * walk))
        fb.box(
            (xs[0], h - curb, z0),
            (xs[1], h, z1),
            SIDEWALK,
            np.full(3, rng.uniform(0.55, 0.7)),
            tex.noise(),
            0.03,
            0.35,
        )
        lines.append((side, x_curb + side * walk))
        _classic_furniture(fb, rng, tex, street, side, x_curb, curb)
    for side, x_front in lines:
        if rng.random() < 0.1:
            continue
        z = z0
        while z < z1:
            length = rng.uniform(8.0, 30.0)
            if rng.random() < 0.2:
                z += rng.uniform(3.0, 12.0)
                continue
            x = x_front + side * rng.uniform(0.0, 2.0)
            height = rng.uniform(5.0, 25.0)
            xs = sorted((x, x + side * rng.uniform(8.0, 15.0)))
            floor = rng.uniform(2.8, 3.6)
            grid = (rng.uniform(2.2, 4.0), floor, rng.uniform(0.8, 1.5), floor * rng.uniform(0.35, 0.55))
            fb.box(
                (xs[0], h - height, z),
                (xs[1], h, z + length),
                FACADE,
                palette(rng, "facade"),
                tex.noise(),
                0.05,
                0.45,
                grid,
            )
            z += length
    for side, x_curb, parked in (
        (1, street.x_right, street.parking[0]),
        (-1, street.x_left, street.parking[1]),
    ):
        if not parked:
            continue
        z = z0 + rng.uniform(0, 8)
        while z < z1 - 40:
            if rng.random() < 0.6:
                width = rng.uniform(1.6, 1.9)
                add_vehicle(fb, rng, tex, x_curb - side * (0.25 + width / 2), z, h)
            z += rng.uniform(5.5, 12.0)
