"""Image statistics without depth labels, and the domain gap between two sets of images.

How far are the synthetic renders from real street photos? Depth labels are not needed to see a part
of the answer: the images' own statistics — colour, gradients, power spectrum, where the edges are —
differ measurably between domains. :func:`image_statistics` measures one image, :func:`aggregate`
averages a set, :func:`domain_gap` gives one distance per statistic and a ``"total"``, and
:func:`compare_folders` does all three for two lists of files (``ssrdepth generate --compare``).
User guide: docs/data.md, "How far from real photos".

Every image is first resized to :data:`ANALYSIS_SIZE` (94×310, H×W: the models' Table 2 input size)
with the one resize rule of :func:`ssrdepth.core.image.resize_image` (area averaging when shrinking,
bilinear when enlarging; the aspect ratio is not kept), so that images of any size are compared as
the networks see them. Grey is ITU-R BT.601 luma (:func:`ssrdepth.core.image.to_channels`).
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ssrdepth.core.image import as_rgb, read_image, resize_image, to_channels

logger = logging.getLogger(__name__)

#: (H, W) every image is resized to before its statistics are taken: the models' Table 2 size 310×94.
ANALYSIS_SIZE = (94, 310)

#: Bins of the colour and grey histograms: 32 of 8 grey levels each (bin k holds levels 8k…8k+7,
#: i.e. normalised values in [8k/255, (8k+7)/255] ≈ [k/32, (k+1)/32)).
INTENSITY_BINS = 32

#: Edges of the gradient-magnitude histogram (grey in [0, 1] per pixel; 24 bins): [0, 4e-4) holds the
#: flat pixels, whose 3×3 neighbourhood is one grey level (the smallest non-zero magnitude of a uint8
#: image is one level at one corner, 1/(8·255) ≈ 4.9e-4), then 23 log-spaced bins up to 1 (the largest
#: possible magnitude is √0.5 ≈ 0.71).
GRADIENT_BIN_EDGES = np.concatenate([[0.0], np.logspace(np.log10(4e-4), 0.0, 24)])

#: Edges of the power-spectrum bands (radial frequency, cycles per pixel; 16 log-spaced bands) from
#: 2 cycles per image height (2/94; lower frequencies are a few FFT samples, smeared by the window)
#: to the Nyquist frequency 0.5.
SPECTRUM_BAND_EDGES = np.logspace(np.log10(2.0 / ANALYSIS_SIZE[0]), np.log10(0.5), 17)

#: Horizontal bands of the edge-density profile, top to bottom (rows split as ``np.array_split``).
EDGE_BANDS = 8

#: Canny hysteresis thresholds on the uint8 grey image (Sobel 3×3 L2 magnitude, grey levels): fixed,
#: so that densities are comparable between images (an adaptive threshold would hide contrast).
CANNY_THRESHOLDS = (50.0, 150.0)

#: Floor added to the power before log10, so a flat image has finite log power (uint8 quantisation
#: noise alone is ≈ 1.3e-6 per sample, far above it).
POWER_FLOOR = 1e-10

#: The ``domain_gap`` keys averaged into ``"total"``, in order.
TOTAL_TERMS = ("colour_histogram", "gray_histogram", "gradient_histogram", "power_spectrum", "edge_density")

_FIELDS = (
    "colour_histogram",
    "colour_mean",
    "colour_std",
    "gray_histogram",
    "gradient_histogram",
    "power_spectrum",
    "edge_density",
)


@dataclass(frozen=True, eq=False)
class ImageStatistics:
    """Statistics of one image (or the mean over ``n_images`` images, :func:`aggregate`), measured at
    :data:`ANALYSIS_SIZE`. Arrays are read-only float64:

    - ``colour_histogram`` ``(3, 32)``: R, G, B histograms (:data:`INTENSITY_BINS`), each summing to 1.
    - ``colour_mean``, ``colour_std`` ``(3,)``: per-channel mean and standard deviation, normalised [0, 1].
    - ``gray_histogram`` ``(32,)``: the grey (BT.601 luma) histogram, summing to 1.
    - ``gradient_histogram`` ``(24,)``: the histogram of the grey Sobel gradient magnitude (grey [0, 1]
      per pixel) over :data:`GRADIENT_BIN_EDGES`, summing to 1.
    - ``power_spectrum`` ``(16,)``: radially averaged mean log10 power of the Hann-windowed grey image
      in each band of :data:`SPECTRUM_BAND_EDGES` (power = |FFT|² / Σ window², grey [0, 1]; see
      :func:`log_power_spectrum`).
    - ``edge_density`` ``(8,)``: fraction of Canny edge pixels in each horizontal band, top to bottom.
    """

    colour_histogram: np.ndarray
    colour_mean: np.ndarray
    colour_std: np.ndarray
    gray_histogram: np.ndarray
    gradient_histogram: np.ndarray
    power_spectrum: np.ndarray
    edge_density: np.ndarray
    n_images: int = field(default=1)

    def __post_init__(self) -> None:
        for name in _FIELDS:
            array = np.array(getattr(self, name), dtype=np.float64)
            array.flags.writeable = False
            object.__setattr__(self, name, array)

    def to_dict(self) -> dict[str, Any]:
        """Plain lists of floats (JSON-ready), plus ``n_images``."""
        out: dict[str, Any] = {name: getattr(self, name).tolist() for name in _FIELDS}
        out["n_images"] = self.n_images
        return out


def _analysis_image(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """uint8 RGB ``(H, W, 3)`` or grey ``(H, W)`` → (RGB, grey) uint8 at :data:`ANALYSIS_SIZE`."""
    image = np.asarray(image)
    if image.dtype != np.uint8 or not (image.ndim == 2 or (image.ndim == 3 and image.shape[2] in (1, 3, 4))):
        raise ValueError(
            f"expected a uint8 image (H, W) or (H, W, 3), got {image.dtype} {image.shape}; "
            "read files with ssrdepth.core.image.read_image"
        )
    if min(image.shape[:2]) < 2:
        raise ValueError(f"image too small for statistics: {image.shape[:2]} (need at least 2×2 pixels)")
    rgb = resize_image(as_rgb(image), ANALYSIS_SIZE)
    gray = to_channels(rgb, 1)[:, :, 0]
    return rgb, gray


def _histogram(levels: np.ndarray) -> np.ndarray:
    counts = np.bincount((levels >> 3).ravel(), minlength=INTENSITY_BINS)
    return counts / counts.sum()


def gradient_magnitude(gray: np.ndarray) -> np.ndarray:
    """Sobel 3×3 gradient magnitude of a grey image ``(H, W)`` uint8 → ``(H, W)`` float32 in grey [0, 1]
    per pixel (the Sobel sums divided by 8, so a linear ramp gives its slope; borders reflected)."""
    g = gray.astype(np.float32) / np.float32(255.0)
    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3) / np.float32(8.0)
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3) / np.float32(8.0)
    return np.sqrt(gx * gx + gy * gy)


@functools.lru_cache(maxsize=4)
def _spectrum_setup(size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(2-D Hann window, band index per FFT sample (−1: outside every band), samples per band)."""
    h, w = size
    window = np.outer(np.hanning(h), np.hanning(w))
    radius = np.hypot(*np.meshgrid(np.fft.fftfreq(h), np.fft.fftfreq(w), indexing="ij"))
    band = np.asarray(np.searchsorted(SPECTRUM_BAND_EDGES, radius, side="right"), dtype=np.intp) - 1
    band[radius == SPECTRUM_BAND_EDGES[-1]] = len(SPECTRUM_BAND_EDGES) - 2  # Nyquist: the last band
    band[(radius < SPECTRUM_BAND_EDGES[0]) | (radius > SPECTRUM_BAND_EDGES[-1])] = -1
    counts = np.bincount(band[band >= 0], minlength=len(SPECTRUM_BAND_EDGES) - 1)
    if (counts == 0).any():
        raise ValueError(f"analysis size {size} leaves a power-spectrum band without FFT samples")
    for cached in (window, band, counts):  # shared between calls: read-only
        cached.flags.writeable = False
    return window, band, counts


