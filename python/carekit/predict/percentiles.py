"""The normalization percentiles of every plane (2D models) or stack (3D models) of a large image, computed on the
dask cluster in one pass before any chunk is restored, so chunking never changes the normalization.

- exact: a plane/stack up to `exact_bytes` (as float32), and at most an eighth of a worker's memory limit (the
  read, its float32 copy and np.percentile's working copy must fit), is read whole by one worker: np.percentile,
  bit for bit what in-memory `restore` computes.
- histogram: larger ones are counted chunk by chunk (min/max, then a histogram). For integer images with a range of
  at most 2**20 values there is one bin per value, so the result is exact; otherwise 2**16 bins and the value is
  interpolated inside its bin (error at most one bin width, (max - min) / 65536; see benchmarks/distributed_benchmark.py).
A downscaled view (rescale_large.DownscaledSource) is float and reads its full-size planes: the exact limit applies
to those (compute_levels' read_factor).
"""

from __future__ import annotations

import itertools

import numpy as np

from ..ngff import ArraySource
from ..synth.isotropic import zoom_z
from .cluster import smallest_worker_memory, wait_tasks

EXACT_BYTES = 512 * 2**20
FLOAT_BINS = 2**16
MAX_INTEGER_BINS = 2**20


def plane_regions(source: ArraySource, spatial: str) -> list[tuple]:
    """The region of each plane/stack (one index on every axis not in `spatial`), in C order of those axes."""
    extra = [i for i, a in enumerate(source.axes) if a not in spatial]
    regions = []
    for index in itertools.product(*[range(source.shape[i]) for i in extra]):
        region = [slice(0, n) for n in source.shape]
        for i, value in zip(extra, index):
            region[i] = slice(value, value + 1)
        regions.append(tuple(region))
    return regions


def _read(source: ArraySource, region: tuple, z_factor: float) -> np.ndarray:
    """The region, its Z zoomed by `z_factor` (axial upsampling normalizes the zoomed stack)."""
    data = source.read(region)
    if z_factor == 1:
        return data
    z = source.axes.index("Z")
    return np.moveaxis(zoom_z(np.moveaxis(data, z, 0), z_factor), 0, z)


def _exact(source: ArraySource, region: tuple, pmin: float, pmax: float, z_factor: float = 1.0):
    lo, hi = np.percentile(np.asarray(_read(source, region, z_factor), dtype=np.float32), [pmin, pmax])
    return lo, hi


def _sub_regions(source: ArraySource, region: tuple, z_factor: float) -> list[tuple]:
    """The region cut on the input's chunks (whole Z when it is zoomed: the zoom needs every plane)."""
    chunks = [r.stop - r.start if z_factor != 1 and a == "Z" else c
              for a, c, r in zip(source.axes, source.chunks, region)]
    steps = [range(r.start, r.stop, c) for r, c in zip(region, chunks)]
    return [tuple(slice(s, min(s + c, r.stop)) for s, c, r in zip(starts, chunks, region))
            for starts in itertools.product(*steps)]


def _min_max(source: ArraySource, region: tuple, z_factor: float) -> tuple[float, float]:
    data = _read(source, region, z_factor)
    return float(data.min()), float(data.max())


def _counts(source: ArraySource, region: tuple, edges: np.ndarray, z_factor: float) -> np.ndarray:
    return np.histogram(np.asarray(_read(source, region, z_factor), dtype=np.float64), bins=edges)[0]


def _edges(integers: bool, low: float, high: float) -> tuple[np.ndarray, bool]:
    """Bin edges and whether each bin holds a single value (integer values of a moderate range)."""
    if integers and high - low < MAX_INTEGER_BINS:
        return np.arange(low, high + 2, dtype=np.float64) - 0.5, True
    return np.linspace(low, high if high > low else low + 1, FLOAT_BINS + 1), False


def value_at_rank(counts: np.ndarray, edges: np.ndarray, exact_bins: bool, rank: int) -> float:
    """The value of 0-based `rank` in sorted order, from a histogram (inside a bin, values spread evenly)."""
    cumulative = np.cumsum(counts)
    b = int(np.searchsorted(cumulative, rank, side="right"))
    if exact_bins:
        return float(edges[b] + 0.5)
    before = cumulative[b] - counts[b]
    return float(edges[b] + (rank - before + 0.5) / counts[b] * (edges[b + 1] - edges[b]))


def histogram_percentiles(counts: np.ndarray, edges: np.ndarray, exact_bins: bool, percentiles) -> list[float]:
    """np.percentile's 'linear' method on the values a histogram counts."""
    n = int(counts.sum())
    values = []
    for p in percentiles:
        position = p / 100 * (n - 1)
        k = int(np.floor(position))
        low = value_at_rank(counts, edges, exact_bins, k)
        high = value_at_rank(counts, edges, exact_bins, min(k + 1, n - 1))
        values.append(np.float32(low + (position - k) * (high - low)))
    return values


def compute_levels(client, source: ArraySource, spatial: str, pmin: float, pmax: float,
                   exact_bytes: int = EXACT_BYTES, z_factor: float = 1.0, read_factor: float = 1.0) -> list[tuple]:
    """(low, high) percentile values of each plane/stack (plane_regions order), computed on the cluster (of the
    stack zoomed in Z by `z_factor`, for axial upsampling). `read_factor`: how many times its own size reading a
    plane/stack takes (a downscaled view, rescale_large.DownscaledSource, reads the full-size plane)."""
    regions = plane_regions(source, spatial)
    plane_bytes = 4 * z_factor * read_factor * int(np.prod([r.stop - r.start for r in regions[0]], dtype=np.float64))
    memory = smallest_worker_memory(client)
    if plane_bytes <= min(exact_bytes, memory // 8 if memory else exact_bytes):
        return _gather(client, [client.submit(_exact, source, r, pmin, pmax, z_factor, pure=False) for r in regions])
    levels = []
    for region in regions:
        parts = _sub_regions(source, region, z_factor)
        extremes = _gather(client, [client.submit(_min_max, source, part, z_factor, pure=False) for part in parts])
        integers = np.dtype(source.dtype).kind in "iu" and z_factor == 1  # a Z zoom interpolates between values
        edges, exact_bins = _edges(integers, min(e[0] for e in extremes), max(e[1] for e in extremes))
        counts = sum(_gather(client, [client.submit(_counts, source, part, edges, z_factor, pure=False)
                                      for part in parts]))
        levels.append(tuple(histogram_percentiles(counts, edges, exact_bins, (pmin, pmax))))
    return levels


def _gather(client, futures: list) -> list:
    return wait_tasks(client, futures, "computing the normalization percentiles")
