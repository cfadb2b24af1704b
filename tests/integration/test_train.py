import csv

import matplotlib.image
import numpy as np
import pytest

from carekit.config import ModelRecord, TrainConfig
from carekit.errors import InputError
from carekit.evaluate.metrics import score
from carekit.models.keras_dir import KerasModelDir
from carekit.predict import restore
from tests.conftest import TINY_TRAIN, synthetic_pairs


def test_tiny_training_improves_psnr_on_held_out_images(tiny_model):
    lows, highs = synthetic_pairs(2, shape=(160, 160), seed=99)
    model = KerasModelDir(tiny_model)
    gains = [score(h, restore(model, l, progress=False).image).psnr - score(h, l).psnr for l, h in zip(lows, highs)]
    assert min(gains) > 1.5, gains


def test_training_writes_config_history_and_plot(tiny_model):
    record = ModelRecord.load(tiny_model)
    assert record.epochs_done == 2 and record.train.patch_size == (32, 32)
    with (tiny_model / "history.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["epoch"]) for r in rows] == [1, 2]
    assert {"loss", "val_loss", "mae", "learning_rate"} <= set(rows[0])
    # loss | mean absolute error | learning rate, 12 x 3.4 inches at 100 dpi, each panel with its coloured curves
    pixels = matplotlib.image.imread(str(tiny_model / "history.png"))[..., :3]
    assert pixels.shape == (340, 1200, 3)
    coloured = [np.count_nonzero(np.ptp(pixels[:, panel], axis=-1) > 0.3)
                for panel in np.array_split(np.arange(1200), 3)]
    assert min(coloured) > 300, coloured
    assert (tiny_model / "weights_best.h5").exists() and (tiny_model / "weights_last.h5").exists()


def test_tiled_prediction_matches_whole_image(tiny_model):
    low = synthetic_pairs(1, shape=(150, 210), seed=5)[0][0]
    model = KerasModelDir(tiny_model)
    whole = restore(model, low, tile=(512, 512), progress=False).image
    tiled = restore(model, low, tile=(48, 64), progress=False).image
    np.testing.assert_allclose(tiled, whole, atol=1e-3)


def test_progress_counts_tiles_when_the_bar_is_off(tiny_model):
    image = synthetic_pairs(1, (96, 96), seed=4)[0][0]
    calls = []
    restore(tiny_model, image, axes="YX", tile=(32, 32), progress=False, on_progress=lambda *a: calls.append(a))
    assert calls == [(i, len(calls)) for i in range(1, len(calls) + 1)] and len(calls) >= 4  # the Fiji worker's case


def test_3d_tiled_prediction_equals_whole_volume_prediction(tiny_model_3d):
    volume = np.random.default_rng(7).random((12, 40, 36)).astype(np.float32)
    model = KerasModelDir(tiny_model_3d)
    whole = restore(model, volume, tile=(64, 128, 128), progress=False).image
    tiled = restore(model, volume, tile=(8, 24, 24), progress=False).image  # 2 x 2 x 2 tiles
    assert whole.shape == volume.shape
    np.testing.assert_allclose(tiled, whole, atol=1e-5)


@pytest.mark.slow
def test_the_same_seed_gives_the_same_weights(tmp_path):
    from carekit.train.care import load_care, train_care

    lows, highs = synthetic_pairs(2, shape=(64, 64))
    config = TrainConfig(**{**TINY_TRAIN, "epochs": 1, "steps_per_epoch": 3, "unet_first": 8, "seed": 3})
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        train_care(lows, highs, config.model_copy(update={"seed": seed}), tmp_path / name, progress=False)
    weights = {name: load_care(tmp_path / name, "weights_last.h5").keras_model.get_weights() for name in "abc"}
    for same, other in zip(weights["a"], weights["b"]):
        np.testing.assert_array_equal(same, other)
    assert any(not np.array_equal(w, v) for w, v in zip(weights["a"], weights["c"]))


def test_time_series_is_restored_frame_by_frame(tiny_model):
    lows, _ = synthetic_pairs(2, shape=(64, 64), seed=3)
    stack = np.stack(lows)
    result = restore(KerasModelDir(tiny_model), stack, axes="TYX", progress=False)
    assert result.image.shape == stack.shape and result.axes == "TYX"
    with pytest.raises(InputError, match="one letter per dimension"):
        restore(KerasModelDir(tiny_model), stack[None], axes="TYX", progress=False)


@pytest.mark.slow
def test_resume_continues_from_the_last_checkpoint(tmp_path):
    from carekit.train.care import train_care

    lows, highs = synthetic_pairs(4, shape=(64, 64))
    config = TrainConfig(**{**TINY_TRAIN, "epochs": 1, "steps_per_epoch": 5})
    train_care(lows, highs, config, tmp_path / "m", progress=False)
    result = train_care(lows, highs, config, tmp_path / "m", resume=True, extra_epochs=2, progress=False)
    assert result.epochs_done == 3 and ModelRecord.load(tmp_path / "m").epochs_done == 3
    with (tmp_path / "m" / "history.csv").open() as fh:
        assert [int(r["epoch"]) for r in csv.DictReader(fh)] == [1, 2, 3]
    with pytest.raises(InputError, match="not empty"):
        train_care(lows, highs, config, tmp_path / "m", progress=False)


def test_3d_and_probabilistic_training(tmp_path):
    from carekit.train.care import train_care

    volumes = [np.random.default_rng(i).random((16, 48, 48)).astype(np.float32) for i in range(2)]
    config = TrainConfig(axes="ZYX", patch_size=(8, 16, 16), patches_per_image=8, epochs=1, steps_per_epoch=3,
                         batch_size=4, unet_first=8, probabilistic=True)
    train_care(volumes, volumes, config, tmp_path / "m3", progress=False)
    assert ModelRecord.load(tmp_path / "m3").train.precision == "fp32"  # bf16 Conv3D gradients on CPUs turn NaN
    result = restore(tmp_path / "m3", volumes[0], progress=False)
    assert result.image.shape == (16, 48, 48)
    assert result.scale is not None and result.scale.shape == (16, 48, 48) and (result.scale > 0).all()


def test_wrong_dimensionality_is_rejected(tmp_path):
    from carekit.train.care import train_care

    with pytest.raises(InputError, match="model axes are ZYX"):
        train_care([np.zeros((64, 64))], [np.zeros((64, 64))], TrainConfig(axes="ZYX", patch_size=(8, 16, 16)),
                   tmp_path / "m", progress=False)


def test_the_loss_reaches_csbdeep():
    from carekit.train.care import csbdeep_config

    assert csbdeep_config(TrainConfig()).train_loss == "mae"
    assert csbdeep_config(TrainConfig(loss="mse")).train_loss == "mse"
    assert csbdeep_config(TrainConfig(probabilistic=True)).train_loss == "laplace"
