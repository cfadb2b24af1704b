"""Hot (or dead) camera pixels in an image to restore: a CARE model never saw them in training and restores each as
a spot (benchmarks/results/hot_pixels.md). restore(..., hot_pixels='replace') replaces them plane by plane before
restoring (data.hot_pixel_images), judged as data.hot_pixel_finder judges them on the central crop of the middle
plane of each channel (the sample the other estimates from the noisy image take: the same pixels in memory and on
large data); with the default, 'keep', restore warns when those crops have more than chance would give a clean
image."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np

from ..data.hot_pixel_finder import NEIGHBOURHOOD
from ..data.hot_pixel_images import (KEEP, REPLACE, channel_samples, check_choice, cleaned_planes, criteria_for,
                                     sample_hot_pixels, without_hot_pixels)
from ..errors import InputError
from ..io import check_axes, check_image
from .domain_check import OutOfRangeWarning

REPLACE_HINT = ("`carekit predict --hot-pixels replace`, restore(..., hot_pixels='replace') or the Fiji plugin's "
                "hot_pixels=replace")
NOT_JUDGED = "hot pixels not looked for: the central crop of the middle plane is too small or flat to judge"


class HotPixelWarning(OutOfRangeWarning):
    """The input has isolated hot (or dead) pixels, which the restoration shows as spots."""


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
    """Warn (HotPixelWarning) when the `samples` (channel_samples) have more hot pixels than a clean image gives
    (data.hot_pixel_images.sample_hot_pixels); the message is returned too."""
    count, many = sample_hot_pixels(samples)
    if not many:
        return None
    size = sum(sample.size for sample in samples)
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
        return cleaned_planes(self.base.read(tuple(grown)), self.axes, self.criteria, first)[0][tuple(inner)]
