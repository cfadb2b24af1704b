"""Restore images with a trained model: normalization as in training, tiled with bounded memory, progress bar."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..data.patches import real_array
from ..errors import InputError
from ..io import Image, check_axes, check_image
from ..models import load_model
from ..models.augmentation import refuse_unless_augmentable, with_tta
from ..models.runner import ModelRunner, PipelineRunner
from ..models.spec import NetworkSpec
from .input_checks import check_input, check_tile, default_axes
from .domain_check import predicted_uncertainty, warn_input, warn_uncertainty
from .classical_blend import (ClassicalBlend, blended, choose_blends, effective_blend, own_blend_fits,
                              warn_if_behind)
from ..data.hot_pixel_images import KEEP
from .hot_pixels import cleaned_input, warn_if_hot
from .projection import project
from .isotropic import check_factor, restore_isotropic, upsample_z
from .plane_restore import DEFAULT_TILE, resolve_factor, restore_planes
from .rescale import MODEL, SEARCH, effective_rescale, refuse_unless_2d_denoising, refuse_unless_rescalable


@dataclass
class Restoration:
    """The restored image (normalized units: the input's low percentile maps to 0, its high percentile to 1),
    plus the per-pixel Laplace scale for probabilistic models, or the disagreement D in [0, 1] for ensembles.
    `outputs` holds every output tensor of a package not made by carekit, by output id (`image` is the first).
    `factor`: the YX downsampling factor it was restored at (1: none; `rescale`); `hot_pixels_replaced`: how many
    hot pixels were replaced before restoring (`hot_pixels`; None: the image could not be judged);
    `classical_blend`: the classical denoiser and shares each channel was mixed with (`classical_blend`), else
    None."""

    image: np.ndarray
    axes: str
    scale: np.ndarray | None = None
    pixel_size: dict | None = None
    disagreement: np.ndarray | None = None
    outputs: dict[str, Image] | None = None
    factor: float = 1.0
    hot_pixels_replaced: int | None = 0
    classical_blend: tuple[ClassicalBlend, ...] | None = None

    def as_image(self) -> Image:
        return Image(self.image, self.axes, self.pixel_size or {})


def restore(model: str | Path | ModelRunner, image: np.ndarray | Image, axes: str | None = None,
            tile: tuple[int, ...] | None = None, progress: bool = True, engine: str | None = None,
            on_progress: Callable[[int, int], None] | None = None, check_domain: bool = True,
            z_factor: float | None = None, rescale: str | float | None = MODEL, hot_pixels: str = KEEP,
            classical_blend: bool | None = None, tta: bool = False) -> Restoration:
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
    `classical_blend` (carekit's 2D denoising models): mix the restoration with the best classical denoiser's in the
    shares estimated best from the noisy image, per channel (predict.classical_blend; Restoration.classical_blend
    says which); a WorseThanClassicalWarning where the model alone is estimated behind that denoiser. The default,
    None, is the model's own choice (the shipped generalist: on; off for models that record none).
    `tta` (carekit's own models, not ensembles): test-time augmentation, the restoration averaged over the input
    turned and flipped in YX (isotropic models: flipped in their XZ/YZ planes; models.augmentation), 8x (4x) the
    network's work; what is estimated from the noisy image (rescale 'search', the blend's shares, the classical
    check) runs the model alone.
    """
    runner = load_model(model, engine) if isinstance(model, (str, Path)) else model
    if tta:
        refuse_unless_augmentable(runner)
    spec = runner.spec
    pixel_size = None
    if isinstance(image, Image):
        image, axes, pixel_size = image.data, image.axes, image.pixel_size
    image = real_array(image, "input image")
    if z_factor is not None and spec.kind != "isotropic":  # the isotropic recipe checks it against the file too
        _check_z_zoom(spec, z_factor)
    if effective_rescale(rescale, spec) is not None:
        refuse_unless_rescalable(runner)
    own_blend, classical_blend = classical_blend is None, effective_blend(classical_blend, spec)
    if classical_blend:
        refuse_unless_2d_denoising(runner, "the classical blend")
    axes = (axes or default_axes(spec, image.ndim)).upper()
    if classical_blend and own_blend and {"Y", "X"} <= set(axes):  # too large planes leave it out, with a warning
        classical_blend = own_blend_fits(image.shape[axes.index("Y")], image.shape[axes.index("X")])
    image, replaced = cleaned_input(image, axes, hot_pixels)
    if check_domain and hot_pixels == KEEP:
        warn_if_hot(image, axes)
    result = _restore_as_kind(runner, image, axes, pixel_size, tile, progress, on_progress, z_factor, rescale,
                              check_domain, tta, classical_blend)
    if classical_blend:
        result = _blended(runner, image, axes, result, progress, own_blend)
    return dataclasses.replace(result, hot_pixels_replaced=replaced)


def _blended(runner, image: np.ndarray, axes: str, result: Restoration, progress: bool, own: bool) -> Restoration:
    """`result` mixed as its channels' blends choose (predict.classical_blend). Where the blend is the model's own
    choice (`own`: not asked for), a failure inside it leaves the restoration as it is, the failure its note, as the
    classical check's failures do."""
    try:
        blends = choose_blends(runner, image, axes, result.factor)
        warn_if_behind(blends)
        mixed = blended(result.image, image, axes, blends, runner.spec, progress)
    except Exception as error:  # noqa: BLE001 - the restoration stands: the blend only refines it
        if not own:
            raise
        blends, mixed = (ClassicalBlend(unjudged=f"the blend failed: {type(error).__name__}: {error}"),), result.image
    return dataclasses.replace(result, image=mixed, classical_blend=blends)


def _restore_as_kind(runner, image, axes, pixel_size, tile, progress, on_progress, z_factor, rescale,
                     check_domain, tta, blending) -> Restoration:
    spec, network = runner.spec, with_tta(runner, tta)
    if spec.kind == "projection":
        projected = project(network, image, axes, tile, progress, on_progress)
        return Restoration(projected, "YX", None, {a: s for a, s in (pixel_size or {}).items() if a in "YX"})
    if spec.kind == "isotropic":
        return _isotropic_restoration(network, image, axes, pixel_size, tile, progress, on_progress, z_factor,
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
        warn_input(spec, work, pixel_size, factor, effective_rescale(rescale, spec) == SEARCH, blending)
    # rescaled, the uncertainty is judged as the network gave it (its validation level's units), plane by plane
    network_uncertainty = [] if check_domain and factor > 1 else None
    outputs = restore_planes(network, work, work_axes, tile, progress, on_progress, factor, network_uncertainty)
    inverse = np.argsort(order)
    mean, scale, disagreement = (None if a is None else np.transpose(a, inverse) for a in outputs)
    if network_uncertainty:
        warn_uncertainty(spec, np.concatenate(network_uncertainty), downsampled=True)
    elif check_domain and factor == 1:
        warn_uncertainty(spec, predicted_uncertainty(scale, disagreement))
    return Restoration(mean, axes, scale, pixel_size, disagreement, factor=factor)


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


