"""Hot (or dead) camera pixels: found with the image's own noise model, left out of the noise estimate, replaced by
their neighbours' median on request, and warned about; microscope images without them give no finds."""

import warnings

import numpy as np
import pytest

from carekit.data.hot_pixel_finder import find_hot_pixels, hot_pixel_criterion, remove_hot_pixels
from carekit.data.noise_model import estimate_noise_model
from carekit.errors import InputError
from carekit.data.hot_pixel_images import check_choice, without_hot_pixels
from carekit.predict.hot_pixels import HotPixelWarning, replaced_note, source_without_hot_pixels, warn_hot_pixels
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


@pytest.mark.parametrize("photons, background, read_noise", [
    (3.0, 1.0, 2.0), (10.0, 1.0, 2.0), (100.0, 1.0, 2.0), (1000.0, 1.0, 2.0),
    (3.0, 0.05, 0.3), (10.0, 0.2, 0.0), (20.0, 0.3, 0.0),  # photon counting: dark backgrounds, no read noise
])
def test_microscope_images_have_none_and_added_hot_pixels_are_all_found(photons, background, read_noise):
    image = poisson_gaussian(_spots() * photons + background, read_noise=read_noise, gain=2.0, offset=100.0, rng=3)
    assert find_hot_pixels(image).sum() == 0
    hot, mask = _hot(image, low=max(50.0, 0.2 * 2 * photons))  # at least a fifth of the brightest spots above
    assert mask.sum() > 15 and np.array_equal(find_hot_pixels(hot), mask)


def test_two_hot_pixels_side_by_side_are_found_and_a_bright_small_spot_is_not():
    image = poisson_gaussian(_spots() * 10 + 1, read_noise=2.0, gain=2.0, offset=100.0, rng=13)
    pairs = [(50, 50), (50, 51), (100, 100), (101, 101), (200, 30), (201, 30)]
    for y, x in pairs:
        image[y, x] += 800
    yy, xx = np.mgrid[:256, :256]
    image += 800 * np.exp(-((yy - 150) ** 2 + (xx - 150) ** 2) / 2.0)  # a bright spot sampled at Nyquist (sigma 1)
    assert sorted(map(tuple, np.argwhere(find_hot_pixels(image)))) == pairs


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
    cleaned, count = remove_hot_pixels(stack, hot_pixel_criterion(stack[1]))
    assert cleaned.dtype == np.uint16 and count == sum(m.sum() for m in masks)
    padded = np.pad(stack, ((0, 0), (1, 1), (1, 1)), mode="reflect")
    for plane, original, mask, around in zip(cleaned, stack, masks, padded):
        assert np.array_equal(plane[~mask], original[~mask])
        for y, x in np.argwhere(mask):
            neighbours = np.delete(around[y:y + 3, x:x + 3].ravel(), 4)
            assert plane[y, x] == np.sort(neighbours)[4]  # the (upper) median of the 8 neighbours
    assert remove_hot_pixels(stack, None)[1] == 0


def test_any_axis_order_and_clear_refusals():
    image, mask = _hot(poisson_gaussian(_spots() * 10 + 1, read_noise=2.0, rng=9))
    cleaned, count = without_hot_pixels(np.stack([image.T, image.T]), "CXY")
    by_plane = remove_hot_pixels(image, hot_pixel_criterion(image))[0]
    assert count == 2 * mask.sum() and np.array_equal(cleaned[1].T, by_plane)
    with pytest.raises(InputError, match="YX planes"):
        without_hot_pixels(np.zeros((4, 64)), "ZX")
    with pytest.raises(InputError, match="keep, replace"):
        check_choice("remove")
    assert replaced_note("keep", 5) is None and replaced_note("replace", 0) == "no hot pixels found to replace"
    assert hot_pixel_criterion(np.full((256, 256), 7.0)) is None  # too flat to tell: nothing is replaced
    image[3, 3] = np.nan
    assert hot_pixel_criterion(image) is None


def test_many_hot_pixels_warn_and_a_clean_image_does_not():
    image = poisson_gaussian(_spots((512, 512)) * 10 + 1, read_noise=2.0, rng=10)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert warn_hot_pixels([image]) is None
        message = warn_hot_pixels([_hot(image)[0]])
    assert [w.category for w in caught] == [HotPixelWarning]
    assert "isolated hot (or dead) pixels" in message and "--hot-pixels replace" in message


class _Array:
    """A large-data source stand-in over a numpy array (ngff.ArraySource's read and geometry)."""

    def __init__(self, data, axes):
        self.data, self.axes, self.shape = data, axes, data.shape

    def read(self, region):
        return self.data[region]


def _borderline_channels(corner: float = 1.0):
    """Two channels (Y X C) at 3 and 300 photons, a corner of the dim one `corner` times brighter, hot pixels 4-12
    modelled standard deviations above their neighbours: many verdicts hang on the local noise level."""
    rng = np.random.default_rng(14)
    dim = _spots((180, 230), seed=15) * 3 + 1
    dim[:60, :60] *= corner
    channels = [poisson_gaussian(dim, read_noise=2.0, rng=16), poisson_gaussian(_spots((180, 230), seed=17) * 300 + 1,
                                                                              read_noise=2.0, rng=18)]
    for image in channels:
        mask = rng.random(image.shape) < 0.02
        image[mask] += rng.uniform(4, 12, int(mask.sum())) * np.sqrt(np.maximum(image[mask] - 100, 0) + 4)
    return np.stack(channels, axis=-1)


def test_reading_block_by_block_replaces_exactly_what_the_whole_image_does():
    image = _borderline_channels(corner=1000.0)  # blocks there have a far higher median noise than the image
    whole, count = without_hot_pixels(image, "YXC")
    assert count > 100
    source = source_without_hot_pixels(_Array(image, "YXC"))
    blocks = np.empty_like(image)
    for y in range(0, 180, 13):
        for x in range(0, 230, 17):
            for c in (0, 1):
                region = (slice(y, y + 13), slice(x, x + 17), slice(c, c + 1))
                blocks[region] = source.read(region)
    np.testing.assert_array_equal(blocks, whole)
    np.testing.assert_array_equal(source.read((slice(None), slice(None), slice(None))), whole)


def test_a_bright_region_outside_the_sample_does_not_change_verdicts_elsewhere():
    rng = np.random.default_rng(19)
    expected = _spots((600, 700), seed=20) * 3 + 1
    expected[:38] *= 10000  # outside the central 512^2 crop the criterion is judged on
    image = poisson_gaussian(expected, read_noise=2.0, rng=21)
    mask = rng.random(image.shape) < 0.02
    image[mask] += rng.uniform(4, 12, int(mask.sum())) * np.sqrt(expected[mask] + 4)
    whole = without_hot_pixels(image, "YX")[0]
    source = source_without_hot_pixels(_Array(image, "YX"))
    blocks = np.empty_like(image)
    for y in range(0, 600, 47):  # the first blocks' noise is mostly the bright rows', 3-9 dim rows are kept
        for x in range(0, 700, 57):
            blocks[y:y + 47, x:x + 57] = source.read((slice(y, y + 47), slice(x, x + 57)))
    np.testing.assert_array_equal(blocks, whole)


def test_each_channel_is_judged_on_its_own():
    image = _borderline_channels()
    cleaned = without_hot_pixels(image, "YXC")[0]
    alone = without_hot_pixels(image[:, :, :1], "YXC")[0]
    np.testing.assert_array_equal(cleaned[:, :, :1], alone)
    assert (cleaned[:, :, 0] != image[:, :, 0]).sum() > 100
