"""Out-of-range warnings at prediction (issue #16 part 3): a clearly out-of-range input warns, in Python and on the
CLI; an input like the training data does not; a probabilistic package carries its validation scale level."""

import re
import warnings

import numpy as np
import pytest
from scipy import ndimage

from carekit.cli import main
from carekit.config import ModelRecord, SynthConfig
from carekit.io import Image, write_image
from carekit.models import load_model
from carekit.predict import restore
from carekit.normalize import normalize_range
from carekit.predict.domain_check import OutOfRangeWarning
from carekit.predict.plane_restore import restore_normalized
from carekit.resample import downscale
from carekit.synth import structures
from carekit.synth.pairs import make_pairs
from tests.conftest import synthetic_pairs


def _restore_warnings(model, image) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        restore(model, image, progress=False)
    return [str(w.message) for w in caught if issubclass(w.category, OutOfRangeWarning)]


def test_zoomed_input_warns_and_a_similar_one_does_not(tiny_model, tmp_path, capsys):
    assert set(ModelRecord.load(tiny_model).domain) == {"scale_px", "noise", "foreground"}
    clean = structures.synthetic_ground_truth("mixed", (128, 128), 1, seed=7)
    similar = make_pairs(clean, SynthConfig(photons=[5.0], seed=7))[0][0]
    # the same structures seen at 4x magnification by the same camera (noise still white)
    zoomed = make_pairs([ndimage.zoom(clean[0], 4, order=1)[64:192, 64:192]], SynthConfig(photons=[5.0], seed=7))[0][0]
    assert _restore_warnings(tiny_model, similar) == []
    messages = _restore_warnings(tiny_model, zoomed)
    assert len(messages) == 1 and "object scale" in messages[0] and "not there" in messages[0], messages

    write_image(tmp_path / "in" / "similar.tif", Image(similar, "YX"))
    write_image(tmp_path / "in" / "zoomed.tif", Image(zoomed, "YX"))
    assert main(["predict", "--model", str(tiny_model), str(tmp_path / "in" / "similar.tif"),
                 str(tmp_path / "in" / "zoomed.tif"), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    err = [line for line in capsys.readouterr().err.splitlines() if "unlike the model's training data" in line]
    assert len(err) == 1 and "zoomed.tif: the input is unlike the model's training data: object scale" in err[0]
    assert (tmp_path / "out" / "zoomed.tif").exists()


def test_pixel_size_and_validation_scale_travel_with_the_package(prob_package):
    runner = load_model(prob_package)
    level = runner.spec.domain["scale"]
    assert 0 < level < 1 and set(runner.spec.domain) >= {"scale_px", "noise", "foreground", "scale"}
    similar = synthetic_pairs(1, shape=(96, 96), seed=9)[0][0]
    assert _restore_warnings(runner, similar) == []
    result = restore(runner, similar, progress=False, check_domain=False)
    assert np.median(result.scale) == pytest.approx(level, rel=0.5)  # the recorded level is what it predicts
    runner.spec = type(runner.spec)(**{**runner.spec.__dict__, "domain": {**runner.spec.domain,
                                                                          "pixel_size": {"X": 0.65, "Y": 0.65}}})
    messages = _restore_warnings(runner, Image(similar, "YX", {"X": 0.1, "Y": 0.1}))
    assert len(messages) == 1 and "pixel size 0.1 vs 0.65" in messages[0]


def test_ensemble_records_its_validation_disagreement(tmp_path):
    from carekit.config import TrainConfig
    from carekit.train.ensemble import train_ensemble
    from tests.conftest import TINY_TRAIN

    lows, highs = synthetic_pairs(3, shape=(96, 96))
    config = TrainConfig(**{**TINY_TRAIN, "epochs": 1, "steps_per_epoch": 3})
    train_ensemble(lows, highs, config, tmp_path / "ensemble", members=2, progress=False)
    domain = ModelRecord.load(tmp_path / "ensemble").domain
    assert set(domain) == {"scale_px", "noise", "foreground", "disagreement"} and 0 <= domain["disagreement"] <= 1
    assert _restore_warnings(tmp_path / "ensemble", synthetic_pairs(1, shape=(96, 96), seed=9)[0][0]) == []


def test_the_uncertainty_is_judged_in_the_networks_units_when_rescaled_too(prob_package):
    """Rescaled (the shipped generalist's default, search), the scale is judged as the network gave it, before it is
    upsampled and put into the full-size plane's units: what its validation level measures."""
    import dataclasses

    runner = load_model(prob_package)
    similar = synthetic_pairs(1, shape=(192, 192), seed=9)[0][0]
    level = runner.spec.domain["scale"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        restore(runner, similar, progress=False, rescale=2)
    assert not [w for w in caught if "predicted scale" in str(w.message)]
    runner.spec = dataclasses.replace(runner.spec, domain={**runner.spec.domain, "scale": level / 100})
    for rescale in (None, 2):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            restore(runner, similar, progress=False, rescale=rescale)
        [message] = [str(w.message) for w in caught if "predicted scale" in str(w.message)]
        assert ("on the image downsampled for it" in message) == (rescale == 2)
    # the median quoted is the network's on the downsampled image, not the upsampled map's in full-size units
    small = downscale(similar.astype(np.float32), 2)
    lo, hi = np.percentile(small, [runner.spec.pmin, runner.spec.pmax])
    network = restore_normalized(runner, normalize_range(small, lo, hi, runner.spec.eps), (1024, 1024))[1]
    assert float(re.search(r"median ([0-9.e+-]+)\)", message).group(1)) == pytest.approx(np.median(network), rel=0.01)
