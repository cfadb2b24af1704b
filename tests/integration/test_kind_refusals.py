"""Options that a model kind cannot honour are refused in one line instead of being ignored."""

from pathlib import Path

import numpy as np
import pytest

from carekit import workflows
from carekit.cli import main
from carekit.config import SynthConfig, TrainConfig
from carekit.errors import InputError
from carekit.predict import restore

HELA = Path(__file__).resolve().parents[2] / "model-zoo" / "care-hela-nuclei-denoising.zip"


def test_a_z_factor_for_a_model_that_does_not_zoom_z_is_refused():
    with pytest.raises(InputError, match="this care model does not zoom Z .* leave it out"):
        restore(HELA, np.random.default_rng(0).random((64, 64), np.float32), z_factor=2.0, progress=False)


def test_an_ensemble_of_axial_upsampling_models_is_refused_before_training(tmp_path):
    data = workflows.data_from_structures("granules", (16, 32, 32), 2, SynthConfig(axial_subsample=2))
    with pytest.raises(InputError, match="ensembles of axial-upsampling models are not supported"):
        workflows.train_ensemble(data, tmp_path / "ens", TrainConfig(axes="ZYX", patch_size=(8, 16, 16)), members=2)
    assert not (tmp_path / "ens").exists()


@pytest.mark.parametrize("family", ["--isotropic", "--projection"])
def test_ensemble_with_another_model_family_is_one_line(tmp_path, capsys, family):
    assert main(["train", family, "--ensemble", "2", "--model", str(tmp_path / "m"), "--builtin", "hela"]) == 2
    assert "--ensemble trains CARE models only" in capsys.readouterr().err


def test_a_loss_that_a_trainer_sets_itself_is_refused_before_training(tmp_path):
    from carekit.train.ensemble import train_ensemble
    from carekit.train.selfsup import train_selfsupervised

    images = [np.random.default_rng(0).random((64, 64), np.float32)]
    config = TrainConfig(patch_size=(32, 32), loss="mse")
    with pytest.raises(InputError, match="ensemble members are probabilistic"):
        train_ensemble(images, images, config, tmp_path / "ens", members=2, progress=False)
    with pytest.raises(InputError, match="self-supervised methods set their own loss"):
        train_selfsupervised(images, config, tmp_path / "ss", method="r2r", progress=False)
    assert not (tmp_path / "ens").exists() and not (tmp_path / "ss").exists()


GENERALIST = HELA.parent / "care-generalist-nuclei-denoising.zip"


@pytest.mark.parametrize("start", [["--probabilistic"], ["--from", str(GENERALIST)]])
def test_mse_loss_for_a_probabilistic_model_is_one_line(tmp_path, capsys, start):
    assert main(["train", *start, "--loss", "mse", "--model", str(tmp_path / "m"), "--builtin", "hela"]) == 2
    assert "a probabilistic one fits a Laplace likelihood" in capsys.readouterr().err
    assert not (tmp_path / "m").exists()
