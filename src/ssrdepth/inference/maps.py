"""What a predicted map becomes — the one home of the step from images to finished maps in physical
units: :func:`predict` / :func:`predict_batch` (images → maps in a quantity), :func:`predict_normalised`
(images → the network's normalised maps at each image's size), :func:`convert` (a normalised map → a
quantity), and :func:`finish`, the one call that turns a normalised map into a finished
:class:`MapResult` (values in the asked quantity, metadata from :func:`describe`, colour map, map
files) for ``ssrdepth predict``'s files and ``ssrdepth serve``'s page alike; :func:`cloud_depth` is
the depth of a point cloud.

Pre-processing is the training pipeline's (:mod:`ssrdepth.core.image`): RGB → grey by BT.601 luma
when the model is grey, resize to the checkpoint's ``input_size`` (area averaging when shrinking,
bilinear when enlarging), [0, 1] floats. The model's ``(h, w)`` output is resized bilinearly back to
the image's size and then converted to the requested quantity by the checkpoint's
:class:`~ssrdepth.core.scale.TargetScale` (:meth:`~ssrdepth.core.scale.TargetScale.to_quantity`):

- ``normalised``: the network output in [0, 1];
- ``disparity`` (px at the **image's** width): ``normalised × max_value × W_image / reference_width``
  (disparity is proportional to image width; ``reference_width`` is the width at which the
  checkpoint's ``max_value`` was measured, the model's input width when the checkpoint does not say);
- ``depth`` (m): ``normalised × max_value`` for depth targets, ``focal × baseline / disparity`` for
  disparity targets (``focal`` in px at the image's width).

A camera given for the image (``focal``, px at the image's width, e.g. from
:func:`~ssrdepth.data.intrinsics.resolve_intrinsics`) is applied to every model kind by the
canonical-camera rule (Metric3D, Yin et al. 2023; :meth:`~ssrdepth.core.scale.TargetScale.focal_ratio`):
depth × ``f_new / f_train`` for depth models whose checkpoint records its training focal, ``f_new·B / d``
for disparity models. A depth checkpoint without a training focal (older ones) cannot apply it: its
depth is unchanged and a warning says so.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ssrdepth import __version__
from ssrdepth.core.confidence import MEANINGS, head_uncertainty, relative_disagreement, split_output
from ssrdepth.core.image import prepare_image, read_image
from ssrdepth.data.intrinsics import Intrinsics
from ssrdepth.inference.model import DepthModel
from ssrdepth.inference.outputs import (
    PREDICTION_FORMAT,
    UNITS,
    colorize,
    value_range,
    write_color_png,
    write_npy,
    write_pfm,
    write_png16,
)

QUANTITIES = ("native", "normalised", "disparity", "depth")

logger = logging.getLogger(__name__)
_WARNED: set[str] = set()  # the models whose "cannot apply the focal" warning was given


def focal_unapplied(model: DepthModel, focal: float | None) -> bool:
    """Whether a given ``focal`` cannot be applied to ``model``'s depth (a depth checkpoint that does
    not record its training focal); warns once per model file when so."""
    scale = model.scale
    if focal is None or scale is None or scale.kind != "depth" or scale.focal:
        return False
    if str(model.source) not in _WARNED:
        _WARNED.add(str(model.source))
        logger.warning(
            "%s: the checkpoint does not record its training camera's focal length, so the given focal "
            "(%.1f px) cannot convert its depth to this camera; depth is the training camera's (retrain "
            "with this ssrdepth to record it)",
            model.source,
            focal,
        )
    return True


def resolve_quantity(model: DepthModel, quantity: str) -> str:
    """``"native"`` → what the model predicts; checks that the request can be served."""
    if quantity not in QUANTITIES:
        raise ValueError(f"unknown quantity {quantity!r}; valid: {', '.join(QUANTITIES)}")
    q = model.native_quantity if quantity == "native" else quantity
    if q != "normalised" and model.scale is None:
        raise ValueError(
            f"{model.source}: the checkpoint's target is {model.target!r}, not disparity or depth; "
            "only --quantity normalised is available"
        )
    if q == "disparity" and model.native_quantity == "depth":
        raise ValueError(f"{model.source}: a depth model cannot give disparity; use depth or normalised")
    return q


def _focal_baseline(
    model: DepthModel, width: int, focal: float | None, baseline: float | None
) -> tuple[float, float]:
    """Focal length (px at ``width``) and baseline (m): given, else from the checkpoint's target
    (:meth:`TargetScale.camera`); a ValueError naming the model and the options when one is missing."""
    scale = model.scale
    if scale is not None:
        focal, baseline = scale.camera(width, focal, baseline, default_width=model.input_size[1])
    if focal is None or baseline is None:
        raise ValueError(
            f"{model.source}: disparity → depth needs the focal length and baseline; the checkpoint "
            "has none, so give --focal PX (at the image's width) and --baseline M"
        )
    return float(focal), float(baseline)


def convert(
    model: DepthModel,
    normalised: np.ndarray,
    quantity: str,
    *,
    focal: float | None = None,
    baseline: float | None = None,
) -> np.ndarray:
    """A normalised ``(H, W)`` map at the image's size → ``quantity`` (see the module docstring).

    ``focal`` is in px at this map's width. Depth is 0 where the disparity is ≤ 1e-6 px (at infinity; :func:`~ssrdepth.core.scale.disparity_to_depth`).
    """
    q = resolve_quantity(model, quantity)
    if q == "normalised":
        return normalised.astype(np.float32, copy=False)
    scale = model.scale
    assert scale is not None  # resolve_quantity checked
    if q == "depth" and scale.kind == "disparity":  # the camera, or the error naming the options
        focal, baseline = _focal_baseline(model, normalised.shape[1], focal, baseline)
    if q == "depth" and scale.kind == "depth":
        focal_unapplied(model, focal)  # the warning; to_quantity leaves such a depth unchanged
    return scale.to_quantity(normalised, q, focal=focal, baseline=baseline, default_width=model.input_size[1])


def predict_normalised(model: DepthModel, images: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Images (any sizes, see :func:`~ssrdepth.core.image.as_rgb`) → normalised ``(H_i, W_i)`` float32 maps, one per image,
    at each image's own size. Runs the model once on the whole batch."""
    return predict_with_uncertainty(model, images, uncertainty=False)[0]


