"""Report building blocks for ``reproduce`` and ``demo``: tables, figures, machine description.

Pure functions of numbers and arrays; the commands decide what goes in. Figures use matplotlib's
Agg backend and the perceptual ``magma`` colour map (near = bright for disparity, as in the paper).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ssrdepth.core.io import atomic_path

COLOUR_MAP = "magma"


def format_duration(seconds: float) -> str:
    """A run's duration for reports and consoles: seconds under a minute (``"12.3 s"``), minutes under an
    hour (``"4.5 min"``), else hours (``"2.1 h"``)."""
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def _fmt(v: float | None, digits: int = 4) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "—"
    return f"{v:.{digits}f}"


def comparison_table(
    measures: Sequence[str],
    ours: Mapping[str, Mapping[str, float]],
    paper: Mapping[str, Mapping[str, float]] | None = None,
    digits: int = 4,
) -> str:
    """Markdown table laid out like the paper's: rows = measures, columns = models (or settings).

    With ``paper``, each column that the paper also has gets a second column with its published value.
    The best of our values in each row is in bold.
    """
    cols = list(ours)
    header = ["measure"]
    for c in cols:
        header.append(f"{c} (ours)" if paper is not None and c in paper else c)
        if paper is not None and c in paper:
            header.append(f"{c} (paper)")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" + "---:|" * (len(header) - 1)]
    for m in measures:
        vals = [ours[c].get(m) for c in cols]
        finite = [v for v in vals if v is not None and np.isfinite(v)]
        higher_better = m.startswith("δ") or m.startswith("delta")
        best = (max(finite) if higher_better else min(finite)) if finite else None
        row = [m]
        for c, v in zip(cols, vals, strict=True):
            s = _fmt(v, digits)
            row.append(f"**{s}**" if v is not None and v == best and len(cols) > 1 else s)
            if paper is not None and c in paper:
                row.append(_fmt(paper[c].get(m), digits))
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines) + "\n"


def rank(values: Mapping[str, float]) -> list[str]:
    """Keys sorted from best (smallest) to worst."""
    return sorted(values, key=lambda k: values[k])


def ranking_agreement(ours: Mapping[str, float], paper: Mapping[str, float]) -> dict[str, Any]:
    """How far two rankings (smaller = better) of the same models agree.

    Returns Kendall's τ (−1…1), Spearman's ρ, both orders, the pairs ordered the same way out of
    all pairs, and whether the best model is the same.
    """
    from scipy.stats import kendalltau, spearmanr

    keys = [k for k in paper if k in ours]
    if len(keys) < 2:
        raise ValueError("ranking agreement needs at least two models present in both rankings")
    a = [ours[k] for k in keys]
    b = [paper[k] for k in keys]
    tau = float(kendalltau(a, b).statistic)
    rho = float(spearmanr(a, b).statistic)
    pairs = [(i, j) for i in range(len(keys)) for j in range(i + 1, len(keys))]
    concordant = sum(1 for i, j in pairs if (a[i] - a[j]) * (b[i] - b[j]) > 0)
    return {
        "models": keys,
        "ours": rank({k: ours[k] for k in keys}),
        "paper": rank({k: paper[k] for k in keys}),
        "kendall_tau": tau,
        "spearman_rho": rho,
        "concordant_pairs": concordant,
        "pairs": len(pairs),
        "same_best": rank({k: ours[k] for k in keys})[0] == rank({k: paper[k] for k in keys})[0],
    }


def _save(fig: Any, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, bbox_inches="tight", format="png")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


def _show(ax: Any, img: np.ndarray, title: str, cmap: str | None = COLOUR_MAP, vmax: float = 1.0) -> None:
    if img.ndim == 3 and img.shape[0] in (1, 3):  # (C, H, W) → (H, W, C)
        img = np.moveaxis(img, 0, -1)
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    if img.ndim == 2 and cmap is None:
        ax.imshow(img, cmap="gray", vmin=0, vmax=1)
    elif img.ndim == 2:
        ax.imshow(img, cmap=cmap, vmin=0, vmax=vmax)
    else:
        ax.imshow(np.clip(img, 0, 1))
    ax.set_title(title, fontsize=8)
    ax.set_axis_off()


def qualitative_figure(
    path: Path,
    inputs: Sequence[np.ndarray],
    targets: Sequence[np.ndarray],
    predictions: Mapping[str, Sequence[np.ndarray]],
    target_title: str = "target",
) -> Path:
    """Like the paper's Fig. 12: one row per image — input, target, then each model's prediction.

    Arrays are (H, W), (1, H, W) or (3, H, W) in [0, 1]; maps use the perceptual colour map with one
    range per row, from 0 to the target's 99th percentile, so that every map in a row is comparable.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(predictions)
    rows, cols = len(inputs), 2 + len(names)
    h, w = np.asarray(targets[0]).shape[-2:]
    panel_w = 2.6
    fig, axes = plt.subplots(
        rows, cols, figsize=(cols * panel_w, rows * (panel_w * h / w + 0.35)), squeeze=False
    )
    for r in range(rows):
        target = np.asarray(targets[r])
        vmax = max(float(np.percentile(target, 99)), 1e-3)
        _show(axes[r, 0], np.asarray(inputs[r]), "input", cmap=None)
        _show(axes[r, 1], target, target_title, vmax=vmax)
        for c, name in enumerate(names):
            _show(axes[r, 2 + c], np.asarray(predictions[name][r]), name, vmax=vmax)
    fig.tight_layout()
    return _save(fig, path)


def gray_colour_figure(
    path: Path,
    inputs: Sequence[np.ndarray],
    targets: Sequence[np.ndarray],
    pred_gray: Sequence[np.ndarray],
    pred_colour: Sequence[np.ndarray],
) -> Path:
    """Like the paper's Fig. 13/14: (a) input, (b) target, (c) grayscale-input and (d) colour-input output."""
    return qualitative_figure(
        path, inputs, targets, {"(c) grayscale input": pred_gray, "(d) colour input": pred_colour}
    )


def training_curves_figure(path: Path, histories: Mapping[str, Sequence[Mapping[str, float]]]) -> Path:
    """Training loss (and validation loss where logged) against step, one line per run, log scale."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for name, rows in histories.items():
        tr = [(r["step"], r["train_loss"]) for r in rows if r.get("train_loss") is not None]
        va = [(r["step"], r["val_loss"]) for r in rows if r.get("val_loss") is not None]
        if tr:
            ax1.plot(*zip(*tr, strict=True), label=name, lw=1)
        if va:
            ax2.plot(*zip(*va, strict=True), label=name, marker="o", ms=3, lw=1)
    for ax, title in ((ax1, "training loss"), (ax2, "validation loss")):
        ax.set_yscale("log")
        ax.set_xlabel("step")
        ax.set_title(title)
        ax.grid(alpha=0.3)
        if ax.lines:
            ax.legend(fontsize=7)
    return _save(fig, path)
