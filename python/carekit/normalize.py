"""Intensity normalization shared by synthesis, training, prediction and evaluation (pure numpy, floor 1).

- Inputs and targets: percentile normalization as csbdeep and bioimage.io's scale_range do (pmin -> 0, pmax -> 1).
- Ground truth for metrics (and the clean image semi-synthetic data is made from): 0.1 -> 0, 99.9 -> 1.
- Images under test are mapped onto the ground truth by the least-squares affine fit (csbdeep's normalize_minmse).
"""

from __future__ import annotations

import warnings

import numpy as np

from .errors import InputError

GT_PERCENTILES = (0.1, 99.9)
# below this many eps between the percentiles, eps dominates the normalization and the result is nearly constant
DEGENERATE_RANGE_EPS = 10


def normalize_percentile(image: np.ndarray, pmin: float = 1.0, pmax: float = 99.8, eps: float = 1e-6,
                         warn_as: str | None = None) -> np.ndarray:
    """Map percentile `pmin` to 0 and `pmax` to 1 (no clipping), as csbdeep and bioimage.io's scale_range do.

    With `warn_as` (the image's name), warn when the percentile range is too small for that (a constant image, or
    values scaled near the float limits): the normalized image, and so any restoration of it, is then constant."""
    image = np.asarray(image, dtype=np.float32)
    lo, hi = np.percentile(image, [pmin, pmax])
    if warn_as is not None and not hi - lo >= DEGENERATE_RANGE_EPS * eps:
        warnings.warn(f"{warn_as}: the intensity range between its {pmin} and {pmax} percentiles is {hi - lo:.3g}, "
                      "too small to normalize (constant image, or values scaled near the float limits); the result "
                      "will be constant: rescale the image to its original intensity units", stacklevel=2)
    return normalize_range(image, lo, hi, eps)


def normalize_range(image: np.ndarray, lo, hi, eps: float = 1e-6) -> np.ndarray:
    """Map `lo` to 0 and `hi` to 1 (no clipping): normalize_percentile with percentiles computed elsewhere (e.g. over
    a whole dataset that is processed chunk by chunk)."""
    image = np.asarray(image, dtype=np.float32)
    return ((image - lo) / (hi - lo + eps)).astype(np.float32)


def denormalize_range(image: np.ndarray, lo, hi, eps: float = 1e-6) -> np.ndarray:
    """The inverse of normalize_range: 0 back to `lo`, 1 to `hi`."""
    return (np.asarray(image, dtype=np.float32) * (hi - lo + eps) + lo).astype(np.float32)


def normalize_ground_truth(gt: np.ndarray, pmin: float = GT_PERCENTILES[0], pmax: float = GT_PERCENTILES[1]) -> np.ndarray:
    """Ground truth scaled for metrics: percentile `pmin` -> 0, `pmax` -> 1 (float64, not clipped)."""
    gt = np.asarray(gt, dtype=np.float64)
    lo, hi = np.percentile(gt, [pmin, pmax])
    if hi <= lo:
        raise InputError("ground truth is constant: it holds no structure to learn from or to compare against")
    return (gt - lo) / (hi - lo)


def affine_coefficients(x: np.ndarray, target: np.ndarray) -> tuple[float, float]:
    """(a, b) minimizing ||a*x + b - target||^2 (closed form)."""
    x, target = np.asarray(x, dtype=np.float64), np.asarray(target, dtype=np.float64)
    xc, tc = x - x.mean(), target - target.mean()
    var = np.sum(xc * xc)
    a = np.sum(xc * tc) / var if var > 0 else 0.0
    return float(a), float(target.mean() - a * x.mean())


def affine_fit(x: np.ndarray, target: np.ndarray) -> np.ndarray:
    """a*x + b with (a, b) minimizing ||a*x + b - target||^2."""
    a, b = affine_coefficients(x, target)
    return a * np.asarray(x, dtype=np.float64) + b
