"""Appearance of the synthetic scenes: textures, materials and light.

- **Textures**: tileable band-limited noise (random phase, 1/f^β amplitude) and, from generator
  version 3, real photographs that scikit-image ships under CC0 (``skimage.data.brick``, ``grass``,
  ``gravel``: CC0Textures "Bricks25" and "Gravel04", DeviantArt "Grass-01"; each image's licence is
  in its docstring) made tileable by a cross-fade with a half-period shifted copy and blended with the
  noise. Every texture has pre-filtered levels (like a mip-map) so far surfaces do not alias.
- **Light** (:func:`shade`): Lambert shading by one sun direction per sequence plus sky light; from
  version 3 the sun casts shadows (one exact shadow ray per pixel against every solid,
  :func:`~ssrdepth.data.synthetic.geometry.occluded`), a vertical sky-occlusion ray darkens what lies
  under cars and crowns (a cheap ambient-occlusion term), and cars get a Blinn–Phong highlight
  (Blinn 1977). Shading never changes depth: it runs after the ray cast, on its result.

Everything is anchored to world coordinates, so both views of a pair agree except for view-dependent
highlights and sensor noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from ssrdepth.data.synthetic.geometry import Ellipsoids, Faces, Hits, occluded, ray_directions

TEX_SIZE = 128
TEX_LEVELS = 6
#: Procedural textures per scene; photo textures (when used) follow at these indices.
N_NOISE = 8
PHOTO_NAMES = ("brick", "grass", "gravel")
N_TEXTURES = N_NOISE + len(PHOTO_NAMES)
#: Texture ids of the photo textures (valid when a scene has them; else they fall back to noise).
BRICK, GRASS, GRAVEL = N_NOISE, N_NOISE + 1, N_NOISE + 2

# Materials (shading rules in shade()).
(ROAD, SIDEWALK, FACADE, BODY, GLASS, TYRE, POLE, FOLIAGE, BARK, LAWN, FENCE, ROOF, PERSON) = range(13)
#: Region labels of the ``training/regions`` maps (uint8 PNG, value = index here): for reporting
#: stereo-target density and errors per kind of surface. Fences, walls and roofs count as buildings,
#: lawns as road-level ground ("sidewalk"), people and cyclists as vehicles (road users).
REGIONS = ("sky", "road", "sidewalk", "building", "vehicle", "pole/vegetation")
MATERIAL_REGION = np.array([1, 2, 3, 4, 4, 4, 5, 5, 5, 2, 3, 3, 4], np.uint8)  # indexed by material


def noise_textures(rng: np.random.Generator, n: int = N_NOISE) -> np.ndarray:
    """Tileable band-limited noise (random phase, 1/f^β amplitude) with pre-filtered levels.

    Level l is low-passed for a footprint of 2^l texels per pixel, so far surfaces do not alias.
    Returns (n, LEVELS, S, S) float32 in [0, 1].
    """
    s = TEX_SIZE
    k = np.fft.fftfreq(s) * s
    kk = np.sqrt(k[:, None] ** 2 + k[None, :] ** 2)
    kk[0, 0] = 1.0
    out = np.empty((n, TEX_LEVELS, s, s), np.float32)
    for i in range(n):
        beta = rng.uniform(0.5, 1.1)
        spec = (rng.standard_normal((s, s)) + 1j * rng.standard_normal((s, s))) / kk**beta
        spec[0, 0] = 0.0
        base = np.real(np.fft.ifft2(spec))
        scale = 1.0 / (4.0 * base.std() + 1e-12)  # ±2σ → [0, 1]
        out[i] = _levels(0.5 + base * scale, kk)
    return out


def _levels(base: np.ndarray, kk: np.ndarray) -> np.ndarray:
    s = base.shape[0]
    spec = np.fft.fft2(base - base.mean())
    out = np.empty((TEX_LEVELS, s, s), np.float32)
    for lvl in range(TEX_LEVELS):
        cutoff = (s / 2) / 2**lvl
        filt = np.exp(-((kk / cutoff) ** 2) * 2.0)
        out[lvl] = np.clip(base.mean() + np.real(np.fft.ifft2(spec * filt)), 0.0, 1.0)
    return out


_PHOTOS: np.ndarray | None = None


def photo_textures() -> np.ndarray:
    """scikit-image's CC0 brick, grass and gravel photographs as tileable textures:
    (3, LEVELS, S, S) float32 in [0, 1], contrast-normalised to the noise textures' (mean 0.5, σ 0.2).
    Computed once per process."""
    global _PHOTOS
    if _PHOTOS is None:
        from skimage import data as skdata

        s = TEX_SIZE
        k = np.fft.fftfreq(s) * s
        kk = np.sqrt(k[:, None] ** 2 + k[None, :] ** 2)
        kk[0, 0] = 1.0
        out = np.empty((len(PHOTO_NAMES), TEX_LEVELS, s, s), np.float32)
        for i, name in enumerate(PHOTO_NAMES):
            photo = np.asarray(getattr(skdata, name)(), np.float32)
            img = np.asarray(cv2.resize(photo, (2 * s, 2 * s), interpolation=cv2.INTER_AREA), np.float64)
            # Tileable: cross-fade with the copy shifted by half a period (weights sum to 1).
            w1 = np.sin(np.pi * (np.arange(2 * s) + 0.5) / (2 * s)) ** 2
            w = w1[:, None] * w1[None, :]
            tile = w * img + (1 - w) * np.roll(img, (s, s), (0, 1))
            tile = cv2.resize(tile, (s, s), interpolation=cv2.INTER_AREA)
            tile = 0.5 + 0.2 * (tile - tile.mean()) / (tile.std() + 1e-6)
            out[i] = _levels(np.clip(tile, 0.0, 1.0), kk)
        _PHOTOS = out
    return _PHOTOS


def sample(
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


@dataclass(frozen=True)
class Light:
    """One sequence's light: unit vector towards the sun, sky (ambient) and sun (direct) strengths,
    whether the sun casts shadows, the sky-occlusion strength (0 = off) and the sky colours."""

    sun: np.ndarray
    ambient: float
    direct: float
    shadows: bool
    sky_occlusion: float
    sky_top: np.ndarray
    sky_horizon: np.ndarray
    sky_gain: float = 1.0


def shade(
    scene: Any,
    faces: Faces,
    ells: Ellipsoids,
    boxes: tuple[np.ndarray, np.ndarray],
    hits: Hits,
    cam: Any,
    origin: np.ndarray,
) -> np.ndarray:
    """Colour every pixel from its surface, or the sky. Returns linear radiance (H, W, 3) float32
    (≥ 0; values above 1 saturate in the camera)."""
    light: Light = scene.light
    height, width = hits.depth.shape
    dx, dy = ray_directions(cam)
    out = np.empty((height * width, 3), np.float32)
    fid, eid = hits.face.ravel(), hits.ellipsoid.ravel()
    sky = np.flatnonzero((fid < 0) & (eid < 0))
    if sky.size:
        # A vertical gradient plus clouds sampled by ray direction (at infinity: zero disparity).
        sy, sx = dy[sky // width], dx[sky % width]
        gy = np.clip((sy + 0.35) / 0.4, 0.0, 1.0).astype(np.float32)[:, None]
        grad = light.sky_top.astype(np.float32) * (1 - gy) + light.sky_horizon.astype(np.float32) * gy
        clouds = sample(
            scene.textures, np.zeros(sky.size, np.int64), np.full(sky.size, 2), sx * 300, sy * 300
        )
        out[sky] = grad * (0.85 + 0.3 * clouds[:, None]) * np.float32(light.sky_gain)

    hit = np.flatnonzero((fid >= 0) | (eid >= 0))
    if hit.size:
        out[hit] = _shade_hits(scene, faces, ells, boxes, hits, cam, origin, hit, dx, dy)
    return np.maximum(out, 0.0).reshape(height, width, 3)


@dataclass
class _Surface:
    """What every hit pixel (P of them) shows: world point (P, 3), outward unit normal (P, 3), the
    face axis (0–2, 3 = an ellipsoid), the primitive's appearance and in-plane coordinates s, r (m)."""

    points: np.ndarray
    normal: np.ndarray
    axis: np.ndarray
    material: np.ndarray
    base: np.ndarray
    texture: np.ndarray
    texel: np.ndarray
    contrast: np.ndarray
    params: np.ndarray
    s: np.ndarray
    r: np.ndarray


