"""The no-ground-truth comparison's estimator (predict.classical_check): the recorrupted pair's noise, the affine
fit, and that the estimated error difference of two denoisers matches their true difference."""

import numpy as np
import pytest
from scipy import ndimage

from carekit.errors import InputError
from carekit.predict import classical_check
from carekit.data.recorrupt import recorrupted_batch, variance_map
from carekit.predict.classical_check import ClassicalComparison, compare_with_classical
from carekit.predict.classical_settings import denoised
from carekit.data.crops import middle_plane
from carekit.predict.recorrupted_error import ALPHA, fitted_error, spike_weights
from carekit.synth import structures
from carekit.synth.noise import poisson_gaussian


def _noisy(seed=3, photons=10.0, shape=(256, 256)):
    truth = structures.synthetic_ground_truth("mixed", shape, 1, seed=seed)[0].astype(np.float64)
    return truth, poisson_gaussian(truth / truth.max() * photons + 1, rng=seed).astype(np.float64)


def test_the_affine_fit_forgives_units_and_offsets():
    rng = np.random.default_rng(0)
    target = rng.random((64, 64))
    assert fitted_error(3 * target + 7, target) == pytest.approx(0, abs=1e-20)
    assert fitted_error(np.zeros_like(target), target) == pytest.approx(target.var(), rel=1e-9)


def test_the_recorrupted_pair_has_independent_noise_of_the_stated_size():
    truth, noisy = _noisy()
    variance = float(variance_map(noisy).mean())
    noisier, target = recorrupted_batch(noisy, variance_map(noisy), np.random.default_rng(1), ALPHA)
    constant = variance * (1 + 1 / ALPHA**2)
    mean = (truth / truth.max() * 10 + 1) + 100  # what the camera measures on average
    # u's and t's noise around the camera's mean are uncorrelated, and t's variance is the stated constant
    assert np.mean((noisier - mean) * (target - mean)) == pytest.approx(0, abs=0.05 * constant)
    assert np.mean((target - mean) ** 2) == pytest.approx(constant, rel=0.1)
    assert np.mean((noisier - mean) ** 2) == pytest.approx(variance * (1 + ALPHA**2), rel=0.1)


def test_the_estimated_difference_of_two_denoisers_matches_the_truth():
    truth, noisy = _noisy(seed=5)
    noisier, target = recorrupted_batch(noisy, variance_map(noisy), np.random.default_rng(2), ALPHA)
    constant = variance_map(noisy).mean() * (1 + 1 / ALPHA**2)
    mean = truth / truth.max() * 10 + 101
    methods = {sigma: (ndimage.gaussian_filter(noisier, sigma)) for sigma in (0.7, 1.5, 4.0)}
    estimated = {s: fitted_error(g, target) - constant for s, g in methods.items()}
    true = {s: fitted_error(g, mean) for s, g in methods.items()}  # against the noise-free camera mean
    assert min(estimated, key=estimated.get) == min(true, key=true.get)
    # each difference is off by the target noise's correlation with it: ~0.01 (1 std) for 256^2 px here
    for s in methods:
        assert estimated[s] - estimated[1.5] == pytest.approx(true[s] - true[1.5], abs=0.03)
    assert true[0.7] - true[1.5] > 0.05  # so that the test can fail: the differences are larger than the tolerance


def test_hot_pixels_are_left_out_of_the_estimate_and_little_else():
    truth, noisy = _noisy(seed=5)
    assert (spike_weights(noisy, variance_map(noisy)) == 0).mean() < 0.002  # Poisson-Gaussian: almost nothing
    rng = np.random.default_rng(4)
    hot = rng.random(noisy.shape) < 0.01  # 1% of the pixels with read noise 10 counts, which the model misses
    noise = np.where(hot, rng.normal(0, 10, noisy.shape), 0)
    noisy = noisy + noise
    variance = variance_map(noisy)
    weights = spike_weights(noisy, variance)
    loud = np.abs(noise) > 6 * np.sqrt(variance)
    assert loud.sum() > 50 and (weights[loud] == 0).mean() > 0.8 and (weights == 0).mean() < 0.01
    # with them out, the estimated differences of three denoisers come close to the truth on the pixels kept (the
    # hot pixels left in bias them a little); with them in, the estimate misses by more
    noisier, target = recorrupted_batch(noisy, variance, np.random.default_rng(2), ALPHA)
    mean = truth / truth.max() * 10 + 101
    methods = {sigma: (ndimage.gaussian_filter(noisier, sigma)) for sigma in (0.7, 1.5, 4.0)}
    missed = {}
    for name, kept in (("without spikes", weights), ("all pixels", None)):
        estimated = {s: fitted_error(g, target, kept) for s, g in methods.items()}
        true = {s: fitted_error(g, mean, kept) for s, g in methods.items()}
        missed[name] = max(abs(estimated[s] - estimated[1.5] - true[s] + true[1.5]) for s in methods)
    assert missed["without spikes"] < 0.05 < missed["all pixels"], missed


