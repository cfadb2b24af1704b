"""Model kinds beyond the plain 2D one inside real ImageJ (run_in_fiji): ensembles, 3D models, multi-channel input
with uncertainty, and `carekit fiji run`; each compared with the Python restoration."""

import numpy as np
import pytest

from carekit.cli import main
from carekit.config import TrainConfig
from carekit.fiji.run import run_in_fiji
from carekit.io import Image, read_image, write_image
from carekit.predict import restore
from tests.conftest import TINY_TRAIN, synthetic_pairs

pytestmark = pytest.mark.imagej


@pytest.mark.slow
def test_ensemble_gives_mean_and_disagreement_channels(tmp_path):
    from carekit.train.ensemble import train_ensemble
    from carekit.zoo.package import build_package

    lows, highs = synthetic_pairs(2, shape=(64, 64), seed=91)
    config = TrainConfig(**{**TINY_TRAIN, "epochs": 1, "steps_per_epoch": 2, "unet_first": 8})
    train_ensemble(lows, highs, config, tmp_path / "model", members=2, progress=False)
    package = build_package(tmp_path / "model", tmp_path / "ensemble.zip", name="ensemble in imagej",
                            sample=lows[0], formats=("keras_hdf5", "onnx")).zip_path
    image = synthetic_pairs(1, shape=(72, 88), seed=92)[0][0]
    result = run_in_fiji(package, image)
    assert result.dims == ("C", "Y", "X") and list(result.coords["C"].values) == ["mean", "disagreement"]
    expected = restore(package, image, progress=False)
    np.testing.assert_allclose(result.sel(C="mean").values, expected.image, atol=1e-4)
    np.testing.assert_allclose(result.sel(C="disagreement").values, expected.disagreement, atol=1e-4)


def test_3d_model_restores_a_stack(tmp_path, tiny_model_3d):
    from carekit.zoo.package import build_package

    volume = np.random.default_rng(93).random((12, 40, 36)).astype(np.float32)
    package = build_package(tiny_model_3d, tmp_path / "m3.zip", name="3d model in imagej", sample=volume,
                            formats=("keras_hdf5", "onnx")).zip_path
    result = run_in_fiji(package, volume, tile=32)
    assert result.dims == ("Z", "Y", "X")
    np.testing.assert_allclose(result.values, restore(package, volume, progress=False).image, atol=1e-4)


def test_multichannel_input_with_uncertainty_gives_mean_and_scale_per_channel(prob_package):
    channels = np.stack(synthetic_pairs(2, shape=(64, 72), seed=94)[0])
    result = run_in_fiji(prob_package, channels, axes="CYX")
    assert result.dims == ("C", "Y", "X")
    assert list(result.coords["C"].values) == ["mean 1", "scale 1", "mean 2", "scale 2"]
    expected = restore(prob_package, channels, axes="CYX", progress=False)
    for index in range(2):
        np.testing.assert_allclose(result.sel(C=f"mean {index + 1}").values, expected.image[index], atol=1e-4)
        np.testing.assert_allclose(result.sel(C=f"scale {index + 1}").values, expected.scale[index], atol=1e-4)


def test_fiji_run_command(tmp_path, tiny_package, capsys):
    images = synthetic_pairs(2, shape=(80, 64), seed=95)[0]
    inputs = [write_image(tmp_path / "in" / f"{i}.tif", Image(image, "YX", {"Y": 0.3, "X": 0.3}))
              for i, image in enumerate(images)]
    assert main(["fiji", "run", "--model", str(tiny_package), *map(str, inputs), "--out", str(tmp_path / "out")]) == 0
    assert capsys.readouterr().out.count("restored in ImageJ (imagej1)") == 2
    for path, image in zip(inputs, images):
        written = read_image(tmp_path / "out" / path.name)
        assert written.data.shape == image.shape and written.pixel_size["X"] == pytest.approx(0.3, rel=1e-4)
        np.testing.assert_allclose(written.data, restore(tiny_package, image, progress=False).image, atol=1e-4)
    assert main(["fiji", "run", "--model", str(tmp_path / "none.zip"), str(inputs[0]), "--out",
                 str(tmp_path / "x")]) == 2
    assert "model package not found" in capsys.readouterr().err
