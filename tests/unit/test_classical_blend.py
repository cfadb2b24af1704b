"""The classical blend's choice (predict.classical_blend), with stand-in restorations in place of a model's (a real
model: tests/integration/test_classical_blend.py): the share follows how good the restoration is, a mix of two
restorations that err differently is truly better than either, the output stays in the units the model restores in,
and every plane of a channel is mixed alike."""

import warnings

import numpy as np
import pytest
from scipy import ndimage

from carekit.normalize import normalize_range
from carekit.predict import classical_blend
from carekit.predict.classical_blend import (MIN_GAIN, SHARES, ClassicalBlend, blend_note, blended, choose_blend,
                                             choose_blends, in_model_units, mix, warn_if_behind)
from carekit.predict.classical_check import WorseThanClassicalWarning
from carekit.predict.classical_settings import denoised
from carekit.predict.recorrupted_error import fitted_error
from carekit.synth import structures
from carekit.synth.noise import poisson_gaussian


class _StandIn:  # what choose_blend asks of a runner besides its restorations: the input normalization's levels
    spec = type("Spec", (), {"pmin": 1.0, "pmax": 99.8, "eps": 1e-6})()


def _noisy(seed=3, photons=10.0, shape=(256, 256)):
    truth = structures.synthetic_ground_truth("mixed", shape, 1, seed=seed)[0].astype(np.float64)
    return truth, poisson_gaussian(truth / truth.max() * photons + 1, rng=seed).astype(np.float32)


def _units(image, plane):
    """`image` in the units a model restores `plane` in (its 1st and 99.8th percentiles mapped to 0 and 1)."""
    return normalize_range(np.asarray(image, np.float32), *np.percentile(plane, [1.0, 99.8]))


def _choose(monkeypatch, noisy, restoration) -> ClassicalBlend:
    """choose_blend with the model's restoration replaced by `restoration(noisier input)` (in camera units)."""
    monkeypatch.setattr(classical_blend, "restored_plane",
                        lambda runner, plane, factor: _units(restoration(plane), plane))
    return choose_blend(_StandIn(), noisy)


def test_a_restoration_better_than_any_denoiser_keeps_the_whole_share(monkeypatch):
    truth, noisy = _noisy()
    clean = ndimage.gaussian_filter(truth / truth.max() * 10 + 101, 0.5)  # the camera's mean, a little blurred
    blend = _choose(monkeypatch, noisy, lambda plane: clean)
    assert blend.share == 1.0 and blend.gain == 0.0 and not blend.model_is_behind
    assert blend.summary().startswith("not blended: the model alone")
    restored = _units(clean, noisy)
    assert blended(restored, noisy, "YX", (blend,), _StandIn.spec) is restored


def test_no_denoising_gets_no_share_a_warning_and_the_classical_restoration_in_the_models_units(monkeypatch):
    truth, noisy = _noisy()
    blend = _choose(monkeypatch, noisy, lambda plane: plane)
    assert blend.share == 0.0 and blend.gain > MIN_GAIN and blend.model_is_behind
    assert blend.summary().startswith(f"replaced by {blend.classical}: the classical denoiser alone was estimated")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        messages = warn_if_behind((blend,))
    assert [w.category for w in caught] == [WorseThanClassicalWarning] and blend.classical in messages[0]
    out = blended(_units(noisy, noisy), noisy, "YX", (blend,), _StandIn.spec)
    classical = denoised(noisy, blend.classical)
    np.testing.assert_allclose(out, in_model_units(blend.classical, classical, noisy, _StandIn.spec), rtol=1e-5, atol=1e-5)
    # in the input normalization's units whatever the model gave (a poor model's output does not shrink it): the
    # range of the camera's mean in those units
    poor = blended(np.full(noisy.shape, 0.5, np.float32), noisy, "YX", (blend,), _StandIn.spec)
    np.testing.assert_array_equal(poor, out)
    mean = _units(truth / truth.max() * 10 + 101, noisy)
    assert np.ptp(np.percentile(out, [1, 99])) == pytest.approx(np.ptp(np.percentile(mean, [1, 99])), rel=0.3)