@pytest.mark.parametrize("peak", [100, 1000])
def test_bright_spots_are_not_spikes(peak):
    # PSF-sized spots (sigma 1 px) lift their neighbours: none of their pixels is left out, however bright (a
    # 4-sigma test on each pixel left out half of them at 100 photons and all at 1000)
    rng = np.random.default_rng(peak)
    spots = np.zeros((256, 256))
    spots[tuple(rng.integers(8, 248, (2, 80)))] = 1
    spots = ndimage.gaussian_filter(spots, 1.0)
    spots /= spots.max()
    noisy = poisson_gaussian(spots * peak + 1, rng=peak).astype(np.float64)
    weights = spike_weights(noisy, variance_map(noisy))
    assert (weights[spots > 0.2] == 0).sum() == 0 and (weights == 0).mean() < 0.01


def test_the_middle_plane_is_the_middle_of_every_other_axis_cropped_centrally():
    image = np.arange(2 * 10 * 3 * 7 * 5, dtype=np.float32).reshape(2, 10, 3, 7, 5)
    np.testing.assert_array_equal(middle_plane(image, "TZCYX"), image[1, 5, 1])
    np.testing.assert_array_equal(middle_plane(image[0, 0, 0].T, "XY"), image[0, 0, 0])
    stack = np.zeros((3, 700, 600), np.float32)
    stack[1, 94, 44] = 1
    crop = middle_plane(stack, "TYX", 512)
    assert crop.shape == (512, 512) and crop[0, 0] == 1
    with pytest.raises(InputError, match="axes"):
        middle_plane(stack, None)


def _comparison(model_error, classical_error, standard_error=0.01, robust=True):
    return ClassicalComparison(model_error, "TV weight 0.4", classical_error, {}, 10.0, standard_error, robust)


def test_the_verdict_needs_two_standard_errors_and_a_sign_the_noise_model_does_not_decide():
    assert _comparison(1.05, 1.0).verdict == "behind" and _comparison(1.05, 1.0).model_is_worse
    assert _comparison(0.95, 1.0).verdict == "ahead of" and not _comparison(0.95, 1.0).model_is_worse
    assert _comparison(1.015, 1.0).verdict == "level"  # 1.5 standard errors
    assert _comparison(1.05, 1.0, robust=False).verdict == "level"
    assert not _comparison(1.05, 1.0, robust=False).model_is_worse
    assert "0.50% of the input's noise variance, standard error 0.10%" in _comparison(1.05, 1.0).summary()
    assert "the noise model decides" in _comparison(1.05, 1.0, robust=False).summary()


class _StandIn:  # what compare_with_classical asks of a runner: a 2D denoising model's spec
    spec = type("Spec", (), {"kind": "care", "axes": "YX", "domain": None, "rescale": None})()


def _compare_with(monkeypatch, noisy, restoration):
    """compare_with_classical with the model's restoration replaced by `restoration(noisier input)`."""
    monkeypatch.setattr(classical_check, "restored_plane", lambda runner, plane, factor: restoration(plane))
    return compare_with_classical(_StandIn(), noisy, "YX")


def test_stand_in_models_worse_equal_and_better_than_classical_get_the_right_verdict(monkeypatch):
    truth, noisy = _noisy(seed=4)
    mean = truth / truth.max() * 10 + 101
    identity = _compare_with(monkeypatch, noisy, lambda image: image)  # no denoising at all
    assert identity.verdict == "behind" and identity.robust and identity.difference > 0
    best = identity.classical
    same = _compare_with(monkeypatch, noisy, lambda image: denoised(image, best))  # the setting it is compared with
    assert same.classical == best and same.verdict == "level" and same.difference == 0
    # the noise-free camera mean, a little blurred (the affine fit forgives units): better than any denoiser
    oracle = _compare_with(monkeypatch, noisy, lambda image: ndimage.gaussian_filter(mean, 0.5))
    assert oracle.verdict == "ahead of" and oracle.robust
    assert set(oracle.errors) == {n for n in identity.errors} and len(oracle.errors) == 15


def test_hot_pixels_do_not_make_a_better_model_look_behind(monkeypatch):
    # 1% hot pixels (read noise 10 counts): classical denoisers keep part of each spike, which the recorrupted
    # target shares, so over all pixels they looked better than a model that is better than any of them
    truth, noisy = _noisy(seed=4)
    mean = truth / truth.max() * 10 + 101
    rng = np.random.default_rng(4)
    noisy = noisy + np.where(rng.random(noisy.shape) < 0.01, rng.normal(0, 10, noisy.shape), 0)

    def better(image):  # the noise-free camera mean, a little blurred: better than any classical denoiser
        return ndimage.gaussian_filter(mean, 0.5)

    assert _compare_with(monkeypatch, noisy, better).verdict == "ahead of"
    monkeypatch.setattr(classical_check, "spike_weights", lambda image, variance: np.ones(image.shape))
    assert _compare_with(monkeypatch, noisy, better).verdict == "behind"  # what the check said before
