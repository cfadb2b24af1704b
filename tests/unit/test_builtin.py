import pytest

from carekit.data import builtin
from carekit.errors import InputError


def test_builtin_hela_is_installed_with_metadata():
    image = builtin.load("hela")
    assert image.data.shape == (20, 700, 1100) and image.axes == "TYX"
    assert image.pixel_size["X"] == pytest.approx(0.645)
    frames, pixel_size = builtin.clean_images("hela", ndim=2, max_images=3)
    assert len(frames) == 3 and frames[0].shape == (700, 1100) and set(pixel_size) == {"Y", "X"}


def test_builtin_nuclei_as_planes_and_stack():
    planes, _ = builtin.clean_images("nuclei3d", ndim=2)
    stacks, pixel_size = builtin.clean_images("nuclei3d", ndim=3)
    assert len(planes) == 15 and planes[0].shape == (256, 256)
    assert stacks[0].shape == (60, 256, 256) and pixel_size["Z"] == pytest.approx(0.29)
    with pytest.raises(InputError, match="no Z axis"):
        builtin.clean_images("hela", ndim=3)


def test_unknown_builtin_name():
    with pytest.raises(InputError, match="available"):
        builtin.load("zebrafish")
