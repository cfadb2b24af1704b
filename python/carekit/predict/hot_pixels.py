"""Hot (or dead) camera pixels in an image to restore: a CARE model never saw them in training and restores each as
a spot (benchmarks/results/hot_pixels.md). restore(..., hot_pixels='replace') replaces them plane by plane before
restoring, judged as data.hot_pixel_finder judges them on the central crop of the middle plane of each channel (the
sample the other estimates from the noisy image take: the same pixels in memory and on large data); with the
default, 'keep', restore warns when those crops have more than chance would give a clean image."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np

from ..data.hot_pixel_finder import NEIGHBOURHOOD, hot_pixel_criterion, remove_hot_pixels
from ..errors import InputError
from ..io import check_axes, check_image
from .crops import ESTIMATE_SIDE, middle_plane_crop
from .domain_check import OutOfRangeWarning

KEEP = "keep"
REPLACE = "replace"
CHOICES = (KEEP, REPLACE)
WARN_FRACTION = 2e-5  # Nyquist-sampled spots gave none (benchmarks/results/hot_pixels.md: undersampled ones)
WARN_MIN = 5
REPLACE_HINT = ("`carekit predict --hot-pixels replace`, restore(..., hot_pixels='replace') or the Fiji plugin's "
                "hot_pixels=replace")
NOT_JUDGED = "hot pixels not looked for: the central crop of the middle plane is too small or flat to judge"


class HotPixelWarning(OutOfRangeWarning):
    """The input has isolated hot (or dead) pixels, which the restoration shows as spots."""


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


def _cleaned(data: np.ndarray, axes: str, criteria: tuple, first_channel: int = 0) -> tuple[np.ndarray, int]:
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
    cleaned, count = _cleaned(image, axes, criteria)
    return cleaned, count if any(criteria) else None


def cleaned_input(image: np.ndarray, axes: str, hot_pixels: str) -> tuple[np.ndarray, int | None]:
    """`image` (with `axes`) as restore() restores it, and how many hot pixels were replaced: with `hot_pixels`
    'replace', without_hot_pixels after the checks every input gets (axes, finite values); as it is with 'keep'."""
    if check_choice(hot_pixels) == KEEP:
        return image, 0
    check_axes(axes, image.shape, "input image")
    problems = check_image(image, "input image")
    if problems:
        raise InputError("; ".join(problems))
    return without_hot_pixels(image, axes)


def replaced_note(hot_pixels: str, count: int | None) -> str | None:
    """What hot_pixels='replace' did, for the output next to the restored file (None with 'keep'; `count` None:
    nothing could be judged)."""
    if hot_pixels != REPLACE:
        return None
    if count is None:
        return NOT_JUDGED
    return f"replaced {count} hot pixels by their neighbours' median" if count else "no hot pixels found to replace"


def source_note(hot_pixels: str, source) -> str | None:
    """replaced_note for a large-data source (chunks are not counted): whether it is read through WithoutHotPixels."""
    if hot_pixels != REPLACE:
        return None
    return "hot pixels replaced by their neighbours' median" if isinstance(source, WithoutHotPixels) else NOT_JUDGED


def warn_hot_pixels(samples: list[np.ndarray], stacklevel: int = 3) -> str | None:
    """Warn (HotPixelWarning) when the `samples` (channel_samples) have more hot pixels than WARN_FRACTION of their
    pixels (and at least WARN_MIN); the message is returned too."""
    criteria = [hot_pixel_criterion(sample) for sample in samples]
    count = sum(int(criterion.find(sample).sum()) for sample, criterion in zip(samples, criteria) if criterion)
    size = sum(sample.size for sample in samples)
    if count < max(WARN_MIN, WARN_FRACTION * size):
        return None
    h, w = samples[0].shape
    where = f"the central {h}x{w} px of the middle plane" + (" of each channel" if len(samples) > 1 else "")
    message = (f"{where} have {count} isolated hot (or dead) pixels ({count / size:.2g} of them): camera defects the "
               f"model never saw in training, which it restores as spots (or spots one pixel wide, where the optics "
               f"undersample); replace them by their neighbours' median first: {REPLACE_HINT}")
    warnings.warn(message, HotPixelWarning, stacklevel=stacklevel)
    return message


def warn_if_hot(image: np.ndarray, axes: str) -> str | None:
    """warn_hot_pixels on `image` (with `axes`); nothing where the image or its axes are not what restore() takes
    (what restores it says what is wrong)."""
    try:
        check_axes(axes, np.shape(image), "input image")
    except InputError:
        return None
    if check_image(image, "input image") or "Y" not in axes or "X" not in axes:
        return None
    return warn_hot_pixels(channel_samples(np.asarray(image).__getitem__, axes, np.shape(image)), stacklevel=4)


def source_without_hot_pixels(source):
    """A large-data source (ngff.ArraySource) read through WithoutHotPixels, judged as without_hot_pixels judges
    an image in memory; the source itself where no channel's crop can tell."""
    criteria = criteria_for(source.read, source.axes, source.shape)
    return WithoutHotPixels(source, criteria) if any(criteria) else source


@dataclasses.dataclass(frozen=True)
class WithoutHotPixels:
    """A large-data source (ngff.ArraySource) read with its hot pixels replaced under each channel's criterion (the
    large-data path's hot_pixels='replace'): a region is read NEIGHBOURHOOD px wider on each side, so that every
    pixel gets the verdict and the value it gets in the whole image."""

    base: object
    criteria: tuple

    path = property(lambda self: self.base.path)
    kind = property(lambda self: self.base.kind)
    array_path = property(lambda self: self.base.array_path)
    axes = property(lambda self: self.base.axes)
    shape = property(lambda self: self.base.shape)
    dtype = property(lambda self: self.base.dtype)
    chunks = property(lambda self: self.base.chunks)
    pixel_size = property(lambda self: self.base.pixel_size)

    def read(self, region: tuple[slice, ...]) -> np.ndarray:
        grown, inner = list(region), [slice(None)] * len(region)
        for i in (self.axes.index("Y"), self.axes.index("X")):
            start, stop, _ = region[i].indices(self.shape[i])
            grown[i] = slice(max(0, start - NEIGHBOURHOOD), min(self.shape[i], stop + NEIGHBOURHOOD))
            inner[i] = slice(start - grown[i].start, stop - grown[i].start)
        first = region[self.axes.index("C")].indices(self.shape[self.axes.index("C")])[0] if "C" in self.axes else 0
        return _cleaned(self.base.read(tuple(grown)), self.axes, self.criteria, first)[0][tuple(inner)]
