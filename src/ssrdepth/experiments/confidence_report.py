"""The demo report's "How sure, and how steady" section: one model's flip uncertainty scored by
sparsification (AUSE, :mod:`ssrdepth.evaluation.uncertainty`) and its flicker over the test streets,
frame by frame and stabilised (:mod:`ssrdepth.evaluation.temporal`, :mod:`ssrdepth.core.stabilise`),
against the exact synthetic depth (``kitti`` protocol, metres, at the depth's full resolution)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ssrdepth.core.stabilise import DEFAULT_STRENGTH

logger = logging.getLogger(__name__)


def _curves_figure(path: Path, sparsification: dict[str, Any], label: str) -> None:
    """Sparsification curves of AbsRel and RMSE: the model's order, the oracle's and a random one."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ssrdepth.core.io import atomic_path

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    for ax, (key, title) in zip(axes, (("abs_rel", "AbsRel"), ("rmse", "RMSE (m)")), strict=True):
        s = sparsification[key]
        x = [100 * f for f in s["fractions"]]
        ax.plot(x, s["model"], label=f"{label}: flip uncertainty (AUSE {s['ause']:.3f})")
        ax.plot(x, s["oracle"], "--", label="oracle (true error)")
        ax.plot(x, s["random"], ":", label="random order")
        ax.set_xlabel("most uncertain pixels removed (%)")
        ax.set_ylabel(title)
        ax.legend(fontsize=7)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, bbox_inches="tight", format="png")
    plt.close(fig)


def confidence_section(report: Path, checkpoint: Path, max_images: int | None = None) -> str:
    """Evaluate ``checkpoint`` on the test split of the data it was trained on (its stored data
    configuration; a sequence source with exact depth, as the demo's) and write
    ``sparsification.png``; returns the section's Markdown ("" with a log line when the split cannot
    be scored: no metric depth, no two consecutive frames)."""
    from ssrdepth.checkpoint import load_checkpoint
    from ssrdepth.data import build_dataset
    from ssrdepth.evaluation.evaluate import data_config_from_checkpoint, evaluate_protocols

    ckpt = load_checkpoint(checkpoint)
    model = ckpt.build_model().eval()
    dataset = build_dataset(data_config_from_checkpoint(checkpoint), "test", progress=False)
    common: dict[str, Any] = {"scale": ckpt.scale, "max_images": max_images, "flicker": True}
    (plain,) = evaluate_protocols(model, dataset, ["kitti"], confidence="flip", **common)
    (steady,) = evaluate_protocols(model, dataset, ["kitti"], stabilise=DEFAULT_STRENGTH, **common)
    if isinstance(plain, ValueError) or isinstance(steady, ValueError):
        logger.info("no uncertainty/flicker section: %s", plain if isinstance(plain, ValueError) else steady)
        return ""
    sp, fl, fs = plain.extra["sparsification"], plain.extra["flicker"], steady.extra["flicker"]
    label = str(ckpt.model.name)
    _curves_figure(report / "sparsification.png", sp, label)
    d1, d1s = plain.metrics["delta1"], steady.metrics["delta1"]
    return (
        "## How sure, and how steady\n\n"
        f"{label} ({checkpoint}) on the {plain.images} test frames ({fl['sequences']} street(s)), "
        "`kitti` protocol against the exact depth at its full resolution. **Uncertainty**: the flip disagreement (the map "
        "against the map of the mirrored picture; `predict --save uncertainty`), scored by sparsification "
        "(Poggi et al. 2020): AUSE of AbsRel "
        f"{sp['abs_rel']['ause']:.4f} against a random order's {sp['abs_rel']['ause'] + sp['abs_rel']['aurg']:.4f}; "
        f"of RMSE {sp['rmse']['ause']:.3f} m against {sp['rmse']['ause'] + sp['rmse']['aurg']:.3f} m.\n\n"
        "![sparsification](sparsification.png)\n\n"
        f"**Flicker** over consecutive frames, frame by frame → stabilised (`predict --stabilise`, "
        f"λ = {DEFAULT_STRENGTH}): scale flicker {fl['scale_flicker']:.4f} → {fs['scale_flicker']:.4f}, "
        f"error flicker {fl['error_flicker']:.4f} → {fs['error_flicker']:.4f}; δ < 1.25 {d1:.3f} → "
        f"{d1s:.3f} (docs/metrics.md).\n"
    )


__all__ = ["confidence_section"]
