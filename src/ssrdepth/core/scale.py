"""What a normalised [0, 1] map means physically (:class:`TargetScale`), and the one disparity → depth.

Imports numpy only (torch only when given a tensor), so configuration and ONNX inference stay light.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

if TYPE_CHECKING:
    import torch

ArrayT = TypeVar("ArrayT", np.ndarray, "torch.Tensor")

#: Disparities at or below this (px) are at infinity: their depth is 0 (unknown), never a huge number.
MIN_DISPARITY = 1e-6


def disparity_to_depth(disparity: ArrayT, focal: float, baseline: float) -> ArrayT:
    """Disparity (px) → depth (m) ``= focal·baseline / disparity`` (focal in px, baseline in m), the one
    conversion of the package; 0 where the disparity is ≤ :data:`MIN_DISPARITY` or not finite. The
    same reciprocal maps depth (m) → disparity (px). Keeps the input's shape and float dtype."""
    fb = float(focal) * float(baseline)
    if not isinstance(disparity, np.ndarray):  # a torch tensor: torch is imported only when one is given
        import torch

        known = torch.isfinite(disparity) & (disparity > MIN_DISPARITY)
        return torch.where(known, fb / disparity.clamp(min=MIN_DISPARITY), torch.zeros_like(disparity))
    known = np.isfinite(disparity) & (disparity > MIN_DISPARITY)
    out = np.zeros_like(disparity)
    np.divide(disparity.dtype.type(fb), disparity, out=out, where=known)
    return out


@dataclass(frozen=True)
class TargetScale:
    """What a normalised [0, 1] map means physically, and the conversions (the paper's targets are
    normalised: stereo disparity / a fixed maximum disparity, or depth / a maximum depth).

    kind: ``"disparity"`` (pixels at ``reference_width``) or ``"depth"`` (metres).
    max_value: the physical value that maps to 1.0 (px or m).
    focal, baseline: pixels at ``reference_width`` and metres; needed for disparity → depth.
    reference_width: image width (px) at which ``max_value`` and ``focal`` are measured; a disparity
    at another width scales with width, while depth does not.
    """

    kind: str = "disparity"
    max_value: float = 192.0
    focal: float | None = None
    baseline: float | None = None
    reference_width: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("disparity", "depth"):
            raise ValueError(f"TargetScale.kind must be 'disparity' or 'depth', got {self.kind!r}")
        if not self.max_value > 0:
            raise ValueError(f"TargetScale.max_value must be > 0, got {self.max_value}")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TargetScale:
        return cls(
            **{k: d[k] for k in ("kind", "max_value", "focal", "baseline", "reference_width") if k in d}
        )

    def to_physical(self, normalised: ArrayT) -> ArrayT:
        """Normalised map → disparity (px at ``reference_width``) or depth (m)."""
        return normalised * self.max_value

    def from_physical(self, value: ArrayT) -> ArrayT:
        """Disparity (px) or depth (m) → normalised map (not clipped)."""
        return value / self.max_value

    def to_depth(self, normalised: ArrayT) -> ArrayT:
        """Normalised map → depth in metres (:func:`disparity_to_depth` for disparity maps: 0 where
        the disparity is ≤ :data:`MIN_DISPARITY`, depth undefined)."""
        value = self.to_physical(normalised)
        if self.kind == "depth":
            return value
        if self.focal is None or self.baseline is None:
            raise ValueError("disparity → depth needs focal (px) and baseline (m) in the TargetScale")
        return disparity_to_depth(value, self.focal, self.baseline)
