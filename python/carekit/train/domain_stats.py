"""Reference statistics recorded with a trained model (carekit.domain), so that prediction can warn when an input
is unlike the training data or the model is less sure of it than of its own validation data."""

from __future__ import annotations

import numpy as np

from ..config import TrainConfig
from ..domain import reference_statistics
from ..ensemble import disagreement

MAX_IMAGES = 32  # statistics of more training images add time, not information


def training_domain(sources: list[np.ndarray], config: TrainConfig) -> dict:
    """{statistic: [low, median, high]} over (up to MAX_IMAGES evenly spaced) training inputs."""
    picks = np.unique(np.linspace(0, len(sources) - 1, min(len(sources), MAX_IMAGES)).round().astype(int))
    return reference_statistics([np.asarray(sources[i]) for i in picks], config.norm_pmin, config.norm_pmax)


def validation_uncertainty(keras_model, x_val: np.ndarray, batch_size: int, members: int = 0) -> dict:
    """{'scale': median Laplace scale} of a probabilistic model, or {'disagreement': median D} of an ensemble
    (outputs mean_0, scale_0, mean_1, ...), on the validation inputs."""
    out = np.concatenate([np.asarray(keras_model(x_val[i:i + batch_size], training=False))
                          for i in range(0, len(x_val), batch_size)])
    if members:
        d = disagreement(np.moveaxis(out[..., 0::2], -1, 0), np.moveaxis(out[..., 1::2], -1, 0))
        return {"disagreement": float(np.median(d))}
    return {"scale": float(np.median(out[..., 1]))}
