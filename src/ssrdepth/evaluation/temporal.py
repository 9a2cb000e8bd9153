"""How steady predictions are over a video: the flicker measures, the one home of them.

Measured on sequences with true depth (the synthetic streets: consecutive frames about 1 m apart,
exact depth), frame pairs ``(t − 1, t)`` of one sequence in order:

- **scale flicker** = mean over pairs of ``|log s_t − log s_{t−1}|``, with ``s_t`` the frame's scale
  error, the median of prediction / truth over its compared pixels (the per-image median ratio of
  Eigen et al. 2014's scale-invariant view). 0 for a constant scale error, ``log 1.1`` = 0.0953 for a
  prediction whose scale alternates between ×1 and ×1.1 on every frame.
- **error flicker** = mean over pairs of the mean, over pixels compared in both frames whose true depth
  changes smoothly (``|log y_t − log y_{t−1}| < 0.05``, not an occlusion edge moving past), of the change
  of the log error ``|(log y′_t − log y_t) − (log y′_{t−1} − log y_{t−1})|``: the pixel-level
  flicker that a global scale does not show. Pairs without such a pixel do not count.

Both are dimensionless (log ratios), lower is steadier, and the same for depth and disparity maps.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

#: Largest |Δ log true depth| between frames for a pixel to count as changing smoothly (5 %).
SMOOTH_LOG_CHANGE = 0.05


@dataclass(frozen=True)
class Flicker:
    """The measures (module docstring), and how many frames, sequences and frame pairs counted."""

    scale_flicker: float
    error_flicker: float
    frames: int
    sequences: int
    pairs: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class FlickerAccumulator:
    """Add frames in their order within each sequence (sequences may interleave); then :meth:`result`."""

    def __init__(self, smooth: float = SMOOTH_LOG_CHANGE) -> None:
        self.smooth = smooth
        self._last: dict[Any, tuple[float, np.ndarray, np.ndarray]] = {}
        self._scale_changes: list[float] = []
        self._error_changes: list[float] = []
        self._sequences: set[Any] = set()
        self.frames = 0

    def add_frame(self, sequence: Any, pred: np.ndarray, target: np.ndarray, mask: np.ndarray) -> None:
        """One frame of ``sequence``: prediction and truth ``(H, W)`` (or ``(1, H, W)``) in the same units,
        ``mask`` the compared pixels (bool). A frame with no pixel where both are > 0 breaks the
        sequence (the next frame starts a new pair)."""
        p = np.asarray(pred, dtype=np.float64)
        t = np.asarray(target, dtype=np.float64)
        m = np.asarray(mask, dtype=bool) & (p > 0) & (t > 0)
        self.frames += 1
        self._sequences.add(sequence)
        if not m.any():
            self._last.pop(sequence, None)
            return
        log_p = np.where(m, np.log(np.where(m, p, 1.0)), np.nan)
        log_t = np.where(m, np.log(np.where(m, t, 1.0)), np.nan)
        log_scale = float(np.median((log_p - log_t)[m]))
        previous = self._last.get(sequence)
        if previous is not None:
            prev_scale, prev_p, prev_t = previous
            self._scale_changes.append(abs(log_scale - prev_scale))
            both = m & np.isfinite(prev_t)
            smooth = both & (np.abs(np.where(both, log_t - prev_t, np.inf)) < self.smooth)
            if smooth.any():
                change = np.abs((log_p - log_t) - (prev_p - prev_t))[smooth]
                self._error_changes.append(float(change.mean()))
        self._last[sequence] = (log_scale, log_p, log_t)

    def result(self) -> Flicker:
        """The measures; ValueError when no sequence had two consecutive frames."""
        if not self._scale_changes:
            raise ValueError(
                f"no two consecutive frames of one sequence among {self.frames} frame(s): flicker needs a "
                "sequence source (synthetic, kitti-tracking, kitti-raw) and a split that keeps sequences"
            )
        return Flicker(
            scale_flicker=float(np.mean(self._scale_changes)),
            error_flicker=float(np.mean(self._error_changes)) if self._error_changes else float("nan"),
            frames=self.frames,
            sequences=len(self._sequences),
            pairs=len(self._scale_changes),
        )


__all__ = ["SMOOTH_LOG_CHANGE", "Flicker", "FlickerAccumulator"]
