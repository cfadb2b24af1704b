"""Restoring at the model's object scale: an image whose objects are larger than those a 2D model was trained on is
restored downsampled (YX) and the results upsampled back to the input's shape (predict.plane_restore, plane by
plane).

A denoiser sees a window of a few tens of pixels; objects larger than it fill that window with flat, noisy interior,
and the model compresses their contrast. Downsampling brings them back into the window and averages their noise.
`rescale="auto"` does it when the input's object scale (carekit.domain) exceeds the model's training median by more
than AUTO_THRESHOLD, by that ratio (at most AUTO_MAX); other inputs are restored as they are. The rule was chosen on
the cases of benchmarks/results/rescale.md: of the 43 image / photon-level cases it rescaled, 41 gained (up to 8 dB)
and 2 lost under 0.25 dB. Upsampling (a factor below 1) is not offered.
`rescale="search"` asks the noisy image instead (search_factor): it restores the inputs of recorrupted pairs
(predict.recorrupted_error) at each factor of SEARCH_FACTORS and keeps the one whose outputs are closest to the pairs'
targets, i.e. the smallest estimated error against the truth, averaged over three pairs because the differences
between factors are small against one pair's draw (benchmarks/results/rescale_search.md). It costs about six
restorations of a 512^2 crop (~2 s on 2 CPU cores).
`rescale="model"` (the default of restore, the CLI and the Fiji plugin) takes the model's own mode
(ModelRecord.rescale: the shipped generalist's is "search", as is a model fine-tuned from it that kept its weights;
other models record none and are not rescaled).
"""

from __future__ import annotations

import warnings

import numpy as np

from ..data.recorrupt import variance_map
from ..errors import InputError
from ..models.runner import ModelRunner, PipelineRunner
from ..models.spec import NetworkSpec
from ..normalize import DEGENERATE_RANGE_EPS
from ..resample import shrunk_shape
from .domain_check import MAX_FACTOR, MIN_SIDE, PredictionWarning, input_statistics
from .recorrupted_error import SEARCH_SEEDS, fitted_error, recorrupted_pair, spike_weights

AUTO = "auto"
SEARCH = "search"
MODEL = "model"  # the model's own mode (NetworkSpec.rescale, e.g. the generalist's search); off for the others
SEARCH_FACTORS = (1.0, 1.5, 2.0, 3.0, 4.0)  # those leaving planes under MIN_SIDE px are left out
AUTO_THRESHOLD = 1.25  # object scale over the training median
AUTO_MAX = 4.0


def parse_rescale(value: str | float | None) -> str | float | None:
    """'model', 'auto', 'search', a factor from 1 to MAX_FACTOR, or None for off (None, 1, '1', ''), as the Fiji
    plugin's option reads it (fiji.contract.rescale_value), with errors that say what to give."""
    if value is None:
        return None
    text = str(value).strip().lower() or "1"
    if text in (MODEL, AUTO, SEARCH):
        return text
    try:
        factor = float(text)
    except ValueError:
        raise InputError(f"rescale takes 'model', 'auto', 'search' or a factor from 1 to {MAX_FACTOR:g} (e.g. 3), "
                         f"not {value!r}") from None
    if not 1 <= factor <= MAX_FACTOR:
        raise InputError(f"rescale factor {factor:g}: give 1-{MAX_FACTOR:g} (how many times smaller the network's "
                         "input is; 1 is off), 'model', 'auto' or 'search'; upsampling (below 1) is not offered")
    return None if factor == 1 else factor


def effective_rescale(rescale: str | float | None, spec: NetworkSpec) -> str | float | None:
    """parse_rescale's value, with 'model' replaced by the model's own mode (None where it records none)."""
    rescale = parse_rescale(rescale)
    return spec.rescale if rescale == MODEL else rescale


def is_2d_restoration(runner: ModelRunner) -> bool:
    """carekit's 2D restoration models (not projection, isotropic or 3D ones, nor packages made elsewhere): what
    rescaling and the comparison with classical denoising (predict.classical_check) apply to."""
    spec = runner.spec
    return spec.kind == "care" and spec.axes == "YX" and not isinstance(runner, PipelineRunner)


def refuse_unless_2d_denoising(runner: ModelRunner, what: str, which: str = "this model") -> None:
    """An InputError unless `runner` is one of carekit's 2D restoration models, saying that `what` (an estimate from
    the noisy image) is for those only and what `which` model is instead."""
    spec = runner.spec
    if not is_2d_restoration(runner):
        raise InputError(f"{what} is for carekit's 2D denoising models (kind care, axes YX); {which} is {spec.kind} "
                         f"with axes {spec.axes}" + (", made elsewhere" if isinstance(runner, PipelineRunner) else ""))


def refuse_unless_rescalable(runner: ModelRunner) -> None:
    """An InputError unless rescaling applies to `runner`: carekit's 2D restoration models."""
    spec = runner.spec
    if not is_2d_restoration(runner):
        raise InputError("rescale applies to carekit's 2D restoration models, not to "
                         + ("packages made elsewhere" if isinstance(runner, PipelineRunner) else
                            f"{spec.kind} ones" if spec.axes == "YX" else f"3D ones ({spec.axes})"))


