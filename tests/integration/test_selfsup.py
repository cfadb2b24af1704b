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


def test_r2r_from_noisy_images_only_improves_psnr(tmp_path, noisy_and_clean):
    from carekit.train.selfsup import train_selfsupervised

    noisy, _ = noisy_and_clean
    config = TrainConfig(**{**TINY_TRAIN, "epochs": 3, "steps_per_epoch": 60})
    result = train_selfsupervised(noisy, config, tmp_path / "r2r", method="r2r", progress=False)
    record = ModelRecord.load(result.model_dir)
    assert record.data["method"] == "r2r" and record.data["r2r_alpha"] == 0.5
    assert record.data["target_calibration"] == {"scale": 1.0, "offset": 0.0}
    lows, highs = synthetic_pairs(2, shape=(160, 160), photons=5, seed=99)
    gains = [score(h, restore(result.model_dir, l, progress=False).image).psnr - score(h, l).psnr
             for l, h in zip(lows, highs)]
    assert min(gains) > 1.0, gains


def test_finetuning_targets_are_mapped_into_the_pretrained_intensity_scale(tmp_path, tiny_model, noisy_and_clean):
    from carekit.normalize import affine_coefficients
    from carekit.train.care import load_care
    from carekit.train.selfsup import noisy_patches, train_selfsupervised

    noisy, _ = noisy_and_clean
    config = TrainConfig(**{**TINY_TRAIN, "epochs": 1, "steps_per_epoch": 2})
    result = train_selfsupervised(noisy, config, tmp_path / "ft", method="r2r", pretrained=tiny_model, progress=False)
    recorded = ModelRecord.load(result.model_dir).data["target_calibration"]
    # the least-squares fit of the noisy training patches onto the pretrained model's predictions of them
    (patches, _), _ = noisy_patches(noisy, config, "r2r")
    predicted = load_care(tiny_model).keras_model.predict(patches, verbose=0)
    scale, offset = affine_coefficients(predicted, patches)
    assert recorded != {"scale": 1.0, "offset": 0.0}  # from scratch the targets stay as they are
    assert recorded["scale"] == pytest.approx(scale, rel=1e-3)
    assert recorded["offset"] == pytest.approx(offset, abs=1e-3)


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
    assert record.train.learning_rate == pytest.approx(ModelRecord.load(tiny_model).train.learning_rate / 3)
    assert record.data["source"] == "selfsupervised" and record.data["images"]["source"] == "noisy"
    assert record.data["method"] == "r2r"  # finetune's default: the loss that trains the non-blind network
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
    with pytest.raises(InputError, match="noisy image 1: need .* at least 64x64 .* use n2v"):
        train_selfsupervised([np.random.rand(96, 96), np.random.rand(48, 40)], config, tmp_path / "e", method="r2r",
                             progress=False)
    with pytest.raises(InputError, match="unknown self-supervised method"):
        train_selfsupervised(noisy_and_clean[0], config, tmp_path / "d", method="n2n", progress=False)
    with pytest.raises(InputError, match="not probabilistic"):
        train_selfsupervised(noisy_and_clean[0], config.model_copy(update={"probabilistic": True}), tmp_path / "c",
                             progress=False)
