"""Exact ray casting of the synthetic scenes: axis-aligned rectangles (faces of boxes and planes) and
axis-aligned ellipsoids, and shadow rays against the same solids.

World coordinates: x right, y down, z forward (along the road); the road is the plane y = +h. A
camera at ``origin`` casts through pixel (u, v) the ray ``origin + t·((u − cx)/f, (v − cy)/f, 1)``:
its z-component is 1, so the hit parameter t of the nearest surface *is* the depth Z along the
optical axis, exactly, in every view.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

import numpy as np

#: Nothing is rendered beyond this distance (m): the road ends at the horizon, the sky is at infinity.
FAR = 200.0
#: Nearest distance (m) at which surfaces are clipped (nothing in a scene comes this close).
NEAR = 0.5


@dataclass(kw_only=True)
class Surfaces:
    """Per-primitive appearance shared by faces and ellipsoids: material id, base RGB in [0, 1],
    texture id, texel size (m), texture contrast, texture-coordinate origin (m) and four material
    parameters (the façade window grid)."""

    material: np.ndarray  # (N,) int
    color: np.ndarray  # (N, 3)
    texture: np.ndarray  # (N,) int
    texel: np.ndarray  # (N,)
    contrast: np.ndarray  # (N,)
    origin: np.ndarray  # (N, 3)
    params: np.ndarray  # (N, 4)


@dataclass(kw_only=True)
class Faces(Surfaces):
    """Axis-aligned rectangles: ``axis`` is the constant coordinate, ``lo``/``hi`` the corners
    (lo[axis] = hi[axis] = the plane), outward normal ``sign · e_axis``; ``box`` is the index of the
    solid box a face belongs to (−1: a lone plane, which casts no shadow)."""

    axis: np.ndarray  # (F,) int
    lo: np.ndarray  # (F, 3)
    hi: np.ndarray  # (F, 3)
    sign: np.ndarray  # (F,) ±1
    box: np.ndarray  # (F,) int


@dataclass(kw_only=True)
class Ellipsoids(Surfaces):
    """Axis-aligned ellipsoids: ``centre`` (E, 3) and semi-axes ``radii`` (E, 3), metres."""

    centre: np.ndarray
    radii: np.ndarray


def concat(parts: list[Any]) -> Any:
    """Concatenate :class:`Faces` (or :class:`Ellipsoids`) field by field."""
    cls = type(parts[0])
    return cls(**{f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)})


def shifted(prims: Any, dz: np.ndarray) -> Any:
    """A copy of faces/ellipsoids moved along z by ``dz`` (per primitive)."""
    off = np.zeros((len(dz), 3), np.float64)
    off[:, 2] = dz
    out = {f.name: getattr(prims, f.name) for f in fields(prims)}
    for key in ("lo", "hi", "centre", "origin"):
        if key in out:
            out[key] = out[key] + off
    return type(prims)(**out)


class SceneBuilder:
    """Collects boxes, lone planes and ellipsoids; :meth:`build` returns (faces, ellipsoids, boxes)
    where boxes is (lo (B, 3), hi (B, 3)) of every solid box (the shadow casters with the ellipsoids)."""

    def __init__(self) -> None:
        self.face_rows: list[tuple[Any, ...]] = []
        self.ell_rows: list[tuple[Any, ...]] = []
        self.boxes: list[tuple[np.ndarray, np.ndarray]] = []

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
    ) -> None:
        """Add the faces of the box ``lo``..``hi`` (the bottom one is never seen from 1.65 m up)."""
        lo_a, hi_a = np.asarray(lo, np.float64), np.asarray(hi, np.float64)
        b = len(self.boxes)
        self.boxes.append((lo_a, hi_a))
        for axis in range(3):
            for sign in (-1, 1):
                if skip_bottom and axis == 1 and sign == 1:
                    continue
                flo, fhi = lo_a.copy(), hi_a.copy()
                plane = hi_a[axis] if sign > 0 else lo_a[axis]
                flo[axis] = fhi[axis] = plane
                self.face_rows.append(
                    (material, color, texture, texel, contrast, lo_a, params, axis, flo, fhi, sign, b)
                )

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
        """An upward-facing horizontal rectangle at height ``y`` (the road, a lawn)."""
        lo = np.array([xr[0], y, zr[0]])
        hi = np.array([xr[1], y, zr[1]])
        self.face_rows.append(
            (material, color, texture, texel, contrast, np.zeros(3), (0.0,) * 4, 1, lo, hi, -1, -1)
        )

    def ellipsoid(
        self,
        centre: tuple[float, float, float],
        radii: tuple[float, float, float],
        material: int,
        color: np.ndarray,
        texture: int,
        texel: float,
        contrast: float,
    ) -> None:
        c = np.asarray(centre, np.float64)
        self.ell_rows.append(
            (material, color, texture, texel, contrast, c, (0.0,) * 4, c, np.asarray(radii, np.float64))
        )

    def build(self) -> tuple[Faces, Ellipsoids, tuple[np.ndarray, np.ndarray]]:
        faces = Faces(**_columns(self.face_rows, Faces))
        ells = Ellipsoids(**_columns(self.ell_rows, Ellipsoids))
        if self.boxes:
            boxes = (np.stack([b[0] for b in self.boxes]), np.stack([b[1] for b in self.boxes]))
        else:
            boxes = (np.zeros((0, 3)), np.zeros((0, 3)))
        return faces, ells, boxes


_VECTORS = {"color": 3, "origin": 3, "params": 4, "lo": 3, "hi": 3, "centre": 3, "radii": 3}
_INTS = {"material", "texture", "axis", "sign", "box"}


def _columns(rows: list[tuple[Any, ...]], cls: type) -> dict[str, np.ndarray]:
    names = [f.name for f in fields(cls)]
    out: dict[str, np.ndarray] = {}
    cols = list(zip(*rows, strict=True)) if rows else [()] * len(names)
    for name, col in zip(names, cols, strict=True):
        dtype = np.int64 if name in _INTS else np.float64
        if name in _VECTORS:
            out[name] = np.asarray(col, dtype).reshape(-1, _VECTORS[name])
        else:
            out[name] = np.asarray(col, dtype).reshape(-1)
    return out


@dataclass
class Hits:
    """What one view sees: depth Z (H, W) float64 in metres (inf = sky), and per pixel the index of the
    face hit (``face`` ≥ 0) or of the ellipsoid hit (``ellipsoid`` ≥ 0), −1 elsewhere."""

    depth: np.ndarray
    face: np.ndarray
    ellipsoid: np.ndarray


def ray_directions(cam: Any) -> tuple[np.ndarray, np.ndarray]:
    """Per-column x and per-row y components of the pixel rays (z-component 1)."""
    dx = ((np.arange(cam.width) - cam.cx) / cam.focal).astype(np.float64)
    dy = ((np.arange(cam.height) - cam.cy) / cam.focal).astype(np.float64)
    return dx, dy


def cast(faces: Faces, ells: Ellipsoids, cam: Any, origin: np.ndarray) -> Hits:
    """Ray-cast one view from camera centre ``origin`` (world, m): the nearest face or ellipsoid per
    pixel, exactly (no tessellation)."""
    height, width = cam.height, cam.width
    dx, dy = ray_directions(cam)
    zbuf = np.full((height, width), np.inf, np.float64)
    fid = np.full((height, width), -1, np.int64)
    _cast_faces(faces, cam, origin, dx, dy, zbuf, fid)
    eid = np.full((height, width), -1, np.int64)
    _cast_ellipsoids(ells, cam, origin, dx, dy, zbuf, eid)
    fid[eid >= 0] = -1
    return Hits(zbuf, fid, eid)


def _screen_box(
    cam: Any, lo: np.ndarray, hi: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pixel bounds (u0, u1, v0, v1), inclusive, of boxes lo..hi (N, 3) in camera coordinates with
    lo_z ≥ NEAR."""
    corners = np.stack(
        [
            np.stack([(lo, hi)[i][:, 0], (lo, hi)[j][:, 1], (lo, hi)[k][:, 2]], -1)
            for i in (0, 1)
            for j in (0, 1)
            for k in (0, 1)
        ],
        1,
    )  # (N, 8, 3)
    u = cam.cx + cam.focal * corners[..., 0] / corners[..., 2]
    v = cam.cy + cam.focal * corners[..., 1] / corners[..., 2]
    u0 = np.maximum(np.ceil(u.min(1)), 0).astype(np.int64)
    u1 = np.minimum(np.floor(u.max(1)), cam.width - 1).astype(np.int64)
    v0 = np.maximum(np.ceil(v.min(1)), 0).astype(np.int64)
    v1 = np.minimum(np.floor(v.max(1)), cam.height - 1).astype(np.int64)
    return u0, u1, v0, v1


