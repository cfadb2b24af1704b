import numpy as np
import pytest

from carekit.data.noise_model import estimate_noise_model, local_mean
from carekit.normalize import normalize_percentile
from carekit.data.recorrupt import recorrupted_batch, variance_map
from carekit.errors import InputError
from carekit.synth.noise import poisson_gaussian


def _structured(shape, peak_photons, seed=0):
    grids = np.meshgrid(*[np.linspace(0, 1, n) for n in shape], indexing="ij")
    signal = np.sin(6 * grids[-1])**2 * grids[-2] + 0.2 * (np.random.default_rng(seed).random(shape) > 0.995)
    return signal / signal.max() * peak_photons + 2


@pytest.mark.parametrize("gain, read_noise, photons", [(1.0, 2.0, 5.0), (2.0, 5.0, 50.0), (1.0, 1.0, 20.0)])
def test_estimates_poisson_gaussian_noise_of_a_camera(gain, read_noise, photons):
    expected = _structured((256, 256), photons)
    image = poisson_gaussian(expected, read_noise, gain, offset=100.0, rng=1)
    model = estimate_noise_model(image)
    assert model.slope == pytest.approx(gain, rel=0.1)
    truth = gain**2 * expected + read_noise**2  # variance at each pixel's true mean
    estimate = model.variance(gain * expected + 100.0)
    np.testing.assert_allclose(np.median(estimate / truth), 1.0, atol=0.08)


def test_3d_and_normalized_images():
    expected = _structured((12, 96, 96), 20.0)
    image = poisson_gaussian(expected, 2.0, 1.0, offset=100.0, rng=2)
    assert estimate_noise_model(image).slope == pytest.approx(1.0, rel=0.15)
    normalized = normalize_percentile(image)
    scale = np.percentile(image, 99.8) - np.percentile(image, 1)
    assert estimate_noise_model(normalized).slope == pytest.approx(1.0 / scale, rel=0.15)


def test_constant_gaussian_noise_gives_a_flat_model():
    image = 50 + np.random.default_rng(3).normal(0, 3.0, (200, 200)) + _structured((200, 200), 30.0)
    model = estimate_noise_model(image)
    assert abs(model.slope) < 0.05
    assert np.median(model.variance(local_mean(image))) == pytest.approx(9.0, rel=0.1)


def test_noise_estimation_refuses_tiny_or_flat_images():
    with pytest.raises(InputError, match="at least 64x64"):
        estimate_noise_model(np.random.rand(20, 20))
    with pytest.raises(InputError, match="too flat"):
        estimate_noise_model(np.ones((100, 100)))


def test_recorrupted_input_and_target_noises_are_uncorrelated():
    rng = np.random.default_rng(4)
    clean = np.full((64, 32, 32, 1), 0.5, np.float32)
    variance = np.full_like(clean, 0.04)
    noisy = clean + rng.normal(0, 0.2, clean.shape).astype(np.float32)
    inputs, targets = recorrupted_batch(noisy, variance, rng, alpha=0.5)
    input_noise, target_noise = inputs - clean, targets - clean
    assert np.var(input_noise) == pytest.approx(0.04 * 1.25, rel=0.03)
    assert np.var(target_noise) == pytest.approx(0.04 * 5.0, rel=0.03)
    assert abs(np.mean(input_noise * target_noise)) < 0.002  # vs 0.04 for the noisy image with itself
    with pytest.raises(InputError, match="must have the shape"):
        recorrupted_batch(noisy, variance[:1], rng)


def test_variance_map_follows_the_signal():
    expected = _structured((128, 128), 40.0)
    image = poisson_gaussian(expected, 1.0, 1.0, offset=0.0, rng=5)
    variance = variance_map(image)
    bright, dark = expected > 30, expected < 5
    assert variance[bright].mean() > 4 * variance[dark].mean()
    assert variance[bright].mean() == pytest.approx(expected[bright].mean(), rel=0.15)
