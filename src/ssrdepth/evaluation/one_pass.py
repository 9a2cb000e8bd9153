"""One pass of a model over a data set, feeding every protocol's accumulators — the machinery behind
:func:`ssrdepth.evaluation.evaluate.evaluate_protocols` (the public entry point).

Each image is read and run through the network once; each protocol's :class:`Feed` turns that output
into what the protocol compares (:func:`compared`: metres through the model's ``TargetScale``, or the
normalised map renormalised to the data's scale), at the model's size or at the ground truth's own
resolution (:class:`WithTruth`, the output upsampled once per image and size by :class:`Upsampled`),
and feeds its metric, sparsification and flicker accumulators; :class:`Sequences` stabilises the
predictions of each sequence first when asked. Also the one home of the conversions
:func:`prediction_to_depth` and :func:`renormalise`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset, Subset, default_collate

from ssrdepth.core.stabilise import Stabiliser
from ssrdepth.data.config import TargetScale
from ssrdepth.evaluation.protocols import (
    MetricAccumulator,
    Protocol,
    match_size,
    pixel_mask,
    select_pixels,
)
from ssrdepth.evaluation.results import EvalResult
from ssrdepth.evaluation.temporal import FlickerAccumulator
from ssrdepth.evaluation.uncertainty import SparsificationAccumulator
from ssrdepth.runtime import model_input
from ssrdepth.runtime.confidence import prediction_map, with_uncertainty

logger = logging.getLogger(__name__)


# ------------------------------------------------------------------------------------------ conversions
def prediction_to_depth(pred: torch.Tensor, scale: TargetScale) -> torch.Tensor:
    """Normalised prediction ``(N, 1, H, W)`` → depth in metres with ``scale``.

    For disparity, a zero disparity means infinitely far: it becomes ``inf`` here, and the protocol's
    max cap then turns it into the maximum depth (``TargetScale.to_depth`` itself returns 0 there).
    """
    depth = scale.to_depth(pred)
    if scale.kind == "disparity":
        depth = torch.where(depth > 0, depth, torch.full_like(depth, float("inf")))
    return depth


def renormalise(pred: torch.Tensor, source: TargetScale, dest: TargetScale) -> torch.Tensor:
    """A normalised map in ``source``'s scale → the same physical values normalised in ``dest``'s.

    Same kind only (depth ↔ depth; disparity ↔ disparity of the same depth: scaled by
    ``focal·baseline`` when both scales know them — cameras of other recording days or rigs — else by
    reference width); a different kind is a ValueError (compare in metres with a depth protocol instead).
    """
    return source.renormalise(pred, dest)


# ------------------------------------------------------------------------------------------- the pass
def first_images(dataset: Dataset[dict[str, Any]], max_images: int | None) -> Dataset[dict[str, Any]]:
    """The first ``max_images`` samples (all when None); ValueError for a bad count or no sample."""
    n = len(dataset)  # type: ignore[arg-type]
    if max_images is not None:
        if max_images < 1:
            raise ValueError(f"max_images must be ≥ 1, got {max_images}")
        dataset, n = Subset(dataset, range(min(n, max_images))), min(n, max_images)
    if n == 0:
        raise ValueError("the data set is empty: nothing to evaluate")
    return dataset


class WithTruth(Dataset[dict[str, Any]]):
    """A data set's samples with ``"truth"``: the true depth ``(1, H, W)`` float32 m (0 = unknown) at
    the source's own resolution, from the data set's ``truth_depth(i)`` (the sample's ``"depth"``
    where that gives ``None``)."""

    def __init__(self, base: Dataset[dict[str, Any]]) -> None:
        self.base = base

    def __len__(self) -> int:
        return len(self.base)  # type: ignore[arg-type]

    def __getitem__(self, i: int) -> dict[str, Any]:
        sample = dict(self.base[i])
        truth = self.base.truth_depth(i)  # type: ignore[attr-defined]
        sample["truth"] = (
            sample["depth"] if truth is None else torch.from_numpy(np.asarray(truth, np.float32)[None])
        )
        return sample


def with_truth(dataset: Dataset[dict[str, Any]]) -> Dataset[dict[str, Any]]:
    """``dataset`` with each sample's truth at its own resolution (:class:`WithTruth`) when it can
    read one (``truth_depth``: :func:`ssrdepth.data.build_dataset`'s data sets); else as it is (its
    ``"depth"`` maps are then the truth, at whatever size they have)."""
    if not callable(getattr(dataset, "truth_depth", None)):
        logger.info("the data set reads no ground truth of its own resolution: scoring its 'depth' maps")
        return dataset
    return WithTruth(dataset)


def collate(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """The default batching, with ``"truth"`` kept as a list: each image's truth has its own size
    (KITTI frames are 1224–1242 px wide)."""
    if "truth" not in samples[0]:
        return dict(default_collate(samples))
    truths = [s["truth"] for s in samples]
    batch = dict(default_collate([{k: v for k, v in s.items() if k != "truth"} for s in samples]))
    batch["truth"] = truths
    return batch


class Upsampled:
    """One batch's network output ``(N, 1, h, w)`` (and its uncertainty) at each truth's size, made once
    per image and size and shared by every protocol that scores there."""

    def __init__(self, raw: torch.Tensor, uncertainty: torch.Tensor | None) -> None:
        self.raw, self.uncertainty = raw, uncertainty
        self._done: dict[tuple[int, int, int], tuple[torch.Tensor, torch.Tensor | None]] = {}

    def at(self, i: int, size: tuple[int, int], proto: Protocol) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Image ``i``'s output ``(1, 1, H, W)`` at ``size`` (bilinear, :func:`match_size`; a protocol
        that does not resize is refused there) and its uncertainty at the same size (or None)."""
        if not proto.resize:
            match_size(self.raw[i : i + 1], size, proto)  # raises when the sizes differ
        key = (i, *size)
        if key not in self._done:
            u = self.uncertainty
            self._done[key] = (
                match_size(self.raw[i : i + 1], size, proto),
                None if u is None else match_size(u[i : i + 1], size, proto),
            )
        return self._done[key]


