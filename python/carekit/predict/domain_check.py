"""Out-of-range warnings at prediction: the input (and, for probabilistic models and ensembles, the predicted
uncertainty) against what the model recorded about its training data (NetworkSpec.domain, see carekit.domain)."""

from __future__ import annotations

import warnings

import numpy as np

from ..domain import (FULL_SIZE_NOISE, domain_warnings, image_statistics, noise_statistic, sampled_planes,
                      uncertainty_warning)
from ..models.spec import NetworkSpec
from ..normalize import DEGENERATE_RANGE_EPS
from ..resample import downscale

MIN_SIDE = 16  # smaller planes say little about object scale or noise
MAX_FACTOR = 8.0  # the largest rescale factor (predict.rescale), as carekit.fiji.contract.RESCALE_MAX
MAX_SIDE = 1024  # statistics from a central crop: enough for the object scale, bounded time on huge planes
RESCALE_HINT = (" (objects larger than in training: rescale=auto restores them at the training scale: `carekit "
                "predict --rescale auto`, restore(..., rescale='auto'), or the Fiji plugin's rescale=auto with the "
                "python engine)")
BLEND_HINT = ("; classical denoising may do better: the classical blend mixes it in where that is estimated to help "
              "(`carekit predict --classical-blend`, restore(..., classical_blend=True), the Fiji plugin's "
              "classical_blend=true)")
BLENDING_NOTE = "; the classical blend, on for this run, mixes classical denoising in where that is estimated to help"
SEARCH_KEPT_HINT = (" (rescale search kept full size; rescale=auto would restore it closer to the training scale: "
                    "`carekit predict --rescale auto`, restore(..., rescale='auto'), or the Fiji plugin's "
                    "rescale=auto)")


class PredictionWarning(UserWarning):
    """The restoration may not be what it seems: carekit's warnings at prediction (out-of-range input, classical
    denoising estimated better)."""


class OutOfRangeWarning(PredictionWarning):
    """The input is unlike the model's training data: the restoration may show structures that are not there."""


def _crops(work: np.ndarray, factor: float) -> list[np.ndarray]:
    """The planes of `work` (spatial axes last) that carekit.domain samples, cropped centrally to what becomes
    MAX_SIDE px after downsampling by `factor` (views: nothing is copied)."""
    side = int(MAX_SIDE * factor)
    leading = work.shape[:-2]
    chosen = sampled_planes(int(np.prod(leading, dtype=np.int64)))
    crop = tuple(slice(max(0, (n - side) // 2), max(0, (n - side) // 2) + side) for n in work.shape[-2:])
    return [work[(*np.unravel_index(i, leading), *crop)] for i in chosen]


def input_statistics(spec: NetworkSpec, work: np.ndarray, factor: float = 1.0) -> dict[str, float] | None:
    """carekit.domain's statistics of `work` (spatial axes last) as the model sees it (downsampled by `factor`;
    then with the noise of the same crops at full size as well, FULL_SIZE_NOISE); None for a model without recorded
    statistics, planes too small to tell, or a constant image."""
    if not spec.domain or min(work.shape[-2:]) < MIN_SIDE * factor:
        return None
    crops = _crops(work, factor)
    sample = np.stack([downscale(plane, factor) if factor > 1 else plane for plane in crops])
    low, high = np.percentile(sample, [spec.pmin, spec.pmax])
    if not high - low >= DEGENERATE_RANGE_EPS * spec.eps:  # normalization warns about that image already
        return None
    stats = image_statistics(sample, spec.pmin, spec.pmax)
    if factor > 1:  # the input's own light level, which the check for less noise than in training compares
        stats[FULL_SIZE_NOISE] = noise_statistic(crops, spec.pmin, spec.pmax)
    return stats


def warn_input(spec: NetworkSpec, work: np.ndarray, pixel_size: dict | None, factor: float = 1.0,
               searched: bool = False, blending: bool = False) -> list[str]:
    """Warn (OutOfRangeWarning) when `work` (spatial axes last), downsampled by the rescale `factor`, lies outside
    the model's recorded training range; the messages are returned too. Models without recorded statistics say
    nothing; a rescaled image's pixel size is not checked. Where rescaling and the classical blend apply (2D CARE
    models, in memory and on the large-data path) the message names them (`searched`: the factor is rescale search's
    choice; `blending`: the blend is on for this run)."""
    stats = input_statistics(spec, work, factor)
    if stats is None:
        return []
    hint, limit, more_light = "", 0.0, ""
    if spec.axes == "YX" and spec.kind == "care":
        full_size_hint = SEARCH_KEPT_HINT if searched else RESCALE_HINT
        hint = full_size_hint if factor == 1 else (f" (still larger after downsampling by {factor:.3g}: give a larger "
                                                 f"rescale factor, up to {MAX_FACTOR:g})")
        limit, more_light = MAX_FACTOR, BLENDING_NOTE if blending else BLEND_HINT
    messages = domain_warnings(spec.domain, stats, None if factor > 1 else pixel_size, hint, limit, more_light)
    if messages:
        _warn("the input is unlike the model's training data: " + "; ".join(messages))
    return messages


def uncertainty_kind(spec: NetworkSpec) -> str | None:
    """'scale' or 'disagreement' when the model predicts one and recorded its level on validation data."""
    kind = "disagreement" if spec.ensemble_members else "scale" if spec.probabilistic else None
    return kind if kind and (spec.domain or {}).get(kind) else None


def predicted_uncertainty(scale: np.ndarray | None, disagreement: np.ndarray | None) -> np.ndarray | None:
    """The uncertainty a restoration carries: the Laplace scale (probabilistic models) or the disagreement
    (ensembles); None for neither."""
    return scale if scale is not None else disagreement


def warn_uncertainty(spec: NetworkSpec, predicted: np.ndarray | None, downsampled: bool = False) -> str | None:
    """Warn when the `predicted` uncertainty (predicted_uncertainty) is well above its level on validation data
    (`downsampled`: as the network predicted it on a rescaled image, which the message says)."""
    kind = uncertainty_kind(spec)
    message = uncertainty_warning(spec.domain, kind, predicted) if kind and predicted is not None else None
    if message and downsampled:
        message += " (as the network predicted it on the image downsampled for it)"
    if message:
        _warn(message)
    return message


def _warn(message: str) -> None:
    warnings.warn(f"{message}; the restoration may show structures that are not there: compare it with a classical "
                  "baseline or retrain on your own data", OutOfRangeWarning, stacklevel=4)
