"""carekit model folders (carekit.json + csbdeep config.json + weights), run with Keras/TensorFlow."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..config import BEST_WEIGHTS, ModelRecord
from .runner import ModelRunner
from .spec import network_spec_from_record


def load_keras_model(model_dir: str | Path, weights: str = BEST_WEIGHTS, precision: str = "fp32"):
    """The Keras network of a model folder: a CARE model, or an ensemble's members combined into one network
    whose outputs are [mean_0, scale_0, mean_1, scale_1, ...]; float32 outputs in every precision."""
    record = ModelRecord.load(model_dir)
    if record.kind == "ensemble":
        from ..train.ensemble import ensemble_keras_model

        return ensemble_keras_model(model_dir, weights, precision)
    if record.kind == "projection":  # fp32 only: mixed precision is not wired for this network
        from ..train.projection import load_projection_model

        return load_projection_model(model_dir, weights)
    from ..train.care import load_care

    return load_care(model_dir, weights, precision).keras_model


class KerasModelDir(ModelRunner):
    """A carekit model directory run with Keras/TensorFlow, in fp32 or (`precision` bf16 or auto, where the hardware
    has it) bf16 mixed precision; see carekit.precision."""

    def __init__(self, model_dir: str | Path, weights: str = BEST_WEIGHTS, precision: str = "fp32",
                 threads: int | None = None):
        from ..train.precision import choose
        from .weights import cap_tensorflow_threads

        cap_tensorflow_threads(threads)
        self.spec = network_spec_from_record(ModelRecord.load(model_dir))
        self.precision = choose(precision)
        self.model = load_keras_model(model_dir, weights, self.precision)

    def forward(self, batch: np.ndarray) -> np.ndarray:
        return self.model(batch, training=False).numpy()
