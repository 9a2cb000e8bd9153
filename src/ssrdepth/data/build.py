"""The entry point of :mod:`ssrdepth.data`: a source's dataset, behind the preprocessing array cache."""

from __future__ import annotations

from typing import Any

from torch.utils.data import Dataset

from ssrdepth.data.arrays import cached_dataset
from ssrdepth.data.config import DataConfig
from ssrdepth.data.dataset import DepthDataset
from ssrdepth.data.sample import report_skipped


def build_dataset(cfg: DataConfig, split: str, cache: bool = True, progress: bool = True) -> Dataset[Any]:
    """The torch dataset of ``cfg`` for ``split`` ("train", "test" or "all").

    With ``cache`` (default) samples come from the preprocessing cache at the model size
    (:mod:`ssrdepth.data.arrays`), built on first use with a progress bar; without it every access
    decodes the source files. Either way the dataset has ``.scale``, ``.meta(i)`` and ``.skipped``.
    Bad files raise a ValueError naming them; with ``cfg.skip_bad`` they are left out and listed
    on stderr at the end.
    """
    base = DepthDataset(cfg, split)
    if not cache:
        report_skipped(base.skipped)
        return base
    return cached_dataset(base, progress=progress)