class Feed:
    """One protocol's side of the pass: its accumulator, each image's measures, and the error that
    stops it (set before the pass when it cannot score at all, or by the first batch it cannot compare)."""

    def __init__(
        self,
        proto: Protocol,
        model_scale: TargetScale | None,
        data_scale: TargetScale | None,
        sparsify: bool = False,
        flicker: bool = False,
    ) -> None:
        self.proto, self.model_scale, self.data_scale = proto, model_scale, data_scale
        self.acc = MetricAccumulator(proto)
        self.spars = SparsificationAccumulator() if sparsify else None
        self.flicker = FlickerAccumulator() if flicker else None
        self.images: list[dict[str, float] | None] = []
        self.any_depth = False
        self.error: ValueError | None = None
        if proto.space == "depth" and model_scale is None:
            self.error = ValueError(
                f"protocol {proto.name!r} compares metres: pass scale= (a TargetScale) or use a data set "
                "with a .scale attribute"
            )

    def add(
        self,
        raw: torch.Tensor,
        batch: dict[str, Any],
        device: str | torch.device,
        uncertainty: torch.Tensor | None = None,
        groups: Sequence[Any] = (),
        upsampled: Upsampled | None = None,
    ) -> None:
        """Score one batch: its network output ``raw`` ``(N, 1, h, w)`` against the sample's maps at the
        model's size, or, when the protocol scores at the truth and the batch has ``"truth"``, each
        image against its own-resolution truth (the output from ``upsampled``, shared)."""
        if self.error is not None:
            return
        proto = self.proto
        try:
            if proto.space != "depth":
                valid = batch["valid_mask"].to(device).bool()
                self._score(raw, batch["target"].to(device), valid, uncertainty, groups)
            elif proto.score_at == "truth" and "truth" in batch:
                upsampled = upsampled or Upsampled(raw, uncertainty)
                for i, truth in enumerate(batch["truth"]):
                    size = (int(truth.shape[-2]), int(truth.shape[-1]))
                    pred_i, unc_i = upsampled.at(i, size, proto)
                    self._score(pred_i, truth[None], None, unc_i, groups[i : i + 1])
            else:
                self._score(raw, batch["depth"].to(device), None, uncertainty, groups)
        except ValueError as exc:  # this protocol cannot compare (kind, size): the others go on
            self.error = exc

    def _score(
        self,
        raw: torch.Tensor,
        target: torch.Tensor,
        valid_mask: torch.Tensor | None,
        uncertainty: torch.Tensor | None,
        groups: Sequence[Any],
    ) -> None:
        """Network output ``(n, 1, h, w)`` against ``target`` ``(n, 1, H, W)`` (metres, where > 0,
        when ``valid_mask`` is None; else the normalised target where ``valid_mask``)."""
        pred, target, valid = compared(raw, target, valid_mask, self.proto, self.model_scale, self.data_scale)
        self.images.extend(self.acc.add_batch(pred, target, valid))
        if (self.spars is not None and uncertainty is not None) or self.flicker is not None:
            self._per_image(pred, target, valid, uncertainty, groups)
        self.any_depth = self.any_depth or (self.proto.space == "depth" and bool(valid.any()))

    def _per_image(
        self,
        pred: torch.Tensor,
        target: torch.Tensor,
        valid: torch.Tensor,
        uncertainty: torch.Tensor | None,
        groups: Sequence[Any],
    ) -> None:
        """Each image's compared pixels (the protocol's one mask, computed once) for the sparsification
        curves (prediction as the protocol scales it, with its uncertainty) and the flicker (the
        prediction as it is, in its sequence)."""
        p, t, v = (a.detach().cpu().numpy() for a in (pred, target, valid))
        u = None
        if self.spars is not None and uncertainty is not None:
            size = (int(target.shape[-2]), int(target.shape[-1]))
            u = match_size(uncertainty, size, self.proto).detach().cpu().numpy()
        for i in range(p.shape[0]):
            mask = pixel_mask(t[i].astype("float64"), v[i], self.proto)
            if u is not None and self.spars is not None:
                p_sel, t_sel = select_pixels(p[i], t[i], v[i], self.proto)
                self.spars.add_image(p_sel, t_sel, u[i][mask])
            if self.flicker is not None and i < len(groups):
                self.flicker.add_frame(groups[i], p[i], t[i], mask)

    def result(self, name: str, per_image: bool) -> EvalResult | ValueError:
        if self.error is None and self.proto.space == "depth" and not self.any_depth:
            self.error = ValueError(
                f"protocol {self.proto.name!r} compares metres, but the data set has no metric depth (its "
                "'depth' maps are all zero): use the 'paper' or 'normalised' protocol, or a source with depth"
            )
        if self.error is not None:
            return self.error
        try:
            scores = self.acc.result()
            extra: dict[str, Any] = {"per_image": self.images} if per_image else {}
            if self.spars is not None:
                extra["sparsification"] = {k: v.as_dict() for k, v in self.spars.result().items()}
            if self.flicker is not None:
                extra["flicker"] = self.flicker.result().as_dict()
        except ValueError as exc:
            return exc
        return EvalResult(
            model=name,
            protocol=scores.protocol,
            metrics=scores.metrics,
            images=scores.images,
            valid_pixels=scores.valid_pixels,
            images_skipped=scores.images_skipped,
            units=self.proto.units,
            extra=extra,
            score_at=self.proto.score_at,
        )


