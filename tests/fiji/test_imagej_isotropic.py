"""An isotropic model inside real ImageJ (run_in_fiji, python engine): the result comes back with Z zoomed by the
model's factor, the Z voxel size divided by it in ImageJ's calibration, and equal to the Python restoration."""

import numpy as np
import pytest

from carekit.config import TrainConfig
from carekit.fiji.run import run_in_fiji
from carekit.io import Image
from carekit.predict import restore
from tests.conftest import TINY_TRAIN

pytestmark = pytest.mark.imagej


@pytest.mark.slow
def test_isotropic_package_in_imagej_matches_python(tmp_path):
    from carekit.train.isotropic import train_isotropic
    from carekit.zoo.package import build_package

    rng = np.random.default_rng(7)
    stack = Image(rng.random((8, 48, 40)).astype(np.float32) + np.linspace(0, 1, 40, dtype=np.float32),
                  "ZYX", {"Z": 1.2, "Y": 0.4, "X": 0.4})
    config = TrainConfig(**{**TINY_TRAIN, "epochs": 1, "steps_per_epoch": 2, "unet_first": 8})
    train_isotropic(stack, tmp_path / "model", config, progress=False)
    package = build_package(tmp_path / "model", tmp_path / "iso.zip", name="isotropic in imagej",
                            formats=("keras_hdf5", "onnx")).zip_path
    result = run_in_fiji(package, stack)
    assert result.dims == ("Z", "Y", "X") and result.shape == (24, 48, 40)
    assert result.attrs["pixel_size"]["Z"] == pytest.approx(0.4, rel=1e-6)
    expected = restore(package, stack, progress=False).image
    np.testing.assert_allclose(result.values, expected, atol=1e-4)
