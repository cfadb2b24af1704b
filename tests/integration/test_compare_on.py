"""`--compare-on IMAGES` of `carekit train --from` and `carekit finetune`: after fine-tuning beat its start on the
validation patches, the two are compared on the user's noisy images (as `carekit compare` does) and the model returns
to the starting weights where those restore the images better; everything the comparison cannot take is refused
before training."""

import shutil
from pathlib import Path

import numpy as np
import pytest

from carekit.cli import main
from carekit.config import ModelRecord, SynthConfig, TrainConfig
from carekit.generalist import splits
from carekit.io import write_image
from carekit.predict import restore
from carekit.synth.pairs import make_pairs
from carekit.train.start_choice import FINE_TUNED_WEIGHTS, START_WEIGHTS, return_to_start
from tests.conftest import TINY_TRAIN, synthetic_pairs
from tests.integration.test_generalist_package import PACKAGE as GENERALIST
from tests.integration.test_train_from import _max_difference

TUNE = ["--patch-size", "32", "32", "--patches-per-image", "16", "--epochs", "1", "--steps", "4", "--batch-size", "4",
        "--learning-rate", "1e-3", "--quiet"]


def _noisy_hela(part: int, index: int, side: int, seed: int) -> np.ndarray:
    clean = splits(["hela"])["hela"][part][index][:side, :side]  # part 0: training images, 1: held-out ones
    return make_pairs([clean], SynthConfig(photons=[10.0], seed=seed))[0][0]


@pytest.fixture(scope="module")
def noisy_targets(tmp_path_factory):
    """Pairs whose target is the noisy input itself: fine-tuning the generalist on them beats its validation loss by
    far (it learns to keep the noise) and restores a held-out noisy image worse than the generalist."""
    root = tmp_path_factory.mktemp("identity")
    noisy = _noisy_hela(0, 0, 128, seed=1)
    for kind in ("low", "high"):
        (root / kind).mkdir()
        write_image(root / kind / "a.tif", noisy, "YX")
    write_image(root / "held-out.tif", _noisy_hela(1, 0, 256, seed=2), "YX")
    return root


def test_a_model_worse_on_the_users_images_returns_to_its_start(tmp_path, noisy_targets, capsys):
    from carekit.cli.train_from import resolve

    model = tmp_path / "mine"
    assert main(["train", "--model", str(model), "--from", str(GENERALIST), "--pairs", str(noisy_targets / "low"),
                 str(noisy_targets / "high"), *TUNE, "--compare-on", str(noisy_targets / "held-out.tif")]) == 0
    out = capsys.readouterr().out
    assert "improved on the starting weights' validation loss" in out and "carekit compare --model" not in out
    assert "use care-generalist-nuclei-denoising.zip" in out
    assert "the starting model named better on 1 of 1 images, the new weights on 0: " in out
    assert "mine returns to the starting weights and now restores as care-generalist-nuclei-denoising.zip does, " \
           "with its default rescale search" in out
    record = ModelRecord.load(model)
    assert record.start_chosen_on_images and record.rescale == "search" and record.classical_blend
    assert record.domain == ModelRecord.load(resolve(str(GENERALIST))[0]).domain  # its uncertainty level included
    assert _max_difference(model / "weights_best.h5", model / START_WEIGHTS) == 0
    assert _max_difference(model / FINE_TUNED_WEIGHTS, model / "weights_last.h5") == 0  # one epoch: its best
    image = _noisy_hela(1, 0, 256, seed=3)
    np.testing.assert_allclose(restore(model, image, progress=False).image,
                               restore(GENERALIST, image, progress=False).image, atol=1e-5)

    # resumed, the start stays until an epoch beats the fine-tuned best (these do: more of the noise kept), and
    # --compare-on judges the resumed model again, which returns to the start again
    assert main(["train", "--model", str(model), "--resume", "--epochs", "2", "--quiet", "--compare-on",
                 str(noisy_targets / "held-out.tif")]) == 0
    out = capsys.readouterr().out
    assert "improved on the starting weights" in out and "mine returns to the starting weights" in out
    assert ModelRecord.load(model).start_chosen_on_images
    assert _max_difference(model / "weights_best.h5", model / START_WEIGHTS) == 0
    assert _max_difference(model / FINE_TUNED_WEIGHTS, model / START_WEIGHTS) > 0


