"""A projection model (stack in, 2D image out) inside real ImageJ through the CARE Restore plugin's python engine:
the result is a 2D ImagePlus equal to the Python restoration within 1e-4."""

import numpy as np
import pytest

from carekit.config import TrainConfig
from carekit.fiji.run import run_in_fiji
from carekit.io import Image
from carekit.predict import restore

pytestmark = pytest.mark.imagej


@pytest.fixture(scope="module")
def projection_model(tmp_path_factory):
    from carekit.train.projection import train_projection

    rng = np.random.default_rng(0)
    stacks = [rng.random((6, 48, 48)).astype(np.float32) for _ in range(2)]
    config = TrainConfig(patch_size=(16, 16), patches_per_image=8, epochs=1, steps_per_epoch=2, batch_size=4,
                         unet_first=8)
    model_dir = tmp_path_factory.mktemp("projection") / "model"
    train_projection(stacks, [s.max(0) for s in stacks], config, model_dir, head_depth=1, progress=False)
    return model_dir


def test_projection_gives_a_2d_imageplus_equal_to_python(projection_model):
    stack = np.random.default_rng(1).random((7, 40, 52)).astype(np.float32)
    image = Image(stack, "ZYX", {"Z": 1.0, "Y": 0.25, "X": 0.25})
    result = run_in_fiji(projection_model, image, tile=32)
    assert result.dims == ("Y", "X") and result.shape == (40, 52)
    assert result.attrs["pixel_size"]["X"] == pytest.approx(0.25)
    expected = restore(projection_model, image, progress=False).image
    np.testing.assert_allclose(result.values, expected, atol=1e-4)


def test_a_single_plane_is_refused_in_imagej(projection_model):
    from carekit.errors import CarekitError

    with pytest.raises(CarekitError, match="3D stack"):
        run_in_fiji(projection_model, np.ones((40, 52), np.float32))
