"""Resizing to the model's size and colour conversion, with masks that never mix invalid into valid.

Conventions: images ``(H, W, 3)`` uint8 RGB in, maps ``(H, W)`` float32 with a bool mask.
"""

from __future__ import annotations

import cv2
import numpy as np


def to_channels(image: np.ndarray, channels: int) -> np.ndarray:
    """``(H, W, 3)`` RGB → ``(H, W, channels)``; grey is ITU-R BT.601 luma (OpenCV's RGB2GRAY)."""
    if channels == 3:
        return image
    if channels == 1:
        return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)[:, :, None]
    raise ValueError(f"channels must be 1 or 3, got {channels}")


def resize_image(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize an image ``(H, W[, C])`` to ``size`` = (H, W): area averaging when shrinking (no
    aliasing), bilinear when enlarging. Keeps the channel axis."""
    h, w = size
    if image.shape[:2] == (h, w):
        return image
    shrink = h < image.shape[0] and w < image.shape[1]
    out = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)
    if image.ndim == 3 and out.ndim == 2:
        out = out[:, :, None]
    return out


def resize_map(
    values: np.ndarray, valid: np.ndarray, size: tuple[int, int], sparse: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Resize a map with a validity mask to ``size`` = (H, W).

    Values are the **masked** area average (``area(v·m) / area(m)``): invalid pixels never contribute.
    The mask is resized by nearest neighbour (a dense map keeps its holes where they are); with
    ``sparse=True`` (lidar) an output pixel is valid when any valid input pixel falls in its footprint,
    so sparse points are not lost by shrinking. Returns ``(values float32 (H, W), valid bool (H, W))``
    with values 0 where invalid.
    """
    h, w = size
    valid = valid.astype(bool)
    if values.shape[:2] == (h, w):
        return np.where(valid, values, 0.0).astype(np.float32), valid.copy()
    v = np.where(valid, values, 0.0).astype(np.float32)
    m = valid.astype(np.float32)
    shrink = h <= values.shape[0] and w <= values.shape[1]
    interp = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    num = cv2.resize(v, (w, h), interpolation=interp)
    den = cv2.resize(m, (w, h), interpolation=interp)
    if sparse:
        out_valid = den > 1e-6
    else:
        out_valid = cv2.resize(valid.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)
        out_valid &= den > 1e-6
    out = np.where(out_valid, num / np.maximum(den, 1e-6), 0.0).astype(np.float32)
    return out, out_valid
