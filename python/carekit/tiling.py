"""Tiled application of a network to large images with bounded memory (pure numpy)."""

from __future__ import annotations

import itertools
import math
from typing import Callable, Iterator

import numpy as np


def round_up(value: int, multiple: int) -> int:
    return int(math.ceil(value / multiple) * multiple)


def tile_grid(shape: tuple[int, ...], tile: tuple[int, ...], halo: tuple[int, ...], divisor: int):
    """Core tile size per axis (multiple of `divisor`, at most the padded image) and the halo rounded to `divisor`."""
    cores = tuple(min(round_up(t, divisor), round_up(n, divisor)) for n, t in zip(shape, tile))
    halos = tuple(round_up(h, divisor) if h > 0 else 0 for h in halo)
    return cores, halos


def _tile_input(image: np.ndarray, starts, cores, halos, mode: str) -> np.ndarray:
    """The window of one tile (core plus halo on each side), padded where it leaves the image exactly as if the
    whole image had been padded (`mode` by the halo, then edge values), so tiling never changes the result."""
    window, halo_pad, extra_pad = [], [], []
    for start, core, halo, n in zip(starts, cores, halos, image.shape):
        lo, hi = start - halo, start + core + halo
        window.append(slice(max(lo, 0), min(hi, n)))
        after = max(0, hi - n)
        halo_pad.append((max(0, -lo), min(after, halo)))
        extra_pad.append((0, after - min(after, halo)))
    tile = np.pad(image[tuple(window)], halo_pad, mode=mode) if any(p != (0, 0) for p in halo_pad) else image[tuple(window)]
    return np.pad(tile, extra_pad, mode="edge") if any(p != (0, 0) for p in extra_pad) else tile


def tiled_apply(image: np.ndarray, fn: Callable[[np.ndarray], np.ndarray], tile: tuple[int, ...],
                halo: tuple[int, ...], divisor: int, on_tile: Callable[[], None] | None = None) -> np.ndarray:
    """Apply `fn` (batch of 1 with trailing channel axis in, same layout out) tile by tile.

    Each tile sees its halo as context (reflected at the image border) and only its core is kept, so the result
    equals whole-image application up to the network's receptive field. Memory beyond input and output is one
    tile. Returns an array of shape (*image.shape, channels_out).
    """
    cores, halos = tile_grid(image.shape, tile, halo, divisor)
    counts = [math.ceil(n / c) for n, c in zip(image.shape, cores)]
    mode = "reflect" if all(h < n for h, n in zip(halos, image.shape)) else "symmetric"
    output = None
    for index in itertools.product(*[range(k) for k in counts]):
        starts = [i * c for i, c in zip(index, cores)]
        window = _tile_input(image, starts, cores, halos, mode)
        result = np.asarray(fn(np.ascontiguousarray(window, dtype=np.float32)[None, ..., None]))[0]
        if output is None:
            output = np.empty(image.shape + (result.shape[-1],), np.float32)
        keep = [min(c, n - s) for s, c, n in zip(starts, cores, image.shape)]
        output[tuple(slice(s, s + k) for s, k in zip(starts, keep))] = \
            result[tuple(slice(h, h + k) for h, k in zip(halos, keep))]
        if on_tile is not None:
            on_tile()
    return output


def n_tiles(shape: tuple[int, ...], tile: tuple[int, ...], halo: tuple[int, ...], divisor: int) -> int:
    cores, _ = tile_grid(shape, tile, halo, divisor)
    return int(np.prod([math.ceil(n / c) for n, c in zip(shape, cores)]))


def iter_planes(image: np.ndarray, axes: str, spatial: str) -> Iterator[tuple[tuple, np.ndarray]]:
    """Index and sub-array for each combination of the non-spatial axes (e.g. each T of a TYX series)."""
    extra = [i for i, a in enumerate(axes) if a not in spatial]
    for index in itertools.product(*[range(image.shape[i]) for i in extra]):
        selector = [slice(None)] * image.ndim
        for i, value in zip(extra, index):
            selector[i] = value
        yield tuple(selector), image[tuple(selector)]
