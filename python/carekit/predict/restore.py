"""Restore images with a trained model: normalization as in training, tiled with bounded memory, progress bar."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..data.patches import real_array
from ..ensemble import disagreement as ensemble_disagreement, mixture_mean
from ..errors import InputError
from ..io import Image, check_axes, check_image
from ..models import load_model
from ..models.runner import ModelRunner, PipelineRunner
from ..models.spec import NetworkSpec
from ..normalize import normalize_percentile, normalize_range
from ..progress import progress_bar, tile_counter
from ..resample import downscale, resize, shrunk_shape
from ..tiling import iter_planes, n_tiles, tiled_apply
from .input_checks import check_input, check_padding_work, check_tile, default_axes
from .domain_check import predicted_uncertainty, warn_input, warn_uncertainty
from .hot_pixels import KEEP, cleaned_input, warn_if_hot
from .projection import project
from .isotropic import check_factor, restore_isotropic, upsample_z
from .crops import middle_plane
from .rescale import (MODEL, SEARCH, back_to_full_size, effective_rescale, parse_rescale, refuse_unless_rescalable,
                      rescale_factor, search_factor, units_map)

DEFAULT_TILE = {2: (1024, 1024), 3: (32, 128, 128)}


@dataclass
class Restoration:
    """The restored image (normalized units: the input's low percentile maps to 0, its high percentile to 1),
    plus the per-pixel Laplace scale for probabilistic models, or the disagreement D in [0, 1] for ensembles.
    `outputs` holds every output tensor of a package not made by carekit, by output id (`image` is the first).
    `factor`: the YX downsampling factor it was restored at (1: none; `rescale`); `hot_pixels_replaced`: how many
    hot pixels were replaced before restoring (`hot_pixels`; None: the image could not be judged)."""

    image: np.ndarray
    axes: str
    scale: np.ndarray | None = None
    pixel_size: dict | None = None
    disagreement: np.ndarray | None = None
    outputs: dict[str, Image] | None = None
    factor: float = 1.0
    hot_pixels_replaced: int | None = 0

    def as_image(self) -> Image:
        return Image(self.image, self.axes, self.pixel_size or {})


def restore(model: str | Path | ModelRunner, image: np.ndarray | Image, axes: str | None = None,
            tile: tuple[int, ...] | None = None, progress: bool = True, engine: str | None = None,
            on_progress: Callable[[int, int], None] | None = None, check_domain: bool = True,
            z_factor: float | None = None, rescale: str | float | None = MODEL, hot_pixels: str = KEEP
            ) -> Restoration:
    """Restore a 2D/3D image, or each plane/stack of a larger one (e.g. TYX, CZYX), with a CARE model
    (a model directory, a bioimage.io package path, or a runner from carekit.models.load_model).

    The input is normalized with the model's percentiles over each whole plane/stack before tiling,
    so tiling never changes the normalization. `on_progress(done, total)` is called after each tile.
    A package not made by carekit runs through bioimageio.core with its own normalization and tiling (`tile`
    and `on_progress` do not apply); an output with several channels then gets a leading C axis, and every output
    is in `outputs`.
    With `check_domain`, an input unlike the model's recorded training data, or a predicted uncertainty well above
    its validation level, gives an OutOfRangeWarning (see predict.domain_check).

    An isotropic model restores a (Z, Y, X) stack to round(Z * factor) planes (predict.isotropic; `z_factor`, when
    given, must match the model's); a 3D model trained with axial subsampling zooms Z by its factor first.
    `rescale` (2D models): restore each plane downsampled in YX by a factor from 1 (off; also None) to 8, or with
    'auto' by the factor that brings objects more than 1.25x the model's training median scale to it, or with
    'search' by the factor of 1-4x with the smallest error estimated from the noisy image (resolve_factor), and
    upsample the results back (predict.rescale); the outputs stay in the units of the full-size input's
    normalization. The default, 'model', is the model's own mode (the shipped generalist: 'search'; off for models
    that record none).
    `hot_pixels` ('keep' or 'replace'): 'replace' replaces each YX plane's hot (or dead) camera pixels by the median
    of their 8 neighbours first (predict.hot_pixels; Restoration.hot_pixels_replaced counts them); with 'keep' and
    `check_domain`, many of them give a HotPixelWarning (every kind of model).
    """
    runner = load_model(model, engine) if isinstance(model, (str, Path)) else model
    spec = runner.spec
    pixel_size = None
    if isinstance(image, Image):
        image, axes, pixel_size = image.data, image.axes, image.pixel_size
    image = real_array(image, "input image")
    if z_factor is not None and spec.kind != "isotropic":  # the isotropic recipe checks it against the file too
        _check_z_zoom(spec, z_factor)
    if effective_rescale(rescale, spec) is not None:
        refuse_unless_rescalable(runner)
    axes = (axes or default_axes(spec, image.ndim)).upper()
    image, replaced = cleaned_input(image, axes, hot_pixels)
    if check_domain and hot_pixels == KEEP:
        warn_if_hot(image, axes)
    result = _restore_as_kind(runner, image, axes, pixel_size, tile, progress, on_progress, z_factor, rescale,
                              check_domain)
    return dataclasses.replace(result, hot_pixels_replaced=replaced)


def _restore_as_kind(runner, image, axes, pixel_size, tile, progress, on_progress, z_factor, rescale,
                     check_domain) -> Restoration:
    spec = runner.spec
    if spec.kind == "projection":
        projected = project(runner, image, axes, tile, progress, on_progress)
        return Restoration(projected, "YX", None, {a: s for a, s in (pixel_size or {}).items() if a in "YX"})
    if spec.kind == "isotropic":
        return _isotropic_restoration(runner, image, axes, pixel_size, tile, progress, on_progress, z_factor,
                                      check_domain)
    check_input(image, axes, spec)
    if spec.z_factor > 1:
        image, pixel_size = upsample_z(image, axes, spec.z_factor, pixel_size)
    if isinstance(runner, PipelineRunner):
        return _pipeline_restoration(runner, image, axes, pixel_size, progress)
    order = [axes.index(a) for a in axes if a not in spec.axes] + [axes.index(a) for a in spec.axes]
    tile = check_tile(tuple(tile or DEFAULT_TILE[len(spec.axes)]), spec)
    work = np.transpose(image, order)
    work_axes = "".join(axes[i] for i in order)
    factor = resolve_factor(runner, rescale, work, work_axes)
    if check_domain:
        warn_input(spec, work, pixel_size, factor, searched=effective_rescale(rescale, spec) == SEARCH)
    # rescaled, the uncertainty is judged as the network gave it (its validation level's units), plane by plane
    network_uncertainty = [] if check_domain and factor > 1 else None
    outputs = _restore_planes(runner, work, work_axes, tile, progress, on_progress, factor, network_uncertainty)
    inverse = np.argsort(order)
    mean, scale, disagreement = (None if a is None else np.transpose(a, inverse) for a in outputs)
    if network_uncertainty:
        warn_uncertainty(spec, np.concatenate(network_uncertainty), downsampled=True)
    elif check_domain and factor == 1:
        warn_uncertainty(spec, predicted_uncertainty(scale, disagreement))
    return Restoration(mean, axes, scale, pixel_size, disagreement, factor=factor)


def resolve_factor(runner: ModelRunner, rescale: str | float | None, work: np.ndarray, axes: str = "YX") -> float:
    """The rescale factor restore() uses for `work` (with `axes`), 1 when off: rescale.rescale_factor's, or for
    'search' the factor with the smallest error estimated on the central crop of the middle plane
    (rescale.search_factor, restoring as restore() does)."""
    if effective_rescale(rescale, runner.spec) != SEARCH:
        return rescale_factor(rescale, runner.spec, work)
    return search_factor(lambda plane, factor: restored_plane(runner, plane, factor), middle_plane(work, axes),
                         warn=parse_rescale(rescale) != MODEL)[0]  # the model's own mode falls back quietly


def image_factor(runner: ModelRunner, rescale: str | float | None, image: np.ndarray, axes: str | None) -> float:
    """The rescale factor restore() uses for `image` with `axes` (any order; YX when None), judged on the whole image
    as restore() judges it (resolve_factor)."""
    axes = (axes or "YX").upper()
    work = np.moveaxis(np.asarray(image), [axes.index("Y"), axes.index("X")], [-2, -1])  # as restore() sees it
    work_axes = "".join(a for a in axes if a not in "YX") + "YX"
    return resolve_factor(runner, rescale, work.astype(np.float32, copy=False), work_axes)


def restored_plane(runner: ModelRunner, plane: np.ndarray, factor: float = 1.0) -> np.ndarray:
    """The restored mean of one 2D plane at a rescale `factor`, as restore() computes it (no progress, no checks)."""
    return _restore_planes(runner, plane, "YX", DEFAULT_TILE[2], False, None, factor)[0]


def _check_z_zoom(spec: NetworkSpec, z_factor: float) -> None:
    if spec.z_factor == 1:
        raise InputError(f"z_factor={z_factor:g} was given, but this {spec.kind} model does not zoom Z (only "
                         "isotropic and axial-upsampling models do): leave it out")
    check_factor(spec.z_factor, None, z_factor)


def _isotropic_restoration(runner, image, axes, pixel_size, tile, progress, on_progress, z_factor,
                           check_domain) -> Restoration:
    check_axes(axes, image.shape, "input image")
    problems = check_image(image, "input image")
    if problems:
        raise InputError("; ".join(problems))
    tile = check_tile(tuple(tile or DEFAULT_TILE[2]), runner.spec)
    mean, scale, out_pixel_size = restore_isotropic(runner, image, axes, tile, pixel_size, z_factor, progress,
                                                    on_progress, check_domain=check_domain)
    return Restoration(mean, axes, scale, out_pixel_size)


def _pipeline_restoration(runner: PipelineRunner, image: np.ndarray, axes: str, pixel_size,
                          progress: bool) -> Restoration:
    spatial = "".join(a for a in axes if a in "ZYX")
    outputs = {name: Image(result, ("C" if result.ndim > len(spatial) else "") + spatial, pixel_size or {})
               for name, result in runner.predict_outputs(image, axes, progress).items()}
    first = next(iter(outputs.values()))
    return Restoration(first.data, first.axes, pixel_size=pixel_size, outputs=outputs)


def _restore_planes(runner: ModelRunner, work: np.ndarray, work_axes: str, tile: tuple[int, ...], progress: bool,
                    on_progress, factor: float = 1.0, uncertainty: list | None = None
                    ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """(mean, scale, disagreement) of an image whose spatial axes come last, plane by plane and tile by tile; with
    a rescale `factor` > 1 each plane is restored downsampled (_restore_downscaled). `uncertainty` gets each plane's
    scale or disagreement as the network gave it (before upsampling and the units' mapping)."""
    spec = runner.spec
    halo = (spec.halo,) * len(spec.axes)
    planes = list(iter_planes(work, work_axes, spec.axes))
    seen = shrunk_shape(work.shape, factor) if factor > 1 else work.shape
    total = len(planes) * n_tiles(seen[-len(spec.axes):], tile, halo, spec.divisor)
    check_padding_work(seen, len(planes), total, tile, halo, spec)
    mean = np.empty(work.shape, np.float32)
    scale = np.empty(work.shape, np.float32) if spec.probabilistic and not spec.ensemble_members else None
    disagreement = np.empty(work.shape, np.float32) if spec.ensemble_members else None
    with progress_bar(total, "restoring", unit="tile", disable=not progress or total < 2) as bar:
        tile_done = tile_counter(bar, total, on_progress)
        for selector, plane in planes:
            if factor > 1:
                plane_mean, plane_scale, plane_disagreement = _restore_downscaled(runner, plane, factor, tile,
                                                                                  tile_done, uncertainty)
            else:
                normalized = normalize_percentile(plane, spec.pmin, spec.pmax, spec.eps, warn_as="input image")
                plane_mean, plane_scale, plane_disagreement = restore_normalized(runner, normalized, tile, tile_done)
            mean[selector] = plane_mean
            if scale is not None:
                scale[selector] = plane_scale
            if disagreement is not None:
                disagreement[selector] = plane_disagreement
    return mean, scale, disagreement


def _keep_uncertainty(kept: list | None, scale: np.ndarray | None, disagreement: np.ndarray | None) -> None:
    """Append a copy of the plane's scale or disagreement to `kept` (a copy: not a view holding the network's whole
    output alive)."""
    uncertainty = predicted_uncertainty(scale, disagreement)
    if kept is not None and uncertainty is not None:
        kept.append(np.array(uncertainty, np.float32).ravel())


def _restore_downscaled(runner: ModelRunner, plane: np.ndarray, factor: float, tile: tuple[int, ...], on_tile,
                        uncertainty: list | None = None) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """restore_normalized on `plane` downsampled by `factor` and normalized with its own percentiles (the input
    the network knows), the outputs upsampled back (linearly for the scale and disagreement, which must stay in
    their range) and put into the units of the full-size plane's normalization, as without rescaling."""
    spec = runner.spec
    small = downscale(plane, factor)
    lo, hi = np.percentile(small, [spec.pmin, spec.pmax])
    mapping = units_map((lo, hi), np.percentile(plane, [spec.pmin, spec.pmax]), spec.eps)
    if mapping is None:  # no units to map: restore it as it is
        outputs = restore_normalized(runner, normalize_percentile(plane, spec.pmin, spec.pmax, spec.eps,
                                                                  warn_as="input image"), tile, on_tile)
        _keep_uncertainty(uncertainty, *outputs[1:])
        return outputs
    outputs = restore_normalized(runner, normalize_range(small, lo, hi, spec.eps), tile, on_tile)
    _keep_uncertainty(uncertainty, *outputs[1:])
    mean, scale, disagreement = back_to_full_size(outputs, mapping, lambda image, order: resize(image, plane.shape,
                                                                                               order))
    return mean.astype(np.float32), None if scale is None else scale.astype(np.float32), disagreement


def restore_normalized(runner: ModelRunner, normalized: np.ndarray, tile: tuple[int, ...], on_tile=None
                       ) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """(mean, scale, disagreement) of one normalized plane/stack, tile by tile (the recipe the distributed path
    runs on each chunk too)."""
    spec = runner.spec
    out = tiled_apply(normalized, runner.forward, tile, (spec.halo,) * len(spec.axes), spec.divisor, on_tile=on_tile)
    if not np.isfinite(out).all():
        raise InputError(f"the model gave {out.size - np.count_nonzero(np.isfinite(out))} NaN/Inf output "
                         "values on a finite input: its weights may be damaged (e.g. by diverged training); "
                         "retrain it or use another model")
    if spec.ensemble_members:
        members_mean = np.moveaxis(out[..., 0::2], -1, 0)
        return (mixture_mean(members_mean), None,
                ensemble_disagreement(members_mean, np.moveaxis(out[..., 1::2], -1, 0)))
    return out[..., 0], (out[..., 1] if spec.probabilistic else None), None
