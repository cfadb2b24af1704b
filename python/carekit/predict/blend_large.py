"""The classical blend (predict.classical_blend) on the distributed path, the same as in memory: the shares are
chosen by the client on the central crop of the middle plane of each channel, read from the source as in-memory
restore() crops it, and where a channel mixes every task then restores whole YX planes and mixes each with the
classical denoiser run on that whole plane. The classical denoisers normalize and estimate their noise over the
whole plane (and TV is not local), so a plane is never cut: it must fit a worker's memory several times over
(WORK_PLANES: skimage's NLM holds about 17 float32 copies of the plane it denoises, measured on 1024² px)."""

from __future__ import annotations

import math

import numpy as np

from ..data.hot_pixel_images import channel_samples
from ..errors import InputError
from ..ngff import ArraySource
from .classical_blend import MAX_PLANE_PIXELS, ClassicalBlend, blended, blends_from_samples
from .cluster import most_worker_threads, smallest_worker_memory

BLEND_PLANE_BYTES = 4 * MAX_PLANE_PIXELS  # the largest YX plane blended, as float32
TASK_PLANE_BYTES = 2**26  # a task holds several planes of the source's chunk while they take at most this together
WORK_PLANES = 20  # a task's working memory beyond the planes it holds, in float32 planes (NLM's copies and more)


def large_blends(runner, source: ArraySource, factor: float) -> tuple[ClassicalBlend, ...]:
    """The blend of each channel of `source` (a carekit 2D denoising model's input), chosen as
    restore(classical_blend=True) chooses it in memory (the model restoring at the rescale `factor`)."""
    return blends_from_samples(runner, channel_samples(source.read, source.axes, source.shape), factor)


def _plane_bytes(source: ArraySource) -> int:
    return source.shape[source.axes.index("Y")] * source.shape[source.axes.index("X")] * 4


def blend_grids(source: ArraySource, grid: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(output chunks, task grid) for a blend that mixes: the output keeps `grid`'s chunks in Y and X (and so its
    pyramid), a task spans whole YX planes; on the other axes both keep `grid`'s extent while a task's planes take
    at most TASK_PLANE_BYTES, else 1. An InputError for planes above BLEND_PLANE_BYTES."""
    y, x = source.shape[source.axes.index("Y")], source.shape[source.axes.index("X")]
    if _plane_bytes(source) > BLEND_PLANE_BYTES:
        raise InputError(f"the classical blend denoises whole YX planes, and this input's are {y} x {x} px "
                         f"({y * x * 4 / 2**20:.1f} MiB as float32; at most {BLEND_PLANE_BYTES / 2**20:.0f} MiB): "
                         "leave --classical-blend out, or blend regions of it as TIFFs")
    others = math.prod(g for a, g in zip(source.axes, grid) if a not in "YX")
    keep = others * _plane_bytes(source) <= TASK_PLANE_BYTES
    extents = [g if keep else 1 for g in grid]
    chunks = tuple(g if a in "YX" else e for a, g, e in zip(source.axes, grid, extents))
    tasks = tuple(n if a in "YX" else e for a, n, e in zip(source.axes, source.shape, extents))
    return chunks, tasks


def memory_shortfall(client, source: ArraySource, task_grid: tuple[int, ...]) -> str | None:
    """Where a worker's memory limit per thread is below what a blended task needs (its planes, input and outputs,
    and WORK_PLANES more), what it needs and what to give, in words; None where it fits."""
    limit = smallest_worker_memory(client)
    threads = most_worker_threads(client)
    planes = math.prod(g for a, g in zip(source.axes, task_grid) if a not in "YX")
    need = (3 * planes + WORK_PLANES) * _plane_bytes(source)
    if not limit or limit / threads >= need:
        return None
    return (f"a task needs about {need / 2**30:.1f} GiB and the workers have {limit / threads / 2**30:.1f} GiB per "
            f"thread; give --memory-limit {math.ceil(need * threads / 2**30)}GiB (or fewer --threads-per-worker)")


def blended_plane(restored: np.ndarray, noisy: np.ndarray, channel: int, blends: tuple[ClassicalBlend, ...],
                  spec) -> np.ndarray:
    """One whole YX plane's restoration mixed as its channel's blend says (blends[channel])."""
    return blended(restored, noisy, "YX", (blends[channel],), spec)


def blend_record(blends: tuple[ClassicalBlend, ...]) -> list:
    """What the output records of the blend ([share, classical denoiser] per channel), so that a run with another
    blend is not resumed into it."""
    return [[blend.share, blend.classical] for blend in blends]
