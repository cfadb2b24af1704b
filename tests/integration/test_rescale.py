"""Restoring at the model's object scale (predict.rescale) with real models: 'auto' leaves inputs like the training
data untouched, restores magnified ones downsampled (full-size outputs, no object-scale warning left), gains PSNR
with the shipped generalist, and is refused where it does not apply."""

import warnings
from pathlib import Path

import numpy as np
import pytest
from scipy import ndimage

from carekit.cli import main
from carekit.config import SynthConfig
from carekit.errors import InputError
from carekit.evaluate.metrics import score
from carekit.generalist import splits
from carekit.io import Image, write_image
from carekit.predict import restore
from carekit.predict.domain_check import OutOfRangeWarning
from carekit.synth import structures
from carekit.synth.pairs import make_pairs

GENERALIST = Path(__file__).resolve().parents[2] / "model-zoo" / "care-generalist-nuclei-denoising.zip"


def _restore(model, image, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = restore(model, image, progress=False, **kwargs)
    return result, [str(w.message) for w in caught if issubclass(w.category, OutOfRangeWarning)]


def test_auto_restores_magnified_inputs_at_the_training_scale(tiny_model, tmp_path, capsys):
    clean = structures.synthetic_ground_truth("mixed", (128, 128), 1, seed=7)
    similar = make_pairs(clean, SynthConfig(photons=[5.0], seed=7))[0][0]
    zoomed = make_pairs([ndimage.zoom(clean[0], 4, order=1)[64:192, 64:192]], SynthConfig(photons=[5.0], seed=7))[0][0]
    plain, _ = _restore(tiny_model, similar)
    assert np.array_equal(_restore(tiny_model, similar, rescale="auto")[0].image, plain.image)
    assert any("object scale" in m and "--rescale auto" in m for m in _restore(tiny_model, zoomed)[1])
    rescaled, messages = _restore(tiny_model, zoomed, rescale="auto")
    assert rescaled.image.shape == zoomed.shape and np.isfinite(rescaled.image).all()
    assert not any("object scale" in m for m in messages), messages

    write_image(tmp_path / "in" / "zoomed.tif", Image(zoomed, "YX"))
    assert main(["predict", "--model", str(tiny_model), str(tmp_path / "in" / "zoomed.tif"), "--out",
                 str(tmp_path / "out"), "--rescale", "auto", "--quiet"]) == 0
    assert "object scale" not in capsys.readouterr().err
    assert main(["predict", "--model", str(tiny_model), str(tmp_path / "in" / "zoomed.tif"), "--out",
                 str(tmp_path / "out2"), "--rescale", "0.5"]) == 2
    assert "upsampling (below 1) is not offered" in capsys.readouterr().err and not (tmp_path / "out2").exists()


def test_auto_gains_on_magnified_nuclei_with_the_shipped_generalist():
    # benchmarks/results/rescale.md: BBBC007 magnified 3x, 3 photons: +3.4 dB on average over two images
    held_out = splits(["bbbc007"])["bbbc007"][1][0]
    magnified = ndimage.zoom(held_out[:128, :128].astype(np.float32), 3, order=3).clip(0)
    lows, highs = make_pairs([magnified], SynthConfig(photons=[3.0], seed=2026))
    plain = score(highs[0], restore(GENERALIST, lows[0], progress=False, check_domain=False).image).psnr
    rescaled = restore(GENERALIST, lows[0], progress=False, check_domain=False, rescale="auto")
    assert rescaled.scale.shape == lows[0].shape
    assert score(highs[0], rescaled.image).psnr > plain + 1.5


def test_rescale_is_refused_where_it_does_not_apply(tiny_model_3d, foreign_package):
    with pytest.raises(InputError, match="2D models"):
        restore(tiny_model_3d, np.zeros((16, 48, 48), np.float32), progress=False, rescale="auto")
    with pytest.raises(InputError, match="packages made elsewhere"):
        restore(foreign_package, np.zeros((64, 64), np.float32), progress=False, rescale=2)
