"""Camera noise (Poisson shot noise + Gaussian read noise) and slow intensity modulation."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..errors import InputError
from .. import normalize


def normalize_ground_truth(image: np.ndarray) -> np.ndarray:
    """A high-SNR image scaled as the evaluation scales ground truth (percentile 0.1 -> 0, 99.9 -> 1), negatives
    clipped so that it can serve as an expected photon rate."""
    return np.clip(normalize.normalize_ground_truth(image), 0, None).astype(np.float32)


def poisson_gaussian(expected_photons: np.ndarray, read_noise: float = 2.0, gain: float = 1.0, offset: float = 100.0,
                     rng: np.random.Generator | int | None = None) -> np.ndarray:
    """Simulate a camera: counts = gain * Poisson(photons) + Normal(0, read_noise^2) + offset.

    Mean gain*lambda + offset, variance gain^2*lambda + read_noise^2.
    """
    expected_photons = np.asarray(expected_photons, dtype=np.float64)
    if np.any(expected_photons < 0) or not np.isfinite(expected_photons).all():
        raise InputError("expected photon counts must be finite and non-negative")
    rng = np.random.default_rng(rng)
    counts = gain * rng.poisson(expected_photons) + rng.normal(0.0, read_noise, expected_photons.shape) + offset
    return counts.astype(np.float32)


def intensity_modulation(shape: tuple[int, ...], strength: float = 0.3, correlation_px: float = 32.0,
                         rng: np.random.Generator | int | None = None) -> np.ndarray:
    """A smooth random multiplicative field with mean 1 and values within [1-strength, 1+strength]."""
    if not 0 <= strength < 1:
        raise InputError(f"modulation strength must be in [0, 1), got {strength}")
    rng = np.random.default_rng(rng)
    field = ndimage.gaussian_filter(rng.standard_normal(shape), correlation_px, mode="wrap")
    field -= field.mean()
    peak = np.abs(field).max()
    if peak > 0:
        field *= strength / peak
    return (1 + field).astype(np.float32)
