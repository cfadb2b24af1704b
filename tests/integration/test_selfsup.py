import shutil

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


@pytest.mark.slow
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


@pytest.mark.slow
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


def test_calibration_recovers_a_known_affine_and_maps_the_targets_into_the_models_scale():
    import keras

    from carekit.train.selfsup import _make_inputs, calibrate

    model = keras.Sequential([keras.Input((None, None, 1)), keras.layers.Rescaling(0.5, offset=-0.1)])
    patches = np.random.default_rng(0).random((40, 32, 32, 1)).astype(np.float32)
    scale, offset = calibrate(model, patches)  # noisy = 2 * prediction + 0.2
    assert scale == pytest.approx(2.0, rel=1e-5) and offset == pytest.approx(0.2, abs=1e-5)
    _, targets = _make_inputs(patches, patches, np.random.default_rng(1), "n2v", 0.05, (scale, offset))
    # the noisy targets are mapped onto the model's outputs, not the outputs onto the targets: the model's
    # prediction of the (unmasked) patch is the target, so fine-tuning starts at zero loss
    np.testing.assert_allclose(targets[..., 0], model.predict(patches, verbose=0)[..., 0], atol=1e-5)
    flat = keras.Sequential([keras.Input((None, None, 1)), keras.layers.Rescaling(0.0)])
    with pytest.raises(InputError, match="fitted scale <= 0"):
        calibrate(flat, patches)


def test_finetuning_calibration_puts_held_out_targets_on_the_pretrained_models_scale(tmp_path, tiny_model,
                                                                                    noisy_and_clean):
    from carekit.train.care import load_care
    from carekit.train.selfsup import noisy_patches, train_selfsupervised

    noisy, _ = noisy_and_clean
    config = TrainConfig(**{**TINY_TRAIN, "epochs": 1, "steps_per_epoch": 1, "learning_rate": 1e-12})
    result = train_selfsupervised(noisy, config, tmp_path / "ft", method="r2r", pretrained=tiny_model, progress=False)
    recorded = ModelRecord.load(result.model_dir).data["target_calibration"]
    _, (held_out, _) = noisy_patches(noisy, config, "r2r")  # validation patches: not used to fit the calibration
    predicted = load_care(tiny_model).keras_model.predict(held_out, verbose=0)[..., :1].ravel()
    noisy_values = held_out.ravel()
    calibrated = (noisy_values - recorded["offset"]) / recorded["scale"]
    slope, intercept = np.polyfit(predicted, calibrated, 1)
    assert slope == pytest.approx(1, abs=0.05) and intercept == pytest.approx(0, abs=0.05), (slope, intercept)
    raw_slope, raw_intercept = np.polyfit(predicted, noisy_values, 1)
    assert abs(raw_slope - 1) > 0.1 or abs(raw_intercept) > 0.1, (raw_slope, raw_intercept)  # scales differ
    # and it helps: in the noisy images' units the pretrained model explains the calibrated targets better
    error_calibrated = np.mean((noisy_values - recorded["scale"] * predicted - recorded["offset"]) ** 2)
    error_raw = np.mean((noisy_values - predicted) ** 2)
    assert error_calibrated < 0.8 * error_raw, (error_calibrated, error_raw)


@pytest.mark.slow
def test_noise2self_from_noisy_images_only_improves_psnr(tmp_path, noisy_and_clean):
    from carekit.train.selfsup import train_selfsupervised

    noisy, _ = noisy_and_clean
    config = TrainConfig(**{**TINY_TRAIN, "epochs": 3, "steps_per_epoch": 60})
    result = train_selfsupervised(noisy, config, tmp_path / "n2s", method="n2s", mask_fraction=0.03, progress=False)
    assert ModelRecord.load(result.model_dir).data["method"] == "n2s"
    assert len((result.model_dir / "history.csv").read_text().splitlines()) == 4
    lows, highs = synthetic_pairs(2, shape=(160, 160), photons=5, seed=99)
    gains = [score(h, restore(result.model_dir, l, progress=False).image).psnr - score(h, l).psnr
             for l, h in zip(lows, highs)]
    # measured 0.53-0.74 dB here (masks of 3-10%, 180-360 steps): zero-masking gains less than n2v through
    # CARE's residual U-Net, but clearly more than the 0 dB of a network that returns its input
    assert min(gains) > 0.3, gains


