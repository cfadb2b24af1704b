import numpy as np
import pytest

from carekit.data.masking import blind_spot_batch
from carekit.errors import InputError


@pytest.mark.parametrize("method", ["n2v", "n2s"])
@pytest.mark.parametrize("shape", [(4, 32, 32, 1), (2, 8, 16, 16, 1)])
def test_blind_spots_replace_masked_pixels_and_keep_the_rest(method, shape):
    rng = np.random.default_rng(0)
    patches = rng.random(shape).astype(np.float32)
    inputs, target = blind_spot_batch(patches, rng, method, fraction=0.02)
    mask = target[..., 1:2]
    assert target.shape == shape[:-1] + (2,)
    np.testing.assert_array_equal(target[..., :1], patches)
    expected = max(1, round(0.02 * np.prod(shape[1:-1])))
    assert 0 < mask[0].sum() <= expected
    np.testing.assert_array_equal(inputs[mask == 0], patches[mask == 0])
    assert np.mean(inputs[mask == 1] != patches[mask == 1]) > 0.9


def test_n2v_copies_a_neighbour_and_n2s_zeroes():
    patch = np.arange(1, 26, dtype=np.float32).reshape(1, 5, 5, 1)
    inputs, target = blind_spot_batch(patch, np.random.default_rng(3), "n2v", fraction=0.2)
    masked = target[0, ..., 1] == 1
    for y, x in np.argwhere(masked):
        window = patch[0, max(0, y - 2):y + 3, max(0, x - 2):x + 3, 0]
        assert inputs[0, y, x, 0] in window and inputs[0, y, x, 0] != patch[0, y, x, 0]
    inputs, target = blind_spot_batch(patch, np.random.default_rng(3), "n2s", fraction=0.2)
    assert np.all(inputs[0, ..., 0][target[0, ..., 1] == 1] == 0)


def test_bad_masking_arguments():
    with pytest.raises(InputError, match="unknown self-supervised method"):
        blind_spot_batch(np.zeros((1, 8, 8, 1)), np.random.default_rng(0), "n2n")
    with pytest.raises(InputError, match="mask fraction"):
        blind_spot_batch(np.zeros((1, 8, 8, 1)), np.random.default_rng(0), "n2v", fraction=0.7)
