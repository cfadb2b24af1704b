"""The statistics a bioimage.io package's own preprocessing needs (models.foreign_stats), of every plane/stack of a
large image, computed on the dask cluster before any chunk is restored: each plane/stack is read whole by one
worker, which computes them with bioimageio.core's calculator (as the package does in memory), so every chunk is
normalized exactly as its whole plane/stack. A plane/stack must fit an eighth of a worker's memory limit (the read,
its float32 copy and the calculator's working copies), as percentiles.py's exact path."""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..ngff import ArraySource
from .chunks import ModelRef, cached_model
from .cluster import smallest_worker_memory, wait_tasks
from .percentiles import plane_regions


def compute_package_stats(client, ref: ModelRef, source: ArraySource, spatial: str) -> list[dict]:
    """The preprocessing statistics of each plane/stack (`spatial` axes; plane_regions order)."""
    regions = plane_regions(source, spatial)
    if not cached_model(ref).needs_whole_image_stats:
        return [{}] * len(regions)
    plane_bytes = 4 * int(np.prod([r.stop - r.start for r in regions[0]], dtype=np.int64))
    memory = smallest_worker_memory(client)
    if memory and plane_bytes > memory // 8:
        raise InputError(f"this package normalizes each {spatial} plane/stack with statistics of the whole of it; one "
                         f"is {plane_bytes / 2**30:.1f} GiB as float32, more than an eighth of a worker's memory "
                         f"limit ({memory / 2**30:.1f} GiB): give the workers at least {8 * plane_bytes / 2**30:.1f} "
                         "GiB each (--memory-limit)")
    futures = [client.submit(_plane_stats, ref, source, region, spatial, pure=False) for region in regions]
    return wait_tasks(client, futures, "computing the package's normalization statistics")


def _plane_stats(ref: ModelRef, source: ArraySource, region: tuple, spatial: str) -> dict:
    runner = cached_model(ref)
    order = [source.axes.index(a) for a in spatial]
    extra = [i for i in range(len(source.axes)) if i not in order]
    plane = np.transpose(source.read(region), extra + order).reshape([source.shape[i] for i in order])
    return runner.whole_image_stats(plane, spatial)