def _erring(size: float):
    """(noisy image, the camera's mean, a stand-in restoration whose error (not the noise's) is `size` times the best
    classical denoiser's)."""
    truth, noisy = _noisy(seed=3, photons=10.0)
    mean = truth / truth.max() * 10 + 101  # what the camera measures on average
    field = ndimage.gaussian_filter(np.random.default_rng(3).standard_normal(truth.shape), 1.5)
    scale = np.sqrt(fitted_error(denoised(noisy, "TV weight 0.4"), mean))  # about the best classical denoiser's error
    return noisy, mean, (mean + field / field.std() * scale * size).astype(np.float32)


def test_two_restorations_that_err_differently_mix_to_better_than_either(monkeypatch):
    noisy, mean, restoration = _erring(1.0)
    blend = _choose(monkeypatch, noisy, lambda plane: restoration)
    assert 0.0 < blend.share < 1.0 and blend.gain == blend.best_gain >= MIN_GAIN
    assert len(blend.errors) == len(blend.standard_errors) == len(SHARES) and blend.errors[-1] == 0.0
    restored = _units(restoration, noisy)
    mixed = blended(restored, noisy, "YX", (blend,), _StandIn.spec)
    classical = in_model_units(blend.classical, denoised(noisy, blend.classical), noisy, _StandIn.spec)
    true_error = {name: fitted_error(image, mean) for name, image in
                  (("model", restored), ("classical", classical), ("mix", mixed))}
    assert true_error["mix"] < 0.8 * min(true_error["model"], true_error["classical"]), true_error
    assert blend.summary().startswith(f"blended {blend.share:.1f} model + {1 - blend.share:.1f} {blend.classical}")


def test_a_small_estimated_gain_keeps_the_model_alone(monkeypatch):
    noisy, _, restoration = _erring(0.5)  # half the classical denoiser's error: a mix would gain little
    blend = _choose(monkeypatch, noisy, lambda plane: restoration)
    assert blend.share == 1.0 and blend.gain == 0.0 and 0.0 < blend.best_gain < MIN_GAIN
    assert blend.summary().startswith(f"not blended: mixing in {blend.classical} was estimated to lower the squared "
                                      "error by only 0.")


def test_each_channel_gets_its_own_choice_and_every_plane_of_it_is_mixed(monkeypatch, capsys):
    dim, bright = _noisy(seed=6, photons=10.0)[1], _noisy(seed=7, photons=100.0)[1]
    flat = np.full(dim.shape, 100.0, np.float32)
    noisy = np.stack([np.stack([flat, bright]), np.stack([dim, bright]), np.stack([dim, bright])])  # T, C, Y, X
    monkeypatch.setattr(classical_blend, "restored_plane", lambda runner, plane, factor: _units(plane, plane))
    blends = choose_blends(_StandIn(), noisy, "TCYX")
    assert len(blends) == 2 and all(blend.share == 0.0 for blend in blends)  # no denoising: classical alone
    assert blends[0].classical != blends[1].classical  # each channel judged on its own crop
    restored = _units(noisy, noisy)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no warning from denoising the flat plane: it keeps its own restoration
        out = blended(restored, noisy, "TCYX", blends, _StandIn.spec, progress=True)
    bar = capsys.readouterr().err
    assert "blending: 100%" in bar and "6/6" in bar, bar  # T x C planes
    np.testing.assert_array_equal(out[0, 0], restored[0, 0])  # the flat plane
    for t, c in ((0, 1), (1, 0), (1, 1), (2, 0)):
        name = blends[c].classical
        expected = in_model_units(name, denoised(noisy[t, c], name), noisy[t, c], _StandIn.spec)
        np.testing.assert_allclose(out[t, c], expected, rtol=1e-5, atol=1e-5)
    assert blend_note(blends, uncertainty=True).startswith("channel 1: replaced by ")
    assert blend_note(blends, uncertainty=True).endswith("; the uncertainty output is the model's alone")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warn_if_behind(blends)
    assert [str(w.message)[:46] for w in caught] == [f"channel {c}: the model alone is estimated behind" for c in (1, 2)]


