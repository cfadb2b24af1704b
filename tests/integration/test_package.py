import shutil
import zipfile

import numpy as np
import pytest
from ruyaml import YAML

from carekit.config import TrainConfig
from carekit.errors import InputError
from carekit.models import load_model
from carekit.models.foreign import ForeignPackage
from carekit.models.package_files import open_package
from carekit.predict import restore
from carekit.zoo.package import build_package, validate_package
from tests.conftest import TINY_TRAIN, synthetic_pairs


def _load_yaml(text: str) -> dict:
    return YAML(typ="safe").load(text)


def test_package_layout_and_metadata(tiny_package):
    folder = tiny_package.with_suffix("")
    for name in ("rdf.yaml", "README.md", "cover.png", "care_keras.h5", "care.onnx", "care_tf_saved_model.zip",
                 "test_input.npy", "test_output.npy", "sample_input.tif", "carekit.json", "history.png"):
        assert (folder / name).exists(), name
    rdf = _load_yaml((folder / "rdf.yaml").read_text())
    assert rdf["format_version"].startswith("0.5")
    assert rdf["weights"]["onnx"]["opset_version"] == 17
    assert set(rdf["weights"]) == {"keras_hdf5", "tensorflow_saved_model_bundle", "onnx"}
    assert rdf["config"]["deepimagej"]["allow_tiling"] is True
    assert rdf["cite"][0]["doi"] == "10.1038/s41592-018-0216-7"
    scale_range = [p for p in rdf["inputs"][0]["preprocessing"] if p["id"] == "scale_range"][0]
    assert scale_range["kwargs"]["min_percentile"] == 1.0 and scale_range["kwargs"]["max_percentile"] == 99.8
    halo = rdf["outputs"][0]["axes"][1]["halo"]
    step = rdf["inputs"][0]["axes"][1]["size"]["step"]
    assert (2 * halo) % step == 0
    assert "## Validation" in (folder / "README.md").read_text()


def test_every_weight_format_passes_bioimageio_core(tiny_package):
    assert validate_package(tiny_package) == {"keras_hdf5": "passed", "tensorflow_saved_model_bundle": "passed",
                                             "onnx": "passed"}


def test_package_predictions_equal_the_trained_model(tiny_model, tiny_package):
    image = synthetic_pairs(1, shape=(230, 170), seed=4)[0][0]
    reference = restore(tiny_model, image, progress=False).image
    outputs = {engine: restore(tiny_package, image, engine=engine, progress=False).image
               for engine in ("onnx", "tensorflow", "keras")}
    for engine, output in outputs.items():
        np.testing.assert_allclose(output, reference, atol=1e-4, err_msg=engine)
    np.testing.assert_allclose(outputs["onnx"], outputs["tensorflow"], atol=1e-4)


def test_unzipped_folder_and_rdf_yaml_work_like_the_zip(tiny_package):
    image = synthetic_pairs(1, shape=(96, 96), seed=8)[0][0]
    from_zip = restore(tiny_package, image, progress=False).image
    from_folder = restore(tiny_package.with_suffix(""), image, progress=False).image
    from_rdf = restore(tiny_package.with_suffix("") / "rdf.yaml", image, progress=False).image
    np.testing.assert_array_equal(from_zip, from_folder)
    np.testing.assert_array_equal(from_zip, from_rdf)


def test_bioimageio_core_path_for_foreign_models_agrees_inside_the_image(tiny_package):
    image = synthetic_pairs(1, shape=(160, 160), seed=9)[0][0]
    ours = restore(tiny_package, image, progress=False).image
    theirs = ForeignPackage(open_package(tiny_package), "onnx").predict_image(image, "YX")
    assert theirs.shape == ours.shape
    # bioimageio.core pads before computing percentiles, which shifts normalization slightly (see README)
    assert np.abs(theirs - ours)[32:-32, 32:-32].max() < 0.05


def test_corrupt_zip_is_a_clear_error(tmp_path):
    bad = tmp_path / "broken.zip"
    bad.write_bytes(b"PK\x03\x04 this is not really a zip")
    with pytest.raises(InputError, match="zip"):
        load_model(bad)


def test_missing_weight_file_is_a_clear_error(tiny_package, tmp_path):
    folder = tmp_path / "pkg"
    shutil.copytree(tiny_package.with_suffix(""), folder)
    (folder / "care.onnx").unlink()
    with pytest.raises(InputError, match="weight file missing"):
        load_model(folder, engine="onnx")
    stripped = tmp_path / "stripped.zip"
    with zipfile.ZipFile(tiny_package) as src, zipfile.ZipFile(stripped, "w") as dst:
        for item in src.infolist():
            if item.filename != "care_keras.h5":
                dst.writestr(item, src.read(item.filename))
    assert validate_package(stripped, formats=("keras_hdf5",))["keras_hdf5"] != "passed"


