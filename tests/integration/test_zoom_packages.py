"""Isotropic and axial-upsampling packages hold the whole Z-zoom recipe in their exported graph: bioimageio.core
runs raw stack -> zoomed, restored stack with no carekit code, equal to carekit's tiled restore; the declared
output Z size matches the graph's; carekit's own path runs the attached bare network."""

import json
import os
import subprocess
import warnings
import sys

import numpy as np
import pytest

from carekit.config import TrainConfig
from carekit.io import Image
from carekit.models import load_model
from carekit.predict import restore
from carekit.predict.isotropic import global_range, restore_isotropic
from carekit.tiling import round_up
from carekit.zoo.zoom_package import (DECLARED_RANGE, declared_fraction, declared_run, declared_z_sizes,
                                      sample_planes)

FACTOR = 2.5  # non-integer: round(Z * 2.5) and floor(Z * 2.5) differ for odd Z
TINY = dict(patch_size=(32, 32), patches_per_image=4, epochs=1, steps_per_epoch=2, batch_size=4, unet_first=8,
            unet_depth=2)


def _stack(shape, seed=0, factor=FACTOR) -> Image:
    data = np.random.default_rng(seed).gamma(2.0, 50.0, shape).astype(np.float32)
    return Image(data, "ZYX", {"Z": 0.2 * factor, "Y": 0.2, "X": 0.2})


def _nuclei() -> Image:
    """A real, nearly isotropic confocal crop (built-in nuclei3d) blurred along Z and sampled every 2.5 planes."""
    from scipy import ndimage

    from carekit.data import builtin

    truth = builtin.load("nuclei3d").data[:50, 64:128, 64:128].astype(np.float32)
    planes = np.round(np.arange(0, 50, FACTOR)).astype(int)
    return Image(ndimage.gaussian_filter1d(truth, FACTOR / 2, axis=0)[planes], "ZYX",
                 {"Z": 0.26 * FACTOR, "Y": 0.26, "X": 0.26})


@pytest.fixture(scope="module")
def iso_model(tmp_path_factory):
    from carekit.train.isotropic import train_isotropic

    model_dir = tmp_path_factory.mktemp("zoom") / "iso"
    train_isotropic(_nuclei(), model_dir, TrainConfig(**TINY), progress=False)
    return model_dir


@pytest.mark.parametrize("factor, step", [(4.0, 1), (2.5, 2), (10.2, 5), (1.5, 2), (1.2 / 0.4, 1)])
def test_declared_input_z_sizes_give_the_zoomed_length(factor, step):
    z_min, z_step = declared_z_sizes(factor)
    assert z_step == step and declared_run(factor) == DECLARED_RANGE
    p, q = declared_fraction(factor)
    for z in range(z_min, z_min + DECLARED_RANGE * z_step, z_step):
        assert int(z * float(p) / float(q)) == round(z * factor)  # bioimageio.spec's rule == scipy's zoom
    z = sample_planes(factor)  # bioimageio.spec checks the test output's Z against Z * p / q as floats
    assert z * float(p) / float(q) == round(z * factor)


def test_a_factor_far_from_small_fractions_declares_a_limited_range():
    assert declared_fraction(3.1409) == (22, 7) and 20 < declared_run(3.1409) < DECLARED_RANGE
    assert sample_planes(3.1409) == 14


def test_in_graph_recipe_equals_the_tiled_restore(iso_model):
    import tensorflow as tf

    from carekit.models.keras_dir import load_keras_model
    from carekit.train.isotropic_export import Recipe

    runner = load_model(iso_model)
    spec = runner.spec
    recipe = Recipe(True, spec.z_factor, round_up(spec.halo, spec.divisor), spec.divisor)
    network = load_keras_model(iso_model)
    for shape in [(5, 40, 44), (2, 9, 13), (3, 60, 20)]:  # odd Z: 12.5 -> 12 planes (half to even), 7.5 -> 8
        image = _stack(shape, seed=1).data
        tiled, _, _ = restore_isotropic(runner, image, progress=False, tile=(16, 16))
        lo, hi = global_range(image, spec.pmin, spec.pmax)
        graph = np.asarray(recipe(network, tf.constant(((image - lo) / (hi - lo + spec.eps))[None, ..., None])))
        assert graph.shape == (1, round(shape[0] * FACTOR)) + shape[1:] + (1,)
        np.testing.assert_allclose(graph[0, ..., 0], tiled, atol=1e-4)
        assert tiled.std() > 0.01


_BIOIMAGEIO_CHILD = """
import json, sys
import numpy as np
from bioimageio.core import Tensor, create_prediction_pipeline
from bioimageio.core.digest_spec import create_sample_for_model
from bioimageio.spec import load_model_description

package, stack, out = sys.argv[1:4]
descr = load_model_description(package, perform_io_checks=False)
x = np.load(stack)[None, ..., None]
report = {}
for fmt in ("onnx", "tensorflow_saved_model_bundle"):
    with create_prediction_pipeline(descr, weight_format=fmt) as pipeline:
        sample = create_sample_for_model(descr, inputs={"input": Tensor.from_numpy(
            x, dims=("batch", "z", "y", "x", "channel"))})
        result = pipeline.predict_sample_without_blocking(sample, skip_input_padding=True,
                                                          skip_output_cropping=True)
        np.save(f"{out}_{fmt}.npy", result.members["output"].data.values[0, ..., 0])
    in_axes = {a.id: a for a in descr.inputs[0].axes}
    z_out = next(a for a in descr.outputs[0].axes if a.id == "z")
    report["declared_z"] = z_out.size.get_size(z_out, in_axes["z"], ref_size=x.shape[1])
report["carekit_imported"] = any(name.split(".")[0] == "carekit" for name in sys.modules)
print(json.dumps(report))
"""


