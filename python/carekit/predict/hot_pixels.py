"""Hot (or dead) camera pixels in an image to restore: a CARE model never saw them in training and restores each as
a spot (benchmarks/results/hot_pixels.md). restore(..., hot_pixels='replace') replaces them plane by plane before
restoring, judged as data.hot_pixel_finder judges them on the central crop of the image's middle plane (the sample
the other estimates from the noisy image take: the same pixels in memory and on large data); with the default,
'keep', restore warns when that crop has more than chance would give a clean image."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np

from ..data.hot_pixel_finder import NEIGHBOURHOOD, HotPixelCriterion, hot_pixel_criterion, remove_hot_pixels
from ..errors import InputError
from ..io import check_axes, check_image
from .crops import ESTIMATE_SIDE, middle_plane, middle_plane_crop
from .domain_check import OutOfRangeWarning

KEEP = "keep"
REPLACE = "replace"
CHOICES = (KEEP, REPLACE)
WARN_FRACTION = 2e-5  # Nyquist-sampled spots gave none; point-like spots at a PSF sigma of 0.6 px 3-8e-5
WARN_MIN = 5
REPLACE_HINT = ("`carekit predict --hot-pixels replace`, restore(..., hot_pixels='replace') or the Fiji plugin's "
                "hot_pixels=replace")


class HotPixelWarning(OutOfRangeWarning):
    """The input has isolated hot (or dead) pixels, which the restoration shows as spots."""


def check_choice(hot_pixels: str) -> str:
    if hot_pixels not in CHOICES:
        raise InputError(f"hot_pixels must be one of {', '.join(CHOICES)}, got {hot_pixels!r}")
    return hot_pixels


def criterion_for(image: np.ndarray, axes: str) -> HotPixelCriterion | None:
    """What makes a pixel of `image` (with `axes`) hot, judged on the central crop of its middle plane."""
    return hot_pixel_criterion(middle_plane(image, axes))


def without_hot_pixels(image: np.ndarray, axes: str) -> tuple[np.ndarray, int]:
    """A copy of `image` (with `axes`) whose YX planes have their hot pixels (criterion_for) replaced by the median
    of their 8 neighbours, and how many were replaced."""
    if "Y" not in axes or "X" not in axes:
        raise InputError(f"hot pixels are replaced in YX planes, but the image's axes are {axes!r}")
    y, x = axes.index("Y"), axes.index("X")
    cleaned, count = remove_hot_pixels(np.moveaxis(image, [y, x], [-2, -1]), criterion_for(image, axes))
    return np.moveaxis(cleaned, [-2, -1], [y, x]), count


def cleaned_input(image: np.ndarray, axes: str, hot_pixels: str) -> tuple[np.ndarray, int]:
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
    """What hot_pixels='replace' did, for the output next to the restored file (None with 'keep'; `count` None: not
    counted, as on large data)."""
    if hot_pixels != REPLACE:
        return None
    if count is None:
        return "hot pixels replaced by their neighbours' median"
    return f"replaced {count} hot pixels by their neighbours' median" if count else "no hot pixels found to replace"


def warn_hot_pixels(sample: np.ndarray, stacklevel: int = 3) -> str | None:
    """Warn (HotPixelWarning) when the 2D `sample` (the central crop of the middle plane) has more hot pixels than
    WARN_FRACTION of its pixels (and at least WARN_MIN); the message is returned too."""
    criterion = hot_pixel_criterion(sample)
    count = int(criterion.find(sample).sum()) if criterion else 0
    if count < max(WARN_MIN, WARN_FRACTION * sample.size):
        return None
    message = (f"the central {sample.shape[0]}x{sample.shape[1]} px of the middle plane have {count} isolated hot "
               f"(or dead) pixels ({count / sample.size:.2g} of them): camera defects the model never saw in "
               f"training, which it restores as spots (or spots one pixel wide, where the optics undersample); "
               f"replace them by their neighbours' median first: {REPLACE_HINT}")
    warnings.warn(message, HotPixelWarning, stacklevel=stacklevel)
    return message


def warn_if_hot(image: np.ndarray, axes: str) -> str | None:
    """warn_hot_pixels on the central crop of the middle plane of `image` (with `axes`); nothing where the axes do
    not fit the image (what restores it says what is wrong)."""
    try:
        sample = middle_plane(image, axes)
    except InputError:
        return None
    return warn_hot_pixels(sample, stacklevel=4)


def source_without_hot_pixels(source):
    """A large-data source (ngff.ArraySource) read through WithoutHotPixels, judged on the central crop of its middle
    plane as without_hot_pixels judges an image in memory; the source itself where that crop cannot tell."""
    criterion = hot_pixel_criterion(middle_plane_crop(source.read, source.axes, source.shape, ESTIMATE_SIDE)
                                    .astype(np.float32))
    return WithoutHotPixels(source, criterion) if criterion else source


@dataclasses.dataclass(frozen=True)
class WithoutHotPixels:
    """A large-data source (ngff.ArraySource) read with its hot pixels replaced under `criterion` (the large-data
    path's hot_pixels='replace'): a region is read NEIGHBOURHOOD px wider on each side, so that every pixel gets the
    verdict and the value it gets in the whole image."""

    base: object
    criterion: HotPixelCriterion

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
        y, x = self.axes.index("Y"), self.axes.index("X")
        planes = np.moveaxis(self.base.read(tuple(grown)), [y, x], [-2, -1])
        cleaned = np.moveaxis(remove_hot_pixels(planes, self.criterion)[0], [-2, -1], [y, x])
        return cleaned[tuple(inner)]
