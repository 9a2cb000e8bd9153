"""The one formula of the flip uncertainty: how much a map and its mirrored twin disagree.

A street (or a room) mirrored left–right is as plausible as the original, so a network that has learnt
depth predicts the same map, mirrored, for the mirrored image; where the two disagree, it is guessing.
This is the test-time flip of Godard et al. 2017 (Monodepth, Sec. 4.2, who average the two maps) used as
an uncertainty, as Poggi et al. 2020 ("On the uncertainty of self-supervised monocular depth
estimation", their "Post" variant) do. Computed here for NumPy arrays and torch tensors alike (no torch
import: the ONNX-only install predicts with it); the forward passes are the caller's
(:func:`ssrdepth.runtime.confidence.flip_disagreement` for a torch network,
:func:`ssrdepth.inference.maps.predict_normalised` for any backend).
"""

from __future__ import annotations

from typing import Any, TypeVar

import numpy as np

#: Floor of the mean map in the relative disagreement (normalised units): keeps the sky (disparity ≈ 0)
#: from dividing by zero; below it the difference itself is the measure.
RELATIVE_FLOOR = 1e-3

#: What the uncertainty map means, as written in every output's metadata.
MEANING = (
    "relative flip disagreement |a - b| / max((a + b) / 2, 0.001) of the normalised map a and the map b "
    "predicted for the mirrored image, mirrored back; dimensionless, 0 = the two agree, higher = less sure"
)

ArrayT = TypeVar("ArrayT")


def relative_disagreement(a: ArrayT, b: ArrayT) -> ArrayT:
    """``|a − b| / max((a + b) / 2, 1e-3)`` elementwise, for two normalised maps of one shape (NumPy
    arrays or torch tensors; the result is of the same kind): dimensionless, and the same whether the
    maps hold disparity or depth (a relative error in disparity is the same relative error in depth, to
    first order)."""
    x: Any = a
    y: Any = b
    mean = (x + y) / 2
    floored = mean.clamp(min=RELATIVE_FLOOR) if hasattr(mean, "clamp") else np.maximum(mean, RELATIVE_FLOOR)
    out: ArrayT = abs(x - y) / floored
    return out


__all__ = ["MEANING", "RELATIVE_FLOOR", "relative_disagreement"]
