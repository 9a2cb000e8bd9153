"""The 16-bit PNG map codec — the one home of KITTI's ×256 encoding of disparity and depth maps.

A map ``(H, W)`` of values (disparity px, depth m, or any quantity with its own ``scale``) is stored
as ``uint16 = round(value × scale)``, clipped to [0, 65535], and ``0`` = invalid (no value). With
``scale`` = 256 (:data:`KITTI_SCALE`) this is the KITTI convention for disparity (Geiger et al. 2012
stereo devkit: ``disp = png / 256.0``) and depth (Uhrig et al. 2017 depth devkit: ``depth = png /
256.0``): values up to 255.996 in steps of 1/256. The stereo target cache, the synthetic set's depth
maps, ``ssrdepth predict``'s 16-bit outputs and the depth-map reader all encode and decode here;
writing the PNG file itself (OpenCV or Pillow, with or without text chunks) stays with each writer.

Imports numpy only.
"""

from __future__ import annotations

import numpy as np

#: KITTI's scale: stored value = disparity (px) or depth (m) × 256.
KITTI_SCALE = 256.0
#: Largest stored value of a 16-bit PNG.
MAX_CODE = 65535


def encode_png16(
    values: np.ndarray,
    scale: float = KITTI_SCALE,
    valid_mask: np.ndarray | None = None,
    *,
    min_code: int = 0,
) -> np.ndarray:
    """Values ``(H, W)`` (any float or integer dtype) → uint16 ``round(value × scale)`` clipped to
    ``[min_code, 65535]``; 0 where the value is not finite, ≤ 0, or outside ``valid_mask`` (bool, same
    shape). ``min_code=1`` keeps a valid but tiny value from reading back as invalid.

    Raises:
        ValueError: ``valid_mask`` of another shape.
    """
    v = np.asarray(values).astype(np.float64)
    valid = np.isfinite(v) & (v > 0)
    if valid_mask is not None:
        if valid_mask.shape != v.shape:
            raise ValueError(f"valid_mask shape {valid_mask.shape} != values shape {v.shape}")
        valid &= valid_mask.astype(bool)
    codes = np.clip(np.rint(np.where(valid, v, 0.0) * scale), min_code, MAX_CODE)
    return np.where(valid, codes, 0).astype(np.uint16)


def decode_png16(codes: np.ndarray, scale: float = KITTI_SCALE, invalid: float = 0) -> np.ndarray:
    """Stored uint16 values ``(H, W)`` → float32 values ``code / scale`` (divided in float64, rounded
    once to float32: exact for ``scale`` = 256); 0 where the code is 0 or ``invalid`` (a data set's own
    no-value code)."""
    codes = np.asarray(codes)
    values = codes.astype(np.float64) / scale
    if invalid != 0:
        values = np.where(codes == invalid, 0.0, values)
    return values.astype(np.float32)
