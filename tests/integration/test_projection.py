"""Projection models (stack in, 2D image out): training improves over the maximum projection, prediction is 2D with
the XY pixel size, tiling does not change it, any number of planes works, bad input is refused in one line."""

import numpy as np
import pytest

from carekit.cli import main
from carekit.config import TrainConfig
from carekit.errors import InputError
from carekit.evaluate.metrics import score
from carekit.io import Image, read_image, write_image
from carekit.predict import restore
from carekit.synth.surface import SurfaceSettings, surface_pairs

SETTINGS = SurfaceSettings(n_planes=8, correlation_px=12.0)


def _cleans(n, seed, shape=(64, 64)):
    from scipy import ndimage

    rng = np.random.default_rng(seed)
    images = []
    for _ in range(n):
        spots = np.zeros(shape, np.float32)
        spots[tuple(rng.integers(0, s, 60) for s in shape)] = 1
        images.append(ndimage.gaussian_filter(spots, 1.5) * 100)
    return images


def _trained(root, epochs: int, steps: int):
    from carekit.train.projection import train_projection

    stacks, targets = surface_pairs(_cleans(6, 0), [10.0], SETTINGS, seed=1)
    config = TrainConfig(patch_size=(32, 32), patches_per_image=32, epochs=epochs, steps_per_epoch=steps,
                         batch_size=8, unet_first=8, learning_rate=1e-3)
    train_projection(stacks, targets, config, root / "model", head_depth=1, data_info={"source": "test"},
                     pixel_size={"Y": 0.5, "X": 0.5}, progress=False)
    return root / "model"


@pytest.fixture(scope="module")
def projection_model(tmp_path_factory):
    """Two training steps: barely trained, which is all shape, tiling and refusal tests need."""
    return _trained(tmp_path_factory.mktemp("projection"), 1, 2)


@pytest.mark.slow
def test_training_beats_the_maximum_projection(tmp_path):
    model = _trained(tmp_path, 4, 15)
    stacks, targets = surface_pairs(_cleans(3, 7), [10.0], SETTINGS, seed=8)
    for stack, target in zip(stacks, targets):
        care = restore(model, stack, progress=False)
        assert care.image.shape == target.shape and care.axes == "YX"
        care_psnr, mip_psnr = score(target, care.image).psnr, score(target, stack.max(0)).psnr
        assert care_psnr > mip_psnr + 1, (care_psnr, mip_psnr)  # 60 steps: ~+1.8 dB measured


def test_tiling_and_plane_count(projection_model):
    (stack,), _ = surface_pairs(_cleans(1, 9, shape=(72, 100)), [10.0], SurfaceSettings(n_planes=11), seed=10)
    whole = restore(projection_model, stack, progress=False).image
    tiled = restore(projection_model, stack, tile=(32, 32), progress=False).image
    assert whole.shape == (72, 100)
    np.testing.assert_allclose(tiled, whole, atol=1e-4)
    swapped = restore(projection_model, np.transpose(stack, (1, 2, 0)), axes="YXZ", progress=False).image
    np.testing.assert_allclose(swapped, whole, atol=1e-5)


def test_bad_input_is_refused_in_one_line(projection_model):
    with pytest.raises(InputError, match="projection model: it needs a 3D stack") as err:
        restore(projection_model, np.ones((64, 64), np.float32), progress=False)
    assert "\n" not in str(err.value)
    with pytest.raises(InputError, match="2 planes; a projection model needs at least 3"):
        restore(projection_model, np.ones((2, 64, 64), np.float32), progress=False)
    with pytest.raises(InputError, match="axes ZYX"):
        restore(projection_model, np.ones((2, 4, 64, 64), np.float32), axes="TZYX", progress=False)


def test_training_refuses_unmatched_pairs(tmp_path):
    from carekit.train.projection import train_projection

    config = TrainConfig(patch_size=(16, 16), unet_first=8)
    stack = np.ones((8, 32, 32), np.float32)
    with pytest.raises(InputError, match="differ in size"):
        train_projection([stack], [np.ones((32, 30))], config, tmp_path / "a", progress=False)
    with pytest.raises(InputError, match="3D stack"):
        train_projection([stack[0]], [stack[0]], config, tmp_path / "b", progress=False)
    with pytest.raises(InputError, match="same number of planes"):
        train_projection([stack, stack[:5]], [stack[0], stack[0]], config, tmp_path / "c", progress=False)
    assert not (tmp_path / "a").exists()


@pytest.mark.slow
def test_cli_trains_on_pairs_and_predicts_a_2d_tiff(tmp_path, capsys):
    stacks, targets = surface_pairs(_cleans(2, 11), [10.0], SETTINGS, seed=12)
    for i, (stack, target) in enumerate(zip(stacks, targets)):
        write_image(tmp_path / "low" / f"{i}.tif", Image(stack, "ZYX", {"Z": 1.0, "Y": 0.4, "X": 0.4}))
        write_image(tmp_path / "high" / f"{i}.tif", Image(target, "YX", {"Y": 0.4, "X": 0.4}))
    model = tmp_path / "model"
    assert main(["train", "--projection", "--model", str(model), "--pairs", str(tmp_path / "low"),
                 str(tmp_path / "high"), "--patch-size", "32", "32", "--unet-first", "8", "--epochs", "1",
                 "--steps", "2", "--batch-size", "4", "--patches-per-image", "8", "--quiet"]) == 0
    assert main(["predict", "--model", str(model), str(tmp_path / "low" / "0.tif"), "--out", str(tmp_path / "out"),
                 "--quiet"]) == 0
    result = read_image(tmp_path / "out" / "0.tif")
    assert result.data.shape == (64, 64) and result.axes == "YX"
    assert result.pixel_size == pytest.approx({"Y": 0.4, "X": 0.4})
