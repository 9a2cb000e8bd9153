"""Pieces every street composer shares (:mod:`.streets` and :mod:`.classic`): the street's layout, the
texture chooser, the colour palettes and the vehicles."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ssrdepth.data.synthetic.geometry import SceneBuilder
from ssrdepth.data.synthetic.shading import BODY, GLASS, N_NOISE, TYRE


def palette(rng: np.random.Generator, kind: str) -> np.ndarray:
    """A base colour (RGB in [0, 1]) for a façade, car, house, roof, fence or foliage."""
    table = {
        "facade": [
            [0.72, 0.62, 0.50],
            [0.80, 0.78, 0.72],
            [0.62, 0.40, 0.32],
            [0.55, 0.58, 0.60],
            [0.85, 0.80, 0.62],
            [0.70, 0.70, 0.75],
            [0.90, 0.90, 0.88],
        ],
        "car": [
            [0.85, 0.85, 0.85],
            [0.15, 0.15, 0.17],
            [0.55, 0.08, 0.08],
            [0.12, 0.22, 0.50],
            [0.45, 0.47, 0.50],
            [0.75, 0.70, 0.55],
            [0.20, 0.40, 0.25],
            [0.92, 0.92, 0.92],
            [0.08, 0.08, 0.09],
        ],
        "roof": [[0.45, 0.18, 0.12], [0.25, 0.25, 0.27], [0.35, 0.28, 0.22], [0.55, 0.30, 0.20]],
        "fence": [[0.45, 0.33, 0.22], [0.35, 0.25, 0.16], [0.55, 0.55, 0.55], [0.25, 0.27, 0.25]],
        "foliage": [[0.16, 0.26, 0.10], [0.12, 0.20, 0.08], [0.22, 0.30, 0.12], [0.20, 0.22, 0.10]],
    }[kind]
    hue = np.asarray(table[int(rng.integers(len(table)))])
    return np.clip(hue * rng.uniform(0.8, 1.15), 0, 1)


@dataclass(frozen=True)
class Street:
    """The layout of one sequence's street (m): the road plane ``h`` below the camera, scene extent
    ``z0``–``z1`` along the road, lanes, kerbs and the side-street gaps."""

    h: float
    z0: float
    z1: float
    lane: float
    n_left: int
    x_right: float
    x_left: float
    parking: tuple[bool, bool]  # right, left
    junctions: tuple[tuple[float, float], ...] = ()

    def free(self, z_a: float, z_b: float) -> bool:
        """Whether z_a..z_b is clear of the side streets."""
        return all(z_b < a or z_a > b for a, b in self.junctions)


class Textures:
    """Texture ids of one scene: procedural noise, or a photo where the scene has them."""

    def __init__(self, rng: np.random.Generator, photos: bool) -> None:
        self.rng, self.photos = rng, photos

    def noise(self) -> int:
        return int(self.rng.integers(N_NOISE))

    def photo(self, which: int, p: float = 0.6) -> int:
        return which if self.photos and self.rng.random() < p else self.noise()


def span(a: float, b: float) -> tuple[float, float]:
    return (min(a, b), max(a, b))


def add_vehicle(
    fb: SceneBuilder,
    rng: np.random.Generator,
    tex: Textures,
    xc: float,
    z: float,
    h: float,
    kind: str = "car",
) -> float:
    """A vehicle with its rear at ``z`` on the road ``h`` m below the camera (body, bonnet and boot
    below a narrower glass cabin, dark wheels); returns its length."""
    color = palette(rng, "car")
    t = tex.noise()
    if kind == "truck":
        width, length = float(rng.uniform(2.3, 2.55)), float(rng.uniform(6.5, 9.0))
        top = h - float(rng.uniform(2.8, 3.5))
        cab = float(rng.uniform(1.8, 2.3))
        fb.box(
            (xc - width / 2, top, z),
            (xc + width / 2, h - 0.55, z + length - cab - 0.2),
            BODY,
            color,
            t,
            0.05,
            0.15,
        )
        ccol = palette(rng, "car")
        fb.box(
            (xc - width / 2, top + 0.4, z + length - cab),
            (xc + width / 2, h - 0.5, z + length),
            BODY,
            ccol,
            t,
            0.03,
            0.15,
        )
        fb.box(
            (xc - width / 2 + 0.05, top + 0.45, z + length - 0.35),
            (xc + width / 2 - 0.05, top + 1.3, z + length - 0.3),
            GLASS,
            ccol,
            t,
            0.03,
            0.3,
        )
    elif kind == "van":
        width, length = float(rng.uniform(1.9, 2.1)), float(rng.uniform(4.8, 5.8))
        top = h - float(rng.uniform(1.9, 2.4))
        fb.box((xc - width / 2, top, z), (xc + width / 2, h - 0.3, z + length), BODY, color, t, 0.03, 0.15)
    else:
        suv = kind == "suv"
        width = float(rng.uniform(1.7, 1.95))
        length = float(rng.uniform(4.0, 4.9) if not suv else rng.uniform(4.4, 5.0))
        body_top = h - float(rng.uniform(0.95, 1.1) if not suv else rng.uniform(1.15, 1.3))
        fb.box(
            (xc - width / 2, body_top, z), (xc + width / 2, h - 0.3, z + length), BODY, color, t, 0.03, 0.15
        )
        cab = float(rng.uniform(0.45, 0.6)) * length
        c0 = z + float(rng.uniform(0.12, 0.3)) * length
        fb.box(
            (xc - width / 2 + 0.1, body_top - float(rng.uniform(0.4, 0.55)), c0),
            (xc + width / 2 - 0.1, body_top, c0 + cab),
            GLASS,
            color,
            t,
            0.03,
            0.2,
        )
    wheel = 0.62 if kind != "truck" else 0.95
    for az in (z + 0.12 * length, z + 0.85 * length - wheel):
        fb.box(
            (xc - width / 2 + 0.05, h - wheel, az),
            (xc + width / 2 - 0.05, h, az + wheel),
            TYRE,
            np.full(3, 0.06),
            t,
            0.02,
            0.4,
        )
    return length


def vehicle_kind(rng: np.random.Generator) -> str:
    return str(rng.choice(["car", "suv", "van", "truck"], p=[0.62, 0.2, 0.13, 0.05]))
