"""The central crop of an image's middle plane (the middle index of every axis but Y and X): the sample the estimates
from the noisy image (the classical check and blend, rescale 'search', the model comparison, the hot-pixel criteria)
judge, ESTIMATE_SIDE px wide, the same pixels in memory and on large data; 'auto' on large data judges a wider one
(domain_check.MAX_SIDE)."""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..io import Image

ESTIMATE_SIDE = 512  # estimates run on a central crop of one plane: bounded time, enough pixels


def middle_plane(image: np.ndarray | Image, axes: str | None = None, max_side: int = ESTIMATE_SIDE) -> np.ndarray:
    """The central (at most) max_side^2 px of the middle YX plane of an image: the middle index along each other
    axis (T, Z, C...), as large data's is taken (middle_plane_crop)."""
    if isinstance(image, Image):
        image, axes = image.data, image.axes
    axes = (axes or {2: "YX"}.get(np.ndim(image), "")).upper()
    if len(axes) != np.ndim(image) or "Y" not in axes or "X" not in axes:
        raise InputError(f"estimating errors from the noisy image (the classical check, rescale search, carekit "
                         f"compare) needs the image's axes (YX, TYX, ZYX...); got {axes!r} for shape "
                         f"{np.shape(image)}")
    image = np.asarray(image)
    return middle_plane_crop(image.__getitem__, axes, image.shape, max_side).astype(np.float32)


def middle_plane_crop(read, axes: str, shape: tuple, size: int) -> np.ndarray:
    """The central (at most) size x size px of the middle YX plane (the middle index of every other axis) of an
    image of `axes` and `shape` read by `read(region)` (ArraySource.read, or a numpy array's indexing), as a 2D
    array in YX order."""
    region = tuple(central(slice(0, n), size) if a in "YX" else slice(n // 2, n // 2 + 1) for a, n in zip(axes, shape))
    crop = np.moveaxis(read(region), [axes.index("Y"), axes.index("X")], [-2, -1])
    return crop.reshape(crop.shape[-2:])


def central(whole: slice, size: int) -> slice:
    start = whole.start + max(0, (whole.stop - whole.start - size) // 2)
    return slice(start, min(whole.stop, start + size))
