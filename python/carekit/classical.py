"""Classical denoisers (numpy in, numpy out), each as the images of a small grid of its strengths: Gaussian
filtering, non-local means, total variation, and the generalized Anscombe transform (GAT) + NLM for Poisson-Gaussian
noise. Which one is best is chosen by whoever calls them: against the ground truth by the evaluation's baselines
(evaluate.baselines), from the noisy image alone by the comparison at prediction (predict.classical_check)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from .errors import InputError
from .normalize import normalize_percentile

GAUSSIAN_SIGMAS = (0.5, 1.0, 1.5, 2.0, 3.0)
NLM_STRENGTHS = (0.6, 0.9, 1.2)
TV_WEIGHTS = (0.05, 0.1, 0.2, 0.4)
NORMALIZATION = (1.0, 99.8)  # the percentiles NLM and TV normalize their input with (mapped to 0 and 1)


def gaussian_candidates(image: np.ndarray, sigmas=GAUSSIAN_SIGMAS) -> list[np.ndarray]:
    return [ndimage.gaussian_filter(image.astype(np.float32), s) for s in sigmas]


def nlm(normalized: np.ndarray, sigma: float, strength: float) -> np.ndarray:
    from skimage.restoration import denoise_nl_means

    patch = 5 if normalized.ndim == 2 else 3
    return denoise_nl_means(normalized, h=strength * sigma, sigma=sigma, patch_size=patch, patch_distance=6,
                            fast_mode=True).astype(np.float32)


def nlm_candidates(image: np.ndarray, strengths=NLM_STRENGTHS) -> list[np.ndarray]:
    from skimage.restoration import estimate_sigma

    normalized = normalize_percentile(image, *NORMALIZATION)
    sigma = float(estimate_sigma(normalized))
    return [nlm(normalized, sigma, k) for k in strengths]


def tv_candidates(image: np.ndarray, weights=TV_WEIGHTS) -> list[np.ndarray]:
    from skimage.restoration import denoise_tv_chambolle

    normalized = normalize_percentile(image, *NORMALIZATION)
    return [denoise_tv_chambolle(normalized, weight=w).astype(np.float32) for w in weights]


def check_camera(gain: float = 1.0, read_noise: float = 2.0, offset: float = 100.0) -> dict[str, float]:
    """The camera parameters GAT needs as a dict, refused unless gain > 0, read noise >= 0 and offset finite."""
    checks = {f"gain must be > 0, got {gain}": np.isfinite(gain) and gain > 0,
              f"read noise must be >= 0, got {read_noise}": np.isfinite(read_noise) and read_noise >= 0,
              f"offset must be a finite number, got {offset}": np.isfinite(offset)}
    problems = [message for message, ok in checks.items() if not ok]
    if problems:
        raise InputError("camera parameters for GAT (--gain, --read-noise, --offset): " + "; ".join(problems))
    return {"gain": float(gain), "read_noise": float(read_noise), "offset": float(offset)}


def anscombe(counts: np.ndarray, gain: float, read_noise: float, offset: float) -> np.ndarray:
    """Generalized Anscombe transform: Poisson-Gaussian counts -> approximately unit-variance Gaussian."""
    z = (counts - offset) / gain
    sigma = read_noise / gain
    return 2 * np.sqrt(np.maximum(z + 3 / 8 + sigma**2, 0))


def inverse_anscombe(d: np.ndarray, gain: float, read_noise: float, offset: float) -> np.ndarray:
    """Closed-form approximation of the exact unbiased inverse (Makitalo & Foi 2013)."""
    d = np.maximum(d, 1e-6)
    sigma = read_noise / gain
    exact = (d**2 / 4 + np.sqrt(3 / 2) / (4 * d) - 11 / (8 * d**2) + 5 * np.sqrt(3 / 2) / (8 * d**3)
             - 1 / 8 - sigma**2)
    return np.maximum(exact, 0) * gain + offset


def gat_nlm_candidates(image: np.ndarray, gain: float = 1.0, read_noise: float = 2.0, offset: float = 100.0,
                       strengths=NLM_STRENGTHS) -> list[np.ndarray]:
    """Variance-stabilize with the GAT (needs the camera's gain, read noise and offset), NLM with sigma 1, invert."""
    check_camera(gain, read_noise, offset)
    stabilized = anscombe(np.asarray(image, dtype=np.float64), gain, read_noise, offset)
    lo, hi = stabilized.min(), stabilized.max()
    scale = hi - lo if hi > lo else 1.0
    return [inverse_anscombe(nlm((stabilized - lo) / scale, 1.0 / scale, k) * scale + lo, gain, read_noise,
                             offset).astype(np.float32) for k in strengths]
