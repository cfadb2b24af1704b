"""Isolated outlier pixels (pure numpy): a camera's hot (or dead) pixels, which no optical image's detail resembles.

A pixel is an isolated outlier when it stands more than `sd` modelled noise standard deviations from the median of
its 8 neighbours while those neighbours stand at the level around them (the mean of its 4 nearest neighbours departs
from the median of the 5 x 5 ring around them by under a quarter of the pixel's own departure): a spot sampled by a
microscope (at Nyquist, a PSF sigma of at least ~0.8 px) lifts its nearest neighbours to half its height or more, so
it is never one. A hot (or dead) pixel is an isolated outlier beyond HOT_PIXEL_SD standard deviations that also
departs from its neighbours by HOT_PIXEL_RANGE of the image's range (its 1st to 99.8th percentile): at high light the
standard deviation alone would flag the steps of 8-bit data. Replacing an outlier takes the median of its 8
neighbours.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

HOT_PIXEL_SD = 8.0
HOT_PIXEL_RANGE = 0.1
_EIGHT = np.array([[1, 1, 1], [1, 0, 1], [1, 1, 1]], bool)
_FOUR = np.array([[0, 1, 0], [1, 0, 1], [0, 1, 0]], np.float64)
_RING = np.pad(np.zeros((3, 3), bool), 1, constant_values=True)


def neighbour_median(image: np.ndarray) -> np.ndarray:
    """Per pixel of a 2D image, the median of its 8 neighbours."""
    return ndimage.median_filter(np.asarray(image, np.float64), footprint=_EIGHT, mode="mirror")


def isolated_outliers(image: np.ndarray, variance: np.ndarray, sd: float, min_departure: float = 0.0) -> np.ndarray:
    """Boolean mask of a 2D image's isolated outliers, `sd` standard deviations (with the per-pixel noise `variance`,
    floored at 1% of its median) and more than `min_departure` from their neighbours' median."""
    image = np.asarray(image, np.float64)
    spread = np.sqrt(np.maximum(variance, 0.01 * np.median(variance)))
    departure = image - neighbour_median(image)
    neighbours = ndimage.convolve(image, _FOUR / 4, mode="mirror")
    ring = ndimage.median_filter(image, footprint=_RING, mode="mirror")
    isolated = np.abs(neighbours - ring) < 0.25 * np.abs(departure)
    return (np.abs(departure) > np.maximum(sd * spread, min_departure)) & isolated


def hot_pixels(image: np.ndarray, variance: np.ndarray) -> np.ndarray:
    """Boolean mask of a 2D image's hot (or dead) pixels, with the per-pixel noise `variance`."""
    low, high = np.percentile(image, [1, 99.8])
    return isolated_outliers(image, variance, HOT_PIXEL_SD, HOT_PIXEL_RANGE * float(high - low))


def replace_outliers(image: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """A copy of a 2D image with each pixel in `mask` replaced by the median of its 8 neighbours."""
    image = np.asarray(image)
    out = image.copy()
    if mask.any():
        out[mask] = neighbour_median(image)[mask].astype(image.dtype, copy=False)
    return out
