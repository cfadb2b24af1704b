"""bioimage.io packages of projection models: a stack (z, y, x) in, a 2D image out; test_model passes without
warnings for the SavedModel and ONNX weights (no Keras HDF5: its custom layer needs carekit); carekit runs the zip
through restore() -> projection like the model folder."""

import numpy as np
import pytest
from ruyaml import YAML

from carekit.cli import main
from carekit.errors import InputError
from carekit.io import Image, read_image, write_image
from carekit.predict import restore
from carekit.synth.surface import SurfaceSettings, surface_pairs
from carekit.zoo.package import build_package
from tests.integration.test_projection import _cleans, _trained

FORMATS = ("tensorflow_saved_model_bundle", "onnx")


@pytest.fixture(scope="module")
def projection_model(tmp_path_factory):
    return _trained(tmp_path_factory.mktemp("projection"), 1, 2)


@pytest.fixture(scope="module")
def package(projection_model, tmp_path_factory):
    return build_package(projection_model, tmp_path_factory.mktemp("package") / "projection.zip",
                         name="projection test model", maintainers=("carekit-dev",))


@pytest.fixture(scope="module")
def stack():
    """11 planes (the model trained on 8) of 72 x 100 px (not multiples of the network's step)."""
    (stack,), _ = surface_pairs(_cleans(1, 9, shape=(72, 100)), [10.0], SurfaceSettings(n_planes=11), seed=10)
    return stack


def test_package_passes_test_model_without_warnings(package):
    assert package.test_results == {fmt: "passed" for fmt in FORMATS}
    assert package.warnings == {fmt: [] for fmt in FORMATS}
    rdf = YAML(typ="safe").load((package.folder / "rdf.yaml").read_text())
    assert set(rdf["weights"]) == set(FORMATS)
    (tensor_in,), (tensor_out,) = rdf["inputs"], rdf["outputs"]
    assert [a.get("id", a["type"]) for a in tensor_in["axes"]] == ["batch", "z", "y", "x", "channel"]
    assert tensor_in["axes"][1]["size"] == {"min": 3, "step": 1}
    assert [a.get("id", a["type"]) for a in tensor_out["axes"]] == ["batch", "y", "x", "channel"]
    assert rdf["config"]["carekit"]["kind"] == "projection" and rdf["config"]["carekit"]["axes"] == "YX"
    test_in, test_out = (np.load(package.folder / f) for f in ("test_input.npy", "test_output.npy"))
    assert test_in.ndim == 5 and test_in.shape[1] == 8 and test_out.shape == (1, *test_in.shape[2:4], 1)
    assert read_image(package.folder / "sample_input.tif").axes == "ZYX"
    assert read_image(package.folder / "sample_output.tif").data.shape == test_out.shape[1:3]
    assert "No Keras HDF5" in (package.folder / "README.md").read_text()


@pytest.mark.parametrize("engine", ["onnx", "tensorflow"])
def test_restore_on_the_zip_equals_the_model_folder(package, projection_model, stack, engine):
    expected = restore(projection_model, stack, progress=False).image
    result = restore(package.zip_path, stack, engine=engine, tile=(48, 48), progress=False)
    assert result.axes == "YX" and result.image.shape == (72, 100)
    np.testing.assert_allclose(result.image, expected, atol=1e-4)


def test_cli_predicts_a_2d_tiff_from_the_zip(package, stack, tmp_path):
    write_image(tmp_path / "stack.tif", Image(stack, "ZYX", {"Z": 1.0, "Y": 0.4, "X": 0.4}))
    assert main(["predict", "--model", str(package.zip_path), str(tmp_path / "stack.tif"),
                 "--out", str(tmp_path / "out"), "--quiet"]) == 0
    result = read_image(tmp_path / "out" / "stack.tif")
    assert result.data.shape == (72, 100) and result.axes == "YX"


def test_keras_only_or_2d_sample_is_refused(projection_model, tmp_path):
    with pytest.raises(InputError, match="projection package holds tensorflow_saved_model_bundle and/or onnx"):
        build_package(projection_model, tmp_path / "p.zip", formats=("keras_hdf5",))
    with pytest.raises(InputError, match=r"must be a stack \(Z, Y, X\)"):
        build_package(projection_model, tmp_path / "p.zip", sample=np.ones((64, 64), np.float32))
    assert not (tmp_path / "p.zip").exists()



def test_repackaging_a_projection_package_is_refused_in_one_line(package, tmp_path, capsys):
    assert main(["package", "--from-package", str(package.zip_path), "--out", str(tmp_path / "again.zip")]) == 2
    assert "re-packaging supports CARE models, not 'projection' ones" in capsys.readouterr().err


@pytest.mark.imagej
def test_fiji_plugin_gives_a_2d_imageplus_from_the_zip(package, projection_model, stack):
    from carekit.fiji.run import run_in_fiji

    image = Image(stack[:, :40, :52], "ZYX", {"Z": 1.0, "Y": 0.25, "X": 0.25})
    result = run_in_fiji(package.zip_path, image, tile=32)
    assert result.dims == ("Y", "X") and result.shape == (40, 52)
    np.testing.assert_allclose(result.values, restore(projection_model, image, progress=False).image, atol=1e-4)
