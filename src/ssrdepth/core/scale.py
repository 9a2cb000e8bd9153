"""What a normalised [0, 1] map means physically — the one home of that rule — and the one
disparity ↔ depth.

:class:`TargetScale` owns every conversion of a map: to its physical value at the width it was
measured at, to any quantity (``"normalised"``, ``"disparity"`` px at another image width, ``"depth"``
m) at another width (disparity and focal length scale with width, depth does not) and in another
camera (a focal length and baseline given by the user), and re-expressed in another scale
(:meth:`TargetScale.renormalise`). Prediction, the web page, evaluation and the data sets call it
rather than re-deriving the rule. :func:`disparity_to_depth` is the package's one disparity ↔ depth.

Imports numpy only (torch only when given a tensor), so configuration and ONNX inference stay light.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

if TYPE_CHECKING:
    import torch

ArrayT = TypeVar("ArrayT", np.ndarray, "torch.Tensor")

#: The quantities a map can be converted to (:meth:`TargetScale.to_quantity`).
MAP_QUANTITIES = ("normalised", "disparity", "depth")

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
    focal, baseline: pixels at ``reference_width`` and metres; needed for disparity → depth. For a
    depth scale ``focal`` is the training camera's (no baseline): a network that learnt depth at focal
    ``f`` predicts depth × ``f_new / f`` for a camera of focal ``f_new`` (:meth:`focal_ratio`, the
    canonical-camera rule of Metric3D, Yin et al. 2023); ``None`` (older checkpoints): no conversion.
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
    def from_dict(cls, d: Mapping[str, Any]) -> TargetScale:
        return cls(
            **{k: d[k] for k in ("kind", "max_value", "focal", "baseline", "reference_width") if k in d}
        )

    @classmethod
    def from_target(cls, target: Mapping[str, Any]) -> TargetScale | None:
        """A checkpoint's or export's ``target`` dict → its scale; ``None`` when its ``kind`` is neither
        ``"disparity"`` nor ``"depth"`` (e.g. ``{"kind": "normalised"}``: no physical meaning).

        Raises:
            ValueError: a disparity or depth target with an invalid ``max_value``.
        """
        if target.get("kind") not in ("disparity", "depth"):
            return None
        return cls.from_dict(target)

    def width(self, default: int) -> int:
        """The width (px) at which ``max_value`` and ``focal`` hold: ``reference_width``, else ``default``
        (a model's input width when its checkpoint does not say)."""
        return int(self.reference_width) if self.reference_width else int(default)

    def camera(
        self,
        width: int,
        focal: float | None = None,
        baseline: float | None = None,
        *,
        default_width: int | None = None,
    ) -> tuple[float | None, float | None]:
        """Focal length (px at ``width``) and baseline (m) of the camera a map at ``width`` px is seen
        in: ``focal`` and ``baseline`` when given (another camera), else this scale's (its focal
        scaled from :meth:`width` to ``width``: focal lengths scale with image width), else ``None``.
        ``default_width`` is :meth:`width`'s default (the map's own width when ``None``)."""
        if focal is None and self.focal:
            focal = self.focal * width / self.width(width if default_width is None else default_width)
        if baseline is None and self.baseline:
            baseline = self.baseline
        return focal, baseline

    def focal_ratio(
        self, width: int, focal: float | None, *, default_width: int | None = None
    ) -> float | None:
        """``f_new / f_train``, both in px at the map's ``width`` (the training focal scaled from
        :meth:`width` to ``width``, ``default_width`` as in :meth:`camera`): what a depth map of the
        training camera is multiplied by in a camera of focal ``focal`` (px at ``width``) — the
        canonical-camera rule (Yin et al. 2023, Metric3D). ``1.0`` when ``focal`` is ``None``;
        ``None`` when a focal is given but this scale has no training focal (cannot be applied).
        For a disparity scale the same rule is ``f_new·B / d`` (:meth:`to_quantity`)."""
        if focal is None:
            return 1.0
        train, _ = self.camera(width, None, None, default_width=default_width)
        if not train:
            return None
        return float(focal) / float(train)

    def to_quantity(
        self,
        normalised: np.ndarray,
        quantity: str,
        *,
        focal: float | None = None,
        baseline: float | None = None,
        default_width: int | None = None,
    ) -> np.ndarray:
        """A normalised ``(..., H, W)`` map at an image's size → ``quantity`` as float32:

        - ``"normalised"``: unchanged;
        - ``"disparity"`` (px at the map's width ``W``): ``normalised × max_value × W / width`` (a
          disparity is a horizontal pixel distance, so it scales with the image width; ``width`` is
          :meth:`width` with ``default_width``, the map's own width when ``None``);
        - ``"depth"`` (m): ``normalised × max_value`` for a depth scale, × :meth:`focal_ratio` when
          ``focal`` (px at ``W``) is given and the scale knows its training focal (else unchanged:
          callers warn, the rule cannot be applied); for a disparity scale
          :func:`disparity_to_depth` of that disparity with :meth:`camera` at ``W`` (0 where the
          disparity is ≤ :data:`MIN_DISPARITY`).

        Raises:
            ValueError: an unknown quantity, disparity from a depth scale, or depth from a disparity
                scale without focal length and baseline (neither given nor in the scale).
        """
        if quantity not in MAP_QUANTITIES:
            raise ValueError(f"unknown quantity {quantity!r}; valid: {', '.join(MAP_QUANTITIES)}")
        if quantity == "normalised":
            return normalised.astype(np.float32, copy=False)
        value = normalised.astype(np.float32) * np.float32(self.max_value)
        if self.kind == "depth":
            if quantity == "disparity":
                raise ValueError("a depth scale cannot give disparity; ask for depth or normalised")
            ratio = self.focal_ratio(normalised.shape[-1], focal, default_width=default_width)
            return value if ratio is None or ratio == 1.0 else value * np.float32(ratio)
        w = normalised.shape[-1]
        disparity = value * np.float32(w / self.width(w if default_width is None else default_width))
        if quantity == "disparity":
            return disparity
        f, b = self.camera(w, focal, baseline, default_width=default_width)
        if f is None or b is None:
            raise ValueError(
                "disparity → depth needs the focal length (px at the map's width) and the baseline (m)"
            )
        return disparity_to_depth(disparity, f, b).astype(np.float32, copy=False)

    def disparity_factor(self, dest: TargetScale) -> float | None:
        """``(f_d·B_d) / (f·B)``: a disparity in this scale's camera → the disparity of the same depth
        in ``dest``'s camera; ``None`` when either lacks (or has 0 as) focal length or baseline."""
        if not (self.focal and self.baseline and dest.focal and dest.baseline):
            return None
        return float(dest.focal) * float(dest.baseline) / (float(self.focal) * float(self.baseline))

    def camera_factor(self, dest: TargetScale) -> float | None:
        """``(f_d / W_d) / (f / W)``: the canonical-camera factor (Yin et al. 2023) taking a depth a
        network trained in this scale's camera predicts (m) to the depth it means on an image of
        ``dest``'s camera — any kind (focal lengths per image width, so the widths need not match);
        ``None`` when either lacks its focal length or reference width."""
        if not (self.focal and self.reference_width and dest.focal and dest.reference_width):
            return None
        return (float(dest.focal) / dest.reference_width) / (float(self.focal) / self.reference_width)

    def renormalise(self, normalised: ArrayT, dest: TargetScale) -> ArrayT:
        """A normalised map in this scale → the same physical values normalised in ``dest``'s.

        Same kind only (depth ↔ depth: scaled by :meth:`camera_factor` when both scales know their
        training focal and width — the canonical-camera rule; disparity ↔ disparity: by the same rule,
        the network's depth in ``dest``'s camera, as ``dest``'s disparity — × ``(B_d / B)·(W_d / W)``,
        i.e. :meth:`disparity_factor` / :meth:`camera_factor` — when both scales know their camera and
        width (other recording days or rigs), :meth:`disparity_factor` when they lack a width, else by
        the ratio of reference widths). Any array or tensor; ``normalised`` itself when the scales
        are equal.

        Raises:
            ValueError: the scales are of different kinds (compare them in metres instead).
        """
        if self == dest:
            return normalised
        if self.kind != dest.kind:
            raise ValueError(
                f"the model predicts normalised {self.kind} but the data's target is normalised {dest.kind}: "
                "compare them in metres with a depth protocol (kitti, nyu)"
            )
        value = self.to_physical(normalised)
        factor = self.disparity_factor(dest) if self.kind == "disparity" else self.camera_factor(dest)
        camera = self.camera_factor(dest) if self.kind == "disparity" else None
        if factor is not None and camera is not None:
            # The canonical-camera rule for disparity: the network sees the data's camera, so its metres
            # are × ``camera`` — its disparity of that depth is × (B_d / B)·(W_d / W).
            factor = factor / camera
        if factor is not None:
            value = value * factor
        elif self.kind == "disparity" and self.reference_width and dest.reference_width:
            value = value * (dest.reference_width / self.reference_width)
        return dest.from_physical(value)

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
