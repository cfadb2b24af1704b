"""restore(rescale=...) on the distributed path: each output chunk restores the downsampled image around it and
upsamples the result back, all in the whole image's coordinates (carekit.resample's regions), so chunking does not
change the result (up to float rounding, ~1e-7 of its range) where the percentiles are exact.

- The downsampled image is never written: `DownscaledSource` computes any region of it from the full-size input.
  A second percentile pass reads it so: percentiles of the downsampled planes, as restore takes them in memory;
  exact where the full-size plane fits percentiles.compute_levels' limit for one worker, else from its float
  histogram (within one of 65,536 bins: 1.2e-5 of the restoration's range in one synthetic case; tested within
  1e-4).
- A task's read (`rescaled_task`) is the downsampled region its upsampling needs (SPLINE_MARGIN more for the cubic
  spline), grown by the model's halo from a multiple of its pooling grid, as restore's tiles are.
- 'auto' takes the factor from the central MAX_SIDE px of the middle plane (in memory: of the sampled planes, the
  same pixels for an image of one plane); 'search' from the same crop of it as in memory (crops.middle_plane).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from ..models.runner import ModelRunner
from ..ngff import ArraySource
from ..normalize import normalize_range
from ..resample import SPLINE_MARGIN, downscale_region, downscale_span, input_span, resize_region, shrunk_shape
from .domain_check import MAX_SIDE, predicted_uncertainty
from ..data.crops import ESTIMATE_SIDE, middle_plane_crop
from .layouts import chunk_tile
from .rescale import AUTO, SEARCH, back_to_full_size, effective_rescale, rescale_factor, units_map
from .plane_restore import DEFAULT_TILE, resolve_factor, restore_normalized


@dataclasses.dataclass(frozen=True)
class DownscaledSource:
    """`base` shrunk by `factor` in Y and X (resample.downscale of every plane), read region by region from it."""

    base: ArraySource
    factor: float

    @property
    def axes(self) -> str:
        return self.base.axes

    @property
    def shape(self) -> tuple[int, ...]:
        small = shrunk_shape(self._plane(self.base.shape), self.factor)
        return tuple(small[0] if a == "Y" else small[1] if a == "X" else n for a, n in zip(self.axes, self.base.shape))

    @property
    def chunks(self) -> tuple[int, ...]:
        return tuple(max(1, round(c / self.factor)) if a in "YX" else c for a, c in zip(self.axes, self.base.chunks))

    @property
    def dtype(self) -> str:
        return "float32"

    def _plane(self, values: tuple) -> tuple:
        return values[self.axes.index("Y")], values[self.axes.index("X")]

    def read(self, region: tuple[slice, ...]) -> np.ndarray:
        y, x = self.axes.index("Y"), self.axes.index("X")
        full = self._plane(self.base.shape)
        spans = [downscale_span(region[i].start, region[i].stop, n, self.factor) for i, n in zip((y, x), full)]
        data = self.base.read(tuple(slice(*spans[(y, x).index(i)]) if i in (y, x) else r
                                    for i, r in enumerate(region)))
        planes = np.moveaxis(data, (y, x), (-2, -1))
        out = np.empty(planes.shape[:-2] + (region[y].stop - region[y].start, region[x].stop - region[x].start),
                       np.float32)
        for index in np.ndindex(*planes.shape[:-2]):
            out[index] = downscale_region(planes[index], (spans[0][0], spans[1][0]), full, self.factor,
                                          (region[y], region[x]))
        return np.moveaxis(out, (-2, -1), (y, x))


def large_factor(rescale, runner: ModelRunner, source: ArraySource) -> float:
    """The rescale factor for a large image: 'auto' judges the central MAX_SIDE px of its middle plane, 'search' the
    central ESTIMATE_SIDE px (as in memory: plane_restore.resolve_factor); a factor is checked against the planes'
    size."""
    mode = effective_rescale(rescale, runner.spec)
    if mode == SEARCH:
        crop = middle_plane_crop(source.read, source.axes, source.shape, ESTIMATE_SIDE).astype(np.float32)
        return resolve_factor(runner, rescale, crop)  # as given: the model's own mode falls back quietly
    if mode == AUTO:
        return rescale_factor(mode, runner.spec, middle_plane_crop(source.read, source.axes, source.shape, MAX_SIDE))
    y, x = source.axes.index("Y"), source.axes.index("X")
    return rescale_factor(mode, runner.spec, np.broadcast_to(np.float32(0), (source.shape[y], source.shape[x])))


def rescaled_task(task, small_levels: tuple, source: ArraySource, factor: float, halo: int, divisor: int):
    """The chunk task (chunks.ChunkTask) restoring `task.core` from the downsampled image: its read in downsampled
    coordinates, its levels the (full-size, downsampled) percentile values of each of its planes."""
    small = DownscaledSource(source, factor).shape
    read = []
    for a, s, n, m in zip(source.axes, task.core, source.shape, small):
        if a not in "YX":
            read.append(s)
            continue
        start, stop = input_span(s.start, s.stop, m, n, SPLINE_MARGIN)
        read.append(slice(max(0, start - start % divisor - halo), min(m, stop + halo)))
    return dataclasses.replace(task, read=tuple(read), levels=tuple(zip(task.levels, small_levels)), factor=factor)


NETWORK_UNCERTAINTY = "network uncertainty"  # not written: the core's scale or disagreement as the network gave it


def restore_rescaled_plane(runner: ModelRunner, small: np.ndarray, levels: tuple, origin: tuple[int, int],
                           shapes: tuple[tuple[int, int], tuple[int, int]], core: tuple[slice, slice], tile,
                           full_plane) -> dict[str, np.ndarray]:
    """The outputs on `core` (full-size coordinates) of a plane restored downsampled: `small` is the downsampled
    region starting at `origin`, `shapes` the downsampled and full-size plane shapes, `levels` the (full-size,
    downsampled) percentile values. A plane without a range to map is restored as it is: `full_plane()` reads its
    full-size region (core grown by the halo) and restores it, as restore does in memory. NETWORK_UNCERTAINTY holds
    the network's scale or disagreement on the downsampled pixels of the core, in its own units (what restore judges
    in memory)."""
    spec = runner.spec
    (full_lo, full_hi), (lo, hi) = levels
    mapping = units_map((lo, hi), (full_lo, full_hi), spec.eps)
    if mapping is None:
        return full_plane()
    tile = tuple(tile or chunk_tile(small.shape, DEFAULT_TILE[2]))
    outputs = restore_normalized(runner, normalize_range(small, lo, hi, spec.eps), tile)
    upsampled = back_to_full_size(outputs, mapping, lambda image, order: resize_region(image, origin, shapes[0],
                                                                                       shapes[1], core, order))
    full_size = {name: image.astype(np.float32) for name, image in zip(("restored", "scale", "disagreement"),
                                                                        upsampled) if image is not None}
    uncertainty = predicted_uncertainty(*outputs[1:])
    if uncertainty is not None:
        full_size[NETWORK_UNCERTAINTY] = uncertainty[small_core(origin, shapes, core, uncertainty.shape)]
    return full_size


def small_core(origin: tuple[int, int], shapes: tuple, core: tuple[slice, slice], shape: tuple[int, int]) -> tuple:
    """The downsampled pixels whose centres fall in the full-size `core` (so the cores of a grid share none), in a
    region of `shape` starting at `origin` (downsampled coordinates); `shapes` = (downsampled, full-size) plane."""
    spans = []
    for s, start, small, full, n in zip(core, origin, *shapes, shape):
        first, last = (math.ceil(edge * small / full - 0.5) - start for edge in (s.start, s.stop))
        spans.append(slice(max(first, 0), min(last, n)))
    return tuple(spans)
