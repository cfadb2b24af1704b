"""Restoring image planes with a CARE model, as restore() does (numpy in, numpy out): normalized with the model's
percentiles over each whole plane, tile by tile, or downsampled by a rescale factor and upsampled back; and the
rescale factor restore() uses for an image. Shared by restore() and by what estimates from the noisy image (the
classical check, the classical blend, the model comparison, rescale 'search') and the large-data path."""

from __future__ import annotations

import numpy as np

from ..ensemble import disagreement as ensemble_disagreement, mixture_mean
from ..errors import InputError
from ..models.runner import ModelRunner
from ..normalize import normalize_percentile, normalize_range
from ..progress import progress_bar, tile_counter
from ..resample import downscale, resize, shrunk_shape
from ..tiling import iter_planes, n_tiles, tiled_apply
from ..data.crops import middle_plane
from .domain_check import predicted_uncertainty
from .input_checks import check_padding_work
from .rescale import (MODEL, SEARCH, back_to_full_size, effective_rescale, parse_rescale, rescale_factor,
                      search_factor, units_map)

DEFAULT_TILE = {2: (1024, 1024), 3: (32, 128, 128)}


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
    return restore_planes(runner, plane, "YX", DEFAULT_TILE[2], False, None, factor)[0]


def restore_planes(runner: ModelRunner, work: np.ndarray, work_axes: str, tile: tuple[int, ...], progress: bool,
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
