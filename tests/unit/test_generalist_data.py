"""Generalist training pairs (synth.generalist): every dataset contributes equally, at random zoom and noise level,
reproducibly; held-out images are split off by fixed rules."""

import numpy as np
import pytest
from scipy import ndimage

from carekit.errors import InputError
from carekit.synth.generalist import GeneralistSettings, generalist_pairs, make_pair, split, vary_object_brightness


def _nuclei(size=200, radius=6, seed=0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    image = np.zeros((size, size), np.float32)
    for cy, cx in rng.integers(10, size - 10, (15, 2)):
        image[(yy - cy) ** 2 + (xx - cx) ** 2 < radius**2] = 100
    return image + 5


def test_pairs_balance_the_datasets_and_are_reproducible():
    settings = GeneralistSettings(pairs_per_dataset=5, crop=96, seed=3)
    datasets = {"many": [_nuclei(seed=i) for i in range(6)], "one": [_nuclei(300, 12, seed=9)]}
    lows, highs = generalist_pairs(datasets, settings)
    assert len(lows) == len(highs) == 10
    assert all(low.shape == high.shape and max(high.shape) <= 97 for low, high in zip(lows, highs))
    again, _ = generalist_pairs(datasets, settings)
    assert all(np.array_equal(a, b) for a, b in zip(lows, again))
    assert all(np.percentile(h, 99.9) == pytest.approx(1, abs=0.05) for h in highs)  # the ground truth scale


def test_zoom_and_photons_span_their_ranges():
    settings = GeneralistSettings(crop=256)
    rng = np.random.default_rng(0)
    pairs = [make_pair(_nuclei(64), settings, rng) for _ in range(40)]
    shapes = [low.shape[0] for low, _ in pairs]
    assert min(shapes) <= 40 and max(shapes) >= 100 and max(shapes) <= 128  # a 64-px image zoomed 0.5-2x
    # the signal range in counts (photon level, plus background and read noise) varies several-fold across pairs
    gains = [np.percentile(low, 99) - np.percentile(low, 1) for low, _ in pairs]
    assert max(gains) / min(gains) > 4


def test_split_holds_out_fixed_images_and_half_of_a_single_image():
    frames = [np.full((8, 8), i, np.float32) for i in range(20)]
    train, test = split("hela", frames)
    assert [int(t[0, 0]) for t in test] == [16, 17, 18, 19] and len(train) == 16
    image = np.arange(1024 * 1344, dtype=np.float32).reshape(1024, 1344)
    (left,), (right,) = split("mahotas", [image])
    assert left.shape == (1024, 672) and right.shape == (512, 672)
    assert (left % 1344).max() < 672 <= (right % 1344).min()
    with pytest.raises(InputError, match="no held-out split"):
        split("unknown", frames)
    with pytest.raises(InputError, match="2D images"):
        generalist_pairs({"stack": [np.zeros((4, 8, 8))]})


def test_gamma_changes_the_dynamic_range_and_only_when_asked():
    ramp = np.tile(np.linspace(0, 100, 128, dtype=np.float32), (128, 1))
    means = {}
    for gamma in (1.0, 3.0, 0.5):
        settings = GeneralistSettings(crop=128, zoom=(1.0, 1.0), blur_sigma_px=(0.0, 0.0), gamma=(gamma, gamma))
        _, truth = make_pair(ramp, settings, np.random.default_rng(0))
        assert np.percentile(truth, 99.9) == pytest.approx(1, abs=0.02)
        means[gamma] = truth.mean()
    assert means[1.0] == pytest.approx(0.5, abs=0.03)
    assert means[3.0] == pytest.approx(0.25, abs=0.03) and means[0.5] == pytest.approx(0.67, abs=0.03)
    # gamma (1, 1), the default, draws nothing: a seed gives the pairs it gave before gamma existed (values recorded
    # then), so the shipped generalist's training data stay reproducible
    rng = np.random.default_rng(5)
    low, _ = make_pair(ramp, GeneralistSettings(crop=128), rng)
    assert float(low.sum()) == pytest.approx(1667634.25, rel=1e-6) and rng.integers(1 << 30) == 783712961


def test_object_gain_dims_each_object_by_its_own_factor_over_the_background():
    image = _nuclei(seed=4)
    labels, count = ndimage.label(image > 50)
    varied = vary_object_brightness(image, (0.05, 1.0), np.random.default_rng(1))
    levels = ndimage.median(varied - 5, labels, range(1, count + 1)) / 95  # each object's factor, at its centre
    assert levels.min() < 0.2 and levels.max() > 0.5 and np.all((levels > 0.04) & (levels <= 1.0))
    far = ndimage.distance_transform_edt(labels == 0) > 4
    assert np.allclose(varied[far], 5, atol=1e-3)  # the background stays: a dimmed object leaves no rim or step
    assert varied.max() <= image.max() + 1e-3
    flat = np.full((32, 32), 7, np.float32)
    assert np.array_equal(vary_object_brightness(flat, (0.1, 1.0), np.random.default_rng(0)), flat)


def test_training_data_leaves_out_one_of_the_datasets_it_trains_on():
    from carekit.generalist import TRAINING_DATASETS, training_data

    settings = GeneralistSettings(pairs_per_dataset=2, crop=64)
    assert "nuclei3d" not in TRAINING_DATASETS  # a test set only: its reference is a raw confocal plane
    lows, highs, info = training_data("mahotas", settings)
    assert info["datasets"] == ["hela", "bbbc007"] and info["left_out"] == "mahotas"
    assert len(lows) == len(highs) == 4
    _, _, info = training_data("nuclei3d", settings, datasets=("nuclei3d", "bbbc007"))
    assert info["datasets"] == ["bbbc007"]
    with pytest.raises(InputError, match="unknown dataset 'cells'"):
        training_data(None, settings, datasets=("hela", "cells"))
    with pytest.raises(InputError, match="no dataset is left"):
        training_data("hela", settings, datasets=("hela",))