def _shade_hits(
    scene: Any,
    faces: Faces,
    ells: Ellipsoids,
    boxes: tuple[np.ndarray, np.ndarray],
    hits: Hits,
    cam: Any,
    origin: np.ndarray,
    hit: np.ndarray,
    dx: np.ndarray,
    dy: np.ndarray,
) -> np.ndarray:
    """Colour of the hit pixels ``hit`` (flat indices): surface, texture, light, then the details."""
    width = hits.depth.shape[1]
    t = hits.depth.ravel()[hit]
    ddx, ddy = dx[hit % width], dy[hit // width]
    surf = _surface(faces, ells, hits, hit, origin, t, ddx, ddy)
    level, noise = _texture(scene, surf, cam, t, ddx, ddy)
    shade_v, sun = _lighting(scene, surf, boxes, ells)
    color = surf.base * (shade_v * (1.0 + surf.contrast * (2.0 * noise - 1.0)))[:, None]
    _details(scene, surf, level, noise, shade_v, color)
    _highlights(scene, surf, sun, origin, color)
    return color


def _surface(
    faces: Faces,
    ells: Ellipsoids,
    hits: Hits,
    hit: np.ndarray,
    origin: np.ndarray,
    t: np.ndarray,
    ddx: np.ndarray,
    ddy: np.ndarray,
) -> _Surface:
    px = origin[0] + t * ddx  # world hit points (m)
    py = origin[1] + t * ddy
    pz = origin[2] + t
    fid, eid = hits.face.ravel()[hit], hits.ellipsoid.ravel()[hit]
    on_face = fid >= 0
    prim = np.where(on_face, fid, len(faces.material) + eid)  # one index into faces, then ellipsoids

    def pick(name: str) -> np.ndarray:
        return np.concatenate([getattr(faces, name), getattr(ells, name)])[prim]

    org = pick("origin")
    normal = np.zeros((hit.size, 3))
    axis = np.full(hit.size, 3, np.int64)
    sel = np.flatnonzero(on_face)
    if sel.size:
        axis[sel] = faces.axis[fid[sel]]
        normal[sel, axis[sel]] = faces.sign[fid[sel]]
    sel = np.flatnonzero(~on_face)
    if sel.size:
        e = eid[sel]
        g = (np.stack([px[sel], py[sel], pz[sel]], 1) - ells.centre[e]) / ells.radii[e] ** 2
        normal[sel] = g / np.linalg.norm(g, axis=1, keepdims=True)
    return _Surface(
        points=np.stack([px, py, pz], 1),
        normal=normal,
        axis=axis,
        material=pick("material"),
        base=pick("color").astype(np.float32),
        texture=pick("texture"),
        texel=pick("texel"),
        contrast=pick("contrast").astype(np.float32),
        params=pick("params"),
        s=np.where(axis == 0, pz - org[:, 2], np.where(axis == 3, px + pz, px - org[:, 0])),
        r=np.where(axis == 1, pz - org[:, 2], py),
    )


def _texture(
    scene: Any, surf: _Surface, cam: Any, t: np.ndarray, ddx: np.ndarray, ddy: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The mip level and texture value (P,) of every hit pixel."""
    a, texel, tex = surf.axis, surf.texel, surf.texture
    d_axis = np.abs(np.where(a == 0, ddx, np.where(a == 1, ddy, 1.0)))
    d_axis = np.where(
        a == 3, np.abs((surf.normal * np.stack([ddx, ddy, np.ones_like(ddx)], 1)).sum(1)), d_axis
    )
    cos = d_axis / np.sqrt(ddx * ddx + ddy * ddy + 1.0)
    # Texels per pixel along the image row (what stereo matching compares): horizontal planes
    # (road, pavements) are not foreshortened along rows, so they keep their grain up to the horizon
    # (anisotropic filtering) instead of blurring to flat grey as isotropic mip-mapping does at grazing
    # angles; the grain then aliases along columns, identically in both views.
    footprint = t / cam.focal / np.where(a == 1, 1.0, np.maximum(cos, 0.05)) / texel
    level = np.clip(np.rint(np.log2(np.maximum(footprint, 1e-6))), 0, TEX_LEVELS - 1).astype(np.int64)
    noise = sample(scene.textures, tex, level, surf.s / texel, surf.r / texel)
    photo = tex >= N_NOISE
    if photo.any():
        # Photo textures are blended with a procedural one so no two surfaces repeat the same photo.
        other = sample(
            scene.textures,
            tex[photo] % N_NOISE,
            level[photo],
            surf.s[photo] / texel[photo] * 0.7,
            surf.r[photo] / texel[photo] * 0.7,
        )
        noise[photo] = 0.65 * noise[photo] + 0.35 * other
    return level, noise


def _lighting(
    scene: Any, surf: _Surface, boxes: tuple[np.ndarray, np.ndarray], ells: Ellipsoids
) -> tuple[np.ndarray, np.ndarray]:
    """Shading (P,) float32 = sky (ambient, reduced under solids) + sun (Lambert, zero in cast
    shadow), and the sun term alone (P,)."""
    light: Light = scene.light
    lambert = np.maximum(surf.normal @ light.sun, 0.0)
    sun = light.direct * lambert
    points = surf.points + 2e-3 * surf.normal  # off the surface, so it does not shadow itself
    if light.shadows:
        lit = np.flatnonzero(lambert > 0)
        if lit.size:
            sun[lit[occluded(points[lit], light.sun, boxes, ells, scene.height)]] = 0.0
    ambient = np.full(len(points), light.ambient)
    if light.sky_occlusion > 0:
        up = np.flatnonzero(surf.normal[:, 1] < -0.5)  # upward-facing: ground, roofs, car tops
        if up.size:
            covered = occluded(points[up], np.array([0.0, -1.0, 0.0]), boxes, ells, scene.height)
            ambient[up[covered]] *= 1.0 - light.sky_occlusion
    return (ambient + sun).astype(np.float32), sun


def _details(
    scene: Any, surf: _Surface, level: np.ndarray, noise: np.ndarray, shade_v: np.ndarray, color: np.ndarray
) -> None:
    """Leaf clumps, road patches and markings, window grids and cabin glass, painted into ``color``."""
    mat, tex, a = surf.material, surf.texture, surf.axis
    px, py, pz = surf.points[:, 0], surf.points[:, 1], surf.points[:, 2]
    leaves = np.flatnonzero(mat == FOLIAGE)
    if leaves.size and scene.clumps:
        # Foliage is clumps of lit leaves with dark gaps between them (sharp-edged, as in photos of
        # trees and hedges), not smooth noise: a steep sigmoid of a finer texture level.
        fine = sample(
            scene.textures,
            (tex[leaves] + 5) % N_NOISE,
            level[leaves],
            surf.s[leaves] / 0.03,
            surf.r[leaves] / 0.03,
        )
        clump = 1.0 / (1.0 + np.exp(-(fine - 0.5) * 14.0))
        color[leaves] *= (0.35 + 1.1 * clump).astype(np.float32)[:, None]
    # Road markings: solid and dashed (3 m on, 6 m off) white lines, 0.15 m wide.
    road = np.flatnonzero(mat == ROAD)
    if road.size:
        rx, rz = px[road], pz[road]
        # Repaired patches and tar seams: darker blobs of a coarse second texture (0.5 m texels).
        coarse = sample(
            scene.textures,
            (tex[road] + 3) % N_NOISE,
            np.clip(level[road] - 4, 0, TEX_LEVELS - 1),
            rx / 0.5,
            rz / 0.5,
        )
        color[road] *= np.where(coarse > 0.68, 0.8, 1.0).astype(np.float32)[:, None]
        mark = np.zeros(road.size, bool)
        for x_line, dashed in scene.lane_lines:
            on = np.abs(rx - x_line) < 0.075
            if dashed:
                on &= np.mod(rz, 9.0) < 3.0
            mark |= on
        sel = road[mark]
        color[sel] = (0.85 * shade_v[sel] * (0.9 + 0.2 * noise[sel]))[:, None]
    # Façade window grid (window every params[0] m along, every params[1] m up).
    fac = np.flatnonzero((mat == FACADE) & (a != 1) & (a != 3))
    if fac.size:
        prm = surf.params[fac]
        up_m = scene.height - py[fac]
        in_col = np.mod(surf.s[fac], prm[:, 0]) < prm[:, 2]
        in_row = np.mod(up_m - 1.0, prm[:, 1]) < prm[:, 3]
        sel = fac[in_col & in_row & (up_m > 1.0)]
        glass = np.array([0.12, 0.15, 0.2], np.float32) * (1.0 + 1.2 * noise[sel, None]) + 0.05
        color[sel] = glass * shade_v[sel, None]
    side = np.flatnonzero((mat == GLASS) & (a != 1))  # cabin sides are windows, roofs body colour
    if side.size:
        glass = np.array([0.1, 0.12, 0.15], np.float32) * (1.0 + 1.5 * noise[side, None]) + 0.03
        color[side] = glass * shade_v[side, None]


def _highlights(scene: Any, surf: _Surface, sun: np.ndarray, origin: np.ndarray, color: np.ndarray) -> None:
    """Blinn–Phong highlights on car bodies and glass (view-dependent, as in a real pair)."""
    shiny = np.flatnonzero(((surf.material == BODY) | (surf.material == GLASS)) & (sun > 0))
    if shiny.size and scene.specular > 0:
        points = surf.points[shiny] + 2e-3 * surf.normal[shiny]
        view = origin - points
        view /= np.linalg.norm(view, axis=1, keepdims=True)
        half = view + scene.light.sun
        half /= np.linalg.norm(half, axis=1, keepdims=True)
        spec = np.maximum((surf.normal[shiny] * half).sum(1), 0.0) ** 40 * scene.specular
        color[shiny] += spec.astype(np.float32)[:, None]
