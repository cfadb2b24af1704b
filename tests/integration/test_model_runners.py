"""One runner protocol for every model source: the adapter and the weight format load_model picks, and restore()
on packages not made by carekit (issue 15)."""

import zipfile
from pathlib import Path

import numpy as np
import pytest
from ruyaml import YAML

from carekit.errors import InputError
from carekit.models import load_model
from carekit.models.carekit_package import CarekitPackage
from carekit.models.foreign import ForeignPackage
from carekit.models.runner import ModelRunner
from carekit.predict import restore

SHIPPED = Path(__file__).parents[2] / "model-zoo" / "care-hela-nuclei-denoising.zip"


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CAREKIT_CACHE", str(tmp_path / "cache"))


def unzipped(tmp_path: Path, change=None) -> Path:
    folder = tmp_path / "package"
    with zipfile.ZipFile(SHIPPED) as zf:
        zf.extractall(folder)
    if change is not None:
        yaml = YAML(typ="safe")
        rdf = yaml.load((folder / "rdf.yaml").read_text())
        change(rdf)
        with (folder / "rdf.yaml").open("w") as fh:
            yaml.dump(rdf, fh)
    return folder


@pytest.fixture
def image() -> np.ndarray:
    return np.random.default_rng(3).poisson(20, (96, 96)).astype(np.float32)


@pytest.mark.parametrize("engine, weight_format", [(None, "onnx"), ("onnx", "onnx"),
                                                   ("tensorflow", "tensorflow_saved_model_bundle"),
                                                   ("keras", "keras_hdf5")])
def test_an_explicit_engine_wins_else_onnx_comes_first(engine, weight_format):
    runner = load_model(SHIPPED, engine=engine)
    assert isinstance(runner, CarekitPackage) and isinstance(runner, ModelRunner)
    assert runner.weight_format == weight_format


def test_priority_skips_formats_the_package_lacks(tmp_path, image):
    folder = unzipped(tmp_path, lambda rdf: rdf["weights"].pop("onnx"))
    runner = load_model(folder)
    assert runner.weight_format == "tensorflow_saved_model_bundle"
    reference = restore(load_model(SHIPPED), image, progress=False).image
    np.testing.assert_allclose(restore(runner, image, progress=False).image, reference, atol=1e-4)
    with pytest.raises(InputError, match="no onnx weights for engine 'onnx'; available engines: \\['tensorflow', 'keras'\\]"):
        load_model(folder, engine="onnx")


def test_restore_runs_a_foreign_package_with_its_own_processing(tmp_path, image):
    """A package without carekit's block goes through bioimageio.core; restore() used to raise AttributeError."""
    folder = unzipped(tmp_path, lambda rdf: rdf["config"].pop("carekit"))
    runner = load_model(folder)
    assert isinstance(runner, ForeignPackage) and runner.spec.axes == "YX" and runner.spec.pmin is None
    ours = restore(SHIPPED, image, progress=False)
    theirs = restore(runner, image, progress=False)
    assert theirs.axes == "YX" and theirs.image.shape == image.shape and theirs.scale is None
    # bioimageio.core pads before computing percentiles, which shifts normalization slightly near the border
    assert np.abs(theirs.image - ours.image)[24:-24, 24:-24].max() < 0.05
    batch = runner.forward(np.stack([image, image[::-1]])[..., None])
    assert batch.shape == (2, 96, 96, 1)
    np.testing.assert_allclose(batch[0, ..., 0], theirs.image, atol=1e-5)
    with pytest.raises(InputError, match="do not fit"):
        restore(runner, np.stack([image, image]), axes="TYX", progress=False)


def test_damaged_or_newer_carekit_block_is_a_clear_error(tmp_path):
    folder = unzipped(tmp_path, lambda rdf: rdf["config"]["carekit"].update(halo=-1))
    with pytest.raises(InputError, match="carekit block of rdf.yaml is damaged \\(halo: "):
        load_model(folder)
    newer = unzipped(tmp_path / "newer", lambda rdf: rdf["config"]["carekit"].update(block_version=99))
    with pytest.raises(InputError, match="newer carekit .*update carekit"):
        load_model(newer)
