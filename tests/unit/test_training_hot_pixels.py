"""Hot pixels in noisy training images (data.hot_pixel_images.training_images): self-supervised training learns them
as signal (benchmarks/results/selfsup_hot_pixels.md), so 'replace' replaces them in every plane of every image before
training, and 'keep' trains on the images as they are and warns when they have many."""

import warnings

import numpy as np
import pytest

from carekit.data.hot_pixel_images import TrainingHotPixelWarning, training_images, without_hot_pixels
from carekit.errors import InputError
from carekit.synth.noise import poisson_gaussian
from tests.unit.test_hot_pixels import _hot, _spots


def _noisy(seed: int, shape=(256, 256)):
    return poisson_gaussian(_spots(shape, seed=seed) * 10 + 1, read_noise=2.0, gain=1.0, offset=100.0, rng=seed)


def _trained_on(images, axes, hot_pixels):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out, replaced = training_images(images, axes, hot_pixels)
    return out, replaced, [w for w in caught if issubclass(w.category, TrainingHotPixelWarning)]


def test_replace_cleans_every_image_and_counts_what_it_replaced():
    pairs = [_hot(_noisy(seed), seed=seed + 10) for seed in (1, 2, 3)]
    images = [hot for hot, _ in pairs]
    out, replaced, warned = _trained_on(images, "YX", "replace")
    assert replaced == sum(int(mask.sum()) for _, mask in pairs) > 60 and warned == []
    for image, (hot, mask), cleaned in zip(images, pairs, out):
        assert np.array_equal(cleaned != hot, mask)  # exactly the hot pixels changed
        np.testing.assert_array_equal(cleaned, without_hot_pixels(hot, "YX")[0])


def test_keep_warns_once_naming_how_many_images_and_leaves_them_as_they_are():
    images = [_hot(_noisy(1), seed=11)[0], _noisy(2), _hot(_noisy(3), seed=13)[0]]
    out, replaced, warned = _trained_on(images, "YX", "keep")
    assert replaced == 0 and all(a is b for a, b in zip(out, images))
    assert len(warned) == 1 and str(warned[0].message).startswith("2 of the 3 noisy training images have many isolated")
    assert "--hot-pixels replace" in str(warned[0].message)
    assert _trained_on([_noisy(4), _noisy(5)], "YX", "keep")[2] == []  # clean images: no warning


def test_stacks_are_cleaned_plane_by_plane_and_a_bad_choice_is_refused():
    stack = np.stack([_hot(_noisy(seed, (128, 128)), seed=seed)[0] for seed in (6, 7, 8)])
    out, replaced, _ = _trained_on([stack], "ZYX", "replace")
    np.testing.assert_array_equal(out[0], without_hot_pixels(stack, "ZYX")[0])
    assert replaced > 0 and all((out[0][z] != stack[z]).any() for z in range(3))
    with pytest.raises(InputError, match="hot_pixels must be one of keep, replace, got 'remove'"):
        training_images([stack], "ZYX", "remove")


def test_images_of_another_dimensionality_are_left_for_training_to_refuse():
    odd = np.zeros((3, 64, 64), np.float32)  # a stack given to a 2D model
    for choice in ("keep", "replace"):
        out, replaced, warned = _trained_on([odd], "YX", choice)
        assert out[0] is odd and replaced == 0 and warned == []
