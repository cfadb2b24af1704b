"""bioimage.io packages that carekit did not make (tests/foreign_package.py writes them by hand, as other tools do),
run by carekit and compared with bioimageio.core."""

import hashlib
import importlib.util
import json
import shutil
import zipfile

import numpy as np
import pytest

from carekit.cli import main
from carekit.errors import InputError
from carekit.io import read_image, write_image
from carekit.models import load_model
from carekit.models.foreign import ForeignPackage
from carekit.predict import restore
from tests.foreign_package import HALO, OUTPUTS, SIZE, package_rdf, reference_outputs, tensor_axes, write_package


pytestmark = pytest.mark.usefixtures("isolated_cache")


@pytest.fixture
def package(foreign_package):
    return foreign_package


@pytest.fixture(scope="module")
def image():
    return (np.random.default_rng(2).gamma(2.0, 50.0, size=(100, 150)) + 100).astype(np.float32)


def test_hand_written_package_is_valid(package):
    from bioimageio.spec import load_description
    from bioimageio.spec.model import v0_5

    descr = load_description(package, perform_io_checks=True)
    assert isinstance(descr, v0_5.ModelDescr), descr.validation_summary.format()


def test_fixed_size_package_matches_bioimageio_core(package, image):
    """Tolerance 1e-5: the same float32 arithmetic in another order (the output is in [0, 1])."""
    from bioimageio.core import Tensor, predict
    from bioimageio.spec import load_description

    result = restore(package, image, axes="YX", progress=False)
    assert set(result.outputs) == set(OUTPUTS)
    descr = load_description(package, perform_io_checks=False)
    tensor = Tensor.from_numpy(image[None, None], dims=("batch", "channel", "y", "x"))
    theirs = predict(model=descr, inputs={"raw": tensor}, blocksize_parameter=0)
    reference = reference_outputs(image.astype(np.float64))
    for name in OUTPUTS:
        ours = result.outputs[name]
        assert ours.axes == "YX" and ours.data.shape == image.shape
        np.testing.assert_allclose(ours.data, theirs.members[name].data.values[0, 0], atol=1e-5)
        # The halo (8 px) exceeds the receptive field (1 px): tiling at 64x64 leaves no seams.
        np.testing.assert_allclose(ours.data, reference[name], atol=1e-5)


def test_image_smaller_than_the_fixed_size(package, image):
    """A 40x50 image is padded (symmetric) to the 64x64 the model accepts after whole-image normalization;
    bioimageio.core itself refuses images smaller than one block."""
    small = image[:40, :50]
    result = restore(package, small, axes="YX", progress=False)
    reference = reference_outputs(small.astype(np.float64))
    for name in OUTPUTS:
        assert result.outputs[name].data.shape == small.shape
        np.testing.assert_allclose(result.outputs[name].data, reference[name], atol=1e-5)


@pytest.mark.parametrize("form", ["folder", "zip", "rdf.yaml", "named.bioimageio.yaml"])
def test_package_forms(package, tmp_path, form):
    folder = tmp_path / "pkg"
    shutil.copytree(package.parent, folder)
    if form == "zip":
        source = tmp_path / "pkg.zip"
        with zipfile.ZipFile(source, "w") as zf:
            for path in folder.iterdir():
                zf.write(path, path.name)
    elif form == "folder":
        source = folder
    else:
        source = (folder / "bioimageio.yaml").rename(folder / form)
    assert isinstance(load_model(source), ForeignPackage)


def test_other_yaml_name_is_refused(package, tmp_path):
    folder = shutil.copytree(package.parent, tmp_path / "pkg")
    (folder / "bioimageio.yaml").rename(folder / "model.yaml")
    with pytest.raises(InputError, match="not a bioimage.io description name"):
        load_model(folder / "model.yaml")
    with pytest.raises(InputError, match="bioimageio.yaml, \\*.bioimageio.yaml or rdf.yaml"):
        load_model(folder)


def test_cli_writes_every_output(package, image, tmp_path, capsys):
    write_image(tmp_path / "in.tif", image, "YX")
    assert main(["predict", "--model", str(package), str(tmp_path / "in.tif"), "--out", str(tmp_path / "out"),
                 "--quiet"]) == 0
    reference = reference_outputs(image.astype(np.float64))
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["in_boundary.tif", "in_foreground.tif"]
    for name in OUTPUTS:
        np.testing.assert_allclose(read_image(tmp_path / "out" / f"in_{name}.tif").data, reference[name], atol=1e-5)


def _bad_package(package, tmp_path, **changes):
    folder = shutil.copytree(package.parent, tmp_path / "bad")
    return write_package(folder, **changes)


def test_weights_only_at_url(package, tmp_path):
    rdf = _bad_package(package, tmp_path, weights={"onnx": {"source": "https://example.org/weights.onnx",
                                                            "opset_version": 17}})
    with pytest.raises(InputError, match=r"could run here \(\['onnx'\]\) are only at URLs.*has \['onnx'\]"):
        load_model(rdf)


def test_no_runnable_weights(package, tmp_path):
    if importlib.util.find_spec("torch") is not None:
        pytest.skip("torch is installed: torchscript weights run")
    folder = shutil.copytree(package.parent, tmp_path / "bad")
    (folder / "weights.pt").write_bytes(b"not a model")
    weights = {"torchscript": {"source": "weights.pt", "sha256": hashlib.sha256(b"not a model").hexdigest(),
                               "pytorch_version": "2.1"}}
    with pytest.raises(InputError, match=r"has \['torchscript'\] weights, none of which runs here"):
        load_model(write_package(folder, weights=weights))


