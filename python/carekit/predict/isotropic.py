"""Isotropic restoration and axial upsampling at prediction time, tiled and memory-bounded.

Isotropic (CSBDeep's IsotropicCARE recipe): zoom Z by the model's factor (linear), run the 2D network on every XZ
plane and every YZ plane with Z on the plane axis that was degraded in training, and combine the two results by the
geometric mean sqrt(max(u_xz, 0) * max(u_yz, 0)). Why the geometric mean: each pass restores detail only along the
plane it sees (XZ recovers X-Z structure, YZ recovers Y-Z structure) and hallucination or blur in one pass is damped
by a multiplicative combination, which keeps a voxel bright only where both passes agree; it is what the CARE paper's
code does, so results stay comparable. A probabilistic model's scale is the larger of the two passes' scales.

Memory: the input, the output (and the scale), plus one slab of `slab` rows zoomed along Z (2 float32 copies of
slab x Z*factor x X) and one network tile. The output may be any preallocated array the caller gives (e.g. a
np.memmap), so a 512x2048x2048 result never needs to fit in RAM: only the input and a few slabs do.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..errors import InputError
from ..models.runner import ModelRunner
from ..progress import progress_bar
from ..synth.isotropic import FACTOR_TOLERANCE, zoom_z
from ..tiling import n_tiles, tiled_apply

PERCENTILE_SAMPLES = 1 << 24  # percentiles of larger volumes come from a regular subsample of this many voxels
SLAB = 16  # planes of one pass zoomed at a time


def check_factor(model_factor: float, pixel_size: dict | None, z_factor: float | None) -> None:
    """Refuse a stack sampled for another factor than the model's: the user's `z_factor`, else the file's Z/XY
    pixel-size ratio, must be within FACTOR_TOLERANCE of what the model was trained for."""
    given, what = z_factor, "the factor given"
    if given is None and pixel_size and pixel_size.get("Z") and pixel_size.get("X"):
        given, what = pixel_size["Z"] / pixel_size["X"], "the stack's Z/XY pixel-size ratio"
    if given is not None and abs(given / model_factor - 1) > FACTOR_TOLERANCE:
        raise InputError(f"{what} is {given:.3g} but the model was trained for a Z/XY factor of {model_factor:.3g}; "
                         f"train a model with --z-factor {given:.3g} (or fix the file's pixel sizes)")


def global_range(image: np.ndarray, pmin: float, pmax: float) -> tuple[float, float]:
    """The model's normalization percentiles over the whole stack (so slabs and tiles never change them)."""
    step = max(1, int(np.ceil((image.size / PERCENTILE_SAMPLES) ** (1 / 3))))
    lo, hi = np.percentile(image[::step, ::step, ::step], [pmin, pmax])
    return float(lo), float(hi)


def _check_stack(image: np.ndarray, axes: str) -> None:
    if image.ndim != 3 or axes != "ZYX":
        raise InputError(f"an isotropic model restores one (Z, Y, X) stack; got shape {image.shape} with axes "
                         f"{axes!r} (restore each stack of a series separately)")
    if image.shape[0] < 2:
        raise InputError(f"the stack has {image.shape[0]} plane(s); isotropic restoration needs at least 2 Z planes")


