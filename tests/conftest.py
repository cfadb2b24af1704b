import os
import shutil
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("KERAS_BACKEND", "tensorflow")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

TINY_TRAIN = dict(patch_size=(32, 32), patches_per_image=32, epochs=2, steps_per_epoch=50, batch_size=16,
                  unet_first=16, learning_rate=1e-3)


def synthetic_pairs(n_images: int, shape=(128, 128), photons=5.0, seed=1):
    from carekit.config import SynthConfig
    from carekit.synth import pairs, structures

    clean = structures.synthetic_ground_truth("mixed", shape, n_images, seed=seed)
    return pairs.make_pairs(clean, SynthConfig(photons=[photons], seed=seed))


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A tiny 2D CARE model trained for 2 epochs on synthetic tubules/granules (shared by integration tests)."""
    from carekit.config import TrainConfig
    from carekit.train.care import train_care

    lows, highs = synthetic_pairs(8)
    model_dir = tmp_path_factory.mktemp("models") / "tiny"
    train_care(lows, highs, TrainConfig(**TINY_TRAIN), model_dir, data_info={"source": "test"}, progress=False)
    return model_dir


@pytest.fixture
def rng():
    return np.random.default_rng(0)


@pytest.fixture(scope="session")
def tiny_package(tiny_model, tmp_path_factory) -> Path:
    """The tiny model packaged for bioimage.io (every weight format passed test_model while building)."""
    from carekit.zoo.package import build_package

    sample = synthetic_pairs(1, shape=(200, 200), seed=11)[0][0]
    out = tmp_path_factory.mktemp("packages") / "tiny.zip"
    build_package(tiny_model, out, name="tiny test model", sample=sample)
    return out


@pytest.fixture(scope="session")
def prob_package(tmp_path_factory) -> Path:
    """A tiny probabilistic CARE model (Laplace mean and scale outputs), packaged."""
    from carekit.config import TrainConfig
    from carekit.train.care import train_care
    from carekit.zoo.package import build_package

    lows, highs = synthetic_pairs(4, shape=(96, 96))
    root = tmp_path_factory.mktemp("probabilistic")
    config = TrainConfig(**{**TINY_TRAIN, "epochs": 1, "steps_per_epoch": 5, "probabilistic": True})
    train_care(lows, highs, config, root / "model", progress=False)
    build_package(root / "model", root / "prob.zip", name="probabilistic test", sample=lows[0])
    return root / "prob.zip"