def log_power_spectrum(gray: np.ndarray) -> np.ndarray:
    """Radially averaged mean log10 power ``(16,)`` of a grey image ``(H, W)`` uint8, per band of
    :data:`SPECTRUM_BAND_EDGES` (cycles per pixel).

    The image (grey [0, 1], its mean removed) is multiplied by a 2-D Hann window against leakage from
    the image borders; power = |FFT|² / Σ window² (so white noise of variance σ² has mean power σ²), and
    each band averages log10(power + :data:`POWER_FLOOR`) over its FFT samples (for white noise that
    mean log is log10 σ² − 0.25: the power of one sample is exponentially distributed, and the mean
    log10 of an exponential variable is log10 of its mean − γ / ln 10, γ = 0.577). Natural images have power
    ∝ 1/f^α with α ≈ 2 (van der Schaaf & van Hateren 1996, "Modelling the power spectra of natural
    images", Vision Research 36; Torralba & Oliva 2003, "Statistics of natural image categories",
    Network 14): the slope of these bands against log10 f is −α.
    """
    window, band, counts = _spectrum_setup(gray.shape)
    g = gray.astype(np.float64) / 255.0
    power = np.abs(np.fft.fft2((g - g.mean()) * window)) ** 2 / float(np.sum(window**2))
    inside = band >= 0
    sums = np.bincount(band[inside], weights=np.log10(power[inside] + POWER_FLOOR), minlength=len(counts))
    return sums / counts