def uncertainty_source(model: DepthModel) -> str:
    """Where ``model``'s uncertainty maps come from: ``"head"``, its trained output, when it has one
    (:attr:`~ssrdepth.inference.model.DepthModel.has_head`), else ``"flip"`` (a second, mirrored run)."""
    return "head" if model.has_head else "flip"


def predict_with_uncertainty(
    model: DepthModel, images: Sequence[np.ndarray], uncertainty: bool = True
) -> tuple[list[np.ndarray], list[np.ndarray] | None]:
    """Like :func:`predict_normalised`, and with ``uncertainty`` also each map's uncertainty
    ``(H_i, W_i)`` float32 (:mod:`ssrdepth.core.confidence`: dimensionless, higher = less sure) from
    :func:`uncertainty_source`: the trained head's ``exp(s)`` (same run), else the flip disagreement
    (a second run of the model on the mirrored batch) — any backend. Both at each image's own size
    (the uncertainty is computed at the model's size, then resized)."""
    if not images:
        return [], [] if uncertainty else None
    h, w = model.input_size
    batch = np.stack([prepare_image(im, model.in_channels, (h, w)) for im in images])
    out, log_scale = split_output(model.run(batch).astype(np.float32, copy=False))
    unc = None
    if uncertainty and log_scale is not None:
        unc = head_uncertainty(log_scale)
    elif uncertainty:
        mirrored = split_output(model.run(np.ascontiguousarray(batch[..., ::-1])))[0][..., ::-1]
        unc = relative_disagreement(out, np.ascontiguousarray(mirrored, dtype=np.float32))
    maps = [_at_size(y[0], im) for im, y in zip(images, out, strict=True)]
    return maps, None if unc is None else [_at_size(u[0], im) for im, u in zip(images, unc, strict=True)]


