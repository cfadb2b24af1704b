"""Isotropic restoration and axial upsampling at prediction time, tiled and memory-bounded.

Isotropic (CSBDeep's IsotropicCARE recipe): zoom Z by the model's factor (linear), run the 2D network on every XZ
plane and every YZ plane with Z on the plane axis that was degraded in training, and combine the two results by the
geometric mean sqrt(max(u_xz, 0) * max(u_yz, 0)). Why the geometric mean: each pass restores detail only along the
plane it sees (XZ recovers X-Z structure, YZ recovers Y-Z structure) and hallucination or blur in one pass is damped
by a multiplicative combination, which keeps a voxel bright only where both passes agree; it is what the CARE paper's
code does, so results stay comparable. A probabilistic model's scale is the larger of the two passes' scales.

Memory: the input, the output (and the scale), plus one slab of planes zoomed along Z (a few float32 copies of
about BATCH_PIXELS voxels) and the network's activations for one batch of tiles. The output may be any preallocated array the caller gives (e.g. a
np.memmap), so a 512x2048x2048 result never needs to fit in RAM: only the input and a few slabs do.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ..errors import InputError
from ..models.runner import ModelRunner
from ..progress import progress_bar, tile_counter
from ..synth.isotropic import FACTOR_TOLERANCE, axial_planes, zoom_z
from ..tiling import n_tiles, tile_grid, tiled_apply
from .domain_check import warn_input, warn_uncertainty

PERCENTILE_SAMPLES = 1 << 24  # percentiles of larger volumes come from a regular subsample of this many voxels
BATCH_PIXELS = 1 << 20  # network input pixels per call (a slab of planes), as one default 1024x1024 tile
MAX_SLAB = 64
DOMAIN_PLANES = 8  # XZ planes of the zoomed stack that the out-of-range check looks at


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
                      scale_out: np.ndarray | None = None, levels: tuple[float, float] | None = None,
                      check_domain: bool = True):
    """(restored, scale or None, output pixel size) of a (Z, Y, X) stack, restored isotropically with a 2D model.

    The result has round(Z * factor) planes in normalized units; its Z pixel size is the input's divided by the
    factor. `out`/`scale_out` receive the results when given (shape (round(Z*factor), Y, X), float32). `levels`:
    the normalization percentile values when computed elsewhere (the distributed path, over the whole stack).
    `check_domain`: OutOfRangeWarning when the planes the network sees (or a probabilistic model's scale) are
    unlike its training data (predict.domain_check)."""
    spec = runner.spec
    factor = spec.z_factor
    _check_stack(image, axes)
    check_factor(factor, pixel_size, z_factor)
    if check_domain:
        warn_isotropic_input(spec, image, pixel_size)
    n_z = int(round(image.shape[0] * factor))
    shape = (n_z,) + image.shape[1:]
    out = np.empty(shape, np.float32) if out is None else _checked_out(out, shape)
    if spec.probabilistic:
        scale_out = np.empty(shape, np.float32) if scale_out is None else _checked_out(scale_out, shape)
    else:
        scale_out = None
    lo, hi = levels if levels is not None else global_range(image, spec.pmin, spec.pmax)
    passes = [_Pass(axis, image.shape[3 - axis], n_z, tile, spec) for axis in (1, 2)]  # XZ planes, then YZ planes
    total = sum(p.n_tiles(image.shape[p.axis]) for p in passes)
    with progress_bar(total, "restoring", unit="tile", disable=not progress or total < 2) as bar:
        tile_done = tile_counter(bar, total, on_progress)
        for direction in passes:
            direction.run(image, runner, factor, (lo, hi, spec.eps), out, scale_out, tile_done)
    if check_domain and scale_out is not None:
        step = max(1, int(np.ceil((scale_out.size / PERCENTILE_SAMPLES) ** (1 / 3))))
        warn_uncertainty(spec, np.asarray(scale_out[::step, ::step, ::step]))
    return out, scale_out, _output_pixel_size(pixel_size, factor)


def warn_isotropic_input(spec, image: np.ndarray, pixel_size: dict | None) -> list[str]:
    """The out-of-range check on what the network sees: a few XZ planes of the Z-zoomed stack, against the
    statistics of the training stack's XZ and YZ planes (train.isotropic records them)."""
    return warn_input(spec, axial_planes(image, spec.z_factor, DOMAIN_PLANES)[0], pixel_size)


class _Pass:
    """One direction (`axis` 1: the XZ plane of each Y; 2: the YZ plane of each X) in slabs of planes. A slab is
    zoomed in Z and goes through the network as a batch of planes, tiled like one plane (tiled_apply on
    (planes, Z, length) with no halo across planes), so each plane's result equals its own tiled restoration."""

    def __init__(self, axis: int, length: int, n_z: int, tile: tuple[int, int], spec):
        self.axis, self.spec = axis, spec
        self.tile, self.halo = tuple(tile), (spec.halo,) * 2
        cores, halos = tile_grid((n_z, length), self.tile, self.halo, spec.divisor)
        padded = int(np.prod([c + 2 * h for c, h in zip(cores, halos)]))
        self.slab = int(np.clip(BATCH_PIXELS // padded // spec.divisor * spec.divisor, 1, MAX_SLAB))
        self.n_z, self.length = n_z, length

    def _geometry(self, planes: int):
        return (planes,) + self.tile, (0,) + self.halo

    def n_tiles(self, n_planes: int) -> int:
        counts = 0
        for start in range(0, n_planes, self.slab):
            planes = min(self.slab, n_planes - start)
            counts += n_tiles((planes, self.n_z, self.length), *self._geometry(planes), self.spec.divisor)
        return counts

    def run(self, image, runner: ModelRunner, factor: float, norm, out, scale_out, tile_done) -> None:
        """The first pass writes `out`, the second combines (geometric mean; scale by maximum)."""
        lo, hi, eps = norm
        first = self.axis == 1
        for start in range(0, image.shape[self.axis], self.slab):
            index = [slice(None)] * 3
            index[self.axis] = slice(start, start + self.slab)
            index = tuple(index)
            slab = zoom_z((np.asarray(image[index], np.float32) - lo) / (hi - lo + eps), factor)
            slab = np.moveaxis(slab, self.axis, 0)
            tile, halo = self._geometry(len(slab))
            result = tiled_apply(slab, lambda w: runner.forward(w[0])[None], tile, halo, self.spec.divisor,
                                 on_tile=tile_done)
            result = np.moveaxis(result, 0, self.axis)
            mean = result[..., 0]
            out[index] = mean if first else np.sqrt(np.maximum(out[index], 0) * np.maximum(mean, 0))
            if scale_out is not None:
                scale_out[index] = result[..., 1] if first else np.maximum(scale_out[index], result[..., 1])


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
