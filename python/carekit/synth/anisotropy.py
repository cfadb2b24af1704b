"""Axial degradation of 3D stacks, as for CARE isotropic restoration: blur and subsample along Z."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..errors import InputError


def axial_degrade(volume: np.ndarray, subsample: int, axial_sigma_px: float | None = None) -> np.ndarray:
    """Blur a (Z, Y, X) stack along Z with a Gaussian axial PSF, keep every `subsample`-th plane and
    interpolate back to the original Z size, so input and target stay voxel-aligned."""
    volume = np.asarray(volume, dtype=np.float32)
    if volume.ndim != 3:
        raise InputError(f"axial degradation needs a (Z, Y, X) stack, got shape {volume.shape}")
    if subsample < 1 or subsample >= volume.shape[0]:
        raise InputError(f"axial subsampling factor must be between 1 and the number of planes - 1, got {subsample}")
    sigma = axial_sigma_px if axial_sigma_px is not None else subsample / 2
    blurred = ndimage.gaussian_filter1d(volume, sigma, axis=0, mode="reflect") if sigma > 0 else volume
    kept_z = np.arange(0, volume.shape[0], subsample)
    planes = blurred[kept_z]
    target_z = np.clip(np.arange(volume.shape[0]), kept_z[0], kept_z[-1])
    index = np.interp(target_z, kept_z, np.arange(len(kept_z)))
    lower = np.floor(index).astype(int)
    upper = np.minimum(lower + 1, len(kept_z) - 1)
    frac = (index - lower)[:, None, None].astype(np.float32)
    return ((1 - frac) * planes[lower] + frac * planes[upper]).astype(np.float32)
