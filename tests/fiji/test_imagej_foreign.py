"""ImageJ parity on a package carekit did not make (tests/foreign_package.py: fixed 64x64 input, halo, zero-mean
preprocessing, sigmoid, two outputs): the CARE Restore plugin (python engine) in a macro and run_in_fiji give what
carekit predict gives, every output as a channel named by its output id."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from carekit.fiji import locate
from carekit.fiji.install import install
from carekit.fiji.run import plugin_options, run_in_fiji
from carekit.io import read_image, write_image
from carekit.predict import restore
from tests.foreign_package import OUTPUTS, write_foreign_package

pytestmark = pytest.mark.imagej


@pytest.fixture(scope="module")
def package(tmp_path_factory) -> Path:
    rdf = write_foreign_package(tmp_path_factory.mktemp("foreign"))
    archive = rdf.parent.parent / "foreign.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for path in sorted(rdf.parent.iterdir()):
            zf.write(path, path.name)
    return archive


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return (np.random.default_rng(3).gamma(2.0, 50.0, size=(90, 140)) + 100).astype(np.float32)


@pytest.fixture(scope="module")
def expected(package, image) -> dict:
    outputs = restore(package, image, axes="YX", progress=False).outputs
    assert list(outputs) == list(OUTPUTS)
    return {name: out.data for name, out in outputs.items()}


def test_plugin_macro_writes_every_output_as_a_channel(package, image, expected, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("macro")
    home = tmp / "imagej"
    install(home, python=sys.executable)
    write_image(tmp / "in.tif", image)
    plugin = home / "plugins" / "CARE" / "CARE_Restore.py"
    options = plugin_options(package, input_path=tmp / "in.tif", output_path=tmp / "out.tif")
    (tmp / "m.ijm").write_text(f'r = runMacro("{plugin}", "{options}");\nprint("plugin said: " + r);\n')
    java = str(locate.java_home() / "bin" / "java")
    log = subprocess.run([java, "-Djava.awt.headless=true", f"-Dplugins.dir={home}", "-cp",
                          str(locate.imagej_jar()), "ij.ImageJ", "-batch", str(tmp / "m.ijm")],
                         capture_output=True, text=True, timeout=300)
    assert "plugin said: out.tif" in log.stdout + log.stderr, log.stdout + log.stderr
    restored = read_image(tmp / "out.tif").data
    assert restored.shape == (len(OUTPUTS),) + image.shape
    for index, name in enumerate(OUTPUTS):
        assert np.abs(restored[index] - expected[name]).max() <= 1e-4, name


@pytest.mark.parametrize("form, uncertainty", [("zip", True), ("bioimageio.yaml", False)])
def test_run_in_fiji_names_outputs_by_id(package, image, expected, form, uncertainty, tmp_path):
    """Without uncertainty the plugin's output segment holds one channel: it runs again with room for both."""
    model = package
    if form != "zip":
        shutil.unpack_archive(package, tmp_path / "pkg")
        model = tmp_path / "pkg" / "bioimageio.yaml"
    result = run_in_fiji(model, image, uncertainty=uncertainty)
    assert result.dims == ("C", "Y", "X") and list(result.coords["C"].values) == list(OUTPUTS)
    for name in OUTPUTS:
        assert np.abs(result.sel(C=name).values - expected[name]).max() <= 1e-4, name