def _cast_faces(
    faces: Faces,
    cam: Any,
    origin: np.ndarray,
    dx: np.ndarray,
    dy: np.ndarray,
    zbuf: np.ndarray,
    fid: np.ndarray,
) -> None:
    if len(faces.axis) == 0:
        return
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
    u0, u1, v0, v1 = _screen_box(cam, lo, hi)
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


def _cast_ellipsoids(
    ells: Ellipsoids,
    cam: Any,
    origin: np.ndarray,
    dx: np.ndarray,
    dy: np.ndarray,
    zbuf: np.ndarray,
    eid: np.ndarray,
) -> None:
    """Nearest positive root of |(o + t·d − c) / r|² = 1 per pixel of each ellipsoid's screen box
    (d = (dx, dy, 1), so t = Z); the camera is never inside an ellipsoid."""
    if len(ells.centre) == 0:
        return
    rel = ells.centre - origin
    lo, hi = rel - ells.radii, rel + ells.radii
    keep = (lo[:, 2] >= NEAR) & (lo[:, 2] <= FAR)
    idx = np.nonzero(keep)[0]
    if idx.size == 0:
        return
    u0, u1, v0, v1 = _screen_box(cam, lo[idx], hi[idx])
    for n in np.nonzero((u0 <= u1) & (v0 <= v1))[0]:
        e = idx[n]
        r = ells.radii[e]
        q = -rel[e] / r  # camera centre in the unit-sphere frame
        ex = dx[u0[n] : u1[n] + 1][None, :] / r[0]
        ey = dy[v0[n] : v1[n] + 1][:, None] / r[1]
        ez = 1.0 / r[2]
        a = ex * ex + ey * ey + ez * ez
        b = 2.0 * (q[0] * ex + q[1] * ey + q[2] * ez)
        c = float(q @ q) - 1.0
        disc = b * b - 4.0 * a * c
        hit = disc >= 0
        if not hit.any():
            continue
        t = (-b - np.sqrt(np.maximum(disc, 0.0))) / (2.0 * a)
        zb = zbuf[v0[n] : v1[n] + 1, u0[n] : u1[n] + 1]
        upd = hit & (t > NEAR) & (t < zb)
        if upd.any():
            zb[upd] = t[upd]
            eid[v0[n] : v1[n] + 1, u0[n] : u1[n] + 1][upd] = e