def _bioimageio_core(package, stack: np.ndarray, tmp_path) -> tuple[dict, dict]:
    """bioimageio.core alone (no carekit import) on a stack, in a child process in a temporary folder."""
    np.save(tmp_path / "stack.npy", stack)
    child = subprocess.run([sys.executable, "-c", _BIOIMAGEIO_CHILD, str(package), str(tmp_path / "stack.npy"),
                            str(tmp_path / "out")], cwd=tmp_path, capture_output=True, text=True, timeout=600,
                           env={**os.environ, "KERAS_BACKEND": "tensorflow", "PYTHONPATH": ""})
    assert child.returncode == 0, child.stderr[-3000:]
    report = json.loads(child.stdout.strip().splitlines()[-1])
    outputs = {fmt: np.load(tmp_path / f"out_{fmt}.npy") for fmt in ("onnx", "tensorflow_saved_model_bundle")}
    return report, outputs


def _check_package(model_dir, tmp_path, stack: Image, name: str):
    from carekit.zoo.package import build_package

    result = build_package(model_dir, tmp_path / "zoom.zip", name=name, maintainers=("carekit-tester",))
    assert result.test_results == {"tensorflow_saved_model_bundle": "passed", "onnx": "passed"}
    assert result.warnings == {"tensorflow_saved_model_bundle": [], "onnx": []}
    from_folder = restore(model_dir, stack, progress=False)
    from_zip = restore(tmp_path / "zoom.zip", stack, progress=False)
    np.testing.assert_allclose(from_zip.image, from_folder.image, atol=1e-4)
    assert from_zip.pixel_size["Z"] == pytest.approx(stack.pixel_size["Z"] / load_model(model_dir).spec.z_factor)
    report, outputs = _bioimageio_core(tmp_path / "zoom.zip", stack.data, tmp_path)
    assert not report["carekit_imported"]
    assert report["declared_z"] == from_folder.image.shape[0]
    for fmt, output in outputs.items():
        assert output.shape == from_folder.image.shape, fmt
        np.testing.assert_allclose(output, from_folder.image, atol=1e-4, err_msg=fmt)


@pytest.mark.filterwarnings("ignore::carekit.predict.domain_check.OutOfRangeWarning")  # random stacks
@pytest.mark.slow
def test_isotropic_package_runs_the_whole_recipe_without_carekit(iso_model, tmp_path):
    z_min, z_step = declared_z_sizes(FACTOR)
    _check_package(iso_model, tmp_path, _stack((z_min + 2 * z_step, 56, 60), seed=2), "CARE isotropic test")


@pytest.mark.filterwarnings("ignore::carekit.predict.domain_check.OutOfRangeWarning")  # random stacks
@pytest.mark.slow
def test_upsampling_package_zooms_z_in_the_graph(tmp_path):
    from carekit import workflows
    from carekit.config import SynthConfig

    data = workflows.data_from_structures("granules", (16, 32, 32), 2, SynthConfig(axial_subsample=2, photons=[20.0]))
    config = TrainConfig(axes="ZYX", patch_size=(8, 16, 16), patches_per_image=4, epochs=1, steps_per_epoch=2,
                         batch_size=2, unet_first=4, unet_depth=1)
    workflows.train(data, tmp_path / "up", config, progress=False)
    _check_package(tmp_path / "up", tmp_path, _stack((5, 28, 36), seed=3, factor=2), "CARE upsampling test")


def test_isotropic_prediction_warns_when_the_stack_is_unlike_the_training_data(iso_model):
    from carekit.predict.domain_check import OutOfRangeWarning

    assert load_model(iso_model).spec.domain["noise"]  # recorded from the degraded training planes
    with warnings.catch_warnings():
        warnings.simplefilter("error", OutOfRangeWarning)
        restore(iso_model, _nuclei(), progress=False)  # the training stack itself
    noise = _stack((20, 64, 64), factor=FACTOR)
    with pytest.warns(OutOfRangeWarning, match="unlike the model's training data"):
        restore(iso_model, Image(noise.data, "ZYX", {"Z": 0.26 * FACTOR, "Y": 0.26, "X": 0.26}), progress=False)
    with pytest.warns(OutOfRangeWarning, match="pixel size"):
        restore(iso_model, Image(_nuclei().data, "ZYX", {"Z": 1.04 * FACTOR, "Y": 1.04, "X": 1.04}), progress=False)


@pytest.mark.filterwarnings("ignore::carekit.predict.domain_check.OutOfRangeWarning")  # random stacks
def test_a_package_without_onnx_attaches_no_onnx_network(iso_model, tmp_path):
    """The bare network is attached as Keras HDF5 (what re-packaging rebuilds from) and in the package's formats
    only: a user who leaves ONNX out (e.g. after a failed ONNX check) gets no ONNX anywhere in the package."""
    import zipfile

    from carekit.zoo.package import build_package

    result = build_package(iso_model, tmp_path / "iso.zip", name="CARE isotropic test", maintainers=("carekit-tester",),
                           formats=("tensorflow_saved_model_bundle",))
    assert result.test_results == {"tensorflow_saved_model_bundle": "passed"}
    assert not [n for n in zipfile.ZipFile(tmp_path / "iso.zip").namelist() if n.endswith(".onnx")]
    assert set(load_model(tmp_path / "iso.zip").block.network_weights) == {"keras_hdf5", "tensorflow_saved_model_bundle"}
    stack = _stack((12, 40, 44), seed=4, factor=FACTOR)
    np.testing.assert_allclose(restore(tmp_path / "iso.zip", stack, progress=False).image,
                               restore(iso_model, stack, progress=False).image, atol=1e-4)
