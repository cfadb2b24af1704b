"""Isolated outlier pixels (pure numpy): a camera's hot (or dead) pixels, which no optical image's detail resembles.

A pixel is an isolated outlier when it stands more than `sd` modelled noise standard deviations from the median of
its 8 neighbours while those neighbours stand at the level around them (the median of its 4 nearest neighbours departs
from the median of the 5 x 5 ring around them by under a quarter of the pixel's own departure; medians, so that one
outlier beside another is found too): a spot sampled by a microscope (at Nyquist, a PSF sigma of at least ~0.8 px)
lifts its nearest neighbours to half its height or more, so it is never one. A hot (or dead) pixel is an isolated
outlier beyond HOT_PIXEL_SD standard deviations that also departs from its neighbours by HOT_PIXEL_RANGE of the
image's range (its 1st to 99.8th percentile) and by HOT_PIXEL_SD photons (hot_pixel_departure): at high light the
standard deviation alone would flag the steps of 8-bit data, and near zero photons (photon counting, dark
backgrounds) a single photon is many standard deviations of a background that rarely has one. Replacing an outlier
takes the median of its 8 neighbours.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

HOT_PIXEL_SD = 8.0
HOT_PIXEL_RANGE = 0.1
_EIGHT = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if (dy, dx) != (0, 0)]
_FOUR = [(-1, 0), (1, 0), (0, -1), (0, 1)]
_RING = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3) if max(abs(dy), abs(dx)) == 2]


def _around(padded: np.ndarray, ys: np.ndarray, xs: np.ndarray, offsets: list) -> np.ndarray:
    """(n, len(offsets)) values at `offsets` around the pixels (ys, xs) of the image that `padded` pads by 2."""
    return np.stack([padded[ys + 2 + dy, xs + 2 + dx] for dy, dx in offsets], axis=1)


def _upper_median(values: np.ndarray) -> np.ndarray:
    """The upper of the two middle values of each row (an even count), as ndimage.median_filter takes it."""
    return np.sort(values, axis=1)[:, values.shape[1] // 2]


def neighbour_median(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """The median of the 8 neighbours (mirrored at the borders) of each pixel of a 2D image in `mask`."""
    ys, xs = np.nonzero(mask)
    return _upper_median(_around(np.pad(np.asarray(image, np.float64), 2, mode="reflect"), ys, xs, _EIGHT))


def isolated_outliers(image: np.ndarray, variance: np.ndarray, sd: float, min_departure: float = 0.0,
                      variance_floor: float | None = None) -> np.ndarray:
    """Boolean mask of a 2D image's isolated outliers, `sd` standard deviations (with the per-pixel noise `variance`,
    floored at `variance_floor`, by default 1% of its median) and more than `min_departure` from their neighbours'
    median. Only pixels that far from the lowest or highest value of their 3 x 3 block can be one: the medians are
    taken at those alone."""
    image = np.asarray(image, np.float64)
    floor = 0.01 * np.median(variance) if variance_floor is None else variance_floor
    threshold = np.maximum(sd * np.sqrt(np.maximum(variance, floor)), min_departure)
    candidates = ((image - ndimage.minimum_filter(image, 3, mode="mirror") > threshold)
                  | (ndimage.maximum_filter(image, 3, mode="mirror") - image > threshold))
    ys, xs = np.nonzero(candidates)
    padded = np.pad(image, 2, mode="reflect")
    departure = image[ys, xs] - _upper_median(_around(padded, ys, xs, _EIGHT))
    neighbours = _upper_median(_around(padded, ys, xs, _FOUR))
    ring = _upper_median(_around(padded, ys, xs, _RING))
    mask = np.zeros(image.shape, bool)
    mask[ys, xs] = (np.abs(departure) > threshold[ys, xs]) & (np.abs(neighbours - ring) < 0.25 * np.abs(departure))
    return mask


def hot_pixel_departure(image: np.ndarray, photon: float) -> float:
    """The least departure from its neighbours that makes a pixel of `image` hot, with `photon` the counts one photon
    gives (the noise model's slope; 0 for noise that does not grow with the signal)."""
    low, high = np.percentile(image, [1, 99.8])
    return max(HOT_PIXEL_RANGE * float(high - low), HOT_PIXEL_SD * photon)


def hot_pixels(image: np.ndarray, variance: np.ndarray, photon: float) -> np.ndarray:
    """Boolean mask of a 2D image's hot (or dead) pixels, with the per-pixel noise `variance` and `photon` counts per
    photon."""
    return isolated_outliers(image, variance, HOT_PIXEL_SD, hot_pixel_departure(image, photon))


def replace_outliers(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """A copy of a 2D image with each pixel in `mask` replaced by the median of its 8 neighbours."""
    image = np.asarray(image)
    out = image.copy()
    if mask.any():
        out[mask] = neighbour_median(image, mask).astype(image.dtype, copy=False)
    return out