def rescale_factor(rescale: str | float | None, spec: NetworkSpec, work: np.ndarray) -> float:
    """The downsampling factor for `work` (spatial axes last): 1 when off, the factor given, or for 'auto' the
    input's object scale over the training median when that exceeds AUTO_THRESHOLD (1 otherwise, and for a model
    that recorded no training statistics). Refuses models that are not 2D and factors that leave planes too small
    to restore. ('search' restores the image: predict.plane_restore.resolve_factor does it.)"""
    rescale = effective_rescale(rescale, spec)
    if rescale is None:
        return 1.0
    if rescale == SEARCH:
        raise ValueError("rescale 'search' restores the image: use predict.plane_restore.resolve_factor")
    if spec.axes != "YX":
        raise InputError(f"rescale applies to 2D models; this one works on {spec.axes}")
    if rescale == AUTO:
        reference = (spec.domain or {}).get("scale_px")
        stats = input_statistics(spec, work)
        ratio = stats["scale_px"] / reference[1] if reference and stats else 1.0
        factor = min(ratio, AUTO_MAX, min(work.shape[-2:]) / MIN_SIDE)  # planes keep MIN_SIDE px
        return factor if factor > AUTO_THRESHOLD else 1.0
    smallest = min(shrunk_shape(work.shape, rescale)[-2:])
    if smallest < MIN_SIDE:
        raise InputError(f"rescale {rescale:g} would shrink planes of {work.shape[-2:]} px to {smallest} px: give a "
                         f"smaller factor (planes need at least {MIN_SIDE} px after it)")
    return rescale


def search_factor(restore_at, plane: np.ndarray, seeds: tuple[int, ...] = SEARCH_SEEDS, warn: bool = True
                  ) -> tuple[float, dict[float, float]]:
    """(the factor of SEARCH_FACTORS with the smallest estimated error, {factor: estimated error}) on a 2D noisy
    `plane` (a central crop of the middle plane: crops.middle_plane), averaged over the recorrupted pairs drawn with
    `seeds`; `restore_at(plane, factor)` restores a plane as restore() does at that factor. The errors are in the
    plane's units squared, each up to the same constant (the target's noise). A plane whose noise cannot be
    estimated (too small or flat) is restored at full size, with a PredictionWarning unless not `warn` (the model's
    own mode, which the user did not ask for): a batch goes on."""
    try:
        variance = variance_map(plane)
    except InputError as error:
        if not warn:
            return 1.0, {}
        warnings.warn(f"rescale 'search' could not estimate the image's noise ({error}): restored at full size; give "
                      "a factor or 'auto' to rescale it", PredictionWarning, stacklevel=3)
        return 1.0, {}
    pairs = [recorrupted_pair(plane, variance, seed) for seed in seeds]
    weights = spike_weights(plane, variance)
    # the crop's short side is the whole image's unless the image is wider than the crop
    factors = [f for f in SEARCH_FACTORS if min(shrunk_shape(plane.shape, f)) >= MIN_SIDE]
    errors = {factor: float(np.mean([fitted_error(restore_at(noisier, factor), target, weights)
                                     for noisier, target in pairs])) for factor in factors}
    return min(errors, key=errors.get), errors


def chosen_factor_note(rescale, factor: float, spec: NetworkSpec) -> str | None:
    """What 'auto' or 'search' chose, for the user (the CLI's output line, the Fiji Log); None for a given factor
    and where nothing was rescaled."""
    mode = effective_rescale(rescale, spec)
    if mode not in (AUTO, SEARCH):
        return None
    whose = " (the model's default)" if parse_rescale(rescale) == MODEL else ""
    return f"rescale {mode}{whose}: " + (f"downsampled {factor:.3g}x in YX for the model" if factor > 1 else
                                         "restored at full size")


def units_map(small_levels: tuple, full_levels: tuple, eps: float) -> tuple[float, float] | None:
    """(gain, offset) that put an output restored from a downsampled plane normalized with its own percentile
    values `small_levels` into the units of the full-size plane's normalization (`full_levels`); None when either
    has no range to map (the plane is then restored as it is)."""
    (lo, hi), (full_lo, full_hi) = small_levels, full_levels
    if min(hi - lo, full_hi - full_lo) < DEGENERATE_RANGE_EPS * eps:
        return None
    return (hi - lo + eps) / (full_hi - full_lo + eps), (lo - full_lo) / (full_hi - full_lo + eps)


def back_to_full_size(outputs: tuple, mapping: tuple[float, float], resize_to) -> tuple:
    """(mean, scale, disagreement) restored from a downsampled plane, upsampled by `resize_to(image, order)` (cubic
    for the mean; linear for the scale and disagreement, which must stay in their range) and put into the units of
    the full-size plane's normalization by `mapping` (units_map's gain and offset; the disagreement has no units)."""
    mean, scale, disagreement = outputs
    gain, offset = mapping
    return (resize_to(mean, 3) * gain + offset, None if scale is None else resize_to(scale, 1) * gain,
            None if disagreement is None else resize_to(disagreement, 1))
