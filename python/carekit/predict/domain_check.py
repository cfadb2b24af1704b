"""Out-of-range warnings at prediction: the input (and, for probabilistic models and ensembles, the predicted
uncertainty) against what the model recorded about its training data (NetworkSpec.domain, see carekit.domain)."""

from __future__ import annotations

import warnings

import numpy as np

from ..domain import domain_warnings, image_statistics, uncertainty_warning
from ..models.spec import NetworkSpec
from ..normalize import DEGENERATE_RANGE_EPS

MIN_SIDE = 16  # smaller planes say little about object scale or noise
MAX_SIDE = 1024  # statistics from a central crop: enough for the object scale, bounded time on huge planes


class OutOfRangeWarning(UserWarning):
    """The input is unlike the model's training data: the restoration may show structures that are not there."""


def _central_crop(work: np.ndarray) -> np.ndarray:
    spatial = work.shape[-2:]
    crop = tuple(slice(max(0, (n - MAX_SIDE) // 2), max(0, (n - MAX_SIDE) // 2) + MAX_SIDE) for n in spatial)
    return work[(Ellipsis, *crop)]


def input_statistics(spec: NetworkSpec, work: np.ndarray) -> dict[str, float] | None:
    """carekit.domain's statistics of `work` (spatial axes last) as the model sees it; None for a model without
    recorded statistics, planes too small to tell, or a constant image."""
    if not spec.domain or min(work.shape[-2:]) < MIN_SIDE:
        return None
    crop = _central_crop(work)
    low, high = np.percentile(crop, [spec.pmin, spec.pmax])
    if not high - low >= DEGENERATE_RANGE_EPS * spec.eps:  # normalization warns about that image already
        return None
    return image_statistics(crop, spec.pmin, spec.pmax)


def warn_input(spec: NetworkSpec, work: np.ndarray, pixel_size: dict | None) -> list[str]:
    """Warn (OutOfRangeWarning) when `work` (spatial axes last) lies outside the model's recorded training range;
    the messages are returned too. Models without recorded statistics say nothing."""
    stats = input_statistics(spec, work)
    if stats is None:
        return []
    messages = domain_warnings(spec.domain, stats, pixel_size)
    if messages:
        _warn("the input is unlike the model's training data: " + "; ".join(messages))
    return messages


def warn_uncertainty(spec: NetworkSpec, scale: np.ndarray | None, disagreement: np.ndarray | None) -> str | None:
    """Warn when the predicted Laplace scale or ensemble disagreement is well above its level on validation data."""
    kind, predicted = ("scale", scale) if scale is not None else ("disagreement", disagreement)
    message = uncertainty_warning(spec.domain, kind, predicted) if predicted is not None else None
    if message:
        _warn(message)
    return message


def _warn(message: str) -> None:
    warnings.warn(f"{message}; the restoration may show structures that are not there: compare it with a classical "
                  "baseline or retrain on your own data", OutOfRangeWarning, stacklevel=4)
