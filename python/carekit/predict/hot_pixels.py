"""Hot (or dead) camera pixels in an image to restore: a CARE model never saw them in training and restores each as
a spot (benchmarks/results/hot_pixels.md). restore(..., hot_pixels='replace') replaces them plane by plane
(data.noise_model.remove_hot_pixels) before restoring; with the default, 'keep', restore warns when it finds more
than chance would give a clean image."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np

from ..data.noise_model import find_hot_pixels, remove_hot_pixels
from ..errors import InputError
from .domain_check import OutOfRangeWarning, sample_planes

KEEP = "keep"
REPLACE = "replace"
CHOICES = (KEEP, REPLACE)
WARN_FRACTION = 2e-5  # clean Poisson-Gaussian images gave none; undersampled bright spots up to ~1.5e-5
WARN_MIN = 5
NOISE_MODEL_SIDE = 64  # px: the smallest plane data.noise_model estimates from
RING = 2  # px: the widest neighbourhood data.outliers looks at
REPLACE_HINT = ("`carekit predict --hot-pixels replace`, restore(..., hot_pixels='replace') or the Fiji plugin's "
                "hot_pixels=replace")


class HotPixelWarning(OutOfRangeWarning):
    """The input has isolated hot (or dead) pixels, which the restoration shows as spots."""


def check_choice(hot_pixels: str) -> str:
    if hot_pixels not in CHOICES:
        raise InputError(f"hot_pixels must be one of {', '.join(CHOICES)}, got {hot_pixels!r}")
    return hot_pixels


def without_hot_pixels(image: np.ndarray, axes: str) -> tuple[np.ndarray, int]:
    """A copy of `image` (with `axes`) whose YX planes have their hot pixels replaced by the median of their 8
    neighbours, and how many were replaced."""
    if "Y" not in axes or "X" not in axes:
        raise InputError(f"hot pixels are replaced in YX planes, but the image's axes are {axes!r}")
    y, x = axes.index("Y"), axes.index("X")
    cleaned, count = remove_hot_pixels(np.moveaxis(image, [y, x], [-2, -1]))
    return np.moveaxis(cleaned, [-2, -1], [y, x]), count


def replaced_note(hot_pixels: str, count: int) -> str | None:
    """What hot_pixels='replace' did, for the output next to the restored file (None with 'keep')."""
    if hot_pixels != REPLACE:
        return None
    return f"replaced {count} hot pixels by their neighbours' median" if count else "no hot pixels found to replace"


def warn_hot_pixels(work: np.ndarray) -> str | None:
    """Warn (HotPixelWarning) when the planes of `work` (spatial axes last) that the out-of-range check samples hold
    more hot pixels than WARN_FRACTION of their pixels (and at least WARN_MIN); the message is returned too."""
    sample = sample_planes(work)
    count = sum(int(find_hot_pixels(plane).sum()) for plane in sample)
    if count < max(WARN_MIN, WARN_FRACTION * sample.size):
        return None
    message = (f"the input has {count} isolated hot (or dead) pixels in {sample.size} sampled ({count / sample.size:.2g}"
               f" of them): camera defects the model never saw in training, which it restores as spots; replace them"
               f" by their neighbours' median first: {REPLACE_HINT}")
    warnings.warn(message, HotPixelWarning, stacklevel=3)
    return message


@dataclasses.dataclass(frozen=True)
class WithoutHotPixels:
    """A large-data source (ngff.ArraySource) read with each YX plane's hot pixels replaced (the large-data path's
    hot_pixels='replace'): a region is read with at least RING px more on each side, and grown to NOISE_MODEL_SIDE
    where the image allows, so that every pixel is judged as in a whole plane; the noise model is the region's."""

    base: object

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
            want = max(stop - start + 2 * RING, NOISE_MODEL_SIDE)
            low = max(0, min(start - RING, (start + stop - want) // 2))
            high = min(self.shape[i], max(stop + RING, low + want))
            grown[i] = slice(max(0, min(low, high - want)), high)
            inner[i] = slice(start - grown[i].start, stop - grown[i].start)
        return without_hot_pixels(self.base.read(tuple(grown)), self.axes)[0][tuple(inner)]