def test_axes_in_any_order():
    planes = [_noisy(seed=s)[1] for s in (6, 7)]
    noisy = np.stack(planes, axis=1)  # Y, T, X
    restored = _units(ndimage.gaussian_filter(noisy, (1, 0, 1)), noisy)
    blend = ClassicalBlend("NLM strength 0.9", 0.4, tuple(0.0 for _ in SHARES), tuple(0.0 for _ in SHARES))
    out = blended(restored, noisy, "YTX", (blend,), _StandIn.spec)
    assert out.shape == noisy.shape and out.dtype == np.float32
    for t in range(2):
        classical = in_model_units("NLM strength 0.9", denoised(noisy[:, t], "NLM strength 0.9"), noisy[:, t],
                                   _StandIn.spec)
        np.testing.assert_allclose(out[:, t], mix(restored[:, t], classical, 0.4), rtol=1e-5, atol=1e-5)


def test_images_that_cannot_be_judged_are_not_blended(monkeypatch):
    for image in (np.full((64, 64), 100.0, np.float32), np.zeros((96, 96), np.float32)):
        blend = _choose(monkeypatch, image, lambda plane: plane)
        assert blend.unjudged and blend.summary().startswith("not blended with classical denoising: ")
        assert blended(image, image, "YX", (blend,), _StandIn.spec) is image and not blend.model_is_behind


@pytest.mark.parametrize("name", ["Gaussian sigma 1", "NLM strength 0.6", "TV weight 0.05", "GAT+NLM strength 0.6"])
def test_every_classical_restoration_comes_in_the_units_of_the_models_input(name):
    truth, noisy = _noisy(seed=4, photons=30.0)
    restored = in_model_units(name, denoised(noisy, name), noisy, _StandIn.spec)
    mean = _units(truth / truth.max() * 30 + 101, noisy)  # the camera's mean, normalized as the model's input is
    slope, offset = np.polyfit(mean.ravel(), restored.ravel(), 1)
    assert slope == pytest.approx(1.0, abs=0.15) and offset == pytest.approx(0.0, abs=0.05)


def test_a_plane_the_chosen_denoiser_cannot_restore_keeps_the_models_restoration():
    good = _noisy(seed=5)[1]
    sparse = np.zeros_like(good)
    sparse[10, 10] = sparse[50, 80] = 7.0  # no camera to estimate: GAT+NLM cannot run here
    noisy, restored = np.stack([good, sparse]), _units(np.stack([good, sparse]), good)
    blend = ClassicalBlend("GAT+NLM strength 0.9", 0.5, tuple(0.0 for _ in SHARES), tuple(0.0 for _ in SHARES))
    out = blended(restored, noisy, "ZYX", (blend,), _StandIn.spec)
    np.testing.assert_array_equal(out[1], restored[1])
    assert not np.array_equal(out[0], restored[0]) and np.isfinite(out).all()


def test_the_blend_is_the_models_own_choice_unless_given_and_only_a_bool_is_taken():
    from carekit.errors import InputError
    from carekit.models.spec import NetworkSpec
    from carekit.predict.classical_blend import effective_blend

    own, other = (NetworkSpec("YX", 1.0, 99.8, 8, 4, True, classical_blend=blends) for blends in (True, False))
    assert effective_blend(None, own) is True and effective_blend(None, other) is False
    assert effective_blend(False, own) is False and effective_blend(True, other) is True
    for value in ("false", "model", 0):
        with pytest.raises(InputError, match="classical_blend must be True, False or None"):
            effective_blend(value, own)
