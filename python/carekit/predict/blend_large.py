"""The classical blend (predict.classical_blend) on the distributed path, the same as in memory: the shares are
chosen by the client on the central crop of the middle plane of each channel, read from the source as in-memory
restore() crops it, and every task then restores one whole YX plane and mixes it with the classical denoiser run on
that whole plane. The classical denoisers normalize and estimate their noise over the whole plane (and TV is not
local), so a plane is never cut: planes must fit a worker's memory (BLEND_PLANE_BYTES)."""

from __future__ import annotations

import numpy as np

from ..data.hot_pixel_images import channel_samples
from ..errors import InputError
from ..ngff import ArraySource
from .classical_blend import ClassicalBlend, blended, blends_from_samples
from .rescale import refuse_unless_2d_denoising

BLEND_PLANE_BYTES = 2**28  # one YX plane as float32 (8192 x 8192); a task holds a few copies of it


def large_blends(runner, source: ArraySource, factor: float) -> tuple[ClassicalBlend, ...]:
    """The blend of each channel of `source`, chosen as restore(classical_blend=True) chooses it in memory (the
    model restoring at the rescale `factor`); an InputError for a model or image it cannot blend."""
    refuse_unless_2d_denoising(runner, "the classical blend")
    y, x = source.shape[source.axes.index("Y")], source.shape[source.axes.index("X")]
    if y * x * 4 > BLEND_PLANE_BYTES:
        raise InputError(f"the classical blend denoises whole YX planes, and this input's are {y} x {x} px "
                         f"({y * x * 4 / 2**20:.1f} MiB as float32; at most {BLEND_PLANE_BYTES / 2**20:.0f} MiB): "
                         "leave --classical-blend out, or blend regions of it as TIFFs")
    return blends_from_samples(runner, channel_samples(source.read, source.axes, source.shape), factor)


def whole_plane_grid(source: ArraySource) -> tuple[int, ...]:
    """The task grid for blending: one whole YX plane per task."""
    return tuple(n if a in "YX" else 1 for a, n in zip(source.axes, source.shape))


def blended_plane(restored: np.ndarray, noisy: np.ndarray, channel: int, blends: tuple[ClassicalBlend, ...],
                  spec) -> np.ndarray:
    """One whole YX plane's restoration mixed as its channel's blend says (blends[channel])."""
    return blended(restored, noisy, "YX", (blends[channel],), spec)


def blend_record(blends: tuple[ClassicalBlend, ...]) -> list:
    """What the output records of the blend ([share, classical denoiser] per channel), so that a run with another
    blend is not resumed into it."""
    return [[blend.share, blend.classical] for blend in blends]