def one_pass(
    model: nn.Module,
    batches: Any,
    feeds: list[Feed],
    name: str,
    device: str | torch.device,
    confidence: str | None = None,
    sequences: Sequences | None = None,
) -> None:
    """Run ``model`` (eval mode, inference mode, its mode restored) once on each batch (twice with
    ``confidence="flip"``), stabilise each sequence when asked, and feed every protocol; a channel
    mismatch or a NaN/inf output is raised (it concerns every protocol)."""
    sequences = sequences or Sequences([], None)
    in_channels = getattr(model, "in_channels", None)
    dev = torch.device(device)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            for batch in batches:
                image = model_input(batch["image"], dev)
                if in_channels is not None and image.shape[1] != in_channels:
                    raise ValueError(
                        f"model {name} takes {in_channels} input channel(s) but the data has "
                        f"{image.shape[1]}: set the data's channels to match (1 = gray, 3 = RGB)"
                    )
                uncertainty = None
                if confidence is not None:
                    raw, uncertainty = with_uncertainty(model, image, confidence)
                else:
                    raw = prediction_map(model, image)
                if not bool(torch.isfinite(raw).all()):
                    raise ValueError(f"model {name} produced NaN/inf values: its weights are broken")
                groups = sequences.next(raw.shape[0])
                raw = sequences.stabilised(raw, groups)
                if "truth" in batch:  # each image's own-size truth, moved once for every protocol
                    batch["truth"] = [t.to(dev, non_blocking=True) for t in batch["truth"]]
                upsampled = Upsampled(raw, uncertainty)  # each image upsampled once per size
                for feed in feeds:
                    feed.add(raw, batch, device, uncertainty, groups, upsampled)
    finally:
        model.train(was_training)