def edge_density(gray: np.ndarray) -> np.ndarray:
    """Fraction of Canny edge pixels (:data:`CANNY_THRESHOLDS`, L2 gradient) in each of
    :data:`EDGE_BANDS` horizontal bands of a grey image ``(H, W)`` uint8, top to bottom → ``(8,)`` in [0, 1]."""
    edges = cv2.Canny(gray, *CANNY_THRESHOLDS, L2gradient=True) > 0
    return np.array([band.mean() for band in np.array_split(edges, EDGE_BANDS, axis=0)])


def image_statistics(image: np.ndarray) -> ImageStatistics:
    """The statistics of one uint8 image, RGB ``(H, W, 3)`` or grey ``(H, W)``, after resizing it to
    :data:`ANALYSIS_SIZE` (see :class:`ImageStatistics` for each field, shape and unit)."""
    rgb, gray = _analysis_image(image)
    normalised = rgb.reshape(-1, 3).astype(np.float64) / 255.0
    magnitude = gradient_magnitude(gray)
    gradient_counts, _ = np.histogram(np.minimum(magnitude, 1.0), bins=GRADIENT_BIN_EDGES)
    return ImageStatistics(
        colour_histogram=np.stack([_histogram(rgb[:, :, c]) for c in range(3)]),
        colour_mean=normalised.mean(axis=0),
        colour_std=normalised.std(axis=0),
        gray_histogram=_histogram(gray),
        gradient_histogram=gradient_counts / gradient_counts.sum(),
        power_spectrum=log_power_spectrum(gray),
        edge_density=edge_density(gray),
    )


def aggregate(stats: Sequence[ImageStatistics]) -> ImageStatistics:
    """The mean of every field over ``stats``, weighted by their ``n_images`` (so aggregates of
    aggregates are the mean over all images). Histograms stay normalised; ``power_spectrum`` is the
    mean log power (the log of the geometric-mean power); ``colour_std`` is the mean per-image std."""
    if not stats:
        raise ValueError("aggregate: no image statistics given (need at least one)")
    weights = np.array([s.n_images for s in stats], dtype=np.float64)
    means = {
        name: np.tensordot(weights, np.stack([getattr(s, name) for s in stats]), axes=1) / weights.sum()
        for name in _FIELDS
    }
    return ImageStatistics(**means, n_images=int(weights.sum()))


