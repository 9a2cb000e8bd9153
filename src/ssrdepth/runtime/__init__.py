"""The shared runtime below training, evaluation and inference: what all three do to run a network.

The three siblings may not import each other, so the steps they share live here, one floor down:

- :mod:`~ssrdepth.runtime.device`: the one device choice (``"auto"``, ``"cpu"``, ``"cuda[:N]"``, the
  local rank under DDP);
- :mod:`~ssrdepth.runtime.forward`: the forward recipe — input to the device in the memory format,
  the network under the precision's autocast;
- :mod:`~ssrdepth.runtime.confidence`: the map and its uncertainty (the trained head's, or the flip
  disagreement from a second, mirrored pass);
- :mod:`~ssrdepth.runtime.load`: a checkpoint (file or run folder) as a model ready to evaluate;
- :mod:`~ssrdepth.runtime.metrics`: the valid-pixel per-image metric core (squared error over the
  valid pixels, per-image RMSE, the mean over images that have a valid pixel).

The weight-mismatch report lives one floor lower still, in :func:`ssrdepth.checkpoint.weight_mismatches`,
because checkpoints themselves use it.
"""

from __future__ import annotations

from ssrdepth.runtime.confidence import flip_disagreement, has_head, prediction_map, with_uncertainty
from ssrdepth.runtime.device import resolve_device
from ssrdepth.runtime.forward import autocast_dtype, forward, memory_format, model_input, precision_autocast
from ssrdepth.runtime.load import load_for_evaluation
from ssrdepth.runtime.metrics import ValidPixelMetrics, valid_pixel_sums

__all__ = [
    "ValidPixelMetrics",
    "autocast_dtype",
    "flip_disagreement",
    "forward",
    "has_head",
    "load_for_evaluation",
    "memory_format",
    "model_input",
    "precision_autocast",
    "prediction_map",
    "resolve_device",
    "valid_pixel_sums",
    "with_uncertainty",
]
