"""Blind-spot masking for self-supervised denoising (pure numpy).

Noise2Void (Krull et al. 2019): a few random pixels per patch are replaced by a random neighbour; the network
is trained to predict their original noisy values, which it can only do from the surrounding signal.
Noise2Self (Batson & Royer 2019): the masked pixels are set to zero (their 'zero' masker; their 'interpolate'
masker barely trains through CARE's residual U-Net, which can copy the interpolated value), the loss is again
computed only on them.
The target returned carries two channels: the original patch and the mask (1 where the loss applies).
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError

METHODS = ("n2v", "n2s")
# every self-supervised method carekit trains: the blind-spot ones here, and r2r (data/recorrupt.py), which masks nothing
SELF_SUPERVISED_METHODS = (*METHODS, "r2r")


def blind_spot_batch(patches: np.ndarray, rng: np.random.Generator, method: str = "n2v",
                     fraction: float = 0.01, radius: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Mask a batch of patches (N, *spatial, 1): returns (masked input, target with [values, mask] channels)."""
    if method not in METHODS:
        raise InputError(f"unknown self-supervised method {method!r}; choose one of {METHODS}")
    if not 0 < fraction < 0.5:
        raise InputError(f"mask fraction must be in (0, 0.5), got {fraction}")
    spatial = patches.shape[1:-1]
    n_masked = max(1, int(round(fraction * np.prod(spatial))))
    inputs = patches.copy()
    mask = np.zeros_like(patches)
    for index in range(len(patches)):
        coords = np.stack([rng.integers(0, n, n_masked) for n in spatial], axis=1)
        image = patches[index, ..., 0]
        if method == "n2v":
            offsets = rng.integers(-radius, radius + 1, coords.shape)
            sources = np.clip(coords + offsets, 0, np.array(spatial) - 1)
            itself = np.all(sources == coords, axis=1)  # never copy the pixel onto itself
            sources[itself, -1] = np.where(coords[itself, -1] > 0, coords[itself, -1] - 1, coords[itself, -1] + 1)
            replacement = image[tuple(sources.T)]
        else:
            replacement = np.zeros(len(coords), patches.dtype)
        inputs[(index, *coords.T, 0)] = replacement
        mask[(index, *coords.T, 0)] = 1.0
    return inputs, np.concatenate([patches, mask], axis=-1)
