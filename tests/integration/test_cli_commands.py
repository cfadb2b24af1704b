"""The CLI commands end to end, in-process through carekit.cli.main: exit codes, files written, and that they load."""

import csv
import json
import shutil
import sys

import numpy as np
import pytest

from carekit.cli import main
from carekit.config import ModelRecord
from carekit.io import Image, read_image, write_image
from carekit.predict import restore
from tests.conftest import synthetic_pairs

TINY_CLI_TRAIN = ["--synthetic", "mixed", "--n-images", "2", "--size", "64", "64", "--patch-size", "32", "32",
                  "--patches-per-image", "8", "--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "4",
                  "--unet-first", "8", "--quiet"]


@pytest.mark.slow
def test_train_resume_continues_the_model_for_more_epochs(tmp_path, capsys):
    model = tmp_path / "m"
    assert main(["train", "--model", str(model), *TINY_CLI_TRAIN]) == 0
    assert ModelRecord.load(model).train.steps_per_epoch == 2  # --steps-per-epoch: the saved config's name
    assert main(["train", "--model", str(model), "--resume", "--epochs", "2", "--quiet"]) == 0
    assert "epochs trained: 3" in capsys.readouterr().out
    assert ModelRecord.load(model).epochs_done == 3
    with (model / "history.csv").open() as fh:
        assert [int(row["epoch"]) for row in csv.DictReader(fh)] == [1, 2, 3]
    assert main(["train", "--model", str(model), *TINY_CLI_TRAIN]) == 2  # training anew would overwrite it
    assert "not empty" in capsys.readouterr().err


@pytest.mark.slow
def test_train_ensemble_writes_members_that_predict_together(tmp_path, capsys):
    model = tmp_path / "ens"
    assert main(["train", "--model", str(model), "--ensemble", "2", *TINY_CLI_TRAIN]) == 0
    assert "2 probabilistic members" in capsys.readouterr().out
    record = ModelRecord.load(model)
    assert record.kind == "ensemble" and record.members == ["member_0", "member_1"]
    assert all(ModelRecord.load(model / name).train.probabilistic for name in record.members)
    assert ModelRecord.load(model / "member_1").train.seed == ModelRecord.load(model / "member_0").train.seed + 1
    result = restore(model, synthetic_pairs(1, shape=(64, 64), seed=3)[0][0], progress=False)
    assert result.disagreement.shape == (64, 64) and result.disagreement.max() > 0


def test_predict_writes_restorations_with_pixel_size_for_folders_and_packages(tmp_path, tiny_model, prob_package,
                                                                           capsys):
    images = synthetic_pairs(2, shape=(96, 80), seed=13)[0]
    inputs = [write_image(tmp_path / "in" / f"{i}.tif", Image(image, "YX", {"Y": 0.2, "X": 0.2}))
              for i, image in enumerate(images)]
    assert main(["predict", "--model", str(tiny_model), *map(str, inputs), "--out", str(tmp_path / "out"),
                 "--quiet"]) == 0
    for path, image in zip(inputs, images):
        written = read_image(tmp_path / "out" / path.name)
        assert written.pixel_size["X"] == pytest.approx(0.2, rel=1e-4)
        np.testing.assert_allclose(written.data, restore(tiny_model, image, progress=False).image, atol=1e-5)
    assert main(["predict", "--model", str(prob_package), str(inputs[0]), "--out", str(tmp_path / "prob"),
                 "--tile", "48", "48", "--quiet"]) == 0
    expected = restore(prob_package, images[0], progress=False)
    np.testing.assert_allclose(read_image(tmp_path / "prob" / "0.tif").data, expected.image, atol=1e-4)
    np.testing.assert_allclose(read_image(tmp_path / "prob" / "0_scale.tif").data, expected.scale, atol=1e-4)
    capsys.readouterr()
    assert main(["predict", "--model", str(tiny_model), str(tmp_path / "missing.tif"), "--out",
                 str(tmp_path / "x")]) == 2
    assert "not found" in capsys.readouterr().err