class Sequences:
    """Which sequence each image of the pass belongs to (in the data set's order) and, with a
    ``strength``, one :class:`Stabiliser` per sequence applied to the network's output."""

    def __init__(self, groups: list[Any], strength: float | None) -> None:
        self.groups, self.strength, self.seen = groups, strength, 0
        self.stabilisers: dict[Any, Stabiliser] = {}
        if strength is not None:
            Stabiliser(strength)  # a bad strength fails before the pass

    def next(self, n: int) -> list[Any]:
        """The sequences of the next ``n`` images (an image without one is a sequence of its own)."""
        out = [
            self.groups[i] if i < len(self.groups) else ("image", i) for i in range(self.seen, self.seen + n)
        ]
        self.seen += n
        return out

    def stabilised(self, raw: torch.Tensor, groups: list[Any]) -> torch.Tensor:
        if self.strength is None:
            return raw
        maps = raw.detach().cpu().numpy().copy()
        for i, group in enumerate(groups):
            stab = self.stabilisers.setdefault(group, Stabiliser(self.strength))
            maps[i] = stab(maps[i])
        return torch.from_numpy(maps).to(raw.device)


def sequences_of(dataset: Dataset[dict[str, Any]], max_images: int | None) -> list[Any]:
    """``meta(i)["group"]`` of the samples evaluated (the sequence of a video source's frame); an
    empty list when the data set has no ``meta``."""
    meta = getattr(dataset, "meta", None)
    if meta is None:
        return []
    n = len(dataset)  # type: ignore[arg-type]
    n = n if max_images is None else min(n, max(max_images, 0))
    return [meta(i).get("group", ("image", i)) for i in range(n)]


def compared(
    raw: torch.Tensor,
    target: torch.Tensor,
    valid_mask: torch.Tensor | None,
    proto: Protocol,
    model_scale: TargetScale | None,
    data_scale: TargetScale | None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The prediction, target and valid mask that ``proto`` compares for a batch of network output
    ``raw`` ``(N, 1, h, w)`` (resized to ``target``'s ``(N, 1, H, W)`` when the protocol allows): metres
    from ``model_scale`` in the data's camera (× :meth:`TargetScale.camera_factor` when both scales
    know their focal length) against the true depth ``target`` where > 0, or the normalised output
    (re-expressed in the data's scale) against the normalised ``target`` where ``valid_mask``."""
    size = (int(target.shape[-2]), int(target.shape[-1]))
    if proto.space == "depth":
        assert model_scale is not None
        pred = prediction_to_depth(match_size(raw, size, proto), model_scale)
        factor = model_scale.camera_factor(data_scale) if data_scale is not None else None
        if factor is not None and factor != 1.0:  # the data's camera (canonical-camera rule)
            pred = pred * factor
        pred = pred.clamp(max=proto.max_value)  # infinitely far (zero disparity) → the cap
        return pred, target, target > 0
    assert valid_mask is not None
    pred = match_size(raw, size, proto)
    if model_scale is not None and data_scale is not None:
        pred = renormalise(pred, model_scale, data_scale)
    return pred, target, valid_mask
