import numpy as np
import pytest

from carekit.config import ModelRecord, TrainConfig
from carekit.errors import InputError
from carekit.evaluate.metrics import score
from carekit.predict import restore
from tests.conftest import TINY_TRAIN, synthetic_pairs


@pytest.fixture(scope="module")
def noisy_and_clean():
    return synthetic_pairs(8, photons=5)


def test_noise2void_from_noisy_images_only_improves_psnr(tmp_path, noisy_and_clean):
    from carekit.train.selfsup import train_selfsupervised

    noisy, _ = noisy_and_clean
    config = TrainConfig(**{**TINY_TRAIN, "epochs": 3, "steps_per_epoch": 60})
    result = train_selfsupervised(noisy, config, tmp_path / "n2v", method="n2v", progress=False)
    record = ModelRecord.load(result.model_dir)
    assert record.data["source"] == "selfsupervised" and record.data["method"] == "n2v"
    assert (result.model_dir / "weights_best.h5").exists() and (result.model_dir / "history.png").exists()
    lows, highs = synthetic_pairs(2, shape=(160, 160), photons=5, seed=99)
    gains = [score(h, restore(result.model_dir, l, progress=False).image).psnr - score(h, l).psnr
             for l, h in zip(lows, highs)]
    assert min(gains) > 1.0, gains


def test_noise2self_masking_trains(tmp_path, noisy_and_clean):
    from carekit.train.selfsup import train_selfsupervised

    noisy, _ = noisy_and_clean
    config = TrainConfig(**{**TINY_TRAIN, "epochs": 2, "steps_per_epoch": 40})
    result = train_selfsupervised(noisy, config, tmp_path / "n2s", method="n2s", mask_fraction=0.03, progress=False)
    history = (result.model_dir / "history.csv").read_text().splitlines()
    assert len(history) == 3 and np.isfinite(result.best_val_loss)


def test_finetuning_starts_from_the_pretrained_weights(tmp_path, tiny_model, noisy_and_clean):
    from carekit.train.selfsup import train_selfsupervised

    noisy, _ = noisy_and_clean
    config = TrainConfig(**{**TINY_TRAIN, "epochs": 1, "steps_per_epoch": 1, "learning_rate": 1e-12})
    result = train_selfsupervised(noisy, config, tmp_path / "ft", pretrained=tiny_model, progress=False)
    assert ModelRecord.load(result.model_dir).data["pretrained"] == str(tiny_model.resolve())
    image = synthetic_pairs(1, shape=(96, 96), seed=5)[0][0]
    before = restore(tiny_model, image, progress=False).image
    after = restore(result.model_dir, image, progress=False).image
    np.testing.assert_allclose(after, before, atol=1e-4)


def test_early_stopping_ends_training_when_validation_stalls(tmp_path, tiny_model, noisy_and_clean):
    from carekit.train.selfsup import train_selfsupervised

    noisy, _ = noisy_and_clean
    config = TrainConfig(**{**TINY_TRAIN, "epochs": 12, "steps_per_epoch": 2, "learning_rate": 1e-12})
    result = train_selfsupervised(noisy, config, tmp_path / "es", pretrained=tiny_model, patience=1, progress=False)
    assert result.epochs_done < 12


def test_finetune_cli_one_command(tmp_path, tiny_model, capsys):
    from carekit.cli import main
    from carekit.io import write_image

    for index, image in enumerate(synthetic_pairs(3, shape=(96, 96), photons=5, seed=12)[0]):
        write_image(tmp_path / "noisy" / f"{index}.tif", image)
    code = main(["finetune", "--pretrained", str(tiny_model), "--noisy", str(tmp_path / "noisy"),
                 "--model", str(tmp_path / "ft"), "--epochs", "1", "--steps", "5", "--quiet"])
    assert code == 0
    record = ModelRecord.load(tmp_path / "ft")
    assert record.train.learning_rate == pytest.approx(ModelRecord.load(tiny_model).train.learning_rate / 10)
    assert record.data["source"] == "selfsupervised" and record.data["images"]["source"] == "noisy"
    from carekit.zoo.package import build_package

    packaged = build_package(tmp_path / "ft", tmp_path / "ft_package.zip", name="fine-tuned test")  # sample: a noisy image
    assert set(packaged.test_results.values()) == {"passed"}
    assert main(["finetune", "--noisy", str(tmp_path / "noisy"), "--model", str(tmp_path / "x")]) == 2
    assert "needs --pretrained" in capsys.readouterr().err


def test_selfsup_bad_inputs(tmp_path, noisy_and_clean):
    from carekit.train.selfsup import train_selfsupervised

    config = TrainConfig(**TINY_TRAIN)
    with pytest.raises(InputError, match="smaller than the patch size"):
        train_selfsupervised([np.random.rand(20, 20)], config, tmp_path / "a", progress=False)
    with pytest.raises(InputError, match="needs 2D images"):
        train_selfsupervised([np.random.rand(64, 64, 3)], config, tmp_path / "b", progress=False)
    with pytest.raises(InputError, match="not probabilistic"):
        train_selfsupervised(noisy_and_clean[0], config.model_copy(update={"probabilistic": True}), tmp_path / "c",
                             progress=False)


def test_blind_spot_pretraining_from_the_cli(tmp_path):
    from carekit.cli import main

    code = main(["train", "--model", str(tmp_path / "bs"), "--synthetic", "granules", "--n-images", "3", "--size",
                 "96", "96", "--blind-spot", "--epochs", "1", "--steps", "5", "--patch-size", "32", "32", "--quiet"])
    assert code == 0
    record = ModelRecord.load(tmp_path / "bs")
    assert record.data["source"] == "blind-spot supervised" and record.data["images"]["source"] == "synthetic"
