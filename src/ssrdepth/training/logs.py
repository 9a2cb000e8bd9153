"""Training logs: CSV files (rewritten atomically on resume) and the curves plot."""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from ssrdepth.core.io import atomic_open, atomic_path

TRAIN_COLUMNS = ("step", "epoch", "lr", "loss", "images_per_second", "seconds")
VAL_COLUMNS = ("step", "epoch", *(m for m in ("val_loss", "val_mse", "val_rmse")))


class CsvLog:
    """A CSV file that starts with ``rows`` (rewritten atomically) and is appended to, row by row."""

    def __init__(self, path: Path, columns: Sequence[str], rows: Sequence[dict[str, float]]) -> None:
        self.columns = list(columns)
        with atomic_open(path, "w", encoding="utf-8", newline="") as f:
            w = csv.DictWriter(f, self.columns, extrasaction="ignore")
            w.writeheader()
            w.writerows(rows)
        self._file: IO[str] = open(path, "a", encoding="utf-8", newline="")  # noqa: SIM115
        self._writer = csv.DictWriter(self._file, self.columns, extrasaction="ignore")

    def append(self, row: dict[str, float]) -> None:
        self._writer.writerow(row)
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def plot_curves(history: dict[str, list[dict[str, float]]], path: str | os.PathLike[str]) -> Path:
    """Training loss (and validation loss) and validation RMSE against the step, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    train_rows, val_rows = history.get("train", []), history.get("val", [])
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    ax = axes[0]
    if train_rows:
        ax.plot([r["step"] for r in train_rows], [r["loss"] for r in train_rows], label="train loss")
    if val_rows:
        ax.plot(
            [r["step"] for r in val_rows], [r["val_loss"] for r in val_rows], "o-", label="validation loss"
        )
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    if any(r.get("loss", 0) > 0 for r in train_rows):
        ax.set_yscale("log")
    ax.legend()
    ax.grid(True, alpha=0.3)
    ax = axes[1]
    if val_rows:
        ax.plot([r["step"] for r in val_rows], [r["val_rmse"] for r in val_rows], "o-", color="C2")
    ax.set_xlabel("step")
    ax.set_ylabel("validation RMSE (normalised, valid pixels)")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    out = Path(path)
    with atomic_path(out) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)
    return out