@pytest.fixture(scope="module")
def noise_keeping_start(tmp_path_factory, noisy_targets) -> Path:
    """The generalist fine-tuned on the pairs whose target is the noisy input: a start that keeps much of the noise."""
    model = tmp_path_factory.mktemp("starts") / "noise-keeping"
    assert main(["train", "--model", str(model), "--from", str(GENERALIST), "--pairs", str(noisy_targets / "low"),
                 str(noisy_targets / "high"), *TUNE]) == 0
    return model


def test_a_model_better_on_the_users_images_keeps_its_fine_tuned_weights(tmp_path, noise_keeping_start,
                                                                         noisy_targets, capsys):
    for kind, image in zip(("low", "high"), make_pairs([splits(["hela"])["hela"][0][0][:128, :128]],
                                                       SynthConfig(photons=[10.0], seed=1))):
        (tmp_path / kind).mkdir()
        write_image(tmp_path / kind / "a.tif", image[0], "YX")
    denoising = [*TUNE[:TUNE.index("--steps")], "--steps", "20", *TUNE[TUNE.index("--steps") + 2:]]
    model = tmp_path / "tuned"
    assert main(["train", "--model", str(model), "--from", str(noise_keeping_start), "--pairs", str(tmp_path / "low"),
                 str(tmp_path / "high"), *denoising, "--compare-on", str(noisy_targets / "held-out.tif")]) == 0
    out = capsys.readouterr().out
    assert "noise-keeping better on 0, tuned on 1, level on 0: use tuned" in out
    assert f"the new weights on 1: {model} keeps its fine-tuned weights" in out
    assert not (model / FINE_TUNED_WEIGHTS).exists() and not ModelRecord.load(model).start_chosen_on_images
    assert _max_difference(model / "weights_best.h5", model / START_WEIGHTS) > 0


def test_self_supervised_fine_tuning_can_return_to_its_probabilistic_start(tmp_path, prob_package):
    """The starting weights are saved in the fine-tuned network (a probabilistic start's mean), so returning to them
    restores as the start does."""
    from carekit.cli.train_from import resolve
    from carekit.train.selfsup import train_selfsupervised

    source, weights = resolve(str(prob_package))
    noisy = synthetic_pairs(4, shape=(96, 96), seed=4)[0]
    config = TrainConfig(**{**TINY_TRAIN, "epochs": 1, "steps_per_epoch": 10, "learning_rate": 1e-3})
    result = train_selfsupervised(noisy, config, tmp_path / "ft", method="r2r", pretrained=source,
                                  pretrained_weights_file=weights, progress=False)
    assert not result.kept_start  # the fine-tuned weights are best: returning replaces them
    return_to_start(result.model_dir, ModelRecord.load(source))
    assert _max_difference(result.model_dir / FINE_TUNED_WEIGHTS, result.model_dir / START_WEIGHTS) > 0
    image = synthetic_pairs(1, shape=(96, 96), seed=5)[0][0]
    np.testing.assert_allclose(restore(result.model_dir, image, progress=False).image,
                               restore(prob_package, image, progress=False).image, atol=1e-4)


