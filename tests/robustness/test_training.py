"""Robustness of training, resuming, prediction, packaging and evaluation against damaged files and bad input
(issue 14, items 2, 3 and 11): never keep or write non-finite weights, never replace the best weights by worse
ones, refuse degenerate input clearly, accept any real-valued array-like."""

import csv
import shutil
import warnings

import h5py
import numpy as np
import pytest

from carekit.cli import main
from carekit.config import ModelRecord, TrainConfig, validated
from carekit.errors import CarekitError, InputError
from carekit.io import read_image, write_image
from tests.conftest import synthetic_pairs

TINY = dict(patch_size=(32, 32), patches_per_image=8, epochs=1, steps_per_epoch=3, batch_size=4, unet_first=8)


@pytest.fixture(scope="module")
def pairs():
    return synthetic_pairs(2, shape=(64, 64))


@pytest.fixture(scope="module")
def trained(pairs, tmp_path_factory):
    """A tiny model trained for one epoch; tests that change it work on a copy (see `model`)."""
    from carekit.train.care import train_care

    model_dir = tmp_path_factory.mktemp("robust") / "model"
    train_care(*pairs, TrainConfig(**TINY), model_dir, progress=False)
    return model_dir


@pytest.fixture
def model(trained, tmp_path):
    return shutil.copytree(trained, tmp_path / "model")


def _weights(path) -> list[np.ndarray]:
    arrays = []
    with h5py.File(path, "r") as fh:
        fh.visititems(lambda name, item: arrays.append(item[()]) if isinstance(item, h5py.Dataset) else None)
    return arrays


def _poison(path) -> None:
    """Overwrite every weight with NaN, as a diverged training that saved its weights left them."""
    with h5py.File(path, "r+") as fh:
        fh.visititems(lambda name, item: item.__setitem__(..., np.nan)
                      if isinstance(item, h5py.Dataset) and item.dtype.kind == "f" else None)


def _edit_history(model_dir, column: str, value: str) -> None:
    path = model_dir / "history.csv"
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    rows[-1][column] = value
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _resume(pairs, model_dir, epochs=1):
    from carekit.train.care import train_care

    return train_care(*pairs, TrainConfig(**TINY), model_dir, resume=True, extra_epochs=epochs, progress=False)


# --- item 2: damaged history, diverging training, NaN weights -------------------------------------------------

def test_damaged_history_reads_as_nan_and_the_best_value_ignores_it(tmp_path):
    from carekit.train import history

    path = tmp_path / "history.csv"
    path.write_text("epoch,loss,val_loss,learning_rate\n1,0.5,0.4,0.001\n2,0.3,nan,garbage\n3,0.2,\n")
    values = history.read(path)
    np.testing.assert_array_equal(values["val_loss"], [0.4, np.nan, np.nan])
    assert np.isnan(history.last_learning_rate(path)) and history.best_value(path, "val_loss") == 0.4
    path.write_text("epoch,val_loss\n1,nan\n")
    assert history.best_value(path, "val_loss") == float("inf")
    path.write_text("")
    assert history.read(path) == {} and history.columns(path) == [] and history.last_learning_rate(path) is None


@pytest.mark.parametrize("damage", ["not-a-number", "empty file"])
def test_resume_after_damaged_history_uses_the_configured_rate_and_keeps_weights_finite(pairs, model, damage):
    if damage == "empty file":  # the best validation loss is lost too: the resumed epoch becomes the best
        (model / "history.csv").write_text("")
        result = _resume(pairs, model)
        for best, last in zip(_weights(model / "weights_best.h5"), _weights(model / "weights_last.h5"), strict=True):
            np.testing.assert_array_equal(best, last)
    else:
        _edit_history(model, "learning_rate", damage)
        with pytest.warns(UserWarning, match="not a positive number; continuing with the configured rate 0.0004"):
            result = _resume(pairs, model)
    assert result.epochs_done == 2 and ModelRecord.load(model).epochs_done == 2
    for name in ("weights_last.h5", "weights_best.h5"):
        assert all(np.isfinite(w).all() for w in _weights(model / name)), name
    with (model / "history.csv").open() as fh:
        last = list(csv.DictReader(fh))[-1]
    assert int(last["epoch"]) == 2 and float(last["learning_rate"]) == pytest.approx(4e-4, rel=1e-5)


def test_diverging_resume_stops_with_a_clear_error_and_keeps_the_previous_weights(pairs, model):
    _edit_history(model, "learning_rate", "1e30")  # finite and positive, so it is used, and the loss explodes
    before = {name: _weights(model / name) for name in ("weights_last.h5", "weights_best.h5")}
    history_before = (model / "history.csv").read_text()
    with pytest.raises(CarekitError, match="NaN/Inf in epoch 2; .* keeps the weights of epoch 1"):
        _resume(pairs, model)
    for name, arrays in before.items():
        for old, new in zip(arrays, _weights(model / name), strict=True):
            np.testing.assert_array_equal(new, old)
    assert ModelRecord.load(model).epochs_done == 1
    assert (model / "history.csv").read_text() == history_before


