"""The classical blend's choice (predict.classical_blend), with stand-in restorations in place of a model's (a real
model: tests/integration/test_classical_blend.py): the share follows how good the restoration is, a mix of two
different denoisers is truly better than either, and every plane is mixed alike."""

import warnings

import numpy as np
import pytest
from scipy import ndimage

from carekit.predict import classical_blend
from carekit.predict.classical_blend import (MIN_GAIN, SHARES, ClassicalBlend, blended, choose_blend, mix,
                                             warn_if_classical_alone)
from carekit.predict.classical_check import WorseThanClassicalWarning
from carekit.predict.classical_settings import denoised
from carekit.predict.recorrupted_error import fitted_error
from carekit.synth import structures
from carekit.synth.noise import poisson_gaussian


def _noisy(seed=3, photons=10.0, shape=(256, 256)):
    truth = structures.synthetic_ground_truth("mixed", shape, 1, seed=seed)[0].astype(np.float64)
    return truth, poisson_gaussian(truth / truth.max() * photons + 1, rng=seed).astype(np.float32)


def _choose(monkeypatch, noisy, restoration) -> ClassicalBlend:
    """choose_blend with the model's restoration replaced by `restoration(noisier input)`."""
    monkeypatch.setattr(classical_blend, "restored_plane", lambda runner, plane, factor: restoration(plane))
    return choose_blend(None, noisy)


def test_a_restoration_better_than_any_denoiser_keeps_the_whole_share(monkeypatch):
    truth, noisy = _noisy()
    clean = ndimage.gaussian_filter(truth, 0.5)  # the noise-free image, a little blurred: no denoiser comes close
    blend = _choose(monkeypatch, noisy, lambda plane: clean)
    assert blend.share == 1.0 and blend.gain == 0.0 and blend.summary().startswith("not blended: the model alone")
    assert blended(clean, noisy, "YX", blend) is clean


def test_no_denoising_at_all_gets_no_share_and_a_warning(monkeypatch):
    _, noisy = _noisy()
    blend = _choose(monkeypatch, noisy, lambda plane: plane)
    assert blend.share == 0.0 and blend.gain > 0.05  # (the affine fit shrinks the noisy image towards its mean)
    assert blend.summary().startswith(f"replaced by {blend.classical}: the classical denoiser alone was estimated")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        message = warn_if_classical_alone(blend)
    assert [w.category for w in caught] == [WorseThanClassicalWarning] and blend.classical in message
    expected = mix(noisy, denoised(noisy, blend.classical), 0.0)
    np.testing.assert_allclose(blended(noisy, noisy, "YX", blend), expected, rtol=1e-6, atol=1e-6)


def _erring(size: float):
    """(noisy image, the camera's mean, a stand-in restoration whose error (not the noise's) is `size` times the best
    classical denoiser's)."""
    truth, noisy = _noisy(seed=3, photons=10.0)
    mean = truth / truth.max() * 10 + 101  # what the camera measures on average
    field = ndimage.gaussian_filter(np.random.default_rng(3).standard_normal(truth.shape), 1.5)
    scale = np.sqrt(fitted_error(denoised(noisy, "TV weight 0.4"), mean))  # about the best classical denoiser's error
    return noisy, mean, (mean + field / field.std() * scale * size).astype(np.float32)


def test_two_restorations_that_err_differently_mix_to_better_than_either(monkeypatch):
    noisy, mean, restored = _erring(1.0)
    blend = _choose(monkeypatch, noisy, lambda plane: restored)
    assert 0.0 < blend.share < 1.0 and blend.gain == blend.best_gain >= MIN_GAIN
    assert len(blend.errors) == len(SHARES) and blend.errors[-1] == 0.0
    mixed = blended(restored, noisy, "YX", blend)
    true_error = {name: fitted_error(image, mean) for name, image in
                  (("model", restored), ("classical", denoised(noisy, blend.classical)), ("mix", mixed))}
    assert true_error["mix"] < 0.8 * min(true_error["model"], true_error["classical"]), true_error
    assert blend.summary().startswith(f"blended {blend.share:.1f} model + {1 - blend.share:.1f} {blend.classical}")


def test_a_small_estimated_gain_keeps_the_model_alone(monkeypatch):
    noisy, _, restored = _erring(0.5)  # half the classical denoiser's error: a mix would gain little
    blend = _choose(monkeypatch, noisy, lambda plane: restored)
    assert blend.share == 1.0 and blend.gain == 0.0 and 0.0 < blend.best_gain < MIN_GAIN
    assert blend.summary().startswith(f"not blended: mixing in {blend.classical} was estimated to lower the squared "
                                      "error by only 0.")
    assert blended(restored, noisy, "YX", blend) is restored


def test_every_plane_is_mixed_alike_whatever_the_axis_order():
    planes = [_noisy(seed=s)[1] for s in (6, 7)]
    noisy = np.stack(planes, axis=1)  # Y, C, X
    restored = ndimage.gaussian_filter(noisy, (1, 0, 1))
    blend = ClassicalBlend("NLM strength 0.9", 0.4, tuple(0.0 for _ in SHARES))
    out = blended(restored, noisy, "YCX", blend)
    assert out.shape == noisy.shape and out.dtype == np.float32
    for c in range(2):
        expected = mix(restored[:, c], denoised(noisy[:, c], "NLM strength 0.9"), 0.4)
        np.testing.assert_allclose(out[:, c], expected, rtol=1e-6, atol=1e-6)


def test_a_flat_image_is_not_blended(monkeypatch):
    flat = np.full((64, 64), 100.0, np.float32)
    blend = _choose(monkeypatch, flat, lambda plane: plane)
    assert blend.unjudged and blend.summary().startswith("not blended with classical denoising: ")
    assert blended(flat, flat, "YX", blend) is flat
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert warn_if_classical_alone(blend) is None


@pytest.mark.parametrize("share", [0.0, 0.3, 1.0])
def test_a_mix_stays_in_the_models_units(share):
    rng = np.random.default_rng(0)
    model = rng.random((32, 32)).astype(np.float32)
    classical = 50 * model + 7  # the same image in other units
    np.testing.assert_allclose(mix(model, classical, share), model, rtol=1e-5, atol=1e-5)
