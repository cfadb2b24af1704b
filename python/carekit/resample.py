"""Resampling the Y and X axes of 2D images (pure numpy/scipy): shrinking with anti-aliasing, and interpolating back
to a given shape, of a whole image or of any region of it in the whole image's coordinates. A region computed from
its input span (`input_span`) matches the same pixels of the whole image's result, so large images can be resampled
chunk by chunk."""

from __future__ import annotations

import math

import numpy as np
from scipy import ndimage

# input pixels read beyond an interpolation's own support: a cubic spline's prefilter runs over the whole input and
# a region's border changes it by 0.27x less per pixel away from it (12 px: 1.4e-7 of the values' range at most)
SPLINE_MARGIN = 12
# the anti-aliasing Gaussian's reach in sigmas (scipy's default truncate)
GAUSSIAN_TRUNCATE = 4.0


def shrunk_shape(shape: tuple[int, ...], factor: float) -> tuple[int, ...]:
    """`shape` with its last two sides divided by `factor` (rounded, at least 1)."""
    return tuple(shape[:-2]) + tuple(max(1, round(n / factor)) for n in shape[-2:])


def input_coordinates(start: int, stop: int, in_length: int, out_length: int) -> np.ndarray:
    """Where output pixels start..stop-1 of an axis resized from `in_length` to `out_length` fall on the input
    (pixel centres, as scipy's zoom with grid_mode)."""
    return (np.arange(start, stop) + 0.5) * (in_length / out_length) - 0.5


def input_span(start: int, stop: int, in_length: int, out_length: int, margin: int) -> tuple[int, int]:
    """The input pixels an interpolation of output pixels start..stop-1 reads, `margin` more on each side (clipped
    to the axis)."""
    ends = input_coordinates(start, stop, in_length, out_length)[[0, -1]]
    return max(0, math.floor(ends[0]) - 1 - margin), min(in_length, math.ceil(ends[1]) + 2 + margin)


def resize_region(data: np.ndarray, origin: tuple[int, int], in_shape: tuple[int, int],
                  out_shape: tuple[int, int], out_region: tuple[slice, slice], order: int) -> np.ndarray:
    """Pixels `out_region` of the 2D image of shape `in_shape` interpolated to `out_shape` (spline `order`), from
    `data`, the part of the input starting at `origin` that holds their input span (SPLINE_MARGIN more for cubic)."""
    ratios = [n / m for n, m in zip(in_shape, out_shape)]
    offsets = [(s.start + 0.5) * r - 0.5 - o for s, r, o in zip(out_region, ratios, origin)]  # input_coordinates
    return ndimage.affine_transform(np.asarray(data, np.float32), ratios, offsets,
                                    output_shape=tuple(s.stop - s.start for s in out_region), order=order,
                                    mode="nearest")


def resize(image: np.ndarray, shape: tuple[int, ...], order: int) -> np.ndarray:
    """`image` interpolated to `shape` in Y and X, the last two axes (spline `order`: 1 keeps values within their
    neighbours' range, 3 is smoother but overshoots at edges); leading axes are kept."""
    region = tuple(slice(0, n) for n in shape[-2:])
    return _per_plane(image, shape[-2:], lambda plane: resize_region(plane, (0, 0), plane.shape, shape[-2:], region,
                                                                     order))


def _per_plane(image: np.ndarray, out_plane: tuple[int, ...], plane_function) -> np.ndarray:
    """`plane_function` on each YX plane of `image` (the last two axes)."""
    out = np.empty(image.shape[:-2] + tuple(out_plane), np.float32)
    for index in np.ndindex(*image.shape[:-2]):
        out[index] = plane_function(image[index])
    return out


def blur_sigma(factor: float) -> float:
    """The anti-aliasing Gaussian's sigma (input pixels) for shrinking by `factor`."""
    return 0.5 * (factor - 1)


def downscale_region(data: np.ndarray, origin: tuple[int, int], in_shape: tuple[int, int], factor: float,
                     out_region: tuple[slice, slice]) -> np.ndarray:
    """Pixels `out_region` of the 2D image of shape `in_shape` shrunk by `factor` (downscale), from `data`, the
    part of the input starting at `origin` that holds their downscale_span."""
    out_shape = shrunk_shape(in_shape, factor)
    smooth = ndimage.gaussian_filter(np.asarray(data, np.float32), blur_sigma(factor), truncate=GAUSSIAN_TRUNCATE)
    return resize_region(smooth, origin, in_shape, out_shape, out_region, order=1)


def downscale_span(start: int, stop: int, in_length: int, factor: float) -> tuple[int, int]:
    """The input pixels that output pixels start..stop-1 of an axis shrunk by `factor` depend on."""
    out_length = shrunk_shape((in_length, in_length), factor)[0]
    reach = math.ceil(GAUSSIAN_TRUNCATE * blur_sigma(factor)) + 1
    return input_span(start, stop, in_length, out_length, reach)


def downscale(image: np.ndarray, factor: float) -> np.ndarray:
    """`image` smaller by `factor` in Y and X, the last two axes: a Gaussian anti-aliasing filter (sigma
    (factor - 1) / 2), then linear interpolation; leading axes are kept."""
    out_plane = shrunk_shape(image.shape, factor)[-2:]
    region = tuple(slice(0, n) for n in out_plane)
    return _per_plane(image, out_plane, lambda plane: downscale_region(plane, (0, 0), plane.shape, factor, region))