def occluded(
    points: np.ndarray,
    direction: np.ndarray,
    boxes: tuple[np.ndarray, np.ndarray],
    ells: Ellipsoids,
    ground: float,
) -> np.ndarray:
    """Whether the ray ``p + s·direction`` (s > 0) from each point (P, 3) hits a solid box or an
    ellipsoid: (P,) bool. ``direction`` points up (y < 0), towards the light; ``ground`` is the road's
    y, the lowest any point lies. Exact slab / quadric tests; only the points inside the box swept from
    each solid down to the ground along −direction are tested (the points sorted by z)."""
    n = len(points)
    out = np.zeros(n, bool)
    if n == 0:
        return out
    d = np.asarray(direction, np.float64)
    solids_lo = [boxes[0], ells.centre - ells.radii]
    solids_hi = [boxes[1], ells.centre + ells.radii]
    lo_all = np.concatenate(solids_lo)
    hi_all = np.concatenate(solids_hi)
    if len(lo_all) == 0:
        return out
    n_box = len(boxes[0])
    order = np.argsort(points[:, 2], kind="stable")
    ps = points[order]  # sorted by z: each solid's candidates are one contiguous slice (a view)
    hit_sorted = np.zeros(n, bool)
    s_max = np.maximum(ground - lo_all[:, 1], 0.0) / max(-d[1], 1e-6)
    swept_lo = np.minimum(lo_all, lo_all - s_max[:, None] * d)
    swept_hi = np.maximum(hi_all, hi_all - s_max[:, None] * d)
    start = np.searchsorted(ps[:, 2], swept_lo[:, 2], "left")
    stop = np.searchsorted(ps[:, 2], swept_hi[:, 2], "right")
    inv = np.where(np.abs(d) > 1e-12, 1.0 / np.where(np.abs(d) > 1e-12, d, 1.0), np.inf)
    for k in np.nonzero(stop > start)[0]:
        window = ps[start[k] : stop[k]]
        sel = np.flatnonzero(
            (window[:, 0] >= swept_lo[k, 0])
            & (window[:, 0] <= swept_hi[k, 0])
            & (window[:, 1] >= swept_lo[k, 1])
            & (window[:, 1] <= swept_hi[k, 1])
        )
        if sel.size == 0:
            continue
        p = window[sel]
        cand = start[k] + sel
        if k < n_box:
            with np.errstate(invalid="ignore"):
                t0 = (lo_all[k] - p) * inv
                t1 = (hi_all[k] - p) * inv
            # A zero direction component: inside the slab (any s) or never.
            flat = ~np.isfinite(inv)
            inside = (p >= lo_all[k]) & (p <= hi_all[k])
            tmin = np.where(flat, np.where(inside, -np.inf, np.inf), np.minimum(t0, t1))
            tmax = np.where(flat, np.where(inside, np.inf, -np.inf), np.maximum(t0, t1))
            enter, leave = tmin.max(1), tmax.min(1)
            hit = (leave >= enter) & (leave > 1e-6)
        else:
            e = k - n_box
            r = ells.radii[e]
            q = (p - ells.centre[e]) / r
            v = d / r
            a = float(v @ v)
            b = 2.0 * (q @ v)
            c = (q * q).sum(1) - 1.0
            disc = b * b - 4.0 * a * c
            far_root = (-b + np.sqrt(np.maximum(disc, 0.0))) / (2.0 * a)
            hit = (disc >= 0) & (far_root > 1e-6)
        hit_sorted[cand[hit]] = True
    out[order] = hit_sorted
    return out
