"""Hot (or dead) camera pixels: found with the image's own noise model, left out of the noise estimate, replaced by
their neighbours' median on request, and warned about; microscope images without them give no finds."""

import warnings

import numpy as np
import pytest

from carekit.data.noise_model import estimate_noise_model, find_hot_pixels, remove_hot_pixels
from carekit.errors import InputError
from carekit.predict.hot_pixels import HotPixelWarning, check_choice, replaced_note, warn_hot_pixels, without_hot_pixels
from carekit.synth.noise import poisson_gaussian
from carekit.synth.psf import blur, gaussian_psf
from carekit.synth.structures import granules


def _spots(shape=(256, 256), sigma=1.0, seed=0):
    """Bright spots and blobs as a microscope samples them at Nyquist (PSF sigma of 1 px), peak 1."""
    image = blur(granules(shape, n_granules=200, radius_px=(0.5, 4.0), rng=seed), gaussian_psf(sigma))
    return image / image.max()


def _hot(image, density=5e-4, seed=1, low=50.0, high=2000.0):
    rng = np.random.default_rng(seed)
    mask = rng.random(image.shape) < density
    hot = np.array(image, np.float64)
    hot[mask] += rng.uniform(low, high, int(mask.sum()))
    return hot, mask


@pytest.mark.parametrize("photons", [3.0, 10.0, 100.0, 1000.0])
def test_microscope_images_have_none_and_added_hot_pixels_are_all_found(photons):
    image = poisson_gaussian(_spots() * photons + 1, read_noise=2.0, gain=2.0, offset=100.0, rng=3)
    assert find_hot_pixels(image).sum() == 0
    hot, mask = _hot(image, low=max(50.0, 0.2 * 2 * photons))  # at least a fifth of the brightest spots above
    assert mask.sum() > 15 and np.array_equal(find_hot_pixels(hot), mask)


def test_hot_pixels_do_not_bias_the_noise_estimate():
    image = poisson_gaussian(_spots(seed=4) * 20 + 2, read_noise=2.0, gain=2.0, offset=100.0, rng=5)
    clean, hot = estimate_noise_model(image), estimate_noise_model(_hot(image)[0])
    assert hot.slope == pytest.approx(clean.slope, rel=0.03) and hot.intercept == pytest.approx(clean.intercept,
                                                                                                  rel=0.1, abs=2.0)


def test_replacing_takes_the_neighbours_median_plane_by_plane_and_touches_nothing_else():
    planes = [poisson_gaussian(_spots(seed=s) * 10 + 1, read_noise=2.0, gain=1.0, offset=100.0, rng=s)
              for s in (6, 7, 8)]
    stack = np.stack([_hot(p, seed=s)[0] for s, p in enumerate(planes)]).round().astype(np.uint16)
    masks = [_hot(p, seed=s)[1] for s, p in enumerate(planes)]
    cleaned, count = remove_hot_pixels(stack)
    assert cleaned.dtype == np.uint16 and count == sum(m.sum() for m in masks)
    for plane, original, mask in zip(cleaned, stack, masks):
        assert np.array_equal(plane[~mask], original[~mask])
        y, x = np.argwhere(mask)[0]
        neighbours = np.delete(original[y - 1:y + 2, x - 1:x + 2].ravel(), 4) if 0 < y < 255 and 0 < x < 255 else None
        if neighbours is not None:
            assert plane[y, x] in neighbours and plane[y, x] <= neighbours.max()
        assert abs(float(plane[mask].mean()) - float(original[~mask].mean())) < 10  # at the image's level again


def test_any_axis_order_and_clear_refusals():
    image, mask = _hot(poisson_gaussian(_spots() * 10 + 1, read_noise=2.0, rng=9))
    cleaned, count = without_hot_pixels(np.stack([image.T, image.T]), "CXY")
    assert count == 2 * mask.sum() and np.array_equal(cleaned[1].T, remove_hot_pixels(image)[0])
    with pytest.raises(InputError, match="YX planes"):
        without_hot_pixels(np.zeros((4, 64)), "ZX")
    with pytest.raises(InputError, match="keep, replace"):
        check_choice("remove")
    assert replaced_note("keep", 5) is None and replaced_note("replace", 0) == "no hot pixels found to replace"
    assert find_hot_pixels(np.full((32, 32), 7.0)).sum() == 0  # too small and flat to tell: none


def test_many_hot_pixels_warn_and_a_clean_image_does_not():
    image = poisson_gaussian(_spots((512, 512)) * 10 + 1, read_noise=2.0, rng=10)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert warn_hot_pixels(image[None]) is None
        message = warn_hot_pixels(_hot(image)[0][None])
    assert [w.category for w in caught] == [HotPixelWarning]
    assert "isolated hot (or dead) pixels" in message and "--hot-pixels replace" in message
