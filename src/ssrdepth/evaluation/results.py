"""What an evaluation produced, and how it is written: the one home of :class:`EvalResult`,
:class:`EvalReport` and their tables (Markdown laid out like the paper's Table 1, CSV, the uncertainty
and flicker sections). :mod:`ssrdepth.evaluation.evaluate` computes them and re-exports these names."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ssrdepth.evaluation.metrics import HIGHER_IS_BETTER, LABELS
from ssrdepth.evaluation.protocols import Protocol


@dataclass(frozen=True)
class EvalResult:
    """The measures of one model under one protocol.

    model: the column label (e.g. ``"SCRX"``); source: the checkpoint path or ``"registry (untrained)"``;
    metrics: measure key → value (keys of :data:`ssrdepth.evaluation.metrics.LABELS`), in ``units``;
    images / valid_pixels: what was compared; images_skipped: images without a single valid pixel;
    score_at: where it was scored, ``"truth"`` (the ground truth's resolution) or ``"model"`` (the
    model's size) — :attr:`ssrdepth.evaluation.protocols.Protocol.score_at`.
    """

    model: str
    protocol: str
    metrics: dict[str, float]
    images: int
    valid_pixels: int
    images_skipped: int = 0
    units: str = ""
    source: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    score_at: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def describe(self) -> str:
        """``SCRX — protocol paper: 100 images, 543,900 valid pixels``."""
        skipped = f" ({self.images_skipped} skipped: no valid pixel)" if self.images_skipped else ""
        where = {"truth": ", at the ground truth's resolution", "model": ", at the model's size"}
        return (
            f"{self.model} — protocol {self.protocol}: {self.images} images{skipped}, "
            f"{self.valid_pixels:,} valid pixels{where.get(self.score_at, '')}"
        )


@dataclass(frozen=True)
class EvalReport:
    """What :func:`evaluate` produced: the protocol, one result per model, and the files written."""

    protocol: Protocol
    results: list[EvalResult]
    files: dict[str, Path]
    markdown: str


def slug(text: str) -> str:
    """A protocol name as a file-name part: ``kitti[aggregation=pooled]`` → ``kitti_aggregation_pooled``."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")


#: ``score_at`` → the table's words.
_WHERE = {"truth": "ground truth's resolution", "model": "model's size"}


def _fmt(value: float) -> str:
    return f"{value:.4f}"


def format_markdown(results: list[EvalResult], protocol: Protocol, header: str = "") -> str:
    """The table: one column per model, one row per measure, then protocol, images and valid pixels.
    The best value of each measure row is bold when there are several models."""
    keys = list(results[0].metrics)
    lines = [f"# Evaluation — protocol `{protocol.name}`", "", protocol.summary() + "."]
    if header:
        lines += ["", header]
    lines += ["", "| measure | " + " | ".join(r.model for r in results) + " |"]
    lines.append("|---|" + "---:|" * len(results))
    for key in keys:
        values = [r.metrics[key] for r in results]
        best = (max if key in HIGHER_IS_BETTER else min)(values)
        cells = [f"**{_fmt(v)}**" if len(results) > 1 and _fmt(v) == _fmt(best) else _fmt(v) for v in values]
        lines.append(f"| {LABELS.get(key, key)} | " + " | ".join(cells) + " |")
    lines.append("| protocol | " + " | ".join(f"`{r.protocol}`" for r in results) + " |")
    lines.append("| images | " + " | ".join(str(r.images) for r in results) + " |")
    lines.append("| valid pixels | " + " | ".join(f"{r.valid_pixels:,}" for r in results) + " |")
    lines.append("| scored at | " + " | ".join(_WHERE.get(r.score_at, "?") for r in results) + " |")
    if any(r.images_skipped for r in results):
        lines.append(
            "| images skipped (no valid pixel) | " + " | ".join(str(r.images_skipped) for r in results) + " |"
        )
    lines.append("")
    lines.append(f"Units: {protocol.units}. ↓ lower is better, ↑ higher is better.")
    return "\n".join(lines) + "\n"


def format_sparsification(results: list[EvalResult], confidence: str) -> str:
    """The uncertainty section: per model, AUSE and AURG of AbsRel and RMSE (the curves are in the JSON)."""
    lines = [
        "",
        f"## Uncertainty `{confidence}`: sparsification (Poggi et al. 2020)",
        "",
        "| model | AUSE AbsRel ↓ | AURG AbsRel ↑ | AUSE RMSE ↓ | AURG RMSE ↑ | images |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        sp = r.extra["sparsification"]
        cells = [_fmt(sp[m][k]) if m in sp else "—" for m in ("abs_rel", "rmse") for k in ("ause", "aurg")]
        images = max(v["images"] for v in sp.values())
        lines.append(f"| {r.model} | " + " | ".join(cells) + f" | {images} |")
    lines += [
        "",
        "AUSE: area between the curve of removing the most uncertain pixels first and the oracle's "
        "(removing the largest errors first); 0 is a perfect ordering. AURG: area between a random "
        "order's curve and the model's; above 0 the uncertainty knows something. RMSE areas in the "
        "protocol's units; AbsRel over the pixels whose target is > 0 (— where there are none).",
    ]
    return "\n".join(lines) + "\n"


def format_flicker(results: list[EvalResult], stabilise: float | None) -> str:
    """The steadiness section: per model, the scale and error flicker (ssrdepth.evaluation.temporal)."""
    how = f"stabilised (strength {stabilise:g})" if stabilise is not None else "frame by frame"
    lines = [
        "",
        f"## Flicker over the sequences, predictions {how}",
        "",
        "| model | scale flicker ↓ | error flicker ↓ | frames | sequences | frame pairs |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        f = r.extra["flicker"]
        lines.append(
            f"| {r.model} | {_fmt(f['scale_flicker'])} | {_fmt(f['error_flicker'])} | {f['frames']} | "
            f"{f['sequences']} | {f['pairs']} |"
        )
    lines += [
        "",
        "Scale flicker: mean |Δ log| of each frame's median ratio prediction / truth between consecutive "
        "frames. Error flicker: mean |Δ log error| on pixels whose true depth changes by < 5 % between them.",
    ]
    return "\n".join(lines) + "\n"


def format_csv(results: list[EvalResult]) -> str:
    """``measure,<model>,…`` rows: the measures (full precision), then protocol, images, valid_pixels,
    images_skipped, score_at."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["measure", *(r.model for r in results)])
    for key in results[0].metrics:
        w.writerow([key, *(repr(r.metrics[key]) for r in results)])
    w.writerow(["protocol", *(r.protocol for r in results)])
    w.writerow(["images", *(r.images for r in results)])
    w.writerow(["valid_pixels", *(r.valid_pixels for r in results)])
    w.writerow(["images_skipped", *(r.images_skipped for r in results)])
    w.writerow(["score_at", *(r.score_at for r in results)])
    return buf.getvalue()


__all__ = [
    "EvalReport",
    "EvalResult",
    "format_csv",
    "format_flicker",
    "format_markdown",
    "format_sparsification",
    "slug",
]
