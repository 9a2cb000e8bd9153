"""Evaluation protocols: which pixels are compared, how, and how the per-image numbers are combined.

A :class:`Protocol` is a small frozen dataclass; named presets live in :data:`PROTOCOLS`:

=========== ======== =========== ============== =========== ========= =========== ===============
name        measures compared in valid pixels   caps        crop      aggregation scored at
=========== ======== =========== ============== =========== ========= =========== ===============
paper       paper's  normalised  all            none        none      per image   model's size
normalised  standard normalised  ``valid_mask`` y > 1e-3    none      per image   model's size
kitti       standard metres      depth > 0      1e-3–80 m   Garg      per image   truth's size
kitti-eigen standard metres      depth > 0      1e-3–80 m   Eigen     per image   truth's size
kitti-full  standard metres      depth > 0      1e-3–80 m   none      per image   truth's size
nyu         standard metres      depth > 0      1e-3–10 m   NYU Eigen per image   truth's size
=========== ======== =========== ============== =========== ========= =========== ===============

Where a protocol scores (``score_at``): ``"truth"`` — at the ground truth's own resolution, the network's
output upsampled bilinearly to it (the convention of the KITTI and Eigen et al. evaluations, so the
numbers compare with published ones; sparse lidar stays at its native pixels, never resized: the data
set's ``truth_depth(i)``); ``"model"`` — at the model's size, against the ground truth the data set
resized to it (its ``"depth"`` map; lidar shrunk so that a pixel is valid where any point falls). The
metric protocols score at the truth by default, ``model`` is kept as a named option
(``get_protocol("kitti", score_at="model")``, ``ssrdepth evaluate --score-at model``, recorded in the
name: ``kitti[score_at=model]``). The normalised protocols score at the model's size only: their
targets (stereo matches normalised by the model's scale) are defined there, as the paper's Table 1 is.
A data set without ``truth_depth`` (a plain torch ``Dataset``) is scored against its ``"depth"`` map
as it is, in both modes.

For one image the steps are, in order (the order of Godard et al.'s monodepth2 evaluation):

1. the prediction must have the target's ``(H, W)`` (the evaluation loop resizes it bilinearly first
   when ``resize`` is true: :func:`match_size`; the target is the truth at its own resolution or at the
   model's size, ``score_at``); any NaN/inf in the prediction is an error;
2. valid pixels: all, or the sample's valid mask (``mask="valid"``); non-finite targets never count;
3. the crop box (:func:`crop_box`) keeps only its pixels;
4. caps on the *target*: ``min_value < y < max_value`` (either may be ``None``);
5. scaling of the prediction on those pixels: none, per-image median (y′ · median(y)/median(y′)),
   least squares for a scale (s·y′) or for a scale and shift (s·y′ + t), fitted to y;
6. the prediction is clamped into ``[min_value, max_value]``;
7. the measures (:mod:`ssrdepth.evaluation.metrics`) on the remaining pixels.

Aggregation ``per-image`` (default, as the field and the paper's tables do) computes every measure per
image and averages over images; ``pooled`` computes each measure once over the pixels of all images.
An image with no valid pixel is skipped and counted in ``images_skipped``; a split with none at all
is an error. Training's validation measures with the same rule, batched on the device
(:mod:`ssrdepth.runtime.metrics`: the ``paper`` measures' ``rmse`` and pooled ``mse`` on valid pixels).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ssrdepth.data.config import DATA_SOURCES
from ssrdepth.evaluation.metrics import ArrayT, measure_set, metric_set

CROPS = ("none", "garg", "eigen", "nyu-eigen")
SCALINGS = ("none", "median", "least-squares", "least-squares-shift")
AGGREGATIONS = ("per-image", "pooled")
SPACES = ("normalised", "depth")
MASKS = ("all", "valid")
#: Where a protocol scores: at the ground truth's resolution or at the model's size (module docstring).
SCORE_AT = ("truth", "model")

#: KITTI crops as fractions (top, bottom, left, right) of the image height/width, truncated to whole
#: pixels. Garg et al. 2016 ("Unsupervised CNN for single view depth estimation"), and Eigen et al.
#: 2014's crop, in the fractional form the field's evaluation code uses for KITTI's 375×1242 frames.
_KITTI_FRACTIONS = {
    "garg": (0.40810811, 0.99189189, 0.03594771, 0.96405229),
    "eigen": (0.3324324, 0.91351351, 0.0359477, 0.96405229),
}
#: NYU Depth v2 Eigen crop: rows 45:471, columns 41:601 of the 480×640 frame (Eigen et al. 2014).
_NYU_BOX = (45, 471, 41, 601)
_NYU_SIZE = (480, 640)


def crop_box(crop: str, height: int, width: int) -> tuple[int, int, int, int]:
    """The crop's pixel box ``(top, bottom, left, right)`` (bottom/right exclusive) for an H×W image.

    KITTI crops: fraction × size, truncated (``int``). NYU Eigen crop: [45:471, 41:601] at 480×640 and
    the same box scaled for other sizes, each edge floored: ``edge * H // 480`` (so 240×320 gives
    [22:235, 20:300]). ``"none"`` is the whole image.
    """
    if crop == "none":
        return 0, height, 0, width
    if crop in _KITTI_FRACTIONS:
        t, b, left, right = _KITTI_FRACTIONS[crop]
        return int(t * height), int(b * height), int(left * width), int(right * width)
    if crop == "nyu-eigen":
        h0, w0 = _NYU_SIZE
        t, b, left, right = _NYU_BOX
        return t * height // h0, b * height // h0, left * width // w0, right * width // w0
    raise ValueError(f"unknown crop {crop!r}; valid crops: {', '.join(CROPS)}")


@dataclass(frozen=True)
class Protocol:
    """A named evaluation protocol (see the module docstring for the order of the steps).

    name: printed with every result.
    metrics: ``"paper"`` (eqs. 2–7 with ``eps``) or ``"standard"`` (Eigen et al. 2014).
    space: ``"normalised"`` — prediction vs the normalised ``target`` map in [0, 1]; ``"depth"`` —
        prediction converted to metres with the data set's ``TargetScale`` vs the ``depth`` map (m).
    mask: ``"all"`` pixels, or the ``"valid"`` ones (the sample's ``valid_mask`` in normalised space,
        ``depth > 0`` in depth space).
    min_value, max_value: caps in the compared units (m, or normalised); ``None`` for no cap.
    crop: one of :data:`CROPS`. scaling: one of :data:`SCALINGS`. aggregation: one of :data:`AGGREGATIONS`.
    resize: resize the prediction bilinearly to the target's size when they differ (else an error).
    score_at: ``"truth"`` (the ground truth's resolution, the prediction upsampled) or ``"model"``
        (the model's size, the truth resized by the data set); ``""`` (default) → ``"truth"`` for
        metric protocols (``space="depth"``), ``"model"`` for normalised ones, which only score there.
    eps: the paper's explicit ε for logs and divisions (paper measures only).
    """

    name: str
    metrics: str = "standard"
    space: str = "normalised"
    mask: str = "valid"
    min_value: float | None = None
    max_value: float | None = None
    crop: str = "none"
    scaling: str = "none"
    resize: bool = True
    aggregation: str = "per-image"
    eps: float = 1e-3
    score_at: str = ""
    description: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if not self.score_at:  # frozen: the resolved default is set once, here
            object.__setattr__(self, "score_at", "truth" if self.space == "depth" else "model")
        for value, valid, what in (
            (self.metrics, ("paper", "standard"), "metrics"),
            (self.space, SPACES, "space"),
            (self.mask, MASKS, "mask"),
            (self.crop, CROPS, "crop"),
            (self.scaling, SCALINGS, "scaling"),
            (self.aggregation, AGGREGATIONS, "aggregation"),
            (self.score_at, SCORE_AT, "score_at"),
        ):
            if value not in valid:
                raise ValueError(
                    f"protocol {self.name!r}: unknown {what} {value!r}; valid: {', '.join(valid)}"
                )
        lo, hi = self.min_value, self.max_value
        if lo is not None and hi is not None and not lo < hi:
            raise ValueError(f"protocol {self.name!r}: min_value {lo} must be below max_value {hi}")
        if self.metrics == "standard" and (lo is None or lo <= 0):
            raise ValueError(
                f"protocol {self.name!r}: the standard measures take logs and ratios, so they need "
                f"min_value > 0 (got {lo})"
            )
        if self.space == "depth" and hi is None:
            raise ValueError(
                f"protocol {self.name!r}: comparing in metres needs a max_value cap (a zero disparity "
                "means an infinite depth, which the cap turns into the maximum depth)"
            )
        if not self.eps >= 0:
            raise ValueError(f"protocol {self.name!r}: eps must be ≥ 0, got {self.eps}")
        if self.score_at == "truth" and self.space != "depth":
            raise ValueError(
                f"protocol {self.name!r}: a normalised protocol scores at the model's size only (its "
                "targets are defined there, as in the paper's tables): use score_at='model', or a metric "
                "protocol (kitti, nyu) to score at the ground truth's resolution"
            )

    @property
    def units(self) -> str:
        return "metres" if self.space == "depth" else "normalised [0, 1]"

    @property
    def scored_at(self) -> str:
        """Where it scores, in words, for tables and logs."""
        if self.score_at == "truth":
            return "at the ground truth's resolution (prediction upsampled bilinearly)"
        return "at the model's size (ground truth resized to it)"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def with_options(self, **changes: Any) -> Protocol:
        """A copy with some fields changed; its name records them, e.g. ``kitti[aggregation=pooled]``."""
        names = {f.name for f in fields(self)} - {"name", "description"}
        unknown = set(changes) - names
        if unknown:
            raise ValueError(
                f"unknown protocol option(s) {sorted(unknown)}; valid: {', '.join(sorted(names))}"
            )
        changed = {k: v for k, v in changes.items() if getattr(self, k) != v}
        if not changed:
            return self
        base, _, rest = self.name.partition("[")
        noted = dict(item.split("=", 1) for item in rest.rstrip("]").split(",") if "=" in item)
        noted.update({k: str(v) for k, v in changed.items()})
        suffix = ",".join(f"{k}={v}" for k, v in noted.items())
        return replace(self, name=f"{base}[{suffix}]", **changed)

    def summary(self) -> str:
        """One line saying what was compared, for tables and logs."""
        which = "the paper's six (eqs. 2–7, as printed)" if self.metrics == "paper" else "standard set"
        target = "depth map (m)" if self.space == "depth" else "normalised target map"
        pixels = "all pixels" if self.mask == "all" else "valid pixels"
        lo = "" if self.min_value is None else f"{self.min_value:g} < y"
        hi = "" if self.max_value is None else f"y < {self.max_value:g}"
        caps = " and ".join(c for c in (lo, hi) if c) or "none"
        eps = f", ε = {self.eps:g}" if self.metrics == "paper" else ""
        return (
            f"protocol {self.name}: {which} vs the {target}, {pixels}, crop {self.crop}, caps {caps}, "
            f"scaling {self.scaling}, {self.aggregation} aggregation{eps}, scored {self.scored_at}"
        )


#: The named presets.
PROTOCOLS: dict[str, Protocol] = {
    p.name: p
    for p in (
        Protocol(
            "paper",
            metrics="paper",
            space="normalised",
            mask="all",
            description="the paper's six measures exactly as printed, normalised maps, all pixels",
        ),
        Protocol(
            "normalised",
            metrics="standard",
            space="normalised",
            mask="valid",
            min_value=1e-3,
            description="the standard set on the normalised [0, 1] target maps, valid pixels",
        ),
        Protocol(
            "kitti",
            space="depth",
            min_value=1e-3,
            max_value=80.0,
            crop="garg",
            description="standard set in metres vs the depth map, Garg crop, 1e-3–80 m",
        ),
        Protocol(
            "kitti-eigen",
            space="depth",
            min_value=1e-3,
            max_value=80.0,
            crop="eigen",
            description="standard set in metres vs the depth map, Eigen crop, 1e-3–80 m",
        ),
        Protocol(
            "kitti-full",
            space="depth",
            min_value=1e-3,
            max_value=80.0,
            crop="none",
            description="standard set in metres vs the depth map, the whole image (no crop), 1e-3–80 m: "
            "for dense true depth (synthetic), where the Garg crop would hide the upper image",
        ),
        Protocol(
            "nyu",
            space="depth",
            min_value=1e-3,
            max_value=10.0,
            crop="nyu-eigen",
            description="standard set in metres vs the depth map, NYU Eigen crop, 1e-3–10 m",
        ),
    )
}


#: Protocols made for one kind of data: street scenes (KITTI-like, up to 80 m) or indoor rooms (NYU). Which
#: kind a data source is comes from its row of the source table (:attr:`DataSource.scene`).
STREET_PROTOCOLS = ("kitti", "kitti-eigen", "kitti-full")
INDOOR_PROTOCOLS = ("nyu",)


def protocol_mismatch(protocol: str, source: str) -> str | None:
    """A warning when ``protocol`` (a preset name) was made for another kind of data than ``source``
    (a data source name, its kind from :data:`~ssrdepth.data.config.DATA_SOURCES`): the NYU protocol
    on street data, or a KITTI protocol on indoor data; None otherwise."""
    name = protocol.strip().lower()
    scene = DATA_SOURCES[source].scene if source in DATA_SOURCES else "street"
    if name in INDOOR_PROTOCOLS and scene not in ("indoor", "any"):
        return (
            f"protocol {name!r} is made for NYU Depth v2 (indoor, NYU crop, 1e-3–10 m) but the data source "
            f"is {source!r}: depth beyond 10 m is ignored; for street data use 'kitti' (or 'kitti-eigen', "
            "'kitti-full')"
        )
    if name in STREET_PROTOCOLS and scene not in ("street", "any"):
        return (
            f"protocol {name!r} is made for KITTI-like street data (its crop, 1e-3–80 m) but the data source "
            f"is {source!r}: use 'nyu'"
        )
    return None


def get_protocol(name: str | Protocol, **changes: Any) -> Protocol:
    """A preset by name (or a :class:`Protocol` as is), with optional field changes (renamed)."""
    if isinstance(name, Protocol):
        base = name
    else:
        key = name.strip().lower()
        if key not in PROTOCOLS:
            raise ValueError(f"unknown protocol {name!r}; valid protocols: {', '.join(PROTOCOLS)}")
        base = PROTOCOLS[key]
    return base.with_options(**{k: v for k, v in changes.items() if v is not None})


# ------------------------------------------------------------------------------------ the per-image steps
def match_size(pred: torch.Tensor, size: tuple[int, int], protocol: Protocol) -> torch.Tensor:
    """Resize a prediction batch ``(N, 1, h, w)`` bilinearly (``align_corners=False``) to ``size`` = (H, W)
    when the protocol allows; ValueError when it does not and the sizes differ."""
    if tuple(pred.shape[-2:]) == tuple(size):
        return pred
    if not protocol.resize:
        raise ValueError(
            f"prediction size {tuple(pred.shape[-2:])} != target size {tuple(size)} and protocol "
            f"{protocol.name!r} does not resize"
        )
    if pred.dim() != 4:
        raise ValueError(f"expected a prediction batch (N, 1, h, w), got shape {tuple(pred.shape)}")
    return F.interpolate(pred, size=tuple(size), mode="bilinear", align_corners=False)


def _median(x: ArrayT) -> float:
    if isinstance(x, torch.Tensor):
        return float(torch.quantile(x, 0.5))  # the mean of the two middle values, as np.median
    return float(np.median(x))


def apply_scaling(pred: ArrayT, target: ArrayT, scaling: str) -> ArrayT:
    """Scale the prediction's pixels ``(P,)`` to the target's ``(P,)`` (float64 in, float64 out).

    median: y′ · median(y) / median(y′) (Zhou et al. 2017); least-squares: s·y′ with s = Σy′y / Σy′²;
    least-squares-shift: s·y′ + t, the least-squares fit of scale and shift (Ranftl et al. 2020).
    """
    if scaling == "none":
        return pred
    if scaling == "median":
        m = _median(pred)
        if not m > 0:
            raise ValueError(f"median scaling needs a positive median prediction, got {m}")
        return pred * (_median(target) / m)
    if scaling == "least-squares":
        ss = float((pred * pred).sum())
        if not ss > 0:
            raise ValueError("least-squares scaling needs a prediction that is not all zero")
        return pred * (float((pred * target).sum()) / ss)
    if scaling == "least-squares-shift":
        n = pred.shape[0]
        sp, st = float(pred.sum()), float(target.sum())
        spp, spt = float((pred * pred).sum()), float((pred * target).sum())
        det = n * spp - sp * sp
        if not abs(det) > 1e-12 * max(1.0, n * spp):
            raise ValueError("least-squares scale-and-shift needs a prediction that is not constant")
        s = (n * spt - sp * st) / det
        t = (st - s * sp) / n
        return pred * s + t
    raise ValueError(f"unknown scaling {scaling!r}; valid: {', '.join(SCALINGS)}")


def _to_numpy(x: Any) -> Any:
    return x.detach().cpu().numpy() if isinstance(x, torch.Tensor) else x


def _float64(x: ArrayT) -> ArrayT:
    return x.detach().double() if isinstance(x, torch.Tensor) else np.asarray(x, dtype=np.float64)


def pixel_mask(target: ArrayT, valid_mask: ArrayT | None, protocol: Protocol) -> Any:
    """Which pixels of one image ``(H, W)`` or ``(1, H, W)`` ``protocol`` compares (steps 1–5: finite
    target, the valid mask or ``target > 0``, the crop, the caps), as a bool array of the same shape
    and kind (torch or NumPy). The one mask of :func:`select_pixels`, also used to select per-pixel
    values that travel with the prediction (an uncertainty map, :mod:`ssrdepth.evaluation.uncertainty`).
    """
    is_torch = isinstance(target, torch.Tensor)
    t: Any = target
    valid: Any = torch.isfinite(t) if is_torch else np.isfinite(t)
    if protocol.mask == "valid":
        if valid_mask is None:
            valid = valid & (t > 0)
        else:
            valid = valid & (
                valid_mask.bool()
                if isinstance(valid_mask, torch.Tensor)
                else np.asarray(valid_mask, dtype=bool)
            )
    height, width = t.shape[-2], t.shape[-1]
    top, bottom, left, right = crop_box(protocol.crop, height, width)
    if (top, bottom, left, right) != (0, height, 0, width):
        box = torch.zeros_like(valid) if is_torch else np.zeros_like(valid)
        box[..., top:bottom, left:right] = True
        valid = valid & box
    if protocol.min_value is not None:
        valid = valid & (t > protocol.min_value)
    if protocol.max_value is not None:
        valid = valid & (t < protocol.max_value)
    return valid


def select_pixels(
    pred: ArrayT, target: ArrayT, valid_mask: ArrayT | None, protocol: Protocol
) -> tuple[ArrayT, ArrayT]:
    """Steps 1–6 for one image: the compared pixels ``(P,)`` of prediction and target, float64.

    pred, target: ``(H, W)`` or ``(1, H, W)`` in the protocol's units. valid_mask: bool of the same shape,
    used when ``protocol.mask == "valid"`` (``None`` there means ``target > 0``). P may be 0.
    """
    if tuple(pred.shape) != tuple(target.shape):
        raise ValueError(f"prediction shape {tuple(pred.shape)} != target shape {tuple(target.shape)}")
    if valid_mask is not None and tuple(valid_mask.shape) != tuple(target.shape):
        raise ValueError(f"valid_mask shape {tuple(valid_mask.shape)} != target shape {tuple(target.shape)}")
    if len(pred.shape) < 2:
        raise ValueError(f"expected an image (H, W) or (1, H, W), got shape {tuple(pred.shape)}")
    is_torch = isinstance(pred, torch.Tensor)
    p: Any = _float64(pred)
    t: Any = _float64(target)
    finite_p = torch.isfinite(p) if is_torch else np.isfinite(p)
    if not bool(finite_p.all()):
        bad = int((~finite_p).sum())
        raise ValueError(
            f"prediction contains {bad} NaN/inf value(s): the model output is broken (nothing is masked)"
        )
    valid = pixel_mask(t, valid_mask, protocol)
    p, t = p[valid], t[valid]
    if p.shape[0] == 0:
        return p, t
    p = apply_scaling(p, t, protocol.scaling)
    if protocol.min_value is not None or protocol.max_value is not None:
        p = (
            p.clamp(protocol.min_value, protocol.max_value)
            if is_torch
            else np.clip(p, protocol.min_value, protocol.max_value)
        )
    return p, t


@dataclass(frozen=True)
class Scores:
    """Aggregated measures of one evaluation: ``metrics`` (key → value, see ``metrics.LABELS``), the
    number of images that counted, of valid pixels compared, and of images skipped (no valid pixel)."""

    protocol: str
    metrics: dict[str, float]
    images: int
    valid_pixels: int
    images_skipped: int = 0


class MetricAccumulator:
    """Add images one batch at a time; :meth:`result` aggregates them as the protocol says.

    Batches (torch or NumPy) are moved to the CPU as NumPy arrays once, then measured per image.

    Pooled aggregation keeps the compared pixels (float32, CPU) until the end: 8 bytes per pixel.
    """

    def __init__(self, protocol: Protocol) -> None:
        self.protocol = protocol
        self._measure = measure_set(protocol.metrics, protocol.eps)  # every measure in one pass
        self._sums = dict.fromkeys(metric_set(protocol.metrics, protocol.eps), 0.0)
        self._pooled: list[tuple[np.ndarray, np.ndarray]] = []
        self.images = 0
        self.valid_pixels = 0
        self.images_skipped = 0

    def add_image(
        self, pred: ArrayT, target: ArrayT, valid_mask: ArrayT | None = None
    ) -> dict[str, float] | None:
        """One image ``(H, W)`` or ``(1, H, W)``; returns its measures (per-image) or ``None`` if skipped
        (no valid pixel) or pooled."""
        p, t = select_pixels(pred, target, valid_mask, self.protocol)
        n = int(p.shape[0])
        if n == 0:
            self.images_skipped += 1
            return None
        self.images += 1
        self.valid_pixels += n
        if self.protocol.aggregation == "pooled":
            to_np = (lambda a: a.cpu().numpy()) if isinstance(p, torch.Tensor) else (lambda a: a)
            self._pooled.append((to_np(p).astype(np.float32), to_np(t).astype(np.float32)))
            return None
        values = self._measure(p, t)
        for k, v in values.items():
            self._sums[k] += v
        return values

    def add_batch(
        self, pred: ArrayT, target: ArrayT, valid_mask: ArrayT | None = None
    ) -> list[dict[str, float] | None]:
        """A batch ``(N, 1, H, W)`` (or ``(N, H, W)``) of images; returns each image's measures as
        :meth:`add_image` does."""
        if len(pred.shape) < 3 or pred.shape[0] != target.shape[0]:
            raise ValueError(
                f"expected batches (N, 1, H, W) of equal N, got prediction {tuple(pred.shape)} and "
                f"target {tuple(target.shape)}"
            )
        # NumPy on small per-image arrays is ~50× faster than torch (op overhead, device syncs per
        # measure): move the batch to the CPU once.
        p, t, m = (_to_numpy(a) for a in (pred, target, valid_mask))
        return [self.add_image(p[i], t[i], None if m is None else m[i]) for i in range(p.shape[0])]

    def result(self) -> Scores:
        """The aggregated measures; ValueError when no image had a valid pixel."""
        if self.images == 0:
            raise ValueError(
                f"protocol {self.protocol.name!r}: no valid pixel in any of the {self.images_skipped} "
                "image(s) (check the valid masks, the depth maps and the caps/crop of the protocol)"
            )
        if self.protocol.aggregation == "pooled":
            p = np.concatenate([a for a, _ in self._pooled])
            t = np.concatenate([b for _, b in self._pooled])
            values = self._measure(p, t)
        else:
            values = {k: s / self.images for k, s in self._sums.items()}
        return Scores(self.protocol.name, values, self.images, self.valid_pixels, self.images_skipped)


def evaluate_arrays(
    pred: ArrayT, target: ArrayT, valid_mask: ArrayT | None = None, protocol: str | Protocol = "normalised"
) -> Scores:
    """Evaluate a batch ``(N, 1, H, W)`` of predictions against targets (already in the protocol's units)."""
    proto = get_protocol(protocol)
    acc = MetricAccumulator(proto)
    if isinstance(pred, torch.Tensor) and pred.dim() == 4:
        pred = match_size(pred, (int(target.shape[-2]), int(target.shape[-1])), proto)
    acc.add_batch(pred, target, valid_mask)
    return acc.result()


def describe(scores: Scores) -> str:
    """``protocol kitti: 100 images, 543,900 valid pixels`` — the line every printed result carries."""
    skipped = f" ({scores.images_skipped} skipped: no valid pixel)" if scores.images_skipped else ""
    return (
        f"protocol {scores.protocol}: {scores.images} images{skipped}, {scores.valid_pixels:,} valid pixels"
    )


__all__ = [
    "AGGREGATIONS",
    "CROPS",
    "PROTOCOLS",
    "SCALINGS",
    "SCORE_AT",
    "MetricAccumulator",
    "Protocol",
    "Scores",
    "apply_scaling",
    "crop_box",
    "describe",
    "evaluate_arrays",
    "get_protocol",
    "match_size",
    "pixel_mask",
    "select_pixels",
]
