"""Images without their hot (or dead) camera pixels: each YX plane cleaned under its channel's criterion
(data.hot_pixel_finder), judged on the central crop of the middle plane of each channel (data.crops: the sample the
other estimates from a noisy image take), so that a pixel's verdict depends on its neighbourhood alone. Used before
restoring (predict.hot_pixels: hot_pixels='replace') and on noisy training images (self-supervised training learns
hot pixels as signal: training_images)."""

from __future__ import annotations

import warnings

import numpy as np

from ..errors import InputError
from .crops import ESTIMATE_SIDE, middle_plane_crop
from .hot_pixel_finder import hot_pixel_criterion, remove_hot_pixels

KEEP = "keep"
REPLACE = "replace"
CHOICES = (KEEP, REPLACE)
WARN_FRACTION = 2e-5  # of a sample's pixels; Nyquist-sampled spots gave none (benchmarks/results/hot_pixels.md)
WARN_MIN = 5


class TrainingHotPixelWarning(UserWarning):
    """Noisy training images have isolated hot (or dead) pixels, which self-supervised training learns as signal."""


def check_choice(hot_pixels: str) -> str:
    if hot_pixels not in CHOICES:
        raise InputError(f"hot_pixels must be one of {', '.join(CHOICES)}, got {hot_pixels!r}")
    return hot_pixels


def channel_samples(read, axes: str, shape: tuple) -> list[np.ndarray]:
    """The central crop of the middle plane of each channel (C index; one crop without a C axis) of an image of
    `axes` and `shape` read by `read(region)` (ArraySource.read, or a numpy array's indexing), as float32."""
    if "Y" not in axes or "X" not in axes:
        raise InputError(f"hot pixels are judged in YX planes, but the image's axes are {axes!r}")
    if "C" not in axes:
        return [middle_plane_crop(read, axes, shape, ESTIMATE_SIDE).astype(np.float32)]
    c = axes.index("C")
    one = shape[:c] + (1,) + shape[c + 1:]

    def channel(i: int):
        return lambda region: read(region[:c] + (slice(i, i + 1),) + region[c + 1:])

    return [middle_plane_crop(channel(i), axes, one, ESTIMATE_SIDE).astype(np.float32) for i in range(shape[c])]


def criteria_for(read, axes: str, shape: tuple) -> tuple:
    """What makes a pixel hot in each channel (channel_samples; None where a crop cannot tell)."""
    return tuple(hot_pixel_criterion(sample) for sample in channel_samples(read, axes, shape))


def cleaned_planes(data: np.ndarray, axes: str, criteria: tuple, first_channel: int = 0) -> tuple[np.ndarray, int]:
    """`data` (with `axes`) with each YX plane's hot pixels replaced under its channel's criterion (channel indices
    from `first_channel`), and how many were replaced."""
    y, x = axes.index("Y"), axes.index("X")
    planes = np.moveaxis(data, [y, x], [-2, -1])
    plane_axes = "".join(a for a in axes if a not in "YX") + "YX"
    if "C" not in axes:
        cleaned, count = remove_hot_pixels(planes, criteria[0])
    else:
        c = plane_axes.index("C")
        parts = [remove_hot_pixels(np.take(planes, i, axis=c), criteria[first_channel + i])
                 for i in range(planes.shape[c])]
        cleaned, count = np.stack([p[0] for p in parts], axis=c), sum(p[1] for p in parts)
    return np.moveaxis(cleaned, [-2, -1], [y, x]), count


def without_hot_pixels(image: np.ndarray, axes: str) -> tuple[np.ndarray, int | None]:
    """A copy of `image` (with `axes`) whose YX planes have their hot pixels (criteria_for) replaced by the median
    of their 8 neighbours, and how many were replaced (None where no channel's crop could tell)."""
    image = np.asarray(image)
    criteria = criteria_for(image.__getitem__, axes, image.shape)
    cleaned, count = cleaned_planes(image, axes, criteria)
    return cleaned, count if any(criteria) else None


def sample_hot_pixels(samples: list[np.ndarray]) -> tuple[int, bool]:
    """(how many hot pixels the `samples` (channel_samples) have, whether that is more than a clean image gives:
    WARN_FRACTION of their pixels and at least WARN_MIN)."""
    criteria = [hot_pixel_criterion(sample) for sample in samples]
    count = sum(int(criterion.find(sample).sum()) for sample, criterion in zip(samples, criteria) if criterion)
    return count, count >= max(WARN_MIN, WARN_FRACTION * sum(sample.size for sample in samples))


def training_images(images: list[np.ndarray], axes: str, hot_pixels: str) -> tuple[list[np.ndarray], int]:
    """Noisy training images (each with `axes`, YX or ZYX) as self-supervised training takes them, and how many hot
    pixels were replaced: with 'replace', each without_hot_pixels (judged on its own middle plane); with 'keep', as
    they are, with a TrainingHotPixelWarning when the middle planes' central crops have many hot pixels. Images of
    another dimensionality are left as they are, for training to refuse with its own message."""
    if check_choice(hot_pixels) == REPLACE:
        cleaned = [without_hot_pixels(image, axes) if np.ndim(image) == len(axes) else (image, 0) for image in images]
        return [image for image, _ in cleaned], sum(count or 0 for _, count in cleaned)
    found = [sample_hot_pixels(channel_samples(np.asarray(image).__getitem__, axes, np.shape(image)))
             for image in images if np.ndim(image) == len(axes)]
    hot = [count for count, many in found if many]
    if hot:
        warnings.warn(f"{len(hot)} of the {len(images)} noisy training images have many isolated hot (or dead) pixels "
                      f"({sum(hot)} in the central crops of their middle planes): self-supervised training learns "
                      "them as signal, which costs detail everywhere (benchmarks/results/selfsup_hot_pixels.md); "
                      "replace them by their neighbours' median first: --hot-pixels replace",
                      TrainingHotPixelWarning, stacklevel=3)
    return list(images), 0