def restore_isotropic(runner: ModelRunner, image: np.ndarray, axes: str = "ZYX", tile: tuple[int, int] = (1024, 1024),
                      pixel_size: dict | None = None, z_factor: float | None = None, progress: bool = True,
                      on_progress: Callable[[int, int], None] | None = None, out: np.ndarray | None = None,
                      scale_out: np.ndarray | None = None):
    """(restored, scale or None, output pixel size) of a (Z, Y, X) stack, restored isotropically with a 2D model.

    The result has round(Z * factor) planes in normalized units; its Z pixel size is the input's divided by the
    factor. `out`/`scale_out` receive the results when given (shape (round(Z*factor), Y, X), float32)."""
    spec = runner.spec
    factor = spec.z_factor
    _check_stack(image, axes)
    check_factor(factor, pixel_size, z_factor)
    n_z = int(round(image.shape[0] * factor))
    shape = (n_z,) + image.shape[1:]
    out = np.empty(shape, np.float32) if out is None else _checked_out(out, shape)
    if spec.probabilistic:
        scale_out = np.empty(shape, np.float32) if scale_out is None else _checked_out(scale_out, shape)
    else:
        scale_out = None
    lo, hi = global_range(image, spec.pmin, spec.pmax)
    halo = (spec.halo,) * 2
    per_plane = [n_tiles((n_z, n), tile, halo, spec.divisor) for n in (image.shape[2], image.shape[1])]
    total = image.shape[1] * per_plane[0] + image.shape[2] * per_plane[1]
    with progress_bar(total, "restoring", unit="tile", disable=not progress or total < 2) as bar:
        def tile_done():
            bar.update(1)
            if on_progress is not None:
                on_progress(bar.n, total)

        def net(plane):
            return tiled_apply(plane, runner.forward, tile, halo, spec.divisor, on_tile=tile_done)

        for axis in (1, 2):  # 1: XZ planes (one per Y), 2: YZ planes (one per X)
            _pass(image, axis, factor, (lo, hi, spec.eps), net, out, scale_out, first=axis == 1)
    return out, scale_out, _output_pixel_size(pixel_size, factor)


def _pass(image, axis: int, factor: float, norm, net, out, scale_out, first: bool) -> None:
    """One direction: slabs of SLAB planes along `axis`, each zoomed in Z and restored plane by plane; the first
    pass writes, the second combines (geometric mean, scale by maximum)."""
    lo, hi, eps = norm
    for start in range(0, image.shape[axis], SLAB):
        index = [slice(None)] * 3
        index[axis] = slice(start, start + SLAB)
        slab = zoom_z((np.asarray(image[tuple(index)], np.float32) - lo) / (hi - lo + eps), factor)
        for j in range(slab.shape[axis]):
            plane_index = [slice(None)] * 3
            plane_index[axis] = j
            result = net(np.ascontiguousarray(slab[tuple(plane_index)]))
            target = [slice(None)] * 3
            target[axis] = start + j
            target = tuple(target)
            if first:
                out[target] = result[..., 0]
            else:
                out[target] = np.sqrt(np.maximum(out[target], 0) * np.maximum(result[..., 0], 0))
            if scale_out is not None:
                scale_out[target] = result[..., 1] if first else np.maximum(scale_out[target], result[..., 1])


def _checked_out(array: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    if tuple(array.shape) != shape:
        raise InputError(f"the output array has shape {tuple(array.shape)}, the result needs {shape}")
    return array


def _output_pixel_size(pixel_size: dict | None, factor: float) -> dict | None:
    if not pixel_size:
        return pixel_size
    if "Z" in pixel_size:
        return {**pixel_size, "Z": pixel_size["Z"] / factor}
    return dict(pixel_size)


def upsample_z(image: np.ndarray, axes: str, factor: float, pixel_size: dict | None) -> tuple[np.ndarray, dict | None]:
    """Axial upsampling (CSBDeep's UpsamplingCARE): zoom the Z axis linearly by the model's factor before a 3D
    network trained on stacks subsampled by that factor (--axial-subsample)."""
    if "Z" not in axes:
        raise InputError(f"this model upsamples Z by {factor:g}; the image (axes {axes!r}) has no Z axis")
    z = axes.index("Z")
    if image.shape[z] < 2:
        raise InputError(f"the stack has {image.shape[z]} plane(s); axial upsampling needs at least 2 Z planes")
    zoomed = np.moveaxis(zoom_z(np.moveaxis(image, z, 0), factor), 0, z)
    return zoomed, _output_pixel_size(pixel_size, factor)
