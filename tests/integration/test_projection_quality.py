"""What makes projection training learn faster (issue #11): the coarse 3D head gives weights over Z for any
plane count and size, the 2D U-Net can start from the shipped generalist denoiser (its mean output exactly),
validation stays small, and models saved before the coarse head still load with their own head."""

import json
from pathlib import Path

import numpy as np
import pytest

from carekit.config import TrainConfig

GENERALIST = Path(__file__).resolve().parents[2] / "model-zoo" / "care-generalist-nuclei-denoising.zip"


def test_coarse_head_gives_weights_over_z_for_any_plane_count_and_size():
    from carekit.train.projection import keras, projection_network

    model = projection_network(TrainConfig(unet_depth=2, unet_first=8), 2, 8, "coarse")
    stack = np.random.default_rng(0).random((5, 40, 56), np.float32)  # 5 planes, sizes multiples of 4 only
    inner = keras.Model(model.input, [model.get_layer("z_weights").output, model.get_layer("projection").output])
    weights, projection = (a[0, ..., 0] for a in inner.predict(stack[None, ..., None], verbose=0))
    assert weights.shape == stack.shape
    np.testing.assert_allclose(weights.sum(0), 1, atol=1e-5)
    np.testing.assert_allclose(projection, (weights * stack).sum(0), atol=1e-5)
    assert model.predict(stack[None, ..., None], verbose=0).shape == (1, 40, 56, 1)


@pytest.mark.skipif(not GENERALIST.is_file(), reason="the shipped generalist package is not in this checkout")
def test_unet_starts_from_the_generalist_mean_output():
    from csbdeep.internals.nets import common_unet

    from carekit.cli.train_from import resolve
    from carekit.config import ModelRecord
    from carekit.train.projection import _with_legacy_h5, init_unet_from, keras, projection_network

    root, weights = resolve(str(GENERALIST))
    config = ModelRecord.load(root).train.model_copy(update={"probabilistic": False})
    model = projection_network(config, 2, 8, "coarse")
    init_unet_from(model, config, weights)
    generalist = _with_legacy_h5(common_unet(2, config.unet_depth, config.unet_kern_size, config.unet_first, 1,
                                             prob_out=True)((None, None, 1)))
    generalist.load_weights(str(weights))
    stack = np.random.default_rng(1).random((4, 64, 64), np.float32)
    inner = keras.Model(model.input, model.get_layer("projection").output)
    projected = inner.predict(stack[None, ..., None], verbose=0)[0]
    expected = generalist.predict(projected[None], verbose=0)[0, ..., 0]  # channel 0: its mean
    got = model.predict(stack[None, ..., None], verbose=0)[0, ..., 0]
    np.testing.assert_allclose(got, expected, atol=1e-5)
    assert np.abs(expected - projected[..., 0]).mean() > 0.01  # the denoiser does change its input


def test_init_unet_refuses_another_network(tmp_path):
    from carekit.cli.train_from import resolve
    from carekit.errors import InputError
    from carekit.train.projection import init_unet_from, projection_network

    config = TrainConfig(unet_depth=2, unet_first=8)
    with pytest.raises(InputError, match="same --unet-depth"):
        init_unet_from(projection_network(config, 2, 8, "coarse"), config, resolve(str(GENERALIST))[1])


def test_validation_is_capped():
    from carekit.train.projection import MAX_VALIDATION, prepare_projection_data

    rng = np.random.default_rng(2)
    stacks = [rng.random((4, 64, 64), np.float32) for _ in range(4)]
    targets = [s.mean(0) for s in stacks]
    config = TrainConfig(patch_size=(16, 16), patches_per_image=400, validation_fraction=0.2)
    (x, _), (x_val, y_val) = prepare_projection_data(stacks, targets, config)
    assert len(x_val) == len(y_val) == MAX_VALIDATION and len(x) == 1280


def test_models_without_a_head_name_load_the_encoder_decoder(tmp_path):
    from carekit.config import MODEL_CONFIG_FILE, ModelRecord

    record = ModelRecord(carekit_version="0.1.0", name="old", kind="projection", train=TrainConfig())
    saved = json.loads(record.model_dump_json())
    del saved["projection_head"]  # as written before the coarse head existed
    (tmp_path / MODEL_CONFIG_FILE).write_text(json.dumps(saved))
    assert ModelRecord.load(tmp_path).projection_head == "unet"