def test_a_self_supervised_model_records_its_noisy_inputs_statistics(tmp_path, noisy_and_clean):
    from carekit.train.selfsup import train_selfsupervised

    config = TrainConfig(**{**TINY_TRAIN, "epochs": 1, "steps_per_epoch": 1})
    result = train_selfsupervised(noisy_and_clean[0], config, tmp_path / "n2v", method="n2v", progress=False)
    assert set(ModelRecord.load(result.model_dir).domain) == {"scale_px", "noise", "foreground"}


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


def test_finetuning_that_never_beats_its_start_keeps_its_rescale_mode(tmp_path, tiny_model, noisy_and_clean):
    from carekit.train.selfsup import train_selfsupervised

    start = shutil.copytree(tiny_model, tmp_path / "start")
    record = ModelRecord.load(start)
    record.rescale = "search"  # as the generalist's
    record.save(start)
    config = TrainConfig(**{**TINY_TRAIN, "epochs": 1, "steps_per_epoch": 2, "learning_rate": 1.0})
    result = train_selfsupervised(noisy_and_clean[0], config, tmp_path / "ft", pretrained=start, progress=False)
    kept = ModelRecord.load(result.model_dir)
    assert result.kept_start and kept.rescale == "search" and kept.domain == record.domain  # the start's, both


def test_early_stopping_ends_training_when_validation_stalls(tmp_path, tiny_model, noisy_and_clean):
    from carekit.train.selfsup import train_selfsupervised

    noisy, _ = noisy_and_clean
    config = TrainConfig(**{**TINY_TRAIN, "epochs": 12, "steps_per_epoch": 2, "learning_rate": 1e-12})
    result = train_selfsupervised(noisy, config, tmp_path / "es", pretrained=tiny_model, patience=1, progress=False)
    assert result.epochs_done < 12


@pytest.mark.slow
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


def test_finetune_from_a_probabilistic_package_starts_from_its_mean(tmp_path, prob_package):
    """The generalist path: `carekit finetune --pretrained model.zip` on a probabilistic package; self-supervised
    training fits one output, so the network starts from the package's mean branch (its scale layer left out)."""
    from carekit.cli import main
    from carekit.io import write_image

    noisy = synthetic_pairs(2, shape=(96, 96), photons=5, seed=13)[0]
    for index, image in enumerate(noisy):
        write_image(tmp_path / "noisy" / f"{index}.tif", image)
    code = main(["finetune", "--pretrained", str(prob_package), "--noisy", str(tmp_path / "noisy"),
                 "--model", str(tmp_path / "ft"), "--epochs", "1", "--steps", "1", "--learning-rate", "1e-12",
                 "--quiet"])
    assert code == 0
    record = ModelRecord.load(tmp_path / "ft")
    assert not record.train.probabilistic and record.data["images"]["pretrained_from"] == str(prob_package)
    before = restore(prob_package, noisy[0], progress=False)
    after = restore(tmp_path / "ft", noisy[0], progress=False)
    assert before.scale is not None and after.scale is None
    np.testing.assert_allclose(after.image, before.image, atol=1e-4)


def test_finetune_refuses_a_model_that_is_not_a_care_denoiser(tmp_path, noisy_and_clean, tiny_model):
    from carekit.train.selfsup import train_selfsupervised

    record = ModelRecord.load(tiny_model)
    other = tmp_path / "iso"
    other.mkdir()
    record.model_copy(update={"kind": "isotropic", "z_factor": 4.0}).save(other)
    with pytest.raises(InputError, match="'isotropic' model; self-supervised fine-tuning starts from a CARE"):
        train_selfsupervised(noisy_and_clean[0], TrainConfig(**TINY_TRAIN), tmp_path / "ft", pretrained=other,
                             progress=False)
