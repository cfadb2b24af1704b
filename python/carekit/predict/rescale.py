"""Restoring at the model's object scale: an image whose objects are larger than those a 2D model was trained on is
downsampled (YX) before the network and its restoration upsampled back to the input's shape.

A denoiser sees a window of a few tens of pixels; objects larger than it fill that window with flat, noisy interior,
and the model compresses their contrast. Downsampling brings them back into the window and averages their noise.
`rescale="auto"` does it when the input's object scale (carekit.domain) exceeds the model's training median by more
than AUTO_THRESHOLD, by that ratio (at most AUTO_MAX); other inputs are restored as they are. The rule was chosen on
benchmarks/results/rescale.md: of the 43 image / photon-level cases it rescaled, 41 gained (up to 8 dB) and 2 lost
under 0.25 dB. Upsampling (a factor below 1) is not offered: on BBBC007 it lost 0.4-5 dB."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..errors import InputError
from ..models.spec import NetworkSpec
from .domain_check import input_statistics

AUTO = "auto"
AUTO_THRESHOLD = 1.25  # object scale over the training median
AUTO_MAX = 4.0
MAX_FACTOR = 8.0


def parse_rescale(text: str) -> str | float:
    """'auto' or a factor >= 1 from the command line."""
    if text == AUTO:
        return AUTO
    try:
        factor = float(text)
    except ValueError:
        raise InputError(f"--rescale takes 'auto' or a factor >= 1 (e.g. 3), not {text!r}") from None
    return check_factor(factor)


def check_factor(factor: float) -> float:
    if not 1 <= factor <= MAX_FACTOR:
        raise InputError(f"rescale factor {factor:g}: give 1-{MAX_FACTOR:g} (how many times smaller the network's "
                         "input is) or 'auto'; upsampling (below 1) is not offered")
    return float(factor)


def rescale_factor(rescale: str | float | None, spec: NetworkSpec, work: np.ndarray) -> float:
    """The downsampling factor for `work` (spatial axes last): 1 without `rescale`, the factor given, or for 'auto'
    the input's object scale over the training median when that exceeds AUTO_THRESHOLD (1 otherwise, and for a
    model that recorded no training statistics)."""
    if rescale is None:
        return 1.0
    if spec.axes != "YX":
        raise InputError(f"rescale applies to 2D models; this one works on {spec.axes}")
    if rescale != AUTO:
        return check_factor(float(rescale))
    reference = (spec.domain or {}).get("scale_px")
    stats = input_statistics(spec, work)
    ratio = stats["scale_px"] / reference[1] if reference and stats else 1.0
    return min(ratio, AUTO_MAX) if ratio > AUTO_THRESHOLD else 1.0


def downscale(work: np.ndarray, factor: float) -> np.ndarray:
    """`work` (YX last) smaller by `factor` in Y and X: a Gaussian anti-aliasing filter, then linear interpolation."""
    sigma = (0,) * (work.ndim - 2) + (0.5 * (factor - 1),) * 2
    smooth = ndimage.gaussian_filter(work.astype(np.float32, copy=False), sigma)
    shape = work.shape[:-2] + tuple(max(1, round(n / factor)) for n in work.shape[-2:])
    return _resize(smooth, shape, order=1)


def upscale(array: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """`array` (YX last) interpolated (cubic) to `shape`."""
    return _resize(array, shape, order=3)


def _resize(array: np.ndarray, shape: tuple[int, ...], order: int) -> np.ndarray:
    zoom = [new / old for new, old in zip(shape, array.shape)]
    return ndimage.zoom(array, zoom, order=order, mode="nearest", grid_mode=True).astype(np.float32, copy=False)
