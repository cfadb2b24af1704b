import numpy as np
import pytest

from carekit.errors import InputError
from carekit.evaluate.metrics import score
from carekit.normalize import affine_coefficients, affine_fit, normalize_ground_truth


def test_identical_images_score_perfectly(rng):
    gt = rng.random((64, 64))
    s = score(gt, gt)
    assert s.psnr > 100 and s.ssim == pytest.approx(1.0) and s.nrmse < 1e-12


def test_scores_ignore_affine_intensity_changes(rng):
    gt = rng.random((64, 64))
    noisy = gt + rng.normal(0, 0.05, gt.shape)
    assert score(gt, 7 * noisy + 300).psnr == pytest.approx(score(gt, noisy).psnr, abs=1e-9)


def test_psnr_matches_a_known_noise_level(rng):
    gt = rng.random((256, 256))
    sigma = 0.02
    noisy = gt + rng.normal(0, sigma, gt.shape)
    span = np.subtract(*np.percentile(gt, [99.9, 0.1]))
    expected = -20 * np.log10(sigma / span)
    assert score(gt, noisy).psnr == pytest.approx(expected, abs=0.1)
    assert score(gt, noisy).nrmse == pytest.approx(sigma / span, rel=0.02)


def test_affine_fit_recovers_scale_and_offset(rng):
    target = rng.random(100)
    np.testing.assert_allclose(affine_fit((target - 3) / 5, target), target, atol=1e-12)
    assert affine_coefficients((target - 3) / 5, target) == pytest.approx((5.0, 3.0))
    assert normalize_ground_truth(np.arange(1001.0)).max() == pytest.approx(1.0, abs=2e-3)


def test_3d_and_errors(rng):
    gt = rng.random((8, 32, 32))
    assert score(gt, gt + 0.01).psnr > 40
    with pytest.raises(InputError, match="differ in shape"):
        score(gt, gt[:4])
    with pytest.raises(InputError, match="constant"):
        score(np.ones((8, 8)), np.ones((8, 8)))


def test_laplace_interval_coverage_is_calibrated_for_laplace_noise(rng):
    from carekit.evaluate.metrics import coverage, laplace_interval

    gt = rng.random((200, 200))
    scale = rng.uniform(0.002, 0.01, gt.shape)  # small against the signal, so the affine fit has slope ~1
    mean = gt + rng.laplace(0, scale)
    assert coverage(gt, mean, scale, 0.9) == pytest.approx(0.9, abs=0.01)
    assert coverage(gt, 5 * mean - 2, 5 * scale, 0.9) == pytest.approx(coverage(gt, mean, scale, 0.9), abs=1e-9)
    assert coverage(gt, mean, scale / 4, 0.9) < 0.5  # over-confident scales are caught
    low, high = laplace_interval(np.zeros(3), np.ones(3), 0.5)
    np.testing.assert_allclose(high, np.log(2))
    with pytest.raises(InputError, match="level"):
        laplace_interval(np.zeros(3), np.ones(3), 1.5)


def test_ensemble_disagreement_matches_numerical_integration():
    from carekit.ensemble import disagreement, mixture_mean

    means = np.array([[0.0, 0.0, 0.0], [0.0, 1.0, 50.0]])
    scales = np.array([[1.0, 1.0, 1.0], [1.0, 1.0, 1.0]])
    result = disagreement(means, scales)
    assert result[0] == pytest.approx(0.0, abs=1e-6) and result[2] == pytest.approx(1.0, abs=1e-3)
    t = np.linspace(-40, 40, 400_001)
    p = [np.exp(-np.abs(t - m) / b) / (2 * b) for m, b in ((0.0, 1.0), (1.0, 1.0))]
    mixture = (p[0] + p[1]) / 2
    jsd = np.mean([np.trapezoid(q * np.log(q / mixture), t) for q in p])
    assert result[1] == pytest.approx(jsd / np.log(2), abs=5e-3)  # Gauss-Laguerre across the kinks: ~2e-3
    np.testing.assert_allclose(mixture_mean(means), [0, 0.5, 25])
    with pytest.raises(InputError, match="at least 2 members"):
        disagreement(means[:1], scales[:1])
