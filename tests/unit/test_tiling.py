import numpy as np
import pytest
from scipy import ndimage

from carekit.tiling import iter_planes, n_tiles, tiled_apply


def _box_filter(batch):
    return ndimage.uniform_filter(batch, size=(1, 9, 9, 1), mode="reflect")


@pytest.mark.parametrize("shape", [(100, 75), (64, 64), (17, 130)])
def test_tiled_equals_whole_image_for_a_local_operator(shape, rng):
    image = rng.random(shape).astype(np.float32)
    whole = tiled_apply(image, _box_filter, tile=(1024, 1024), halo=(8, 8), divisor=4)
    tiled = tiled_apply(image, _box_filter, tile=(16, 24), halo=(8, 8), divisor=4)
    assert tiled.shape == shape + (1,)
    np.testing.assert_allclose(tiled, whole, atol=1e-6)
    assert n_tiles(shape, (16, 24), (8, 8), 4) > 1


def test_tiles_see_sizes_divisible_by_the_network_divisor(rng):
    seen = []

    def record(batch):
        seen.append(batch.shape)
        return batch

    out = tiled_apply(rng.random((30, 45)).astype(np.float32), record, tile=(16, 16), halo=(5, 5), divisor=8)
    assert out.shape == (30, 45, 1)
    assert all(s[1] % 8 == 0 and s[2] % 8 == 0 for s in seen)


def test_iter_planes_covers_extra_axes(rng):
    stack = rng.random((3, 2, 8, 8))
    planes = list(iter_planes(stack, "TCYX", "YX"))
    assert len(planes) == 6 and planes[0][1].shape == (8, 8)
