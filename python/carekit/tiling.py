"""Tiled application of a network to large images with bounded memory (pure numpy)."""

from __future__ import annotations

import itertools
import math
from typing import Callable, Iterator

import numpy as np


def _round_up(value: int, multiple: int) -> int:
    return int(math.ceil(value / multiple) * multiple)


def tile_grid(shape: tuple[int, ...], tile: tuple[int, ...], halo: tuple[int, ...], divisor: int):
    """Core tile size per axis (multiple of `divisor`, at most the padded image) and the halo rounded to `divisor`."""
    cores = tuple(min(_round_up(t, divisor), _round_up(n, divisor)) for n, t in zip(shape, tile))
    halos = tuple(_round_up(h, divisor) if h > 0 else 0 for h in halo)
    return cores, halos


def tiled_apply(image: np.ndarray, fn: Callable[[np.ndarray], np.ndarray], tile: tuple[int, ...],
                halo: tuple[int, ...], divisor: int, on_tile: Callable[[], None] | None = None) -> np.ndarray:
    """Apply `fn` (batch of 1 with trailing channel axis in, same layout out) tile by tile.

    The image (spatial axes only) is reflect-padded by the halo; each tile sees its halo as context and only its
    core is kept, so the result equals whole-image application up to the network's receptive field.
    Returns an array of shape (*image.shape, channels_out).
    """
    cores, halos = tile_grid(image.shape, tile, halo, divisor)
    counts = [math.ceil(n / c) for n, c in zip(image.shape, cores)]
    halo_mode = "reflect" if all(h < n for h, n in zip(halos, image.shape)) else "symmetric"
    padded = np.pad(image.astype(np.float32, copy=False), [(h, h) for h in halos], mode=halo_mode)
    padded = np.pad(padded, [(0, k * c - n) for n, c, k in zip(image.shape, cores, counts)], mode="edge")
    output = None
    for index in itertools.product(*[range(k) for k in counts]):
        starts = [i * c for i, c in zip(index, cores)]
        window = tuple(slice(s, s + c + 2 * h) for s, c, h in zip(starts, cores, halos))
        result = np.asarray(fn(padded[window][None, ..., None]))[0]
        if output is None:
            output = np.empty(tuple(k * c for k, c in zip(counts, cores)) + (result.shape[-1],), np.float32)
        core = tuple(slice(h, h + c) for h, c in zip(halos, cores))
        output[tuple(slice(s, s + c) for s, c in zip(starts, cores))] = result[core]
        if on_tile is not None:
            on_tile()
    return output[tuple(slice(0, n) for n in image.shape)]


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