def test_what_the_comparison_cannot_take_is_refused_before_training(tmp_path, tiny_model, noisy_targets, capsys):
    pairs = ["--pairs", str(noisy_targets / "low"), str(noisy_targets / "high")]
    missing = str(tmp_path / "missing.tif")
    refused = {"missing.tif": ["train", "--model", str(tmp_path / "a"), "--from", str(tiny_model), *pairs, *TUNE],
               "give that model": ["train", "--model", str(tmp_path / "b"), *pairs, *TUNE],
               "--projection, --ensemble or --isotropic": ["train", "--model", str(tmp_path / "c"), "--projection",
                                                           *pairs, *TUNE],
               "cannot be combined with --projection, --ensemble or --isotropic": [
                   "train", "--model", str(tmp_path / "c"), "--isotropic", "--stack", missing, "--quiet"],
               "records no model it was fine-tuned from": ["train", "--model", str(shutil.copytree(
                   tiny_model, tmp_path / "not-fine-tuned")), "--resume", "--quiet"],
               f"input not found: {missing}": ["finetune", "--pretrained", str(tiny_model), "--noisy", str(noisy_targets / "low"),
                                "--model", str(tmp_path / "d"), "--quiet"]}
    for message, command in refused.items():
        assert main([*command, "--compare-on", missing]) == 2
        error = capsys.readouterr().err
        assert error.startswith("error: ") and message in error, (message, error)
    flat = tmp_path / "flat.tif"
    write_image(flat, np.full((256, 256), 100, np.float32), "YX")
    assert main(["train", "--model", str(tmp_path / "e"), "--from", str(tiny_model), *pairs, *TUNE, "--compare-on",
                 str(missing), str(flat)]) == 2
    assert "missing.tif" in capsys.readouterr().err
    write_image(missing, synthetic_pairs(1, shape=(256, 256), seed=8)[0][0], "YX")
    assert main(["train", "--model", str(tmp_path / "e"), "--from", str(tiny_model), *pairs, *TUNE, "--compare-on",
                 str(missing), str(flat)]) == 2
    assert "--compare-on cannot judge " + str(flat) in capsys.readouterr().err  # too flat: before training, too
    old = shutil.copytree(tiny_model, tmp_path / "old")  # fine-tuned by a carekit that did not keep the start
    record = ModelRecord.load(old)
    record.data = {**record.data, "initialized_from": str(tiny_model)}
    record.save(old)
    assert main(["train", "--model", str(old), "--resume", "--quiet", "--compare-on", missing]) == 2
    assert "has no weights_start.h5 (it was fine-tuned by an older carekit)" in capsys.readouterr().err
    assert not any((tmp_path / name).exists() for name in "abcde")  # nothing trained, no folder left


def test_the_recorder_keeps_a_start_chosen_on_images_until_an_epoch_beats_the_best(tmp_path, tiny_model):
    from carekit.train.callbacks import EpochRecorder
    from carekit.train.care import load_care

    care = load_care(tiny_model)
    care.keras_model.compile(optimizer="adam", loss="mae")
    own = {"noise": [0.01, 0.02, 0.03]}
    record = ModelRecord(carekit_version="test", name="m", train=ModelRecord.load(tiny_model).train, rescale="search",
                         start_validation_loss=1.0, start_chosen_on_images=True)
    record.pixel_size = {"Y": 0.5, "X": 0.5}  # the start's
    (tmp_path / "history.csv").write_text("epoch,loss,val_loss\n1,0.5,0.5\n")  # the fine-tuned best, set aside
    (tmp_path / FINE_TUNED_WEIGHTS).write_bytes(b"set aside")
    recorder = EpochRecorder(tmp_path, record, 1, own, {"Y": 0.1, "X": 0.1})  # resumed: the data's pixel size
    recorder.set_model(care.keras_model)
    assert recorder.start_is_best
    recorder.on_epoch_end(1, {"loss": 1.0, "val_loss": 0.7})  # beats the start's 1.0, not the fine-tuned 0.5
    assert ModelRecord.load(tmp_path).rescale == "search" and recorder.start_is_best
    assert (tmp_path / FINE_TUNED_WEIGHTS).exists()
    recorder.on_epoch_end(2, {"loss": 1.0, "val_loss": 0.4})
    saved = ModelRecord.load(tmp_path)
    assert (saved.rescale, saved.domain, saved.start_chosen_on_images) == (None, own, False)
    assert saved.pixel_size == {"Y": 0.1, "X": 0.1} and not (tmp_path / FINE_TUNED_WEIGHTS).exists()  # superseded
    assert not recorder.start_is_best
