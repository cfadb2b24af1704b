"""Hot (or dead) camera pixels in an image to restore (pure numpy). Whether a pixel is hot depends on the camera
(its noise model, and the floor under its variance) and on the image's range (data.outliers.hot_pixel_departure);
all are judged once, on a sample plane (HotPixelCriterion), and applied to every plane, so that a pixel's verdict and
new value depend on its 7 x 7 neighbourhood alone: the same in memory and chunk by chunk."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from .noise_model import NoiseModel, estimate_noise_model, local_mean
from .outliers import HOT_PIXEL_SD, hot_pixel_departure, isolated_outliers, replace_outliers

NEIGHBOURHOOD = 3  # px each side: the local mean's window (7 x 7) reaches furthest


@dataclass(frozen=True)
class HotPixelCriterion:
    """A camera's noise model and the least departure a hot pixel shows, as judged on a sample plane."""

    model: NoiseModel
    min_departure: float
    variance_floor: float

    def find(self, plane: np.ndarray) -> np.ndarray:
        """Boolean mask of the hot pixels of a 2D plane."""
        plane = np.asarray(plane, np.float64)
        variance = self.model.variance(local_mean(plane))
        return isolated_outliers(plane, variance, HOT_PIXEL_SD, self.min_departure, self.variance_floor)


def hot_pixel_criterion(sample: np.ndarray) -> HotPixelCriterion | None:
    """The criterion judged on a 2D `sample` plane; None where it is too small, too flat or not finite to tell."""
    sample = np.asarray(sample, np.float64)
    if not np.isfinite(sample).all():
        return None
    try:
        model = estimate_noise_model(sample)
    except InputError:
        return None
    floor = 0.01 * float(np.median(model.variance(local_mean(sample))))  # as isolated_outliers' default, once
    return HotPixelCriterion(model, hot_pixel_departure(sample, model.slope), floor)


def find_hot_pixels(plane: np.ndarray) -> np.ndarray:
    """Boolean mask of a 2D plane's hot pixels, judged on the plane itself."""
    criterion = hot_pixel_criterion(plane)
    return criterion.find(plane) if criterion else np.zeros(np.shape(plane), bool)


def remove_hot_pixels(image: np.ndarray, criterion: HotPixelCriterion | None) -> tuple[np.ndarray, int]:
    """A copy of `image` (spatial axes last, any leading axes) with each YX plane's hot pixels under `criterion`
    replaced by the median of their 8 neighbours, and how many were replaced (none without a criterion)."""
    image = np.asarray(image)
    if criterion is None:
        return image.copy(), 0
    cleaned, count = np.empty_like(image), 0
    for index in np.ndindex(image.shape[:-2]):
        mask = criterion.find(image[index])
        cleaned[index] = replace_outliers(image[index], mask)
        count += int(mask.sum())
    return cleaned, count