@pytest.mark.slow
def test_package_builds_a_package_that_restores_like_the_model(tmp_path, tiny_model, capsys):
    from ruyaml import YAML

    sample = write_image(tmp_path / "sample.tif", synthetic_pairs(1, shape=(128, 128), seed=17)[0][0])
    package = tmp_path / "cli.zip"
    assert main(["package", "--model", str(tiny_model), "--out", str(package), "--name", "cli package test",
                 "--sample", str(sample), "--formats", "keras_hdf5", "onnx"]) == 0
    out = capsys.readouterr().out
    assert "test_model [keras_hdf5]: passed" in out and "test_model [onnx]: passed" in out
    rdf = YAML(typ="safe").load((tmp_path / "cli" / "rdf.yaml").read_text())
    assert rdf["name"] == "cli package test" and set(rdf["weights"]) == {"keras_hdf5", "onnx"}
    image = read_image(sample).data
    np.testing.assert_allclose(restore(package, image, progress=False).image,
                               restore(tiny_model, image, progress=False).image, atol=1e-4)


def test_validate_passes_a_good_package_and_fails_a_broken_one(tmp_path, tiny_package, capsys):
    assert main(["validate", str(tiny_package)]) == 0
    out = capsys.readouterr().out
    for fmt in ("keras_hdf5", "tensorflow_saved_model_bundle", "onnx"):
        assert f"{tiny_package} [{fmt}]: passed" in out, fmt
    broken = tmp_path / "broken"
    shutil.copytree(tiny_package.with_suffix(""), broken)
    expected = np.load(broken / "test_output.npy")
    np.save(broken / "test_output.npy", np.zeros_like(expected))  # the model no longer reproduces it
    assert main(["validate", str(broken / "rdf.yaml")]) == 1
    assert "passed" not in capsys.readouterr().out


def test_doctor_reports_each_check_and_fails_when_something_is_missing(tmp_path, monkeypatch, capsys):
    from carekit.doctor import run_checks

    code = main(["doctor"])
    out = capsys.readouterr().out
    for name in ("java", "imagej (ij.jar)", "jython", "tensorflow", "GPU", "built-in data 'hela'"):
        assert name in out, name
    assert code == (0 if all(check.ok for check in run_checks(with_tensorflow=False)) else 1)
    monkeypatch.setenv("CAREKIT_DATA", str(tmp_path / "no-data"))
    assert main(["doctor", "--no-tensorflow"]) == 1
    out = capsys.readouterr().out
    assert "MISSING built-in data 'hela'" in out and "-> carekit data install" in out
    assert "tensorflow " not in out


def test_fiji_install_into_a_fiji_app(tmp_path, capsys):
    from carekit.fiji.install import scripts_dir

    fiji = tmp_path / "Fiji.app"
    (fiji / "jars").mkdir(parents=True)
    (fiji / "jars" / "ij-1.54f.jar").write_bytes(b"")  # what makes a folder a Fiji.app
    (fiji / "plugins").mkdir()
    assert main(["fiji", "install", "--target", str(fiji), "--python", sys.executable]) == 0
    assert f"into {fiji} (fiji)" in capsys.readouterr().out
    source = scripts_dir()
    plugin = fiji / "plugins" / "CARE" / "CARE_Restore.py"
    assert plugin.read_bytes() == (source / "plugins" / "CARE" / "CARE_Restore.py").read_bytes()
    # Fiji's Jython path: the helpers, and the contract module that carekit and they share
    helpers = sorted([p.name for p in (source / "lib" / "carekit_fiji").glob("*.py")] + ["contract.py"])
    assert sorted(p.name for p in (fiji / "jars" / "Lib" / "carekit_fiji").iterdir()) == helpers
    assert sorted(p.name for p in (fiji / "macros" / "carekit").iterdir()) == \
        sorted(p.name for p in (source / "macros").iterdir())
    assert (plugin.parent / "carekit.properties").read_text() == f"python={sys.executable}\n"
    assert not (fiji / "plugins" / "jars").exists()  # Fiji brings its own Jython: no jars of ours
    assert main(["fiji", "install", "--target", str(fiji / "jars" / "ij-1.54f.jar")]) == 2
    assert "not a folder" in capsys.readouterr().err


def test_train_with_the_mse_loss_records_it_and_csbdeep_uses_it(tmp_path):
    model = tmp_path / "m"
    assert main(["train", "--model", str(model), "--loss", "mse", *TINY_CLI_TRAIN]) == 0
    assert ModelRecord.load(model).train.loss == "mse"
    assert json.loads((model / "config.json").read_text())["train_loss"] == "mse"
