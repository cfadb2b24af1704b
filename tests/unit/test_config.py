import pytest

from carekit.config import ModelRecord, SynthConfig, TrainConfig, validated
from carekit.errors import InputError


def test_patch_size_must_fit_the_unet():
    with pytest.raises(InputError, match="multiples of 2\\*\\*unet_depth"):
        validated(TrainConfig, patch_size=(30, 30), unet_depth=2)
    with pytest.raises(InputError, match="one entry per axis"):
        validated(TrainConfig, axes="ZYX", patch_size=(32, 32))


def test_error_names_the_bad_field():
    with pytest.raises(InputError, match="photons"):
        validated(SynthConfig, photons=[-1.0])
    with pytest.raises(InputError, match="unknown_field"):
        validated(TrainConfig, unknown_field=1)


def test_record_roundtrip(tmp_path):
    record = ModelRecord(carekit_version="0", name="m", train=TrainConfig(probabilistic=True), data={"source": "x"})
    record.save(tmp_path)
    loaded = ModelRecord.load(tmp_path)
    assert loaded == record and loaded.train.probabilistic


def test_loading_a_non_model_folder_says_so(tmp_path):
    with pytest.raises(InputError, match="not a carekit model"):
        ModelRecord.load(tmp_path)
    (tmp_path / "carekit.json").write_text("{broken")
    with pytest.raises(InputError, match="not a valid"):
        ModelRecord.load(tmp_path)


def test_loss_choice_is_for_plain_models_only():
    assert TrainConfig().loss == "mae" and TrainConfig(loss="mse").loss == "mse"
    with pytest.raises(ValueError, match="Laplace likelihood"):
        TrainConfig(probabilistic=True, loss="mse")
    with pytest.raises(ValueError):
        TrainConfig(loss="huber")
