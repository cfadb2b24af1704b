"""Generalist training pairs (synth.generalist): every dataset contributes equally, at random zoom and noise level,
reproducibly; held-out images are split off by fixed rules."""

import json

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


def test_object_gain_scales_each_objects_contrast_and_its_surroundings_alike():
    image = ndimage.gaussian_filter(_nuclei(seed=4), 1.5)  # soft edges: a rim would show outside each object
    mask = image > 50
    labels, count = ndimage.label(mask)
    varied = vary_object_brightness(image, (0.05, 1.0), np.random.default_rng(1))
    ratio = (varied - 5) / np.maximum(image - 5, 1e-6)  # each pixel's contrast factor over the background (5)
    factors = ndimage.median(ratio, labels, range(1, count + 1))
    assert factors.min() < 0.2 and factors.max() > 0.5 and np.all((factors > 0.04) & (factors <= 1.0))
    distance, nearest = ndimage.distance_transform_edt(~mask, return_indices=True)
    owner = labels[tuple(nearest)]
    ring = (distance >= 1) & (distance <= 3) & (image - 5 > 1)  # just outside an object, where its edge still shows
    checked = 0
    for label in range(1, count + 1):
        around = ring & (owner == label)
        others = ndimage.binary_dilation(labels == label, iterations=8) & mask & (labels != label)
        if around.any() and not others.any():  # an isolated object: its surroundings take its factor
            assert np.median(ratio[around]) == pytest.approx(factors[label - 1], abs=0.1)
            checked += 1
    assert checked >= 5
    flat = np.full((32, 32), 7, np.float32)
    assert np.array_equal(vary_object_brightness(flat, (0.1, 1.0), np.random.default_rng(0)), flat)


def test_object_gain_in_pairs_and_settings_read_back_from_a_record():
    settings = GeneralistSettings(crop=200, zoom=(1.0, 1.0), blur_sigma_px=(0.0, 0.0), object_gain=(0.05, 1.0))
    _, varied = make_pair(_nuclei(seed=2), settings, np.random.default_rng(0))
    levels = np.unique(np.round(varied[varied > 0.02], 2))  # one level per object, where all were equal before
    assert np.percentile(varied, 99.9) == pytest.approx(1, abs=0.02) and len(levels) >= 5 and levels.min() < 0.3
    # a record's JSON gives lists: read back, the defaults still draw nothing, so the same seed gives the same pairs
    again = GeneralistSettings(**json.loads(json.dumps(GeneralistSettings().as_dict())))
    assert again == GeneralistSettings()
    pairs = [make_pair(_nuclei(), s, np.random.default_rng(7))[0] for s in (again, GeneralistSettings())]
    assert np.array_equal(*pairs)
    for bad in ((0.0, 1.0), (0.5, 0.2), (0.5,)):
        with pytest.raises(InputError, match="object_gain"):
            GeneralistSettings(object_gain=bad)


def test_training_data_leaves_out_one_of_the_datasets_it_trains_on():
    from carekit.generalist import TRAINING_DATASETS, training_data

    settings = GeneralistSettings(pairs_per_dataset=2, crop=64)
    assert "nuclei3d" not in TRAINING_DATASETS  # a test set only: its reference is a raw confocal plane
    lows, highs, info = training_data("mahotas", settings)
    assert info["datasets"] == ["hela", "bbbc007"] and info["left_out"] == "mahotas"
    assert len(lows) == len(highs) == 4
    _, _, info = training_data("nuclei3d", settings, datasets=("nuclei3d", "bbbc007"))
    assert info["datasets"] == ["bbbc007"]
    _, _, info = training_data("hela", settings, datasets=("hela", "gowt1"))  # the unseen set, in a variant only
    assert info["datasets"] == ["gowt1"]
    with pytest.raises(InputError, match="unknown dataset 'cells'"):
        training_data(None, settings, datasets=("hela", "cells"))
    with pytest.raises(InputError, match="no dataset is left"):
        training_data("hela", settings, datasets=("hela",))


def test_the_unseen_dataset_has_held_out_frames_and_is_not_trained_on():
    from carekit.generalist import DATASETS, TRAINING_DATASETS, UNSEEN_DATASETS, splits

    assert not set(UNSEEN_DATASETS) & set(DATASETS + TRAINING_DATASETS)
    train, test = splits(["gowt1"])["gowt1"]
    assert len(train) == 26 and len(test) == 4 and test[0].shape == (511, 511)


def test_the_independent_dataset_is_held_out_whole_and_cannot_be_trained_on():
    from carekit.generalist import INDEPENDENT_DATASETS, splits, training_data

    assert INDEPENDENT_DATASETS == ("dsb2018",)
    train, test = splits(["dsb2018"])["dsb2018"]
    assert train == [] and len(test) == 1 and test[0].shape == (512, 512)
    with pytest.raises(InputError, match="unknown dataset 'dsb2018'"):
        training_data(None, datasets=("hela", "dsb2018"))