def test_new_training_that_diverges_leaves_no_model_folder(pairs, tmp_path):
    from carekit.train.care import train_care

    with pytest.raises(CarekitError, match="no weights were saved"):
        train_care(*pairs, TrainConfig(**{**TINY, "learning_rate": 1e30}), tmp_path / "m", progress=False)
    assert not (tmp_path / "m").exists()


def test_non_finite_learning_rate_is_refused_by_the_config():
    for rate in (float("inf"), float("nan")):
        with pytest.raises(InputError, match="learning_rate: Input should be a finite number"):
            validated(TrainConfig, learning_rate=rate)


def test_prediction_with_nan_weights_is_refused(model, pairs, tmp_path, capsys):
    from carekit.predict import restore

    _poison(model / "weights_best.h5")
    with pytest.raises(InputError, match="NaN/Inf output values"):
        restore(model, pairs[0][0], progress=False)
    write_image(tmp_path / "in" / "a.tif", pairs[0][0].astype(np.float32), "YX")
    code = main(["predict", "--model", str(model), str(tmp_path / "in" / "a.tif"), "--out", str(tmp_path / "out"),
                 "--quiet"])
    assert code == 2 and "NaN/Inf output values" in capsys.readouterr().err
    assert not (tmp_path / "out" / "a.tif").exists()


# --- item 3: resume must not replace the best weights by a worse epoch ----------------------------------------

def test_resume_does_not_replace_the_best_weights_by_a_worse_epoch(pairs, model):
    _edit_history(model, "val_loss", "1e-09")  # a best epoch no resumed epoch can beat
    best_before, last_before = _weights(model / "weights_best.h5"), _weights(model / "weights_last.h5")
    result = _resume(pairs, model)
    assert any(not np.array_equal(a, b) for a, b in zip(last_before, _weights(model / "weights_last.h5")))
    for old, new in zip(best_before, _weights(model / "weights_best.h5"), strict=True):
        np.testing.assert_array_equal(new, old)
    assert result.best_val_loss == pytest.approx(1e-9)


# --- item 11: epochs 0, stub folders, packages, degenerate images, evaluate, array-likes -----------------------

def test_zero_epochs_are_refused(model, tmp_path, capsys):
    from carekit import workflows
    from carekit.train.care import train_care

    tiny = ["--steps", "1", "--patch-size", "32", "32", "--unet-first", "8", "--size", "64", "64", "--n-images", "2",
            "--patches-per-image", "4", "--batch-size", "2", "--quiet"]
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--model", str(tmp_path / "new"), "--synthetic", "tubules", "--epochs", "0", *tiny])
    assert exit_info.value.code == 2 and "epochs must be >= 1" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()
    with pytest.raises(SystemExit) as exit_info:
        main(["train", "--model", str(model), "--resume", "--epochs", "0", "--quiet"])
    assert exit_info.value.code == 2 and "epochs must be >= 1" in capsys.readouterr().err
    with pytest.raises(InputError, match="epochs must be >= 1"):
        workflows.resume(model, 0)
    with pytest.raises(InputError, match="epochs must be >= 1"):
        train_care(*synthetic_pairs(2, shape=(64, 64)), TrainConfig(**TINY), model, resume=True, extra_epochs=0)
    assert ModelRecord.load(model).epochs_done == 1


def test_failed_input_validation_leaves_no_stub_folder_and_lists_and_int64_train(tmp_path):
    from carekit.train.care import train_care

    small = [np.zeros((16, 16), np.float32)] * 2
    with pytest.raises(InputError, match="smaller than the patch size"):
        train_care(small, small, TrainConfig(**TINY), tmp_path / "m", progress=False)
    assert not (tmp_path / "m").exists()
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="NaN/Inf pixels"):
        train_care([np.full((64, 64), np.nan)] * 2, [np.ones((64, 64))] * 2, TrainConfig(**TINY), tmp_path / "empty",
                   progress=False)
    assert (tmp_path / "empty").is_dir() and not any((tmp_path / "empty").iterdir())
    lows, highs = synthetic_pairs(2, shape=(64, 64))
    counts = [np.round(low * 100).astype(np.int64) for low in lows]
    result = train_care([c.tolist() for c in counts], [np.round(h * 1000).astype(np.int64) for h in highs],
                        TrainConfig(**TINY), tmp_path / "m", progress=False)
    assert result.epochs_done == 1 and (tmp_path / "m" / "weights_best.h5").exists()


def test_selfsupervised_patches_accept_int64_lists():
    from carekit.train.selfsup import noisy_patches

    noisy = np.random.default_rng(0).poisson(20, (2, 64, 64)).astype(np.int64)
    (x_train, _), (x_val, _) = noisy_patches([image.tolist() for image in noisy], TrainConfig(**TINY))
    assert x_train.dtype == np.float32 and x_train.shape[1:] == (32, 32, 1) and len(x_train) + len(x_val) == 16
    with pytest.raises(InputError, match="dtype bool"):
        noisy_patches([noisy[0] > 20], TrainConfig(**TINY))


