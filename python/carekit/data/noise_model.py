"""Estimate a camera's signal-dependent noise from one noisy image (pure numpy): variance = slope * mean + intercept.

Poisson shot noise plus Gaussian read noise gives exactly this line (slope = gain, intercept = read noise^2 minus
gain * offset), in raw counts and, since percentile normalization is affine, in normalized units too.
Like Foi et al. (2008), the estimate bins pixels by their local mean and takes a robust (MAD) variance of a
high-pass residual in each bin, so edges and structure barely bias it; a weighted line fit through the bins follows.
Hot pixels would still bias it (each lifts the local mean of its neighbours, so dark residuals land in bright bins):
they (data.outliers.hot_pixels, with the first fit's variance) are replaced by their neighbours' median and the line
fitted again (data.hot_pixel_finder finds them in images to restore).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..errors import InputError
from .outliers import hot_pixels, replace_outliers

MAD_TO_STD = 1.4826


@dataclass(frozen=True)
class NoiseModel:
    slope: float
    intercept: float
    floor: float  # smallest variance used, so that dark pixels still get some noise

    def variance(self, mean: np.ndarray) -> np.ndarray:
        return np.maximum(self.slope * mean + self.intercept, self.floor).astype(np.float32)


def local_mean(image: np.ndarray) -> np.ndarray:
    """Mean over a 7^d window without the central 3^d block: independent of the noise in the pixel's residual."""
    image = np.asarray(image, np.float64)
    d = image.ndim
    window = ndimage.uniform_filter(image, 7, mode="reflect") * 7**d
    centre = ndimage.uniform_filter(image, 3, mode="reflect") * 3**d
    return ((window - centre) / (7**d - 3**d)).astype(np.float32)


def _residual(image: np.ndarray) -> np.ndarray:
    """Pixel minus the mean of its 3^d - 1 neighbours, scaled to have the pixel's noise variance."""
    image = np.asarray(image, np.float64)
    n_neighbours = 3**image.ndim - 1
    neighbours = (ndimage.uniform_filter(image, 3, mode="reflect") * (n_neighbours + 1) - image) / n_neighbours
    return (image - neighbours) / np.sqrt(1 + 1 / n_neighbours)


def estimate_noise_model(image: np.ndarray, n_bins: int = 16) -> NoiseModel:
    """Fit variance = slope * local mean + intercept to one noisy image (2D or 3D), hot pixels left out."""
    image = np.asarray(image, np.float64)
    if image.ndim not in (2, 3) or min(image.shape) < 3 or image.size < 64 * 64:
        raise InputError(f"need a 2D or 3D image of at least 64x64 pixels to estimate its noise, got {image.shape}")
    first = _fit(image, n_bins)
    planes = image.reshape(-1, *image.shape[-2:])
    variances = first.variance(local_mean(image)).reshape(planes.shape)
    masks = [hot_pixels(plane, variance, first.slope) for plane, variance in zip(planes, variances)]
    if not any(mask.any() for mask in masks):
        return first
    cleaned = np.stack([replace_outliers(plane, mask) for plane, mask in zip(planes, masks)]).reshape(image.shape)
    return _fit(cleaned, n_bins)


def _fit(image: np.ndarray, n_bins: int) -> NoiseModel:
    inner = tuple(slice(1, -1) for _ in range(image.ndim))
    mean, residual = local_mean(image)[inner].ravel(), _residual(image)[inner].ravel()
    edges = np.unique(np.quantile(mean, np.linspace(0, 1, n_bins + 1)))
    which = np.clip(np.searchsorted(edges, mean, side="right") - 1, 0, len(edges) - 2)
    centres, variances, counts = [], [], []
    for b in range(len(edges) - 1):
        r = residual[which == b]
        if len(r) < 50:
            continue
        centres.append(np.median(mean[which == b]))
        variances.append((MAD_TO_STD * np.median(np.abs(r - np.median(r))))**2)
        counts.append(len(r))
    if len(centres) < 2:
        raise InputError("the image is too flat to estimate its noise (fewer than 2 intensity levels)")
    centres, variances, weights = np.array(centres), np.array(variances), np.sqrt(counts)
    slope, intercept = np.polyfit(centres, variances, 1, w=weights)
    if slope < 0:  # noise cannot shrink with signal: fall back to constant (Gaussian) noise
        slope, intercept = 0.0, float(np.average(variances, weights=weights))
    floor = max(float(np.min(variances)) * 0.5, 1e-12)
    return NoiseModel(float(slope), float(intercept), floor)


def estimate_camera(image: np.ndarray, dark_percentile: float = 0.5) -> dict[str, float]:
    """Camera gain, read noise and offset for the generalized Anscombe transform, estimated from one noisy image.

    The fitted line fixes gain (slope) and read noise^2 - gain * offset (intercept) only, and that is all the GAT
    depends on; the split takes the image's dark level (a low percentile of the local mean) as the offset, lowered
    when needed so that the read noise is real."""
    model = estimate_noise_model(image)
    # constant (Gaussian) noise: a gain far below the noise makes the GAT an affine map, as it should be
    gain = model.slope if model.slope > 0 else 1e-3 * float(np.sqrt(model.intercept))
    offset = float(np.percentile(local_mean(image), dark_percentile))
    read_variance = model.intercept + gain * offset
    if read_variance < 0:
        offset, read_variance = -model.intercept / gain, 0.0
    return {"gain": float(gain), "read_noise": float(np.sqrt(read_variance)), "offset": offset}


def camera_contradiction(image: np.ndarray, camera: dict, estimated: dict, tolerance: float = 2.0) -> str | None:
    """Why the given camera parameters contradict the image's own noise, or None: the variance they predict
    (gain * (mean - offset) + read noise^2) at the image's dark and bright levels must be positive and within a
    factor `tolerance` of the variance estimated from the data."""
    levels = np.percentile(local_mean(image), [10, 90])
    given = camera["gain"] * (levels - camera["offset"]) + camera["read_noise"]**2
    measured = estimated["gain"] * (levels - estimated["offset"]) + estimated["read_noise"]**2
    if np.all(given > 0) and np.all(np.abs(np.log(given / np.maximum(measured, 1e-12))) <= np.log(tolerance)):
        return None
    return (f"the camera parameters (gain {camera['gain']:g}, read noise {camera['read_noise']:g}, offset "
            f"{camera['offset']:g}) predict noise variances {_fmt(given)} at the image's dark and bright levels "
            f"{_fmt(levels)}, but the data show {_fmt(measured)} (estimated: gain {estimated['gain']:.3g}, read noise "
            f"{estimated['read_noise']:.3g}, offset {estimated['offset']:.4g})")


def _fmt(values: np.ndarray) -> str:
    return "/".join(f"{v:.3g}" for v in values)
