import numpy as np
import pytest

from carekit.config import SynthConfig
from carekit.errors import InputError
from carekit.synth import anisotropy, noise, pairs, psf, structures


def test_poisson_gaussian_mean_and_variance():
    photons, gain, read_noise, offset = 20.0, 2.0, 3.0, 100.0
    counts = noise.poisson_gaussian(np.full((400, 400), photons), read_noise, gain, offset, rng=1)
    assert counts.mean() == pytest.approx(gain * photons + offset, rel=5e-3)
    assert counts.var() == pytest.approx(gain**2 * photons + read_noise**2, rel=3e-2)


def test_poisson_gaussian_rejects_negative_photons():
    with pytest.raises(InputError, match="non-negative"):
        noise.poisson_gaussian(np.array([-1.0, 2.0]))


def test_gaussian_psf_is_normalized_and_has_the_asked_width():
    kernel = psf.gaussian_psf(2.0, ndim=2)
    assert kernel.sum() == pytest.approx(1.0, abs=1e-6)
    center = kernel[kernel.shape[0] // 2]
    assert psf.fwhm(center) == pytest.approx(2.355 * 2.0, rel=0.03)
    anisotropic = psf.gaussian_psf((3.0, 1.0, 1.0), ndim=3)
    assert anisotropic.shape[0] > anisotropic.shape[1]


def test_widefield_psf_matches_the_airy_width():
    na, wavelength, pixel = 1.2, 520.0, 30.0
    kernel = psf.widefield_psf(na, wavelength, pixel)
    assert kernel.sum() == pytest.approx(1.0, abs=1e-5)
    measured_nm = psf.fwhm(kernel[kernel.shape[0] // 2]) * pixel
    assert measured_nm == pytest.approx(0.51 * wavelength / na, rel=0.05)


def test_widefield_psf_3d_peaks_in_focus_and_is_symmetric():
    kernel = psf.widefield_psf(1.0, 520, 100, z_planes=9, z_step_nm=250)
    peaks = kernel.max(axis=(1, 2))
    assert np.argmax(peaks) == 4
    np.testing.assert_allclose(peaks, peaks[::-1], rtol=1e-4)
    assert kernel.sum() == pytest.approx(1.0, abs=1e-5)


def test_bad_optics_are_rejected():
    with pytest.raises(InputError, match="numerical aperture"):
        psf.widefield_psf(1.6, 520, 100, n_immersion=1.518)
    with pytest.raises(InputError, match="sigma"):
        psf.gaussian_psf(0)


def test_blur_preserves_total_intensity_away_from_borders():
    image = np.zeros((64, 64), np.float32)
    image[32, 32] = 100.0
    blurred = psf.blur(image, psf.gaussian_psf(2.0))
    assert blurred.sum() == pytest.approx(100.0, rel=1e-4)
    assert blurred.max() < 10


def test_intensity_modulation_is_bounded_smooth_field():
    field = noise.intensity_modulation((128, 128), strength=0.3, correlation_px=16, rng=0)
    assert field.min() >= 0.7 - 1e-6 and field.max() <= 1.3 + 1e-6
    assert field.mean() == pytest.approx(1.0, abs=1e-3)
    assert np.abs(np.diff(field, axis=0)).max() < 0.05


@pytest.mark.parametrize("kind", ["tubules", "granules"])
@pytest.mark.parametrize("shape", [(64, 64), (16, 48, 48)])
def test_structures_shape_range_and_reproducibility(kind, shape):
    a = structures.STRUCTURES[kind](shape, rng=3)
    b = structures.STRUCTURES[kind](shape, rng=3)
    assert a.shape == shape and a.max() == pytest.approx(1.0) and a.min() >= 0
    np.testing.assert_array_equal(a, b)
    assert 0.005 < (a > 0.2).mean() < 0.6


def test_structures_reject_tiny_or_unknown():
    with pytest.raises(InputError, match="at least 8"):
        structures.tubules((4, 64))
    with pytest.raises(InputError, match="unknown structure"):
        structures.synthetic_ground_truth("mitochondria", (32, 32), 1)


def test_semisynthetic_pairs_are_reproducible_and_scale_with_photons():
    clean = structures.synthetic_ground_truth("granules", (96, 96), 2, seed=0)
    config = SynthConfig(photons=[5.0, 50.0], psf="gaussian", modulation=0.2, seed=7)
    lows, highs = pairs.make_pairs(clean, config)
    assert len(lows) == 4 and all(l.shape == (96, 96) for l in lows)
    lows_again, _ = pairs.make_pairs(clean, config)
    np.testing.assert_array_equal(lows[0], lows_again[0])
    other, _ = pairs.make_pairs(clean, config.model_copy(update={"seed": 8}))
    assert not np.array_equal(lows[0], other[0])
    signal_5 = lows[0].mean() - config.offset
    signal_50 = lows[1].mean() - config.offset
    assert signal_50 / signal_5 > 4


def test_low_snr_input_is_noisier_at_fewer_photons():
    clean = structures.synthetic_ground_truth("tubules", (128, 128), 1, seed=0)
    lows, highs = pairs.make_pairs(clean, SynthConfig(photons=[2.0, 200.0]))

    def correlation(a, b):
        return np.corrcoef(a.ravel(), b.ravel())[0, 1]

    assert correlation(lows[0], highs[0]) < correlation(lows[1], highs[1])


def test_axial_degradation_keeps_shape_and_removes_axial_detail():
    volume = np.zeros((32, 16, 16), np.float32)
    volume[::2] = 1.0
    degraded = anisotropy.axial_degrade(volume, subsample=4)
    assert degraded.shape == volume.shape
    assert np.abs(np.diff(degraded, axis=0)).mean() < 0.2 * np.abs(np.diff(volume, axis=0)).mean()
    with pytest.raises(InputError, match="Z, Y, X"):
        anisotropy.axial_degrade(np.zeros((16, 16)), 2)
    with pytest.raises(InputError, match="axial_subsample needs 3D"):
        pairs.make_pairs([np.random.rand(32, 32)], SynthConfig(axial_subsample=2))
