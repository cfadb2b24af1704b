import numpy as np
import pytest

from carekit.data.patches import sample_patches, split_validation
from carekit.normalize import normalize_percentile
from carekit.errors import InputError


def test_percentile_normalization_maps_percentiles_to_0_and_1(rng):
    image = rng.normal(100, 10, (64, 64))
    normalized = normalize_percentile(image, 1, 99)
    assert np.percentile(normalized, 1) == pytest.approx(0, abs=1e-5)
    assert np.percentile(normalized, 99) == pytest.approx(1, abs=1e-5)


def test_patches_are_aligned_and_prefer_foreground(rng):
    target = 0.01 * rng.random((128, 128), np.float32)  # every pixel value unique: patches can be located
    target[:64, :64] += 0.5  # the signal is in one quadrant
    source = 3 * target + 7  # a source/target mix-up or misalignment breaks this exact relation
    x, y = sample_patches([source], [target], (16, 16), 20, rng=0)
    assert x.shape == y.shape == (20, 16, 16)
    np.testing.assert_allclose(x, 3 * y + 7, rtol=1e-6)
    for patch in y:  # every target patch is a crop of the target, taken where the signal is
        rows, cols = np.nonzero(target == patch[0, 0])
        assert len(rows) == 1
        np.testing.assert_array_equal(target[rows[0]:rows[0] + 16, cols[0]:cols[0] + 16], patch)
    assert all(p.max() > 0.5 for p in y)


def test_3d_patches(rng):
    vol = rng.random((20, 40, 40)).astype(np.float32)
    x, y = sample_patches([vol], [vol], (8, 16, 16), 5, rng=0)
    assert x.shape == (5, 8, 16, 16)


def test_patch_errors_are_clear():
    with pytest.raises(InputError, match="smaller than the patch size"):
        sample_patches([np.zeros((10, 10))], [np.zeros((10, 10))], (16, 16), 2)
    with pytest.raises(InputError, match="differs from target"):
        sample_patches([np.zeros((32, 32))], [np.zeros((32, 30))], (16, 16), 2)
    with pytest.raises(InputError, match="at least 2 patches"):
        split_validation(np.zeros((1, 4, 4)), np.zeros((1, 4, 4)), 0.1)


def test_validation_split_sizes():
    x = np.arange(50)[:, None]
    (xt, _), (xv, _) = split_validation(x, x, 0.1, rng=0)
    assert len(xv) == 5 and len(xt) == 45 and set(xt.ravel()).isdisjoint(xv.ravel())
