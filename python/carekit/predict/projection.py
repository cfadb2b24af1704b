"""Projection models at prediction: a stack (Z, Y, X) in, a 2D image (Y, X) out, tiled in YX with the whole Z in
every tile (the softmax over Z needs every plane) and the network's lateral halo around each tile."""

from __future__ import annotations

import itertools
import math
from typing import Callable

import numpy as np

from ..config import PROJECTION_MIN_PLANES as MIN_PLANES
from ..errors import InputError
from ..io import check_axes, check_image
from ..models.runner import ModelRunner
from ..normalize import normalize_percentile, normalize_range
from ..progress import progress_bar, tile_counter
from ..tiling import _tile_input, tile_grid

DEFAULT_TILE = (512, 512)


def check_projection_input(image: np.ndarray, axes: str) -> None:
    problems = check_image(image, "input image")
    if problems:
        raise InputError("; ".join(problems))
    if image.ndim == 2 or "Z" not in axes:
        raise InputError(f"this is a projection model: it needs a 3D stack (Z, Y, X), got an image of shape "
                         f"{image.shape} with axes {axes!r}; give the stack (or --axes ZYX)")
    check_axes(axes, image.shape, "input image")
    if sorted(axes) != sorted("ZYX"):
        raise InputError(f"a projection model takes one stack with axes ZYX, got axes {axes!r}; split the "
                         "other axes (T, C) into separate files first")
    n_planes = image.shape[axes.index("Z")]
    if n_planes < MIN_PLANES:
        raise InputError(f"the stack has {n_planes} planes; a projection model needs at least {MIN_PLANES}")


def project(runner: ModelRunner, image: np.ndarray, axes: str, tile: tuple[int, int] | None = None,
            progress: bool = True, on_progress: Callable[[int, int], None] | None = None,
            levels: tuple[float, float] | None = None) -> np.ndarray:
    """The restored projection (Y, X) of `image` (a stack with axes a permutation of ZYX), normalized with the
    model's percentiles over the whole stack as in training (`levels`: their values when computed elsewhere, e.g.
    over the whole stack on the distributed path)."""
    check_projection_input(image, axes)
    spec = runner.spec
    stack = np.transpose(image, [axes.index(a) for a in "ZYX"])
    normalized = (normalize_range(stack, *levels, spec.eps) if levels is not None else
                  normalize_percentile(stack, spec.pmin, spec.pmax, spec.eps, warn_as="input image"))
    lateral = np.ascontiguousarray(np.moveaxis(normalized, 0, -1), dtype=np.float32)  # (Y, X, Z) for _tile_input
    tile = tuple(tile or DEFAULT_TILE)
    if len(tile) != 2 or not all(isinstance(t, (int, np.integer)) and t > 0 for t in tile):
        raise InputError(f"tile {tile} needs two positive whole sizes (Y, X) for a projection model")
    cores, halos = tile_grid(lateral.shape[:2], tile, (spec.halo, spec.halo), spec.divisor)
    counts = [math.ceil(n / c) for n, c in zip(lateral.shape[:2], cores)]
    mode = "reflect" if all(h < n for h, n in zip(halos, lateral.shape[:2])) else "symmetric"
    out = np.empty(lateral.shape[:2], np.float32)
    total = counts[0] * counts[1]
    with progress_bar(total, "projecting", unit="tile", disable=not progress or total < 2) as bar:
        tile_done = tile_counter(bar, total, on_progress)
        for index in itertools.product(*[range(k) for k in counts]):
            starts = [i * c for i, c in zip(index, cores)]
            window = _tile_input(lateral, starts + [0], cores + (lateral.shape[2],), halos + (0,), mode)
            result = np.asarray(runner.forward(np.moveaxis(window, -1, 0)[None, ..., None]))[0, ..., 0]
            keep = [min(c, n - s) for s, c, n in zip(starts, cores, out.shape)]
            out[tuple(slice(s, s + k) for s, k in zip(starts, keep))] = \
                result[tuple(slice(h, h + k) for h, k in zip(halos, keep))]
            tile_done()
    if not np.isfinite(out).all():
        raise InputError("the model gave NaN/Inf outputs on a finite input: its weights may be damaged; retrain it")
    return out
