"""Resampling the Y and X axes of images (pure numpy/scipy): shrinking with anti-aliasing, and interpolating back
to a given shape. Leading axes are left as they are."""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def shrunk_shape(shape: tuple[int, ...], factor: float) -> tuple[int, ...]:
    """`shape` with its last two sides divided by `factor` (rounded, at least 1)."""
    return tuple(shape[:-2]) + tuple(max(1, round(n / factor)) for n in shape[-2:])


def downscale(image: np.ndarray, factor: float) -> np.ndarray:
    """`image` (YX last) smaller by `factor` in Y and X: a Gaussian anti-aliasing filter (sigma (factor - 1) / 2),
    then linear interpolation."""
    sigma = (0,) * (image.ndim - 2) + (0.5 * (factor - 1),) * 2
    smooth = ndimage.gaussian_filter(image.astype(np.float32, copy=False), sigma)
    return resize(smooth, shrunk_shape(image.shape, factor), order=1)


def resize(image: np.ndarray, shape: tuple[int, ...], order: int) -> np.ndarray:
    """`image` interpolated to `shape` (spline `order`: 1 keeps values within their neighbours' range, 3 is
    smoother but overshoots at edges)."""
    zoom = [new / old for new, old in zip(shape, image.shape)]
    return ndimage.zoom(image, zoom, order=order, mode="nearest", grid_mode=True).astype(np.float32, copy=False)
