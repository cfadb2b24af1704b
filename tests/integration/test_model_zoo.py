"""Every package shipped in model-zoo/ passes bioimageio.core and restores real held-out images."""

from pathlib import Path

import pytest

from carekit.config import SynthConfig
from carekit.data import builtin
from carekit.evaluate.metrics import score
from carekit.predict import restore
from carekit.synth.pairs import make_pairs
from carekit.zoo.package import validate_package

PACKAGES = sorted((Path(__file__).resolve().parents[2] / "model-zoo").glob("*.zip"))


def test_model_zoo_is_not_empty():
    assert PACKAGES, "model-zoo/ should ship at least one trained package"


@pytest.mark.parametrize("package", PACKAGES, ids=[p.stem for p in PACKAGES])
def test_shipped_package_passes_bioimageio_core(package):
    results = validate_package(package)
    assert set(results) == {"keras_hdf5", "tensorflow_saved_model_bundle", "onnx"}
    assert all(status == "passed" for status in results.values()), results


def test_shipped_hela_model_beats_raw_on_a_held_out_frame():
    package = Path(__file__).resolve().parents[2] / "model-zoo" / "care-hela-nuclei-denoising.zip"
    frames, _ = builtin.clean_images("hela", ndim=2)
    lows, highs = make_pairs([frames[19][:384, :384]], SynthConfig(photons=[10.0], seed=77))
    restored = restore(package, lows[0], progress=False).image
    raw, care = score(highs[0], lows[0]), score(highs[0], restored)
    assert care.psnr > raw.psnr + 8 and care.ssim > 0.8, (raw, care)