def test_restore_accepts_int64_and_lists_and_refuses_bool_and_complex(trained):
    from carekit.models.keras_dir import KerasModelDir
    from carekit.predict import restore

    runner = KerasModelDir(trained)
    counts = np.random.default_rng(1).poisson(30, (64, 64))
    reference = restore(runner, counts.astype(np.float32), progress=False).image
    np.testing.assert_allclose(restore(runner, counts.astype(np.int64), progress=False).image, reference, atol=1e-6)
    np.testing.assert_allclose(restore(runner, counts.tolist(), progress=False).image, reference, atol=1e-6)
    with pytest.raises(InputError, match="dtype bool is not supported"):
        restore(runner, counts > 30, progress=False)
    with pytest.raises(InputError, match="dtype complex128 is not supported"):
        restore(runner, counts.astype(complex), progress=False)
    with pytest.raises(InputError, match="not an image array"):
        restore(runner, [[1, 2, 3], [4, 5]], progress=False)


def test_degenerate_intensity_range_warns_once_clearly(trained, pairs):
    from carekit.models.keras_dir import KerasModelDir
    from carekit.predict import restore

    runner = KerasModelDir(trained)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        restore(runner, pairs[0][0], progress=False)
    with pytest.warns(UserWarning, match="too small to normalize") as record:
        restore(runner, pairs[0][0].astype(np.float32) * np.float32(1e-38), progress=False)
    assert len(record) == 1 and "\n" not in str(record[0].message)


def test_package_refuses_nan_samples_and_nan_test_outputs(model, pairs, tmp_path):
    from carekit.zoo.package import build_package

    sample = pairs[0][0].astype(np.float32)
    sample[10, 10] = np.nan
    with pytest.raises(InputError, match="sample image: 1 NaN/Inf pixels"):
        build_package(model, tmp_path / "nan_sample.zip", sample=sample, formats=("keras_hdf5",))
    _poison(model / "weights_best.h5")
    with pytest.raises(InputError, match="gives NaN/Inf on the sample image"):
        build_package(model, tmp_path / "nan_model.zip", sample=pairs[0][0], formats=("keras_hdf5",))
    assert not list(tmp_path.glob("*.zip"))


@pytest.fixture
def evaluation_folders(tmp_path, pairs):
    lows, highs = pairs
    for folder, images in (("gt", highs), ("raw", lows), ("other", lows)):
        for index, image in enumerate(images):
            write_image(tmp_path / folder / f"{index}.tif", image.astype(np.float32), "YX")
    return tmp_path


def test_evaluate_refuses_duplicate_method_names(evaluation_folders, capsys):
    from carekit.evaluate.report import evaluate_folders, evaluate_images

    root = evaluation_folders
    code = main(["evaluate", "--gt", str(root / "gt"), "--method", f"raw={root / 'raw'}",
                 "--method", f"raw={root / 'other'}", "--out", str(root / "report")])
    assert code == 2 and "given more than once: raw" in capsys.readouterr().err
    code = main(["evaluate", "--gt", str(root / "gt"), "--method", f"NLM={root / 'raw'}", "--baselines",
                 "--out", str(root / "report")])
    assert code == 2 and "rename your --method NLM" in capsys.readouterr().err
    assert not (root / "report").exists()
    gt = [read_image(root / "gt" / "0.tif").data]
    with pytest.raises(InputError, match="given more than once: a"):
        evaluate_images(gt, [("a", gt), ("b", gt), ("a", gt)])
    with pytest.raises(InputError, match="given more than once: raw"):
        evaluate_folders(root / "gt", [("raw", root / "raw"), ("raw", root / "other")])
    rows = evaluate_images(gt, [("a", gt), ("b", gt)])
    assert [r["method"] for r in rows] == ["a", "b"]


@pytest.mark.parametrize("flag, value, message", [("--gain", "0", "gain must be > 0"),
                                                  ("--read-noise", "-1", "read noise must be >= 0"),
                                                  ("--offset", "nan", "offset must be a finite number")])
def test_evaluate_refuses_bad_camera_parameters_up_front(evaluation_folders, capsys, flag, value, message):
    root = evaluation_folders
    code = main(["evaluate", "--gt", str(root / "gt"), "--method", f"raw={root / 'raw'}", "--baselines",
                 flag, value, "--out", str(root / "report")])
    err = capsys.readouterr().err
    assert code == 2 and message in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert not (root / "report").exists()


def test_gat_baseline_refuses_zero_gain():
    from carekit.evaluate.baselines import gat_nlm

    with pytest.raises(InputError, match="gain must be > 0"):
        gat_nlm(np.full((32, 32), 110.0), gain=0.0)