def test_two_required_inputs(package, tmp_path):
    first = package_rdf(package.parent)["inputs"][0]
    second = {**first, "id": "mask", "preprocessing": []}
    with pytest.raises(InputError, match=r"needs 2 input tensors \['raw', 'mask'\]"):
        load_model(_bad_package(package, tmp_path, inputs=[first, second]))


def test_unmappable_axes(package, tmp_path):
    first = package_rdf(package.parent)["inputs"][0]
    axes = first["axes"][:1] + [{"type": "time", "size": 1}] + first["axes"][1:]
    with pytest.raises(InputError, match=r"axes \['time'\] that carekit cannot map"):
        load_model(_bad_package(package, tmp_path, inputs=[{**first, "axes": axes}]))


def _dynamic_package(folder, spatial: str, sizes: dict, halos: dict):
    """A one-output package with parameterized spatial sizes ({axis: (min, step)}) and a 3x3(x3) convolution."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    kernel = np.random.default_rng(3).normal(size=(1, 1) + (3,) * len(spatial)).astype(np.float32)
    shape = [1, 1] + list(spatial)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["raw", "w"], ["out"], pads=[1] * 2 * len(spatial))], "tiny",
        [helper.make_tensor_value_info("raw", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, shape)], [numpy_helper.from_array(kernel, "w")])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8),
              folder / "weights.onnx")
    test_input = np.random.default_rng(4).normal(size=[1, 1] + [sizes[a][0] for a in spatial]).astype(np.float32)
    np.save(folder / "test_input.npy", test_input)
    np.save(folder / "test_foreground.npy", test_input)  # not checked: perform_io_checks=False below
    (folder / "README.md").write_text("# tiny\n")
    axes = tensor_axes(None)[:2]
    space = [{"type": "space", "id": a, "size": {"min": sizes[a][0], "step": sizes[a][1]}} for a in spatial]
    inputs = [{"id": "raw", "axes": axes + space, "test_tensor": {"source": "test_input.npy"},
               "preprocessing": [{"id": "zero_mean_unit_variance", "kwargs": {"axes": list(spatial)}}]}]
    outputs = [{"id": "foreground", "test_tensor": {"source": "test_foreground.npy"},
                "axes": axes + [{"type": "space", "id": a, "size": {"tensor_id": "raw", "axis_id": a},
                                 "halo": halos[a]} for a in spatial], "postprocessing": [{"id": "sigmoid"}]}]
    return write_package(folder, inputs=inputs, outputs=outputs), kernel[0, 0]


@pytest.mark.parametrize("spatial, shape", [("yx", (100, 150)), ("zyx", (40, 150, 50))])
def test_parameterized_sizes_2d_3d(tmp_path, spatial, shape):
    """Blocks of min + n*step with the declared halo (3D: 32x128x128 at most, so the ZYX image is cut into
    several blocks); the result equals the untiled computation within 1e-5."""
    from scipy.ndimage import correlate

    sizes = {"z": (8, 4), "y": (24, 8), "x": (24, 8)}
    halos = {"z": 2, "y": 8, "x": 8}
    folder = tmp_path / "pkg"
    folder.mkdir()
    rdf, kernel = _dynamic_package(folder, spatial, sizes, halos)
    image = np.random.default_rng(5).gamma(2.0, 50.0, size=shape).astype(np.float32)
    result = restore(rdf, image, axes=spatial.upper(), progress=False)
    norm = (image.astype(np.float64) - image.mean()) / (image.std() + 1e-6)
    expected = 1 / (1 + np.exp(-correlate(norm, kernel.astype(np.float64), mode="reflect")))
    assert result.axes == spatial.upper() and result.image.shape == shape
    np.testing.assert_allclose(result.image, expected, atol=1e-5)


def test_spec_04_rdf_yaml(package, image, tmp_path):
    """The same network described in spec 0.4 (rdf.yaml, axes letters, halo list): converted to 0.5 on loading,
    so bioimageio.core tiles it with the halo as well."""
    folder = shutil.copytree(package.parent, tmp_path / "v04")
    (folder / "bioimageio.yaml").unlink()
    sha = hashlib.sha256((folder / "weights.onnx").read_bytes()).hexdigest()
    output = {"axes": "bcyx", "data_type": "float32", "halo": [0, 0, HALO, HALO],
              "postprocessing": [{"name": "sigmoid"}],
              "shape": {"reference_tensor": "raw", "scale": [1, 1, 1, 1], "offset": [0, 0, 0, 0]}}
    rdf = {"format_version": "0.4.10", "type": "model", "name": "tiny fixed-size net 0.4", "description": "by hand",
           "authors": [{"name": "Test"}], "license": "MIT", "documentation": "README.md", "timestamp": "2024-01-01",
           "cite": [{"text": "none", "doi": "10.5281/zenodo.5764892"}],
           "inputs": [{"name": "raw", "axes": "bcyx", "data_type": "float32", "shape": [1, 1, SIZE, SIZE],
                       "preprocessing": [{"name": "zero_mean_unit_variance",
                                          "kwargs": {"mode": "per_sample", "axes": "yx"}}]}],
           "outputs": [{**output, "name": name} for name in OUTPUTS],
           "test_inputs": ["test_input.npy"], "test_outputs": [f"test_{name}.npy" for name in OUTPUTS],
           "weights": {"onnx": {"source": "weights.onnx", "sha256": sha, "opset_version": 17}}}
    (folder / "rdf.yaml").write_text(json.dumps(rdf, indent=1))
    result = restore(folder / "rdf.yaml", image, axes="YX", progress=False)
    reference = reference_outputs(image.astype(np.float64))
    for name in OUTPUTS:
        np.testing.assert_allclose(result.outputs[name].data, reference[name], atol=1e-5)
