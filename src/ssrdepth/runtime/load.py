"""A checkpoint as a model ready to evaluate: the step evaluation and prediction from a ``.pt`` share."""

from __future__ import annotations

import os

import torch

from ssrdepth.checkpoint import Checkpoint, load_checkpoint
from ssrdepth.models import DepthNet


def load_for_evaluation(
    path: str | os.PathLike[str], device: str | torch.device = "cpu"
) -> tuple[DepthNet, Checkpoint]:
    """The network of checkpoint ``path`` (a ``.pt`` file, or a run folder → its ``best.pt``, else
    ``latest.pt``), weights loaded, in eval mode, on ``device``; and the loaded checkpoint (its
    ``target``, ``input_size``, ``step``, ``config``).

    Raises:
        FileNotFoundError: no checkpoint there.
        ValueError: not an ssrdepth checkpoint, corrupt, or weights that do not fit its model (the
            message names the file: :meth:`Checkpoint.build_model`).
    """
    ckpt = load_checkpoint(path)
    net = ckpt.build_model().eval()
    return net.to(device), ckpt
