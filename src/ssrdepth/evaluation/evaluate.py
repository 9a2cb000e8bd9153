"""``ssrdepth evaluate``: evaluate checkpoints (or untrained registry models) with a named protocol.

Python API:

- :func:`evaluate_model` — one model on one data set (a torch ``Dataset`` obeying the contract of
  :mod:`ssrdepth.data.config`) → :class:`EvalResult`;
- :func:`evaluate_protocols` — the same under several protocols in one pass over the data (the one
  place where a prediction is turned into what a protocol compares);
- :func:`evaluate` — several models (checkpoint paths or registry names) on a :class:`DataConfig`,
  writing one table (Markdown + CSV + JSON) with one column per model and one row per measure, laid
  out like the paper's Table 1. Every result names its protocol, its number of images and of valid
  pixels.

Which target is compared: the ``paper`` and ``normalised`` protocols compare the network's normalised
[0, 1] output with the sample's normalised ``"target"`` map; the metric protocols (``kitti``,
``kitti-eigen``, ``nyu``) convert the output to metres with the model's ``TargetScale`` (the checkpoint's
``target``, else the data set's ``scale``) and compare it with the true depth where > 0: by default at
the ground truth's own resolution (the data set's ``truth_depth(i)``, the output upsampled bilinearly to
it, as the KITTI and Eigen evaluations do), or with ``score_at="model"`` the sample's ``"depth"`` map at
the model's size (:mod:`ssrdepth.evaluation.protocols`). Each output is upsampled once per image and
size, shared by every protocol of the pass.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, Subset, default_collate
from tqdm import tqdm

from ssrdepth.core.io import atomic_open, write_json, write_text
from ssrdepth.core.stabilise import Stabiliser
from ssrdepth.data.config import DataConfig, TargetScale
from ssrdepth.evaluation.metrics import LABELS
from ssrdepth.evaluation.protocols import (
    MetricAccumulator,
    Protocol,
    get_protocol,
    match_size,
    pixel_mask,
    protocol_mismatch,
    select_pixels,
)
from ssrdepth.evaluation.results import (
    EvalReport,
    EvalResult,
    format_csv,
    format_flicker,
    format_markdown,
    format_sparsification,
    slug,
)
from ssrdepth.evaluation.temporal import FlickerAccumulator
from ssrdepth.evaluation.uncertainty import SparsificationAccumulator
from ssrdepth.runtime import load_for_evaluation, model_input
from ssrdepth.runtime.confidence import prediction_map, with_uncertainty

logger = logging.getLogger(__name__)

#: Uncertainty maps ``evaluate`` can score by sparsification (:mod:`ssrdepth.evaluation.uncertainty`):
#: ``head`` — the trained uncertainty output of a network with one; ``flip`` — the disagreement with
#: the mirrored image (:func:`ssrdepth.runtime.confidence.with_uncertainty`).
CONFIDENCE_METHODS = ("head", "flip")


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


# --------------------------------------------------------------------------------------------- one model
def evaluate_model(
    model: nn.Module,
    dataset: Dataset[dict[str, Any]],
    protocol: str | Protocol = "paper",
    *,
    batch_size: int = 16,
    max_images: int | None = None,
    scale: TargetScale | None = None,
    device: str | torch.device = "cpu",
    label: str | None = None,
    progress: bool = False,
    num_workers: int = 0,
    confidence: str | None = None,
    flicker: bool = False,
    stabilise: float | None = None,
) -> EvalResult:
    """Evaluate ``model`` on ``dataset`` under ``protocol`` (a preset name or a :class:`Protocol`).

    model: maps ``(N, C, H, W)`` images in [0, 1] to ``(N, 1, h, w)`` normalised maps in [0, 1]
        (resized bilinearly to the target's H×W when the protocol allows).
    dataset: yields dicts with ``"image"``, ``"target"``, ``"valid_mask"``, ``"depth"`` (see
        :mod:`ssrdepth.data.config`); its ``scale`` attribute (a ``TargetScale``) is used for
        conversions when present.
    scale: what the model's output means; default the data set's ``scale``. In the normalised space
        the prediction is re-expressed in the data set's scale if they differ; in metres it is
        converted with ``scale.to_depth``.
    max_images: evaluate only the first ``max_images`` samples.
    device: where the images go; the model must already be there (``model.to(device)``).
    The model is run in eval mode under ``torch.inference_mode`` and its previous mode is restored.
    Raises ValueError when the protocol cannot score this model on this data (see
    :func:`evaluate_protocols`, which this is for one protocol).
    """
    (result,) = evaluate_protocols(
        model,
        dataset,
        [protocol],
        batch_size=batch_size,
        max_images=max_images,
        scale=scale,
        device=device,
        label=label,
        progress=progress,
        num_workers=num_workers,
        confidence=confidence,
        flicker=flicker,
        stabilise=stabilise,
    )
    if isinstance(result, ValueError):
        raise result
    return result


def evaluate_protocols(
    model: nn.Module,
    dataset: Dataset[dict[str, Any]],
    protocols: Sequence[str | Protocol],
    *,
    batch_size: int = 16,
    max_images: int | None = None,
    scale: TargetScale | None = None,
    device: str | torch.device = "cpu",
    label: str | None = None,
    progress: bool = False,
    num_workers: int = 0,
    per_image: bool = False,
    confidence: str | None = None,
    flicker: bool = False,
    stabilise: float | None = None,
) -> list[EvalResult | ValueError]:
    """Evaluate ``model`` on ``dataset`` under every protocol in ``protocols`` in **one pass**: each
    image is read and run through the network once, and every protocol's accumulator is fed from that
    prediction (the arguments are those of :func:`evaluate_model`).

    Returns one entry per protocol, in order: its :class:`EvalResult`, or the ValueError that says why
    that protocol cannot score this model on this data (metres without a ``TargetScale``, no metric
    depth in the data, no valid pixel, another kind of normalised map, a size the protocol does not
    resize) — the other protocols are still scored. Errors that concern the
    model or the data as a whole (channel mismatch, NaN output, an empty data set) are raised.
    per_image: also put each image's measures in ``extra["per_image"]``: one entry per evaluated image,
        in the data set's order, measure key → value in the protocol's ``units``, or ``None`` for an image
        with no valid pixel. Only ``per-image`` aggregation has per-image values: under a ``pooled``
        protocol every entry is ``None``.
    confidence: one of :data:`CONFIDENCE_METHODS` to also score that uncertainty map by sparsification
        over each protocol's compared pixels: ``extra["sparsification"]``, measure key (``abs_rel``,
        ``rmse``) → the curves, AUSE and AURG (:class:`~ssrdepth.evaluation.uncertainty.Sparsification`
        as a dict). ``"head"`` scores the trained uncertainty output (a network with the ``uncertainty``
        option; a ValueError otherwise), ``"flip"`` runs the network a second time on the mirrored
        images; the scored prediction is the plain one.
    flicker: also measure how steady the predictions are over each sequence (the data set's
        ``meta(i)["group"]``, frames in the data set's order): ``extra["flicker"]``
        (:class:`~ssrdepth.evaluation.temporal.Flicker` as a dict) over each protocol's compared pixels.
    stabilise: run every sequence's predictions through the online stabiliser of this strength λ
        (:class:`ssrdepth.core.stabilise.Stabiliser`) before any protocol scores them, as
        ``predict --stabilise`` does for a video.
    """
    protos = [get_protocol(p) for p in protocols]
    if confidence is not None and confidence not in CONFIDENCE_METHODS:
        raise ValueError(f"unknown confidence {confidence!r}; valid: {', '.join(CONFIDENCE_METHODS)}")
    if not protos:
        raise ValueError("no protocol given")
    if batch_size < 1:
        raise ValueError(f"batch_size must be ≥ 1, got {batch_size}")
    data_scale: TargetScale | None = getattr(dataset, "scale", None)
    model_scale = scale or data_scale
    groups = _sequences(dataset, max_images) if flicker or stabilise is not None else []
    name = label or str(getattr(model, "name", type(model).__name__))
    feeds = [_Feed(p, model_scale, data_scale, confidence is not None, flicker) for p in protos]
    if any(f.error is None and f.proto.space == "depth" and f.proto.score_at == "truth" for f in feeds):
        dataset = _with_truth(dataset)
    dataset = _first_images(dataset, max_images)
    if any(f.error is None for f in feeds):
        loader = DataLoader(
            dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers, collate_fn=_collate
        )
        _one_pass(
            model,
            tqdm(loader, desc=f"evaluate {name}", unit="batch", disable=not progress),
            feeds,
            name,
            device,
            confidence,
            _Sequences(groups, stabilise),
        )
    return [f.result(name, per_image) for f in feeds]


def _first_images(dataset: Dataset[dict[str, Any]], max_images: int | None) -> Dataset[dict[str, Any]]:
    """The first ``max_images`` samples (all when None); ValueError for a bad count or no sample."""
    n = len(dataset)  # type: ignore[arg-type]
    if max_images is not None:
        if max_images < 1:
            raise ValueError(f"max_images must be ≥ 1, got {max_images}")
        dataset, n = Subset(dataset, range(min(n, max_images))), min(n, max_images)
    if n == 0:
        raise ValueError("the data set is empty: nothing to evaluate")
    return dataset


class _WithTruth(Dataset[dict[str, Any]]):
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


def _with_truth(dataset: Dataset[dict[str, Any]]) -> Dataset[dict[str, Any]]:
    """``dataset`` with each sample's truth at its own resolution (:class:`_WithTruth`) when it can
    read one (``truth_depth``: :func:`ssrdepth.data.build_dataset`'s data sets); else as it is (its
    ``"depth"`` maps are then the truth, at whatever size they have)."""
    if not callable(getattr(dataset, "truth_depth", None)):
        logger.info("the data set reads no ground truth of its own resolution: scoring its 'depth' maps")
        return dataset
    return _WithTruth(dataset)


def _collate(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """The default batching, with ``"truth"`` kept as a list: each image's truth has its own size
    (KITTI frames are 1224–1242 px wide)."""
    if "truth" not in samples[0]:
        return dict(default_collate(samples))
    truths = [s["truth"] for s in samples]
    batch = dict(default_collate([{k: v for k, v in s.items() if k != "truth"} for s in samples]))
    batch["truth"] = truths
    return batch


class _Upsampled:
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


class _Feed:
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
        upsampled: _Upsampled | None = None,
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
                upsampled = upsampled or _Upsampled(raw, uncertainty)
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
        pred, target, valid = _compared(
            raw, target, valid_mask, self.proto, self.model_scale, self.data_scale
        )
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


def _one_pass(
    model: nn.Module,
    batches: Any,
    feeds: list[_Feed],
    name: str,
    device: str | torch.device,
    confidence: str | None = None,
    sequences: _Sequences | None = None,
) -> None:
    """Run ``model`` (eval mode, inference mode, its mode restored) once on each batch (twice with
    ``confidence="flip"``), stabilise each sequence when asked, and feed every protocol; a channel
    mismatch or a NaN/inf output is raised (it concerns every protocol)."""
    sequences = sequences or _Sequences([], None)
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
                upsampled = _Upsampled(raw, uncertainty)  # each image upsampled once per size
                for feed in feeds:
                    feed.add(raw, batch, device, uncertainty, groups, upsampled)
    finally:
        model.train(was_training)


class _Sequences:
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


def _sequences(dataset: Dataset[dict[str, Any]], max_images: int | None) -> list[Any]:
    """``meta(i)["group"]`` of the samples evaluated (the sequence of a video source's frame); an
    empty list when the data set has no ``meta``."""
    meta = getattr(dataset, "meta", None)
    if meta is None:
        return []
    n = len(dataset)  # type: ignore[arg-type]
    n = n if max_images is None else min(n, max(max_images, 0))
    return [meta(i).get("group", ("image", i)) for i in range(n)]


def _compared(
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


# ----------------------------------------------------------------------------------------- many models
@dataclass
class _Loaded:
    model: nn.Module
    label: str
    source: str
    scale: TargetScale | None
    input_size: tuple[int, int] | None


def load_model(
    spec: str | Path, in_channels: int = 1, options: dict[str, Any] | None = None, seed: int = 0
) -> _Loaded:
    """A checkpoint file or run folder (weights loaded, its ``target`` scale kept), ``"bundled"`` (the
    model shipped inside the package, as ``predict`` takes it) or a registry name (untrained, seeded
    with ``seed``, built with ``options`` such as ``width``: for smoke runs)."""
    from ssrdepth.models import create_model
    from ssrdepth.models.registry import canonical_name
    from ssrdepth.pretrained import bundled_checkpoint, is_bundled

    path = bundled_checkpoint() if is_bundled(str(spec)) else Path(spec)
    if path.is_file() or path.is_dir():
        net, ckpt = load_for_evaluation(path)
        # None for {"kind": "normalised"}: the output is in the data set's own scale
        return _Loaded(net, ckpt.model.name, str(ckpt.path), ckpt.scale, ckpt.input_size)
    if path.suffix or "/" in str(spec) or "\\" in str(spec):
        raise FileNotFoundError(f"{spec}: no such checkpoint file")
    try:
        name = canonical_name(str(spec))
    except ValueError as exc:
        raise ValueError(f"{spec}: neither a checkpoint file nor a model name ({exc})") from None
    torch.manual_seed(seed)
    model = create_model(name, in_channels, **(options or {}))
    return _Loaded(model.eval(), f"{name} (untrained)", "registry (untrained)", None, None)


def _unique_labels(loaded: list[_Loaded]) -> list[str]:
    labels = [m.label for m in loaded]
    out = []
    for m in loaded:
        if labels.count(m.label) > 1:
            source = Path(m.source)
            stem = source.stem if source.suffix in (".pt", ".pth", ".ckpt") else ""
            if stem in ("best", "latest"):  # run folders' files: the run's name tells them apart
                stem = f"{source.parent.name}/{stem}"
            out.append(f"{m.label} [{stem}]" if stem else m.label)
        else:
            out.append(m.label)
    return [lab if out.count(lab) == 1 else f"{lab} #{out[:i].count(lab) + 1}" for i, lab in enumerate(out)]


def _loaded_for(
    models: Sequence[str | Path], data: DataConfig, options: dict[str, Any] | None, seed: int
) -> list[_Loaded]:
    """Every model loaded (:func:`load_model`) and checked against the data: channels must match (a
    ValueError naming the file), a checkpoint trained at another size is noted."""
    loaded = [load_model(m, data.channels, options, seed) for m in models]
    for m in loaded:
        channels = getattr(m.model, "in_channels", data.channels)
        if channels != data.channels:
            raise ValueError(
                f"{m.source}: model {m.label} takes {channels} channel(s) but the data config has "
                f"{data.channels}: set channels to {channels}"
            )
        if m.input_size is not None and tuple(m.input_size) != tuple(data.size):
            logger.warning(
                "note: %s was trained at %d×%d (H×W); evaluating at %d×%d",
                m.source,
                m.input_size[0],
                m.input_size[1],
                data.size[0],
                data.size[1],
            )
    return loaded


def _write_report(
    out: Path,
    results: list[EvalResult],
    proto: Protocol,
    data: DataConfig,
    split: str,
    max_images: int | None,
    confidence: str | None,
    flicker: bool,
    stabilise: float | None,
) -> tuple[dict[str, Path], str]:
    """``evaluate-<protocol>.{md,csv,json}`` in ``out`` (atomically): the files and the Markdown."""
    if proto.space != "depth":
        target = "the sample's normalised `target` map at the model's size"
    elif proto.score_at == "truth":
        target = (
            "the true depth (metres, where > 0) at the ground truth's resolution (lidar at its native "
            "pixels), the prediction upsampled bilinearly to it"
        )
    else:
        target = "the sample's `depth` map at the model's size (metres, where > 0)"
    header = (
        f"Data: source `{data.source}`, root `{data.root}`, split `{split}`, "
        f"{data.size[1]}×{data.size[0]} (W×H), {data.channels} channel(s), targets `{data.target}`. "
        f"Compared with {target}."
        + (
            f" Each sequence's predictions were stabilised online (strength {stabilise:g}) before scoring."
            if stabilise is not None
            else ""
        )
    )
    markdown = format_markdown(results, proto, header)
    if confidence is not None:
        markdown += format_sparsification(results, confidence)
    if flicker:
        markdown += format_flicker(results, stabilise)
    stem = f"evaluate-{slug(proto.name)}"
    files = {"markdown": out / f"{stem}.md", "csv": out / f"{stem}.csv", "json": out / f"{stem}.json"}
    write_text(files["markdown"], markdown)
    with atomic_open(files["csv"], "w", encoding="utf-8", newline="") as f:
        f.write(format_csv(results))
    write_json(
        files["json"],
        {
            "protocol": proto.as_dict(),
            "protocol_summary": proto.summary(),
            "compared_with": target,
            "score_at": proto.score_at,
            "data": asdict(data),
            "split": split,
            "max_images": max_images,
            "confidence": confidence,
            "flicker": flicker,
            "stabilise": stabilise,
            "labels": {k: LABELS[k] for k in results[0].metrics},
            "results": [r.as_dict() for r in results],
        },
    )
    return files, markdown


def evaluate(
    models: Sequence[str | Path],
    data: DataConfig,
    protocol: str | Protocol = "paper",
    *,
    split: str = "test",
    out_dir: str | Path = "runs/evaluate",
    batch_size: int = 16,
    max_images: int | None = None,
    device: str = "cpu",
    model_options: dict[str, Any] | None = None,
    seed: int = 0,
    progress: bool = True,
    confidence: str | None = None,
    flicker: bool = False,
    stabilise: float | None = None,
) -> EvalReport:
    """Evaluate every model on ``split`` of ``data``; write ``evaluate-<protocol>.{md,csv,json}`` in
    ``out_dir`` (atomically) and return the report.

    models: checkpoint paths, or registry names (untrained, built with ``model_options`` and ``seed``:
        for smoke runs only). ``data.channels`` must match every model's input channels.
    confidence: also score an uncertainty map by sparsification (:func:`evaluate_protocols`): the
        curves, AUSE and AURG go into each result's ``extra["sparsification"]`` (JSON) and a table of
        the areas into the Markdown.
    flicker, stabilise: measure steadiness over the sequences / stabilise them first
        (:func:`evaluate_protocols`); the flicker measures go into ``extra["flicker"]`` and a table.
    """
    from ssrdepth.data import build_dataset

    if not models:
        raise ValueError("no model given: pass checkpoint paths or model names")
    proto = get_protocol(protocol)
    mismatch = protocol_mismatch(protocol if isinstance(protocol, str) else proto.name, data.source)
    if mismatch:
        logger.warning(mismatch)
    loaded = _loaded_for(models, data, model_options, seed)
    dataset = build_dataset(data, split, progress=progress)
    results = []
    for m, label in zip(loaded, _unique_labels(loaded), strict=True):
        r = evaluate_model(
            m.model.to(device),
            dataset,
            proto,
            batch_size=batch_size,
            max_images=max_images,
            scale=m.scale,
            device=device,
            label=label,
            progress=progress,
            confidence=confidence,
            flicker=flicker,
            stabilise=stabilise,
        )
        extra = {**r.extra, "checkpoint_input_size": m.input_size}
        results.append(EvalResult(**{**r.as_dict(), "source": m.source, "extra": extra}))
    files, markdown = _write_report(
        Path(out_dir), results, proto, data, split, max_images, confidence, flicker, stabilise
    )
    return EvalReport(proto, results, files, markdown)


def data_config_from_checkpoint(path: str | Path) -> DataConfig:
    """The data configuration a checkpoint (file or run folder) was trained with (its ``config["data"]``, unknown keys
    ignored; the defaults when it stores none), with the checkpoint's input size and channels."""
    from ssrdepth.checkpoint import load_checkpoint

    ckpt = load_checkpoint(path)
    stored = ckpt.extra.get("config", {})
    data = stored.get("data") if isinstance(stored, dict) else None
    names = {f.name for f in fields(DataConfig)}
    d: dict[str, Any] = {k: v for k, v in (data or {}).items() if k in names}
    d = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}
    d["size"] = tuple(ckpt.input_size)
    d["channels"] = ckpt.model.in_channels
    return DataConfig(**d) if data is not None else DataConfig(size=d["size"], channels=d["channels"])


__all__ = [
    "EvalReport",
    "EvalResult",
    "data_config_from_checkpoint",
    "evaluate",
    "evaluate_model",
    "evaluate_protocols",
    "format_csv",
    "format_markdown",
    "load_model",
    "prediction_to_depth",
    "renormalise",
]
