"""``ssrdepth evaluate``: evaluate checkpoints (or untrained registry models) with a named protocol.

Python API:

- :func:`evaluate_model` — one model on one data set (a torch ``Dataset`` obeying the contract of
  :mod:`ssrdepth.data.config`) → :class:`EvalResult`;
- :func:`evaluate_protocols` — the same under several protocols in one pass over the data (its
  machinery, the one place where a prediction is turned into what a protocol compares, is
  :mod:`ssrdepth.evaluation.one_pass`);
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

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from ssrdepth.core.io import atomic_open, write_json, write_text
from ssrdepth.data.config import DataConfig, TargetScale
from ssrdepth.evaluation.metrics import LABELS
from ssrdepth.evaluation.one_pass import (
    Feed,
    Sequences,
    collate,
    first_images,
    one_pass,
    prediction_to_depth,
    renormalise,
    sequences_of,
    with_truth,
)
from ssrdepth.evaluation.protocols import (
    Protocol,
    get_protocol,
    protocol_mismatch,
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
from ssrdepth.runtime import load_for_evaluation

logger = logging.getLogger(__name__)

#: Uncertainty maps ``evaluate`` can score by sparsification (:mod:`ssrdepth.evaluation.uncertainty`):
#: ``head`` — the trained uncertainty output of a network with one; ``flip`` — the disagreement with
#: the mirrored image (:func:`ssrdepth.runtime.confidence.with_uncertainty`).
CONFIDENCE_METHODS = ("head", "flip")


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
    groups = sequences_of(dataset, max_images) if flicker or stabilise is not None else []
    name = label or str(getattr(model, "name", type(model).__name__))
    feeds = [Feed(p, model_scale, data_scale, confidence is not None, flicker) for p in protos]
    if any(f.error is None and f.proto.space == "depth" and f.proto.score_at == "truth" for f in feeds):
        dataset = with_truth(dataset)
    dataset = first_images(dataset, max_images)
    if any(f.error is None for f in feeds):
        loader = DataLoader(
            dataset, batch_size=batch_size, shuffle=False, num_workers=num_workers, collate_fn=collate
        )
        one_pass(
            model,
            tqdm(loader, desc=f"evaluate {name}", unit="batch", disable=not progress),
            feeds,
            name,
            device,
            confidence,
            Sequences(groups, stabilise),
        )
    return [f.result(name, per_image) for f in feeds]


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
