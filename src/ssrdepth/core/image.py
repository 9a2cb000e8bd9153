"""Image preparation shared by training and inference: colour conversion, resizing to the model's
size (masks never mix invalid into valid), and the model input of :func:`prepare_image`.

Conventions: images ``(H, W, 3)`` uint8 RGB in, maps ``(H, W)`` float32 with a bool mask.
"""

from __future__ import annotations

import cv2
import numpy as np


def uint16_to_uint8(image: np.ndarray) -> np.ndarray:
    """16-bit → 8-bit image, rounding ``value / 257`` (65535 → 255): the one rule for images that
    training and prediction read."""
    return (image.astype(np.float32) / 257.0 + 0.5).astype(np.uint8)


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


def as_rgb(image: np.ndarray) -> np.ndarray:
    """``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)`` or ``(H, W, 4)`` RGB(A) → ``(H, W, 3)`` RGB, uint8 or
    float32 in [0, 1] (uint16 is scaled to uint8 as the data loaders do)."""
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ValueError(f"expected an image (H, W), (H, W, 3) or (H, W, 4), got shape {image.shape}")
    image = image[:, :, :3]
    if image.dtype == np.uint8:
        return np.ascontiguousarray(image)
    if image.dtype == np.uint16:
        return uint16_to_uint8(image)
    if np.issubdtype(image.dtype, np.floating):
        return np.clip(image, 0.0, 1.0).astype(np.float32)
    raise ValueError(f"unsupported image dtype {image.dtype}; expected uint8, uint16 or float in [0, 1]")


def prepare_image(image: np.ndarray, in_channels: int, size: tuple[int, int]) -> np.ndarray:
    """An RGB image (see :func:`as_rgb`) → the model input ``(C, H, W)`` float32 in [0, 1], as in
    training: channel conversion, then resize to ``size`` = (H, W)."""
    rgb = as_rgb(image)
    small = resize_image(to_channels(rgb, in_channels), size)
    if small.ndim == 2:
        small = small[:, :, None]
    x = small.astype(np.float32)
    if rgb.dtype == np.uint8:
        x /= 255.0
    return np.ascontiguousarray(x.transpose(2, 0, 1))
