"""The 16-bit PNG map codec — the one home of KITTI's ×256 encoding of disparity and depth maps.

A map ``(H, W)`` of values (disparity px, depth m, or any quantity with its own ``scale``) is stored
as ``uint16 = round(value × scale)``, clipped to [0, 65535], and ``0`` = invalid (no value). With
``scale`` = 256 (:data:`KITTI_SCALE`) this is the KITTI convention for disparity (Geiger et al. 2012
stereo devkit: ``disp = png / 256.0``) and depth (Uhrig et al. 2017 depth devkit: ``depth = png /
256.0``): values up to 255.996 in steps of 1/256. The stereo target cache, the synthetic set's depth
maps, ``ssrdepth predict``'s 16-bit outputs and the depth-map reader all encode and decode here;
writing the PNG file itself (OpenCV or Pillow, with or without text chunks) stays with each writer.

Values above the largest storable (``65535 / scale``: 255.996 at ×256) are stored as that largest
value; :func:`encode_png16` logs a warning with their count and true maximum (never silent), and
:func:`png16_clipping` gives the same numbers for the writer's metadata.

Imports numpy only (and logging).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

#: KITTI's scale: stored value = disparity (px) or depth (m) × 256.
KITTI_SCALE = 256.0
#: Largest stored value of a 16-bit PNG.
MAX_CODE = 65535


@dataclass(frozen=True)
class Clipping:
    """What a 16-bit encoding cannot hold: ``count`` of the ``valid`` values lie above ``limit``
    (``65535 / scale``, the values' unit) and are stored as ``limit``; ``true_max`` is the largest
    valid value (0 when none)."""

    count: int
    valid: int
    true_max: float
    limit: float

    def as_meta(self) -> dict[str, Any]:
        """For a file's metadata: ``{"pixels": n, "fraction": n / valid, "above": limit, "true_max": max}``."""
        return {
            "pixels": self.count,
            "fraction": self.count / self.valid if self.valid else 0.0,
            "above": self.limit,
            "true_max": self.true_max,
        }


def _valid(values: np.ndarray, valid_mask: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    v = np.asarray(values).astype(np.float64)
    valid = np.isfinite(v) & (v > 0)
    if valid_mask is not None:
        if valid_mask.shape != v.shape:
            raise ValueError(f"valid_mask shape {valid_mask.shape} != values shape {v.shape}")
        valid &= valid_mask.astype(bool)
    return v, valid


def png16_clipping(
    values: np.ndarray, scale: float = KITTI_SCALE, valid_mask: np.ndarray | None = None
) -> Clipping:
    """The valid values of ``values`` (as :func:`encode_png16` counts them) that a 16-bit PNG at
    ``scale`` cannot hold (stored code past 65535). Raises ValueError: ``valid_mask`` of another shape."""
    v, valid = _valid(values, valid_mask)
    over = valid & (np.rint(v * scale) > MAX_CODE)
    n_valid = int(np.count_nonzero(valid))
    true_max = float(v[valid].max()) if n_valid else 0.0
    return Clipping(int(np.count_nonzero(over)), n_valid, true_max, MAX_CODE / scale)


def encode_png16(
    values: np.ndarray,
    scale: float = KITTI_SCALE,
    valid_mask: np.ndarray | None = None,
    *,
    min_code: int = 0,
    name: str | None = None,
    hint: str = "",
) -> np.ndarray:
    """Values ``(H, W)`` (any float or integer dtype) → uint16 ``round(value × scale)`` clipped to
    ``[min_code, 65535]``; 0 where the value is not finite, ≤ 0, or outside ``valid_mask`` (bool, same
    shape). ``min_code=1`` keeps a valid but tiny value from reading back as invalid.

    Values clipped at 65535 are logged as one warning naming ``name`` (the file; "a 16-bit PNG map"
    when ``None``), their count and true maximum, and ``hint`` (what keeps them).

    Raises:
        ValueError: ``valid_mask`` of another shape.
    """
    v, valid = _valid(values, valid_mask)
    codes = np.rint(np.where(valid, v, 0.0) * scale)
    over = valid & (codes > MAX_CODE)
    if over.any():
        n, limit = int(np.count_nonzero(over)), MAX_CODE / scale
        logger.warning(
            "%s: %d of %d values (%.3g %%) are above %.6g, the largest a 16-bit PNG holds at ×%g "
            "(true maximum %.6g); stored as %.6g%s",
            name or "a 16-bit PNG map",
            n,
            int(np.count_nonzero(valid)),
            100.0 * n / max(int(np.count_nonzero(valid)), 1),
            limit,
            scale,
            float(v[over].max()),
            limit,
            f"; {hint}" if hint else "",
        )
    return np.where(valid, np.clip(codes, min_code, MAX_CODE), 0).astype(np.uint16)


def decode_png16(codes: np.ndarray, scale: float = KITTI_SCALE, invalid: float = 0) -> np.ndarray:
    """Stored uint16 values ``(H, W)`` → float32 values ``code / scale`` (divided in float64, rounded
    once to float32: exact for ``scale`` = 256); 0 where the code is 0 or ``invalid`` (a data set's own
    no-value code)."""
    codes = np.asarray(codes)
    values = codes.astype(np.float64) / scale
    if invalid != 0:
        values = np.where(codes == invalid, 0.0, values)
    return values.astype(np.float32)
