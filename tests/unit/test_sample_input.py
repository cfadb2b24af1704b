"""Training keeps a central crop of its first input in the model folder (packaging's default sample)."""

import numpy as np

from carekit.io import read_image
from carekit.train.sample import SAMPLE_INPUT_FILE, save_sample_input


def test_a_large_image_is_cropped_around_its_centre_with_its_pixel_size(tmp_path):
    image = np.arange(700 * 1100, dtype=np.float32).reshape(700, 1100)
    save_sample_input(tmp_path, image, "YX", {"X": 0.5, "Y": 0.5})
    kept = read_image(tmp_path / SAMPLE_INPUT_FILE)
    np.testing.assert_array_equal(kept.data, image[94:606, 294:806])
    assert kept.axes == "YX" and kept.pixel_size == {"X": 0.5, "Y": 0.5}


def test_stacks_keep_64_planes_and_axes_shorter_than_the_crop_stay_whole(tmp_path, rng):
    stack = rng.integers(0, 4000, (80, 300, 40), dtype=np.uint16)
    save_sample_input(tmp_path, stack, "ZYX")
    kept = read_image(tmp_path / SAMPLE_INPUT_FILE)
    assert kept.data.dtype == np.uint16 and kept.axes == "ZYX"
    np.testing.assert_array_equal(kept.data, stack[8:72, 22:278, :])
