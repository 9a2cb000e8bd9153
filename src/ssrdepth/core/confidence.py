"""The one formula of the flip uncertainty, how much a map and its mirrored twin disagree, and the
one split of a network's output into its map and its trained uncertainty (:func:`split_output`).

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

#: What the trained head's uncertainty map means (``uncertainty`` models, :func:`head_uncertainty`).
HEAD_MEANING = (
    "trained Laplacian scale b = exp(s) of the log error |log p - log t| of the normalised map p (the "
    "network's second output channel s, trained by the log-Laplacian likelihood); dimensionless, the "
    "expected absolute log error (~ relative error), higher = less sure"
)
#: The uncertainty sources: ``head`` (the trained output, when the network has it) and ``flip``.
SOURCES = ("head", "flip")
#: What each source's map means, as the metadata says it.
MEANINGS = {"head": HEAD_MEANING, "flip": MEANING}
#: The head's ``s`` is clipped to [−this, this] before ``exp`` (e^±20: far beyond any real error),
#: so an untrained or broken head cannot write inf.
LOG_SCALE_CLIP = 20.0

ArrayT = TypeVar("ArrayT")


def split_output(output: ArrayT) -> tuple[ArrayT, ArrayT | None]:
    """A network's output ``(N, C, H, W)`` (NumPy array or torch tensor) → ``(map, log_scale)``: the
    normalised map ``(N, 1, H, W)`` and, for a 2-channel output (the ``uncertainty`` model option), its
    trained log-scale ``s`` ``(N, 1, H, W)``; ``None`` for a 1-channel output. The one place where the
    channels are told apart — training's loss gets the whole output, every other reader this.

    Raises:
        ValueError: not 4-D, or neither 1 nor 2 channels.
    """
    x: Any = output
    if len(x.shape) != 4 or x.shape[1] not in (1, 2):
        raise ValueError(
            f"a network output is (N, 1, H, W), or (N, 2, H, W) with the uncertainty head; got {tuple(x.shape)}"
        )
    if x.shape[1] == 1:
        return output, None
    depth: ArrayT = x[:, :1]
    log_scale: ArrayT = x[:, 1:2]
    return depth, log_scale


def head_uncertainty(log_scale: ArrayT) -> ArrayT:
    """The trained head's uncertainty map ``b = exp(s)`` (``s`` clipped to ±:data:`LOG_SCALE_CLIP`),
    same shape and kind as ``log_scale`` (NumPy array or torch tensor): dimensionless."""
    s: Any = log_scale
    if hasattr(s, "clamp"):
        out: ArrayT = s.clamp(-LOG_SCALE_CLIP, LOG_SCALE_CLIP).exp()
    else:
        out = np.exp(np.clip(s, -LOG_SCALE_CLIP, LOG_SCALE_CLIP))
    return out


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


__all__ = [
    "HEAD_MEANING",
    "LOG_SCALE_CLIP",
    "MEANING",
    "MEANINGS",
    "RELATIVE_FLOOR",
    "SOURCES",
    "head_uncertainty",
    "relative_disagreement",
    "split_output",
]
