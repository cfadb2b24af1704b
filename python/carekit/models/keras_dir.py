"""carekit model folders (carekit.json + csbdeep config.json + weights), run with Keras/TensorFlow."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..config import ModelRecord
from .runner import ModelRunner
from .spec import network_spec_from_record


def load_keras_model(model_dir: str | Path, weights: str = "weights_best.h5"):
    """The Keras network of a model folder: a CARE model, or an ensemble's members combined into one network
    whose outputs are [mean_0, scale_0, mean_1, scale_1, ...]."""
    record = ModelRecord.load(model_dir)
    if record.kind == "ensemble":
        from ..train.ensemble import ensemble_keras_model

        return ensemble_keras_model(model_dir, weights)
    from ..train.care import load_care

    return load_care(model_dir, weights).keras_model


class KerasModelDir(ModelRunner):
    """A carekit model directory run with Keras/TensorFlow."""

    def __init__(self, model_dir: str | Path, weights: str = "weights_best.h5"):
        self.spec = network_spec_from_record(ModelRecord.load(model_dir))
        self.model = load_keras_model(model_dir, weights)

    def forward(self, batch: np.ndarray) -> np.ndarray:
        return self.model(batch, training=False).numpy()
