"""How good an uncertainty map is: sparsification curves and AUSE — the one home of these measures.

The standard for depth uncertainty (Ilg et al. 2018, "Uncertainty estimates and multi-hypotheses
networks for optical flow"; Poggi et al. 2020, "On the uncertainty of self-supervised monocular depth
estimation", Sec. 5): per image, remove the fraction ``f`` of the compared pixels with the highest
uncertainty and measure the error (AbsRel, RMSE) on the rest, for ``f`` = 0, 0.05, …, 0.95. The
**oracle** removes the pixels in the order of their true error (the best any uncertainty can do), a
**random** order removes them at random (an uncertainty that knows nothing). The curves are averaged
over the images; then

- **AUSE** (area under the sparsification error) = ∫ (curve − oracle curve) df, by the trapezoidal rule
  over the fractions: 0 for a perfect ordering, lower is better;
- **AURG** (area under the random gain) = ∫ (random curve − curve) df: how much better than knowing
  nothing, higher is better (negative: worse than random).

The measures are means of per-pixel terms (AbsRel = mean |y′ − y| / y; RMSE = √mean (y′ − y)²), so a
whole curve comes from prefix sums over the pixels sorted once. Pixels are the protocol's compared
pixels (:func:`ssrdepth.evaluation.protocols.pixel_mask`), after its scaling and caps. AbsRel
divides by the target, so its curves use only the compared pixels whose target is > 0 (a protocol
such as ``paper`` compares zero targets too: there RMSE uses every compared pixel, AbsRel the rest,
and an image with no positive target adds no AbsRel curve).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

#: Measures whose per-pixel term divides by the target: defined only where the target is > 0.
POSITIVE_TARGET = frozenset({"abs_rel"})

#: Removed fractions of each curve: 0, 0.05, …, 0.95 (Poggi et al. 2020 use steps of this order; the
#: last point keeps 5 % of the pixels).
DEFAULT_FRACTIONS = tuple(i / 20 for i in range(20))

#: Measure key → (per-pixel term from prediction and target, the term's mean → the measure).
MEASURES: dict[
    str, tuple[Callable[[np.ndarray, np.ndarray], np.ndarray], Callable[[np.ndarray], np.ndarray]]
] = {
    "abs_rel": (lambda p, t: np.abs(p - t) / t, lambda m: m),
    "rmse": (lambda p, t: (p - t) ** 2, np.sqrt),
}

_trapezoid: Any = vars(np).get("trapezoid") or vars(np).get("trapz")  # numpy ≥ 2 renamed trapz


def sparsification_curve(
    pred: np.ndarray,
    target: np.ndarray,
    uncertainty: np.ndarray,
    measure: str = "abs_rel",
    fractions: tuple[float, ...] = DEFAULT_FRACTIONS,
) -> np.ndarray:
    """The measure on the pixels left after removing, for each fraction ``f``, the ``⌊f·P⌋`` pixels of
    highest ``uncertainty``, one value per fraction. Where the cut falls inside a group of equal
    uncertainties (common: a map upsampled by nearest neighbour, a quantised or zero disagreement) the
    group's pixels count in proportion — the mean over every order of the tied pixels for AbsRel, the
    root of the mean squared-error sum for RMSE — so the curve never depends on where a pixel lies
    in the image.

    pred, target, uncertainty: ``(P,)`` compared pixels of one image (``target`` > 0 for AbsRel),
    any units (the measure's). fractions: in [0, 1), so that at least one pixel is left.

    Raises:
        ValueError: unknown measure, mismatched shapes, no pixel, or a fraction outside [0, 1).
    """
    if measure not in MEASURES:
        raise ValueError(f"unknown sparsification measure {measure!r}; valid: {', '.join(MEASURES)}")
    p, t, u = (np.asarray(a, dtype=np.float64).ravel() for a in (pred, target, uncertainty))
    if not (p.shape == t.shape == u.shape):
        raise ValueError(f"shapes differ: pred {p.shape}, target {t.shape}, uncertainty {u.shape}")
    if p.size == 0:
        raise ValueError("no pixel to sparsify")
    if any(not 0.0 <= f < 1.0 for f in fractions):
        raise ValueError(f"fractions must lie in [0, 1), got {fractions}")
    term, finish = MEASURES[measure]
    order = np.argsort(u, kind="stable")  # most certain first
    u_sorted = u[order]
    prefix = np.concatenate(([0.0], np.cumsum(term(p, t)[order])))
    kept = np.array([p.size - int(np.floor(f * p.size)) for f in fractions])
    # The tie group of the last kept pixel, [start, end) in the sorted order: of its end − start
    # pixels, kept − start stay, each carrying the group's mean term.
    start = np.searchsorted(u_sorted, u_sorted[kept - 1], side="left")
    end = np.searchsorted(u_sorted, u_sorted[kept - 1], side="right")
    group_mean = (prefix[end] - prefix[start]) / (end - start)
    total = prefix[start] + (kept - start) * group_mean
    return np.asarray(finish(total / kept), dtype=np.float64)


def oracle_uncertainty(pred: np.ndarray, target: np.ndarray, measure: str) -> np.ndarray:
    """The per-pixel true error of ``measure`` ``(P,)``: the ordering of the oracle curve."""
    term, _ = MEASURES[measure]
    return term(np.asarray(pred, np.float64), np.asarray(target, np.float64))


@dataclass(frozen=True)
class Sparsification:
    """One measure's averaged curves and areas: ``fractions`` removed, ``model`` (ordered by the
    uncertainty), ``oracle`` and ``random`` curves, one value per fraction in the measure's units;
    ``ause`` and ``aurg`` (see the module); ``images``: how many images were averaged."""

    measure: str
    fractions: tuple[float, ...]
    model: tuple[float, ...]
    oracle: tuple[float, ...]
    random: tuple[float, ...]
    ause: float
    aurg: float
    images: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class SparsificationAccumulator:
    """Add images' compared pixels with their uncertainty; :meth:`result` averages the curves.

    seed: of the random ordering (one generator for the whole evaluation, so results repeat).
    """

    def __init__(
        self,
        measures: tuple[str, ...] = ("abs_rel", "rmse"),
        fractions: tuple[float, ...] = DEFAULT_FRACTIONS,
        seed: int = 0,
    ) -> None:
        for m in measures:
            if m not in MEASURES:
                raise ValueError(f"unknown sparsification measure {m!r}; valid: {', '.join(MEASURES)}")
        self.measures, self.fractions = measures, fractions
        self._rng = np.random.default_rng(seed)
        self._sums = {m: np.zeros((3, len(fractions))) for m in measures}
        self._counts = dict.fromkeys(measures, 0)
        self.images = 0

    def add_image(self, pred: np.ndarray, target: np.ndarray, uncertainty: np.ndarray) -> None:
        """One image's compared pixels ``(P,)``; an image with no pixel is skipped. The measures of
        :data:`POSITIVE_TARGET` use only the pixels whose target is > 0 (none: no curve for them)."""
        p, t, u = (np.asarray(a, dtype=np.float64).ravel() for a in (pred, target, uncertainty))
        if p.size == 0:
            return
        shuffled = self._rng.permutation(p.size).astype(np.float64)
        for m in self.measures:
            keep = t > 0 if m in POSITIVE_TARGET else np.ones(p.size, bool)
            if not keep.any():
                continue
            pk, tk = p[keep], t[keep]
            curves = [
                sparsification_curve(pk, tk, order, m, self.fractions)
                for order in (u[keep], oracle_uncertainty(pk, tk, m), shuffled[keep])
            ]
            self._sums[m] += np.stack(curves)
            self._counts[m] += 1
        self.images += 1

    def result(self) -> dict[str, Sparsification]:
        """Measure key → :class:`Sparsification`, for each measure that had an image (AbsRel is left out
        when no compared target was > 0). ValueError when no image was added."""
        if self.images == 0:
            raise ValueError("no image with a compared pixel: no sparsification curve")
        out = {}
        x = np.asarray(self.fractions)
        for m, sums in self._sums.items():
            if self._counts[m] == 0:
                continue
            model, oracle, random = sums / self._counts[m]
            out[m] = Sparsification(
                measure=m,
                fractions=self.fractions,
                model=tuple(float(v) for v in model),
                oracle=tuple(float(v) for v in oracle),
                random=tuple(float(v) for v in random),
                ause=float(_trapezoid(model - oracle, x)),
                aurg=float(_trapezoid(random - model, x)),
                images=self._counts[m],
            )
        return out


__all__ = [
    "DEFAULT_FRACTIONS",
    "MEASURES",
    "POSITIVE_TARGET",
    "Sparsification",
    "SparsificationAccumulator",
    "oracle_uncertainty",
    "sparsification_curve",
]
