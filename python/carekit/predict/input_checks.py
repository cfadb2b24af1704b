"""What restore() checks of an input before restoring it: axes, tile sizes, and work out of proportion to the image;
and the axes it assumes when none are given."""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..io import check_axes, check_image
from ..models.spec import NetworkSpec
from ..tiling import tile_grid


def default_axes(spec: NetworkSpec, ndim: int) -> str:
    if spec.kind == "projection":
        return {2: "YX", 3: "ZYX"}.get(ndim, "")
    if spec.kind == "isotropic":
        return {3: "ZYX"}.get(ndim, "YX")
    return {2: "YX", 3: spec.axes if len(spec.axes) == 3 else "TYX"}.get(ndim, "")


def check_input(image: np.ndarray, axes: str, spec: NetworkSpec) -> None:
    problems = check_image(image, "input image")
    if problems:
        raise InputError("; ".join(problems))
    check_axes(axes, image.shape, "input image")
    if not set(spec.axes) <= set(axes):
        raise InputError(f"the model needs axes {spec.axes}, the image has shape {image.shape} with axes {axes!r}; "
                         f"pass axes= naming every dimension (e.g. 'TYX')")


def check_tile(tile: tuple, spec: NetworkSpec) -> tuple[int, ...]:
    if len(tile) != len(spec.axes) or not all(isinstance(t, (int, np.integer)) and t > 0 for t in tile):
        raise InputError(f"tile {tile} needs one positive whole size per spatial axis {spec.axes}")
    return tile


MAX_PADDING_RATIO = 64  # network pixels per image pixel: beyond this, padding of tiny planes dominates the work
MAX_PADDED_PIXELS = 1 << 25  # ... once that work exceeds ~40 s of a small U-Net on 2 CPU cores


def check_padding_work(shape, n_planes: int, n_calls: int, tile, halo, spec: NetworkSpec) -> None:
    """Refuse inputs made of many planes far smaller than the network's receptive field (e.g. 20000 pages of 4x4
    px): each is padded by the halo, so a few MB of input would keep the network busy for many minutes."""
    spatial = shape[-len(spec.axes):]
    cores, halos = tile_grid(spatial, tile, halo, spec.divisor)
    padded = n_calls * int(np.prod([c + 2 * h for c, h in zip(cores, halos)], dtype=np.float64))
    pixels = max(1, int(np.prod(shape, dtype=np.float64)))
    if padded > MAX_PADDED_PIXELS and padded > MAX_PADDING_RATIO * pixels:
        raise InputError(f"the input has {n_planes} planes of {spatial} px, far smaller than the network's "
                         f"{spec.halo} px halo: restoring it would run the network on {padded / 1e6:.0f} Mpx for "
                         f"{pixels / 1e6:.2f} Mpx of image; crop fewer, larger planes (or give --axes if these "
                         "dimensions are not what the file says)")
