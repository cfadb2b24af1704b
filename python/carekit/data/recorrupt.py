"""Recorrupted-to-Recorrupted (Pang et al., CVPR 2021): self-supervised training pairs from single noisy images.

With noise variance v per pixel and g ~ N(0, 1): input = y + alpha sqrt(v) g, target = y - sqrt(v) g / alpha.
The noise left in input and target is uncorrelated, so the mean squared error against the target is, up to a
constant, the error against the clean image: an unbiased stand-in for supervised training that, unlike blind-spot
masking, trains the very same (non-blind) network a supervised CARE model is. That makes it the self-supervised loss
to fine-tune a supervised model with, and its validation loss tracks restoration quality (for early stopping).
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from .noise_model import estimate_noise_model, local_mean


def variance_map(image: np.ndarray) -> np.ndarray:
    """Per-pixel noise variance of a noisy image, from its estimated noise model at the local mean."""
    return estimate_noise_model(image).variance(local_mean(image))


def recorrupted_batch(patches: np.ndarray, variances: np.ndarray, rng: np.random.Generator,
                      alpha: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """(input, target) for a batch of noisy patches and their noise-variance patches (same shape)."""
    if patches.shape != variances.shape:
        raise InputError(f"variance patches {variances.shape} must have the shape of the patches {patches.shape}")
    if alpha <= 0:
        raise InputError(f"alpha must be positive, got {alpha}")
    noise = np.sqrt(np.maximum(variances, 0)) * rng.standard_normal(patches.shape).astype(np.float32)
    return (patches + alpha * noise).astype(np.float32), (patches - noise / alpha).astype(np.float32)