def _at_size(y: np.ndarray, image: np.ndarray) -> np.ndarray:
    if y.shape != image.shape[:2]:
        y = cv2.resize(y, (image.shape[1], image.shape[0]), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(y, dtype=np.float32)


def predict_batch(
    model: DepthModel,
    images: Sequence[np.ndarray | str | os.PathLike[str]],
    quantity: str = "native",
    *,
    focal: float | None = None,
    baseline: float | None = None,
    intrinsics: Intrinsics | None = None,
) -> list[np.ndarray]:
    """Like :func:`predict` for several images at once (one forward pass)."""
    q = resolve_quantity(model, quantity)
    arrays = [read_image(Path(im)) if isinstance(im, (str, os.PathLike)) else im for im in images]
    maps = predict_normalised(model, arrays)
    return [
        convert(model, n, q, focal=image_focal(n.shape[1], focal, intrinsics), baseline=baseline)
        for n in maps
    ]


def image_focal(width: int, focal: float | None, intrinsics: Intrinsics | None) -> float | None:
    """The focal length (px at an image ``width`` px wide): ``focal`` (already at it), else
    ``intrinsics`` rescaled to it (:meth:`~ssrdepth.data.intrinsics.Intrinsics.at_width`), else ``None``."""
    if focal is not None:
        return float(focal)
    return intrinsics.at_width(width).fx if intrinsics is not None else None


def predict(
    model: DepthModel,
    image: np.ndarray | str | os.PathLike[str],
    quantity: str = "native",
    *,
    focal: float | None = None,
    baseline: float | None = None,
    intrinsics: Intrinsics | None = None,
) -> np.ndarray:
    """Predict one map at the image's own size.

    Args:
        model: from :func:`~ssrdepth.inference.model.load_model`.
        image: ``(H, W[, 3])`` RGB uint8 / uint16 / float [0, 1], or an image file's path.
        quantity: ``"native"`` (what the checkpoint's target is: disparity px or depth m; normalised
            if it has no physical scale), ``"normalised"``, ``"disparity"`` (px at the image's width)
            or ``"depth"`` (m).
        focal, baseline: px at the image's width and m: the camera of the image (depth in it by the
            canonical-camera rule, for depth and disparity models; the checkpoint's when ``None``).
        intrinsics: the camera as :class:`~ssrdepth.data.intrinsics.Intrinsics` (from
            :func:`~ssrdepth.data.intrinsics.read_calib`, :func:`~ssrdepth.data.intrinsics.exif_intrinsics`,
            …), rescaled to the image's width; ``focal`` wins when both are given.

    Returns:
        ``(H, W)`` float32 map.
    """
    return predict_batch(model, [image], quantity, focal=focal, baseline=baseline, intrinsics=intrinsics)[0]


def describe(
    model: DepthModel,
    quantity: str,
    image_size: tuple[int, int],
    source: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """The metadata every output carries: what the map is, in which unit, from which model."""
    meta: dict[str, Any] = {
        "format": PREDICTION_FORMAT,
        "ssrdepth_version": __version__,
        "quantity": quantity,
        "unit": UNITS[quantity],
        "model": model.name,
        "in_channels": model.in_channels,
        "checkpoint": str(model.source),
        "step": model.step,
        "backend": model.backend,
        "precision": model.precision,
        "input_size": list(model.input_size),
        "image_size": list(image_size),
        "normalised_target": model.target,
    }
    if model.native_quantity == "disparity":
        meta["reference_width"] = model.reference_width
        meta["disparity_width_scale"] = image_size[1] / model.reference_width
    if source is not None:
        meta["source"] = source
    meta.update({k: v for k, v in extra.items() if v is not None})
    return meta


def colour_map_name(cmap: str, quantity: str) -> str:
    """``cmap``, reversed for depth so that near is bright in every quantity (large depth = far)."""
    return cmap + ("_r" if quantity == "depth" and not cmap.endswith("_r") else "")


#: The map files :meth:`MapResult.write` makes: output kind → file name after ``BASE_`` (``{q}``: the
#: quantity). ``uncertainty``: the uncertainty's values (``.npy`` with its sidecar) and picture.
MAP_FILES = {"png16": "{q}.png", "npy": "{q}.npy", "pfm": "{q}.pfm", "color": "{q}_color.png"}
UNCERTAINTY_FILES = {"uncertainty": "uncertainty.npy", "uncertainty_color": "uncertainty_color.png"}
#: The uncertainty picture's colour range is [0, this]: 0.5 = the two maps differ by half their mean.
UNCERTAINTY_COLOUR_MAX = 0.5


def map_paths(base: Path, quantity: str, outputs: Sequence[str]) -> dict[str, Path]:
    """Where :meth:`MapResult.write` puts each map file among ``outputs`` (kinds of :data:`MAP_FILES`;
    others are ignored): ``BASE_QUANTITY.png`` / ``.npy`` / ``.pfm`` / ``_color.png``; with
    ``uncertainty`` also ``BASE_uncertainty.npy`` and ``BASE_uncertainty_color.png``."""
    files = {k: v for k, v in MAP_FILES.items() if k in outputs}
    if "uncertainty" in outputs:
        files.update(UNCERTAINTY_FILES)
    return {kind: base.with_name(f"{base.name}_{name.format(q=quantity)}") for kind, name in files.items()}


@dataclass
class MapResult:
    """One predicted map, finished (:func:`finish`): ``values`` ``(H, W)`` float32 in ``quantity``'s
    unit at the image's size; ``meta``, what every output of it carries (:func:`describe`, plus the
    camera of a depth map, :func:`camera_meta`: ``focal_px``, ``focal_source``, …); ``cmap``, the colour map that
    draws it (:func:`colour_map_name`)."""

    values: np.ndarray
    quantity: str
    meta: dict[str, Any]
    cmap: str
    #: The uncertainty ``(H, W)`` float32 (:mod:`ssrdepth.core.confidence`), when asked for.
    uncertainty: np.ndarray | None = None
    #: Where it came from (:func:`uncertainty_source`): ``"head"`` or ``"flip"``.
    uncertainty_source: str = "flip"

    @property
    def unit(self) -> str:
        return UNITS[self.quantity]

    def colour(self, vrange: tuple[float, float] | None = None) -> tuple[np.ndarray, tuple[float, float]]:
        """``(H, W, 3)`` uint8 RGB of ``values`` over ``vrange`` (``None``: the 1st–99th percentile,
        :func:`~ssrdepth.inference.outputs.value_range`), and that range.

        Raises:
            ValueError: an unknown colour map. MissingDependency: one that needs matplotlib.
        """
        vmin, vmax = value_range(self.values) if vrange is None else vrange
        return colorize(self.values, self.cmap, vmin, vmax), (vmin, vmax)

    def write(
        self,
        base: Path,
        outputs: Sequence[str],
        vrange: tuple[float, float] | None = None,
        png16_meta: dict[str, Any] | None = None,
    ) -> list[Path]:
        """The map files among ``outputs`` (``png16``, ``npy``, ``pfm``, ``color``; others are not map
        files and are ignored) as ``BASE_QUANTITY.png`` / ``.npy`` / ``.pfm`` / ``_color.png``.
        ``vrange`` fixes the colour range (``None``: per image); ``png16_meta`` is added to the 16-bit
        PNG's metadata."""
        q, meta = self.quantity, self.meta
        paths = map_paths(base, q, outputs)
        written: list[Path] = []
        if "png16" in paths:
            written.append(write_png16(paths["png16"], self.values, q, {**meta, **(png16_meta or {})}))
        if "npy" in paths:
            written.append(write_npy(paths["npy"], self.values, meta))
        if "pfm" in paths:
            written.append(write_pfm(paths["pfm"], self.values, meta))
        if "color" in paths:
            written.append(write_color_png(paths["color"], self.values, meta, self.cmap, vrange))
        if "uncertainty" in paths:
            if self.uncertainty is None:
                raise ValueError(
                    f"{base}: the uncertainty output needs the map's uncertainty (finish(uncertainty=…))"
                )
            umeta = {
                **meta,
                "quantity": "uncertainty",
                "unit": "",
                "method": self.uncertainty_source,
                "meaning": MEANINGS[self.uncertainty_source],
            }
            written.append(write_npy(paths["uncertainty"], self.uncertainty, umeta))
            written.append(
                write_color_png(
                    paths["uncertainty_color"],
                    self.uncertainty,
                    umeta,
                    "viridis",
                    (0.0, UNCERTAINTY_COLOUR_MAX),
                )
            )
        return written


def finish(
    model: DepthModel,
    normalised: np.ndarray,
    quantity: str = "native",
    *,
    focal: float | None = None,
    baseline: float | None = None,
    cmap: str = "magma",
    source: str | None = None,
    uncertainty: np.ndarray | None = None,
    **extra: Any,
) -> MapResult:
    """A normalised ``(H, W)`` map at the image's size → the finished result every output is made
    from, in physical units: values in ``quantity`` (:func:`convert`; ``focal`` px at the image's
    width and ``baseline`` m override the checkpoint's camera), metadata (:func:`describe` with
    ``source`` and ``extra``, and the camera used for depth from disparity) and colour map; the map's
    ``uncertainty`` (:func:`predict_with_uncertainty`) travels with it. The one call shared by
    ``ssrdepth predict``'s files and ``ssrdepth serve``'s page.

    Raises:
        ValueError: a quantity this model cannot give, or depth from disparity without a camera.
    """
    q = resolve_quantity(model, quantity)
    values = convert(model, normalised, q, focal=focal, baseline=baseline)
    meta = describe(model, q, values.shape, source, **extra)
    meta.update(camera_meta(model, values.shape[1], focal, baseline, q, meta.pop("focal_source", None)))
    return MapResult(values, q, meta, colour_map_name(cmap, q), uncertainty, uncertainty_source(model))


def camera_meta(
    model: DepthModel,
    width: int,
    focal: float | None,
    baseline: float | None,
    quantity: str,
    focal_source: str | None = None,
) -> dict[str, Any]:
    """The camera a depth map at ``width`` px was made in, for its metadata: ``focal_px`` (px at the
    image's width) and ``focal_source`` (where it came from: ``focal_source`` when ``focal`` was given,
    else the checkpoint's training camera), ``baseline_m`` for depth from disparity, and for a depth
    model ``training_focal_px`` and ``focal_ratio`` (the canonical-camera factor applied; 1 when
    none could be). ``{}`` for other quantities or when no focal is known."""
    scale = model.scale
    if quantity != "depth" or scale is None:
        return {}
    source = focal_source or ("given" if focal is not None else "checkpoint (training camera)")
    if scale.kind == "disparity":
        f, b = _focal_baseline(model, width, focal, baseline)
        return {"focal_px": f, "focal_source": source, "baseline_m": b}
    train, _ = scale.camera(width, default_width=model.input_size[1])
    ratio = scale.focal_ratio(width, focal, default_width=model.input_size[1])
    used = focal if focal is not None else train
    if used is None:
        return {}
    out: dict[str, Any] = {"focal_px": float(used), "focal_source": source}
    out.update(training_focal_px=train, focal_ratio=1.0 if ratio is None else ratio)
    if ratio is None:
        out["focal_note"] = "the checkpoint records no training focal: depth is the training camera's"
    return out


def cloud_depth(
    model: DepthModel, normalised: np.ndarray, focal: float | None, baseline: float | None
) -> tuple[np.ndarray, dict[str, Any]]:
    """Depth (m, ``(H, W)`` float32) for a point cloud of a normalised map at the image's size, and
    the camera metadata it used (``focal_px``, ``baseline_m`` for a disparity model; for a depth
    model its metres in this camera, :func:`camera_meta`). ``focal`` px at the image's width.

    Raises:
        ValueError: a normalised-only model, or a disparity model without focal length and baseline.
    """
    if model.native_quantity == "depth":
        width = normalised.shape[1]
        return convert(model, normalised, "depth", focal=focal), camera_meta(
            model, width, focal, None, "depth"
        )
    f, b = _focal_baseline(model, normalised.shape[1], focal, baseline)
    return convert(model, normalised, "depth", focal=f, baseline=b), {"focal_px": f, "baseline_m": b}
