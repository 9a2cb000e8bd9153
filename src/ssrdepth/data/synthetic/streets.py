"""The street composer: one random, plausible street per sequence (structured domain randomisation in
the sense of Prakash et al. 2019, "Structured Domain Randomization": layouts that follow the rules of
real streets, with randomised content).

Generator version 3 composes three kinds of KITTI-like streets (KITTI's residential and city drives
are the reference): **residential** (parking lanes with rows of parked cars, vans and trucks close to
the camera on both sides, hedges, fences and walls on the property line, front gardens, detached
houses with roofs at varied set-backs, driveways, trees with irregular crowns, bushes), **city**
(continuous façades close to the road, trees in sidewalk pits, people), and **open** roads (tree lines
and vegetation masses, guard rails, fields, few buildings). All kinds get poles and signs, people and
cyclists, side streets (junctions), moving traffic, camera-height jitter, and a sun that casts shadows.
``layout="classic"`` is the version-2 composition (:mod:`.classic`), kept for the ablation in
docs/data.md; the pieces both share (street layout, palettes, vehicles) are in :mod:`.parts`.

Shapes: axis-aligned boxes (with their faces) and axis-aligned ellipsoids (tree crowns, bushes, heads),
all ray-cast exactly (:mod:`ssrdepth.data.synthetic.geometry`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ssrdepth.data.synthetic.camera import CAMERA_HEIGHT, CameraModel
from ssrdepth.data.synthetic.classic import classic_road, classic_sides
from ssrdepth.data.synthetic.geometry import FAR, Ellipsoids, Faces, SceneBuilder, concat, shifted
from ssrdepth.data.synthetic.parts import Street, Textures, add_vehicle, palette, span, vehicle_kind
from ssrdepth.data.synthetic.shading import (
    BARK,
    BODY,
    BRICK,
    FACADE,
    FENCE,
    FOLIAGE,
    GRASS,
    GRAVEL,
    LAWN,
    PERSON,
    POLE,
    ROAD,
    ROOF,
    SIDEWALK,
    TYRE,
    Light,
    noise_textures,
    photo_textures,
)

LAYOUTS = ("streets", "classic")


@dataclass(frozen=True)
class Features:
    """What a render includes (written in ``synthetic.json``): the street ``layout`` ("streets": the
    version-3 composer; "classic": version 2's), cast ``shadows`` with sky occlusion and car
    highlights, ``photos`` (CC0 photo textures blended with the procedural ones), and the ``camera``
    effects of version 3 (over-exposed sky, vignetting, JPEG, per-frame exposure). All on by default;
    each can be switched off for an ablation."""

    layout: str = "streets"
    shadows: bool = True
    photos: bool = True
    camera: bool = True

    def __post_init__(self) -> None:
        if self.layout not in LAYOUTS:
            raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, got {self.layout!r}")


@dataclass
class Scene:
    """One sequence's world: static and moving primitives, the camera path and the look."""

    faces: Faces
    ellipsoids: Ellipsoids
    boxes: tuple[np.ndarray, np.ndarray]
    moving: Faces
    moving_boxes: tuple[np.ndarray, np.ndarray]
    moving_speed: np.ndarray  # (F_moving,) m per frame along z, per face
    moving_box_speed: np.ndarray  # (B_moving,) the same per box
    camera_z: np.ndarray  # (n_frames,) camera position along z per frame
    textures: np.ndarray  # (N_TEX, LEVELS, S, S) float32 in [0, 1]
    lane_lines: np.ndarray  # (K, 2): x position, dashed (1) or solid (0)
    light: Light
    seed: tuple[int, int]
    height: float = CAMERA_HEIGHT  # camera height above the road, m
    camera_model: CameraModel = field(default_factory=CameraModel)
    specular: float = 0.0
    kind: str = "classic"
    clumps: bool = False  # foliage drawn as leaf clumps (version 3 layouts)

    def faces_at(self, frame: int) -> Faces:
        """Static and moving faces at ``frame``."""
        if len(self.moving.axis) == 0:
            return self.faces
        return concat([self.faces, shifted(self.moving, self.moving_speed * frame)])

    def boxes_at(self, frame: int) -> tuple[np.ndarray, np.ndarray]:
        """Every solid box (lo, hi) at ``frame`` (the shadow casters with the ellipsoids)."""
        if len(self.moving_boxes[0]) == 0:
            return self.boxes
        off = np.zeros((len(self.moving_box_speed), 3))
        off[:, 2] = self.moving_box_speed * frame
        return (
            np.concatenate([self.boxes[0], self.moving_boxes[0] + off]),
            np.concatenate([self.boxes[1], self.moving_boxes[1] + off]),
        )


def make_scene(seed: int, sequence: int, n_frames: int, features: Features | None = None) -> Scene:
    """A random street for one sequence (deterministic in ``seed``, ``sequence`` and ``features``)."""
    feats = features or Features()
    rng = np.random.default_rng([seed, sequence, 0x55D])
    classic = feats.layout == "classic"
    h = float(rng.uniform(1.5, 1.8)) if classic else float(np.clip(rng.normal(1.65, 0.07), 1.45, 1.85))
    step = rng.uniform(0.6, 1.4)  # m per frame (KITTI: ~1 m at 10 Hz)
    camera_z = np.arange(n_frames) * step
    z_end = float(camera_z[-1])
    textures = noise_textures(rng)
    if feats.photos:
        textures = np.concatenate([textures, photo_textures()])
    tex = Textures(rng, feats.photos)
    fb = SceneBuilder()
    if classic:
        street, lines = classic_road(fb, rng, tex, h, -30.0, z_end + FAR)
        classic_sides(fb, rng, tex, street, z_end)
        kind = "classic"
    else:
        kind = str(rng.choice(["residential", "city", "open"], p=[0.5, 0.3, 0.2]))
        street, lines = _road(fb, rng, tex, h, -30.0, z_end + FAR, kind)
        _compose(fb, rng, tex, street, kind, z_end)
    faces, ells, boxes = fb.build()
    mb = SceneBuilder()
    face_speed, box_speed = _traffic(mb, rng, tex, street, step, n_frames)
    moving, _, moving_boxes = mb.build()
    light = _light(rng, feats)
    return Scene(
        faces,
        ells,
        boxes,
        moving,
        moving_boxes,
        np.asarray(face_speed, np.float64),
        np.asarray(box_speed, np.float64),
        camera_z,
        textures,
        np.asarray(lines, np.float64).reshape(-1, 2),
        light,
        (seed, sequence),
        height=h,
        camera_model=CameraModel.random(rng, rich=feats.camera),
        specular=float(rng.uniform(0.2, 0.6)) if feats.shadows else 0.0,
        kind=kind,
        clumps=not classic,
    )


def _light(rng: np.random.Generator, feats: Features) -> Light:
    sky_top = np.clip(np.array([0.35, 0.55, 0.85]) * rng.uniform(0.85, 1.1), 0, 1)
    sky_horizon = np.clip(np.array([0.82, 0.86, 0.9]) * rng.uniform(0.9, 1.05), 0, 1)
    if not feats.shadows:
        light = np.array([rng.uniform(-0.6, 0.6), -1.0, rng.uniform(-0.8, 0.3)])
        return Light(
            light / np.linalg.norm(light),
            float(rng.uniform(0.35, 0.65)),
            float(rng.uniform(0.3, 0.8)),
            False,
            0.0,
            sky_top,
            sky_horizon,
        )
    # A sun 20–65° above the horizon from any side (KITTI was driven on sunny days, mostly), or an
    # overcast sky (weak direct light, strong sky light).
    elevation = np.radians(rng.uniform(20.0, 65.0))
    azimuth = rng.uniform(-np.pi, np.pi)
    sun = np.array(
        [np.cos(elevation) * np.sin(azimuth), -np.sin(elevation), np.cos(elevation) * np.cos(azimuth)]
    )
    overcast = rng.random() < 0.2
    ambient = float(rng.uniform(0.55, 0.8) if overcast else rng.uniform(0.2, 0.45))
    direct = float(rng.uniform(0.05, 0.2) if overcast else rng.uniform(0.6, 1.0))
    # An over-exposed sky: a camera exposed for the street saturates most of it.
    sky_gain = float(rng.uniform(1.0, 1.8)) if feats.camera else 1.0
    if feats.camera and not overcast:
        sky_horizon = np.clip(sky_horizon * 1.1, 0, 1)
    return Light(sun, ambient, direct, True, float(rng.uniform(0.4, 0.7)), sky_top, sky_horizon, sky_gain)


# --- the version-3 composer -------------------------------------------------------------------


def _road(
    fb: SceneBuilder, rng: np.random.Generator, tex: Textures, h: float, z0: float, z1: float, kind: str
) -> tuple[Street, list[tuple[float, float]]]:
    """Road plane, lanes, parking lanes and the side streets."""
    lane = float(rng.uniform(3.0, 3.7))
    n_left = int(rng.choice([0, 1, 2], p=[0.35, 0.5, 0.15] if kind != "open" else [0.2, 0.6, 0.2]))
    p_park = {"residential": 0.85, "city": 0.65, "open": 0.15}[kind]
    parking = (bool(rng.random() < p_park), bool(rng.random() < p_park))
    park_w = rng.uniform(2.0, 2.5, 2)
    x_right = lane / 2 + float(rng.uniform(0.2, 0.8)) + (park_w[0] if parking[0] else 0.0)
    x_left = -lane / 2 - lane * n_left - float(rng.uniform(0.2, 0.8)) - (park_w[1] if parking[1] else 0.0)
    lines: list[tuple[float, float]] = []
    if rng.random() < 0.8:
        lines += [(lane / 2, 0.0), (-lane / 2 - lane * n_left, 0.0)]
    lines += [(-lane / 2 - lane * k, 1.0) for k in range(n_left)]
    asphalt = np.full(3, rng.uniform(0.28, 0.5)) * np.array([1.0, 1.0, rng.uniform(1.0, 1.06)])
    fb.plane_y(
        h, (-80.0, 80.0), (z0, z1), ROAD, asphalt, tex.photo(GRAVEL, 0.4), 0.03, float(rng.uniform(0.2, 0.4))
    )
    junctions = []
    z = float(rng.uniform(10.0, 60.0))
    while z < z1 - 40 and rng.random() < 0.6:
        width = float(rng.uniform(7.0, 14.0))
        junctions.append((z, z + width))
        z += width + float(rng.uniform(40.0, 120.0))
    street = Street(h, z0, z1, lane, n_left, x_right, x_left, parking, tuple(junctions))
    return street, lines


def _compose(
    fb: SceneBuilder, rng: np.random.Generator, tex: Textures, street: Street, kind: str, z_end: float
) -> None:
    h = street.h
    for side, x_curb, parked in (
        (1, street.x_right, street.parking[0]),
        (-1, street.x_left, street.parking[1]),
    ):
        if parked:
            _parked_row(fb, rng, tex, street, side, x_curb, z_end)
        curb = float(rng.uniform(0.1, 0.18))
        walk = float(rng.uniform(1.5, 4.0) if kind != "open" else rng.uniform(0.5, 1.5))
        xs = sorted((x_curb, x_curb + side * walk))
        fb.box(
            (xs[0], h - curb, street.z0),
            (xs[1], h, street.z1),
            SIDEWALK,
            np.full(3, rng.uniform(0.5, 0.7)),
            tex.photo(GRAVEL, 0.3),
            0.04,
            float(rng.uniform(0.15, 0.3)),
        )
        _street_furniture(fb, rng, tex, street, side, x_curb, curb, z_end)
        x_back = x_curb + side * walk
        if kind == "residential":
            _residential_side(fb, rng, tex, street, side, x_back, curb, z_end)
        elif kind == "city":
            _city_side(fb, rng, tex, street, side, x_back, z_end)
        else:
            _open_side(fb, rng, tex, street, side, x_back, z_end)
        _people(fb, rng, tex, street, side, x_curb, curb, walk, z_end)
    if rng.random() < 0.3:  # a building closing the street
        zc = z_end + float(rng.uniform(60.0, 150.0))
        _facade_box(fb, rng, tex, (-60.0, h - float(rng.uniform(8, 25)), zc), (60.0, h, zc + 10))


def _parked_row(
    fb: SceneBuilder,
    rng: np.random.Generator,
    tex: Textures,
    street: Street,
    side: int,
    x_curb: float,
    z_end: float,
) -> None:
    """A row of vehicles parked along the kerb, nose to tail with gaps (occupancy varies per street)."""
    occupancy = float(rng.uniform(0.45, 0.95))
    z = street.z0 + float(rng.uniform(0.0, 4.0))
    while z < z_end + 110.0:
        if rng.random() < occupancy:
            kind = vehicle_kind(rng)
            width = {"truck": 2.4, "van": 2.0}.get(kind, 1.85)
            xc = x_curb - side * (float(rng.uniform(0.15, 0.45)) + width / 2)
            if street.free(z - 1.0, z + 9.0):
                z += add_vehicle(fb, rng, tex, xc, z, street.h, kind)
            else:
                z += 9.0
            z += float(rng.uniform(0.4, 2.5))
        else:
            z += float(rng.uniform(4.0, 8.0))


def _tree(
    fb: SceneBuilder,
    rng: np.random.Generator,
    tex: Textures,
    x: float,
    z: float,
    ground: float,
    big: float = 1.0,
) -> None:
    """A trunk and an irregular crown of 2–4 overlapping ellipsoids."""
    trunk_top = ground - float(rng.uniform(1.8, 3.2)) * big
    r_t = float(rng.uniform(0.1, 0.22)) * big
    fb.box(
        (x - r_t, trunk_top - 0.5, z - r_t),
        (x + r_t, ground, z + r_t),
        BARK,
        np.array([0.3, 0.24, 0.18]) * rng.uniform(0.7, 1.2),
        tex.noise(),
        0.03,
        0.5,
    )
    color = palette(rng, "foliage")
    t = tex.photo(GRASS, 0.7)
    r = float(rng.uniform(1.2, 2.8)) * big
    for _ in range(int(rng.integers(2, 5))):
        c = (
            x + float(rng.normal(0, 0.4)) * r,
            trunk_top - r * float(rng.uniform(0.6, 1.3)),
            z + float(rng.normal(0, 0.4)) * r,
        )
        radii = (
            r * float(rng.uniform(0.6, 1.0)),
            r * float(rng.uniform(0.6, 1.1)),
            r * float(rng.uniform(0.6, 1.0)),
        )
        fb.ellipsoid(
            c, radii, FOLIAGE, color * rng.uniform(0.85, 1.15), t, 0.05, float(rng.uniform(0.6, 0.9))
        )


def _bush(
    fb: SceneBuilder, rng: np.random.Generator, tex: Textures, x: float, z: float, ground: float
) -> None:
    r = float(rng.uniform(0.5, 1.4))
    fb.ellipsoid(
        (x, ground - r * 0.6, z),
        (r * float(rng.uniform(0.8, 1.5)), r, r * float(rng.uniform(0.8, 1.5))),
        FOLIAGE,
        palette(rng, "foliage"),
        tex.photo(GRASS, 0.7),
        0.04,
        float(rng.uniform(0.6, 0.9)),
    )


def _street_furniture(
    fb: SceneBuilder,
    rng: np.random.Generator,
    tex: Textures,
    street: Street,
    side: int,
    x_curb: float,
    curb: float,
    z_end: float,
) -> None:
    """Poles, street lights, signs and street trees along the kerb."""
    h = street.h
    z = street.z0 + float(rng.uniform(0, 10))
    while z < z_end + 120:
        x = x_curb + side * float(rng.uniform(0.3, 0.8))
        u = rng.random()
        if u < 0.4:
            top = h - float(rng.uniform(3.0, 8.0))
            w = float(rng.uniform(0.05, 0.1))
            fb.box(
                (x - w, top, z - w),
                (x + w, h - curb, z + w),
                POLE,
                np.full(3, rng.uniform(0.3, 0.6)),
                tex.noise(),
                0.02,
                0.4,
            )
            if rng.random() < 0.5:  # a sign plate
                fb.box(
                    (x - 0.35, top + 0.3, z - 0.03),
                    (x + 0.35, top + 1.0, z + 0.03),
                    POLE,
                    rng.uniform(0.1, 0.9, 3),
                    tex.noise(),
                    0.02,
                    0.3,
                )
        elif u < 0.75 and street.free(z - 3, z + 3):
            _tree(fb, rng, tex, x + side * 0.3, z, h - curb)
        z += float(rng.uniform(8.0, 30.0))


def _facade_box(
    fb: SceneBuilder,
    rng: np.random.Generator,
    tex: Textures,
    lo: tuple[float, float, float],
    hi: tuple[float, float, float],
) -> None:
    floor = float(rng.uniform(2.8, 3.6))
    grid = (
        float(rng.uniform(2.2, 4.0)),
        floor,
        float(rng.uniform(0.8, 1.5)),
        floor * float(rng.uniform(0.35, 0.55)),
    )
    fb.box(
        lo,
        hi,
        FACADE,
        palette(rng, "facade"),
        tex.photo(BRICK, 0.35),
        0.05,
        float(rng.uniform(0.15, 0.3)),
        grid,
    )


def _boundary(
    fb: SceneBuilder,
    rng: np.random.Generator,
    tex: Textures,
    front: str,
    side: int,
    xa: float,
    ground: float,
    zs: float,
    ze: float,
) -> None:
    """A lot's front boundary from ``zs`` to ``ze`` on the property line ``xa``: a hedge, a fence, a
    wall or (``"none"``) nothing."""
    if front == "hedge":
        hh, dd = float(rng.uniform(0.8, 2.2)), float(rng.uniform(0.6, 1.3))
        x0, x1 = span(xa, xa + side * dd)
        fb.box(
            (x0, ground - hh, zs),
            (x1, ground, ze),
            FOLIAGE,
            palette(rng, "foliage"),
            tex.photo(GRASS, 0.8),
            0.04,
            float(rng.uniform(0.6, 0.9)),
        )
    elif front in ("fence", "wall"):
        hh = float(rng.uniform(0.8, 1.9) if front == "fence" else rng.uniform(0.5, 2.0))
        dd = float(rng.uniform(0.04, 0.1) if front == "fence" else rng.uniform(0.2, 0.4))
        x0, x1 = span(xa, xa + side * dd)
        color = palette(rng, "fence") if front == "fence" else palette(rng, "facade") * 0.9
        fb.box(
            (x0, ground - hh, zs),
            (x1, ground, ze),
            FENCE,
            color,
            tex.photo(BRICK, 0.3) if front == "wall" else tex.noise(),
            0.03,
            0.4,
        )


def _house(
    fb: SceneBuilder,
    rng: np.random.Generator,
    tex: Textures,
    side: int,
    x_front: float,
    ground: float,
    zs: float,
    room: float,
) -> None:
    """A detached house whose front is at ``x_front``, somewhere in the ``room`` metres of its lot from
    ``zs``, with a roof of stepped slabs and an overhang, narrowing upwards (a gable seen from the
    road)."""
    depth, width = float(rng.uniform(8.0, 12.0)), float(min(room - 1.0, rng.uniform(8.0, 15.0)))
    height = float(rng.uniform(3.0, 9.0))
    x0, x1 = span(x_front, x_front + side * depth)
    zb = zs + float(rng.uniform(0.0, max(room - width, 0.1)))
    _facade_box(fb, rng, tex, (x0, ground - height, zb), (x1, ground, zb + width))
    roof = palette(rng, "roof")
    rt = tex.noise()
    steps = int(rng.integers(0, 4))
    rise = float(rng.uniform(0.5, 1.0))
    for k in range(steps + 1):
        inset = k * depth / (2 * (steps + 1.5))
        overhang = 0.4 if k == 0 else 0.0
        top = ground - height - k * rise
        fb.box(
            (x0 + inset - overhang, top - 0.3, zb - 0.4),
            (x1 - inset + overhang, top, zb + width + 0.4),
            ROOF,
            roof,
            rt,
            0.03,
            0.3,
        )


def _residential_side(
    fb: SceneBuilder,
    rng: np.random.Generator,
    tex: Textures,
    street: Street,
    side: int,
    x_back: float,
    curb: float,
    z_end: float,
) -> None:
    """Lots along the property line: a hedge, fence, wall or nothing in front; a lawn; a house with a
    roof at a varied set-back; bushes, trees and sometimes a car in the driveway."""
    h = street.h
    ground = h - curb
    fb.plane_y(
        ground,
        span(x_back, x_back + side * 40.0),
        (street.z0, street.z1),
        LAWN,
        np.array([0.22, 0.3, 0.14]) * rng.uniform(0.7, 1.2),
        tex.photo(GRASS, 0.8),
        0.04,
        0.6,
    )
    z = street.z0
    while z < z_end + 150:
        lot = float(rng.uniform(12.0, 26.0))
        if not street.free(z, z + lot):
            z += lot
            continue
        drive = float(rng.uniform(2.5, 4.0)) if rng.random() < 0.4 else 0.0
        front = str(rng.choice(["hedge", "fence", "wall", "none"], p=[0.35, 0.28, 0.12, 0.25]))
        xa = x_back + side * float(rng.uniform(0.0, 0.4))
        zs, ze = z + drive, z + lot
        _boundary(fb, rng, tex, front, side, xa, ground, zs, ze)
        setback = float(rng.uniform(3.0, 14.0))
        if rng.random() < 0.85:
            _house(fb, rng, tex, side, xa + side * setback, ground, zs, lot - drive)
        for _ in range(int(rng.integers(0, 3))):
            bx = xa + side * float(rng.uniform(1.0, setback))
            _bush(fb, rng, tex, bx, float(rng.uniform(zs, ze)), ground)
        if rng.random() < 0.35:
            _tree(
                fb,
                rng,
                tex,
                xa + side * float(rng.uniform(1.5, setback + 4)),
                float(rng.uniform(zs, ze)),
                ground,
                float(rng.uniform(1.0, 1.6)),
            )
        if drive and rng.random() < 0.4:
            kind = vehicle_kind(rng) if rng.random() < 0.5 else "car"
            if kind != "truck":
                # Parked across the driveway's length, nose to the house.
                xc = xa + side * 1.0
                fb.box(
                    (min(xc, xc + side * 4.2), ground - 1.4, z + 0.4),
                    (max(xc, xc + side * 4.2), ground - 0.3, z + drive - 0.4),
                    BODY,
                    palette(rng, "car"),
                    tex.noise(),
                    0.03,
                    0.15,
                )
        z += lot


def _city_side(
    fb: SceneBuilder,
    rng: np.random.Generator,
    tex: Textures,
    street: Street,
    side: int,
    x_back: float,
    z_end: float,
) -> None:
    """Continuous façades close to the sidewalk with varied heights and alleys."""
    h = street.h
    z = street.z0
    while z < street.z1:
        length = float(rng.uniform(8.0, 30.0))
        if rng.random() < 0.15 or not street.free(z, z + length):
            z += float(rng.uniform(3.0, 12.0))
            continue
        x = x_back + side * float(rng.uniform(0.0, 1.5))
        xs = sorted((x, x + side * float(rng.uniform(8.0, 15.0))))
        _facade_box(fb, rng, tex, (xs[0], h - float(rng.uniform(6.0, 22.0)), z), (xs[1], h, z + length))
        z += length


def _open_side(
    fb: SceneBuilder,
    rng: np.random.Generator,
    tex: Textures,
    street: Street,
    side: int,
    x_back: float,
    z_end: float,
) -> None:
    """Fields with tree lines and vegetation masses, guard rails, a few far buildings."""
    h = street.h
    fb.plane_y(
        h - 0.05,
        span(x_back, x_back + side * 60.0),
        (street.z0, street.z1),
        LAWN,
        np.array([0.3, 0.33, 0.16]) * rng.uniform(0.7, 1.2),
        tex.photo(GRASS, 0.8),
        0.05,
        0.6,
    )
    if rng.random() < 0.5:  # a guard rail
        x = x_back - side * 0.2
        xs = sorted((x, x + side * 0.1))
        fb.box(
            (xs[0], h - 0.8, street.z0),
            (xs[1], h - 0.45, z_end + 150),
            FENCE,
            np.full(3, 0.6),
            tex.noise(),
            0.03,
            0.2,
        )
    dist = float(rng.uniform(2.0, 15.0))
    z = street.z0
    while z < z_end + 160:
        if rng.random() < 0.7:
            _tree(
                fb,
                rng,
                tex,
                x_back + side * (dist + float(rng.uniform(0, 5))),
                z,
                h,
                float(rng.uniform(1.0, 1.8)),
            )
        else:
            _bush(fb, rng, tex, x_back + side * (dist * 0.5), z, h)
        z += float(rng.uniform(3.0, 12.0))
    if rng.random() < 0.4:
        zb = float(rng.uniform(street.z0, z_end + 100))
        x0 = x_back + side * float(rng.uniform(15.0, 40.0))
        xs = sorted((x0, x0 + side * 12.0))
        _facade_box(
            fb,
            rng,
            tex,
            (xs[0], h - float(rng.uniform(4.0, 12.0)), zb),
            (xs[1], h, zb + float(rng.uniform(10, 30))),
        )


def _people(
    fb: SceneBuilder,
    rng: np.random.Generator,
    tex: Textures,
    street: Street,
    side: int,
    x_curb: float,
    curb: float,
    walk: float,
    z_end: float,
) -> None:
    """Pedestrians on the sidewalk and cyclists at the road's edge: thin near objects."""
    h = street.h
    for _ in range(int(rng.poisson(2.0))):
        z = float(rng.uniform(2.0, z_end + 40.0))
        cyclist = rng.random() < 0.35
        ground = h if cyclist else h - curb
        x = (
            (x_curb - side * float(rng.uniform(0.4, 1.0)))
            if cyclist
            else (x_curb + side * float(rng.uniform(0.3, max(walk - 0.3, 0.4))))
        )
        tall = float(rng.uniform(1.55, 1.9))
        color = rng.uniform(0.05, 0.8, 3)
        t = tex.noise()
        if cyclist:
            fb.box(
                (x - 0.03, ground - 0.7, z - 0.9),
                (x + 0.03, ground, z + 0.9),
                TYRE,
                np.full(3, 0.08),
                t,
                0.02,
                0.3,
            )
            base = ground - 0.65
        else:
            base = ground
        legs = 0.45 * tall
        fb.box(
            (x - 0.18, base - legs, z - 0.12),
            (x + 0.18, base, z + 0.12),
            PERSON,
            rng.uniform(0.05, 0.4, 3),
            t,
            0.03,
            0.3,
        )
        fb.box(
            (x - 0.22, base - 0.85 * tall, z - 0.15),
            (x + 0.22, base - legs, z + 0.15),
            PERSON,
            color,
            t,
            0.03,
            0.3,
        )
        fb.ellipsoid(
            (x, base - 0.93 * tall, z),
            (0.1, 0.12, 0.1),
            PERSON,
            np.array([0.6, 0.45, 0.35]) * rng.uniform(0.5, 1.2),
            t,
            0.02,
            0.2,
        )


def _traffic(
    mb: SceneBuilder, rng: np.random.Generator, tex: Textures, street: Street, step: float, n_frames: int
) -> tuple[list[float], list[float]]:
    """Moving vehicles; their speeds (m per frame) per face and per box."""
    h, z0, z1, lane, n_left = street.h, street.z0, street.z1, street.lane, street.n_left
    # One ahead in the ego lane (never closer than 6 m), traffic in the left lanes.
    face_speed: list[float] = []
    box_speed: list[float] = []

    def add(xc: float, z: float, v: float, kind: str = "car") -> None:
        f0, b0 = len(mb.face_rows), len(mb.boxes)
        add_vehicle(mb, rng, tex, xc, z, h, kind)
        face_speed.extend([v] * (len(mb.face_rows) - f0))
        box_speed.extend([v] * (len(mb.boxes) - b0))

    if rng.random() < 0.5:
        d0 = rng.uniform(8.0, 40.0)
        v = step + rng.uniform(-0.3, 0.3) * step
        if n_frames > 1:
            v = max(v, step - (d0 - 6.0) / (n_frames - 1))
        add(float(rng.uniform(-0.3, 0.3)), float(d0), float(v))
    for k in range(n_left):
        xc = -lane * (k + 1) + float(rng.uniform(-0.3, 0.3))
        v = step * rng.uniform(-1.5, 1.2)
        z = z0 + rng.uniform(0.0, 30.0)
        while z < z1 - 50:
            add(xc, float(z), float(v))
            z += rng.uniform(15.0, 60.0)
    return face_speed, box_speed