def jensen_shannon_distance(p: np.ndarray, q: np.ndarray) -> float:
    """Jensen–Shannon distance between two histograms (each normalised to sum 1 here), base 2, in [0, 1]:
    √JSD with JSD(P, Q) = H(M) − (H(P) + H(Q)) / 2, M = (P + Q) / 2, H the Shannon entropy in bits
    (Lin 1991, "Divergence measures based on the Shannon entropy", IEEE Trans. Inf. Theory 37(1); its
    square root is a metric: Endres & Schindelin 2003). 0 for equal histograms, 1 for disjoint ones."""
    p = np.asarray(p, dtype=np.float64).ravel()
    q = np.asarray(q, dtype=np.float64).ravel()
    if p.shape != q.shape or p.sum() <= 0 or q.sum() <= 0 or (p < 0).any() or (q < 0).any():
        raise ValueError(f"expected two non-negative histograms of equal length, got {p.shape} and {q.shape}")
    p, q = p / p.sum(), q / q.sum()
    m = (p + q) / 2.0

    def entropy(x: np.ndarray) -> float:
        x = x[x > 0]
        return float(-(x * np.log2(x)).sum())

    divergence = entropy(m) - (entropy(p) + entropy(q)) / 2.0
    return float(np.sqrt(min(max(divergence, 0.0), 1.0)))


def domain_gap(a: ImageStatistics, b: ImageStatistics) -> dict[str, float]:
    """One distance per statistic between two (aggregated) statistics, symmetric, 0 for equal ones:

    - ``colour_histogram``: mean over R, G, B of the Jensen–Shannon distance (base 2, [0, 1]).
    - ``colour_moments``: mean |difference| of the 3 channel means and 3 stds (normalised [0, 1]).
    - ``gray_histogram``, ``gradient_histogram``: Jensen–Shannon distance ([0, 1]).
    - ``power_spectrum``: RMS difference of the 16 band log powers (log10 units: 1 = a factor 10).
    - ``edge_density``: L1 distance of the 8-band edge-density profiles (sum of |difference| of edge
      fractions; [0, 8], in practice below 1).
    - ``total``: the mean of the :data:`TOTAL_TERMS`, each on a 0–1 scale first: the three
      Jensen–Shannon distances as they are, ``power_spectrum`` as ``d / (1 + d)`` (0.5 for one decade),
      ``edge_density`` as ``min(d, 1)``. ``colour_moments`` is left out (the colour histogram already
      measures that distribution; the moments are there to read, e.g. "0.05 brighter").

    The Jensen–Shannon distance: :func:`jensen_shannon_distance` (Lin 1991).
    """
    colour = np.mean(
        [jensen_shannon_distance(a.colour_histogram[c], b.colour_histogram[c]) for c in range(3)]
    )
    moments = np.abs(np.concatenate([a.colour_mean - b.colour_mean, a.colour_std - b.colour_std])).mean()
    spectrum = float(np.sqrt(np.mean((a.power_spectrum - b.power_spectrum) ** 2)))
    gap = {
        "colour_histogram": float(colour),
        "colour_moments": float(moments),
        "gray_histogram": jensen_shannon_distance(a.gray_histogram, b.gray_histogram),
        "gradient_histogram": jensen_shannon_distance(a.gradient_histogram, b.gradient_histogram),
        "power_spectrum": spectrum,
        "edge_density": float(np.abs(a.edge_density - b.edge_density).sum()),
    }
    scaled = {
        **gap,
        "power_spectrum": spectrum / (1.0 + spectrum),
        "edge_density": min(gap["edge_density"], 1.0),
    }
    gap["total"] = float(np.mean([scaled[key] for key in TOTAL_TERMS]))
    return gap


IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
#: Photo formats a folder may hold that are not compared (listed in a warning, not skipped silently).
_OTHER_PHOTOS = (".heic", ".heif", ".hif", ".avif", ".webp", ".tif", ".tiff", ".bmp", ".dng")


def list_images(folder: str | os.PathLike[str]) -> list[Path]:
    """The PNG and JPEG files (:data:`IMAGE_SUFFIXES`, any case) under ``folder``, recursively, sorted.
    Raises FileNotFoundError (no such folder) or ValueError (no images) naming the folder."""
    root = Path(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"{root}: no such folder; give a folder of images (png/jpg)")
    files = [p for p in root.rglob("*") if p.is_file()]
    paths = sorted(p for p in files if p.suffix.lower() in IMAGE_SUFFIXES)
    others = [p for p in files if p.suffix.lower() in _OTHER_PHOTOS]
    if others:  # said, not dropped in silence
        logger.warning(
            "%s: left out %d photo(s) of other formats (%s): only PNG and JPEG are compared; convert them",
            root,
            len(others),
            ", ".join(sorted({p.suffix.lower() for p in others})),
        )
    if not paths:
        raise ValueError(f"{root}: no images (png/jpg) found (searched recursively for *.png, *.jpg, *.jpeg)")
    return paths


def subsample(paths: Sequence[Path], max_images: int) -> list[Path]:
    """``paths`` sorted; when more than ``max_images``, that many evenly spaced ones (first and last
    included), deterministically."""
    ordered = sorted(Path(p) for p in paths)
    if max_images < 1:
        raise ValueError(f"max_images must be at least 1, got {max_images}")
    if len(ordered) <= max_images:
        return ordered
    picks = np.linspace(0, len(ordered) - 1, max_images).round().astype(int)
    return [ordered[i] for i in picks]


def folder_statistics(paths: Sequence[Path], max_images: int = 200, name: str = "images") -> ImageStatistics:
    """:func:`aggregate` of :func:`image_statistics` over ``paths`` (at most ``max_images``, see
    :func:`subsample`), read with :func:`ssrdepth.core.image.read_image` (a file that cannot be read
    raises its :class:`~ssrdepth.core.image.BadSampleError`, naming the file)."""
    if not paths:
        raise ValueError(f"{name}: no images given")
    chosen = subsample(paths, max_images)
    if len(chosen) < len(paths):
        logger.info("%s: statistics of %d of %d images (evenly spaced)", name, len(chosen), len(paths))
    return aggregate([image_statistics(read_image(p)) for p in chosen])


def compare_folders(synthetic: Sequence[Path], real: Sequence[Path], max_images: int = 200) -> dict[str, Any]:
    """The domain gap between two lists of image files (e.g. synthetic renders and real photos).

    At most ``max_images`` per side (sorted, evenly spaced). Returns a JSON-ready dict:
    ``distances`` (:func:`domain_gap`, with ``total``), ``n_images`` (``synthetic``, ``real``: images
    used), ``statistics`` (each side's :func:`aggregate` as ``to_dict()``) and ``definitions`` (the
    analysis size (H, W) and the bin edges, so the numbers can be read without this module).
    """
    a = folder_statistics(synthetic, max_images, "synthetic")
    b = folder_statistics(real, max_images, "real")
    return {
        "distances": domain_gap(a, b),
        "n_images": {"synthetic": a.n_images, "real": b.n_images},
        "statistics": {"synthetic": a.to_dict(), "real": b.to_dict()},
        "definitions": {
            "analysis_size": list(ANALYSIS_SIZE),
            "intensity_bins": INTENSITY_BINS,
            "gradient_bin_edges": GRADIENT_BIN_EDGES.tolist(),
            "spectrum_band_edges_cycles_per_px": SPECTRUM_BAND_EDGES.tolist(),
            "edge_bands": EDGE_BANDS,
            "canny_thresholds": list(CANNY_THRESHOLDS),
            "total_terms": list(TOTAL_TERMS),
        },
    }