def test_wrong_axes_input_is_a_clear_error(tiny_package):
    with pytest.raises(InputError, match="needs axes YX"):
        restore(tiny_package, np.zeros((4, 8, 64, 64), np.float32), axes="TCZX", progress=False)
    with pytest.raises(InputError, match="unknown engine"):
        load_model(tiny_package, engine="pytorch")


def test_probabilistic_package_outputs_mean_and_scale(prob_package):
    rdf = _load_yaml((prob_package.with_suffix("") / "rdf.yaml").read_text())
    assert rdf["outputs"][0]["axes"][-1]["channel_names"] == ["mean", "scale"]
    image = synthetic_pairs(1, shape=(96, 96), seed=21)[0][0]
    reference = restore(prob_package.parent / "model", image, progress=False)
    for engine in ("onnx", "tensorflow", "keras"):
        packaged = restore(prob_package, image, engine=engine, progress=False)
        np.testing.assert_allclose(packaged.image, reference.image, atol=1e-4)
        np.testing.assert_allclose(packaged.scale, reference.scale, atol=1e-4)
        assert (packaged.scale > 0).all()


def test_packaging_errors(tiny_model, tmp_path):
    with pytest.raises(InputError, match="must end in .zip"):
        build_package(tiny_model, tmp_path / "model.tar", sample=np.zeros((64, 64)))
    with pytest.raises(InputError, match="at least 2 pixels along every axis"):
        build_package(tiny_model, tmp_path / "m.zip", sample=np.random.rand(1, 64))
    with pytest.raises(InputError, match="5 to 128"):
        build_package(tiny_model, tmp_path / "m.zip", name="abc", sample=np.zeros((64, 64)))
    assert not (tmp_path / "m.zip").exists()
    with pytest.raises(InputError, match="would replace it"):
        build_package(tiny_model, tiny_model.with_suffix(".zip"), sample=np.zeros((64, 64)))
    assert (tiny_model / "weights_best.h5").exists()


@pytest.mark.slow
def test_3d_package_from_short_stacks(tmp_path):
    from carekit.train.care import train_care

    # 24 planes: fewer than the 52 the network's receptive field asks for; the test tensor is mirror-padded
    volumes = [np.random.default_rng(i).random((24, 64, 64)).astype(np.float32) for i in range(2)]
    config = TrainConfig(axes="ZYX", patch_size=(16, 32, 32), patches_per_image=8, epochs=1, steps_per_epoch=3,
                         batch_size=4, unet_first=8)
    train_care(volumes, volumes, config, tmp_path / "model3d", progress=False)
    result = build_package(tmp_path / "model3d", tmp_path / "m3.zip", name="3d test model", sample=volumes[0])
    assert set(result.test_results.values()) == {"passed"}
    assert np.load(tmp_path / "m3" / "test_input.npy").shape == (1, 52, 64, 64, 1)
    out = restore(tmp_path / "m3.zip", volumes[1], progress=False)
    np.testing.assert_allclose(out.image, restore(tmp_path / "model3d", volumes[1], progress=False).image, atol=1e-4)


@pytest.mark.slow
def test_ensemble_trains_packages_and_gives_mean_and_disagreement(tmp_path):
    from carekit.ensemble import mixture_mean
    from carekit.train.ensemble import train_ensemble

    lows, highs = synthetic_pairs(4, shape=(96, 96))
    config = TrainConfig(**{**TINY_TRAIN, "epochs": 1, "steps_per_epoch": 5})
    train_ensemble(lows, highs, config, tmp_path / "ensemble", members=3, progress=False)
    members = [restore(tmp_path / "ensemble" / f"member_{i}", lows[0], progress=False) for i in range(3)]
    combined = restore(tmp_path / "ensemble", lows[0], progress=False)
    np.testing.assert_allclose(combined.image, mixture_mean(np.stack([m.image for m in members])), atol=1e-5)
    assert combined.scale is None and combined.disagreement.shape == (96, 96)
    assert 0 <= combined.disagreement.min() and combined.disagreement.max() <= 1 and combined.disagreement.max() > 0
    result = build_package(tmp_path / "ensemble", tmp_path / "ens.zip", name="ensemble test", sample=lows[0])
    assert set(result.test_results.values()) == {"passed"}
    rdf = _load_yaml((tmp_path / "ens" / "rdf.yaml").read_text())
    assert rdf["config"]["carekit"]["ensemble_members"] == 3
    packaged = restore(tmp_path / "ens.zip", lows[0], progress=False)
    np.testing.assert_allclose(packaged.disagreement, combined.disagreement, atol=1e-4)
    with pytest.raises(InputError, match="at least 2 members"):
        train_ensemble(lows, highs, config, tmp_path / "one", members=1, progress=False)
