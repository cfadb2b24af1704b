"""CARE Restore in real ImageJ 1.53t + Jython 2.7: macro forms in separate JVMs, run_in_fiji in this process."""

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from carekit.errors import CarekitError, InputError
from carekit.fiji import locate
from carekit.fiji.install import install
from carekit.fiji.run import plugin_options, run_in_fiji
from carekit.io import read_image, write_image
from carekit.predict import restore
from tests.conftest import require, synthetic_pairs

pytestmark = pytest.mark.imagej  # skipped without ImageJ/Jython, failed in CI (see conftest.require)

MACROS = Path(__file__).resolve().parents[2] / "fiji-scripts" / "macros"


def _shm_segments() -> set[str]:
    return {p.name for p in Path("/dev/shm").glob("psm_carekit_*")}


@pytest.fixture(scope="module")
def imagej_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("imagej")
    installed = install(home, python=sys.executable)
    assert installed.kind == "imagej1"
    return home


def _run_imagej(home: Path, macro: str, argument: str = "", screen: bool = False) -> str:
    java = str(locate.java_home() / "bin" / "java")
    command = [java, f"-Dplugins.dir={home}", "-cp", str(locate.imagej_jar()), "ij.ImageJ", "-batch", macro, argument]
    if screen:
        command = [str(locate.xvfb_run()), "-a"] + command
    else:
        command.insert(1, "-Djava.awt.headless=true")
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    return result.stdout + result.stderr


def test_installer_lays_out_plugin_helpers_and_jython(imagej_home):
    for path in ("plugins/CARE/CARE_Restore.py", "plugins/CARE/carekit.properties",
                 "plugins/jars/Lib/carekit_fiji/appose_client.py", "plugins/jars/jython.jar",
                 "plugins/jars/carekit-jython.jar", "macros/carekit/care_restore_folder.ijm"):
        assert (imagej_home / path).exists(), path
    assert (imagej_home / "plugins/CARE/carekit.properties").read_text().strip() == f"python={sys.executable}"


def test_headless_batch_macro_runmacro_form(imagej_home, tiny_package, tmp_path):
    image = synthetic_pairs(1, shape=(180, 140), seed=31)[0][0]
    write_image(tmp_path / "in.tif", image)
    options = plugin_options(tiny_package, input_path=tmp_path / "in.tif", output_path=tmp_path / "out.tif")
    plugin = imagej_home / "plugins" / "CARE" / "CARE_Restore.py"
    macro = tmp_path / "headless.ijm"
    macro.write_text(f'result = runMacro("{plugin}", "{options}");\nprint("plugin said: " + result);\n')
    log = _run_imagej(imagej_home, str(macro))
    assert "plugin said: out.tif" in log, log  # the result, titled after the file it was saved to
    restored = read_image(tmp_path / "out.tif").data
    expected = restore(tiny_package, image, progress=False).image
    assert np.abs(restored - expected).max() <= 1e-4


def test_menu_command_and_example_macros_under_xvfb(imagej_home, tiny_package, tmp_path):
    require(None if locate.xvfb_run() else "needs xvfb-run (apt-get install xvfb)")
    images = synthetic_pairs(2, shape=(128, 96), seed=41)[0]
    folder = tmp_path / "images"
    for index, image in enumerate(images):
        write_image(folder / f"img{index}.tif", image)
    log = _run_imagej(imagej_home, str(MACROS / "care_restore_image.ijm"),
                      f"{tiny_package},{folder / 'img0.tif'},{tmp_path / 'single.tif'}", screen=True)
    assert "restored:" in log, log
    log = _run_imagej(imagej_home, str(MACROS / "care_restore_folder.ijm"), f"{tiny_package},{folder}", screen=True)
    assert "restored 2 images" in log, log
    for index, image in enumerate(images):
        expected = restore(tiny_package, image, progress=False).image
        assert np.abs(read_image(folder / "CARE" / f"img{index}.tif").data - expected).max() <= 1e-4
    assert np.abs(read_image(tmp_path / "single.tif").data - restore(tiny_package, images[0], progress=False).image).max() <= 1e-4


def test_macro_errors_are_reported_not_hung(imagej_home, tmp_path):
    plugin = imagej_home / "plugins" / "CARE" / "CARE_Restore.py"
    macro = tmp_path / "bad.ijm"
    macro.write_text(f'r = runMacro("{plugin}", "model=[/no/such/model.zip] input=[/no/image.tif]");\n'
                     'print("plugin said: " + r);\n')
    log = _run_imagej(imagej_home, str(macro))
    assert "plugin said: ERROR: model package not found: /no/such/model.zip" in log, log
    macro.write_text(f'r = runMacro("{plugin}", "model=[{plugin}] colour=red");\nprint("plugin said: " + r);\n')
    assert "unknown option 'colour'" in _run_imagej(imagej_home, str(macro))


def test_run_in_fiji_equals_python_predict(tiny_package):
    before = _shm_segments()
    image = synthetic_pairs(1, shape=(200, 230), seed=51)[0][0]
    result = run_in_fiji(tiny_package, image)
    assert result.dims == ("Y", "X") and result.attrs["imagej"] == "imagej1"
    expected = restore(tiny_package, image, progress=False).image
    assert np.abs(result.values - expected).max() <= 1e-4
    stack = np.stack(synthetic_pairs(3, shape=(64, 80), seed=52)[0])
    series = run_in_fiji(tiny_package, stack, axes="TYX", tile=32)
    assert series.dims == ("T", "Y", "X")
    np.testing.assert_allclose(series.values, restore(tiny_package, stack, axes="TYX", progress=False).image, atol=1e-4)
    assert _shm_segments() == before


def test_run_in_fiji_probabilistic_has_mean_and_scale_channels(prob_package):
    image = synthetic_pairs(1, shape=(96, 96), seed=61)[0][0]
    result = run_in_fiji(prob_package, image)
    assert result.dims == ("C", "Y", "X") and list(result.coords["C"].values) == ["mean", "scale"]
    expected = restore(prob_package, image, progress=False)
    np.testing.assert_allclose(result.sel(C="mean").values, expected.image, atol=1e-4)
    np.testing.assert_allclose(result.sel(C="scale").values, expected.scale, atol=1e-4)
    without = run_in_fiji(prob_package, image, uncertainty=False)
    assert without.dims == ("Y", "X")


def test_macro_steps_before_and_after(tiny_package):
    image = synthetic_pairs(1, shape=(96, 96), seed=71)[0][0]
    plain = run_in_fiji(tiny_package, image)
    each_pixel = "for (y = 0; y < getHeight(); y++) for (x = 0; x < getWidth(); x++) setPixel(x, y, {});"
    # scaling the input does not change the percentile-normalized restoration; the after step adds 1
    shifted = run_in_fiji(tiny_package, image, macro_before=each_pixel.format("3 * getPixel(x, y)"),
                          macro_after=each_pixel.format("getPixel(x, y) + 1"))
    np.testing.assert_allclose(shifted.values, plain.values + 1, atol=1e-3)
    with pytest.raises(CarekitError, match="macro_before failed"):
        run_in_fiji(tiny_package, image, macro_before="run(\"Gaussian Blur...\", \"sigma=2\");")


def test_worker_problems_give_clear_errors_and_leave_no_shared_memory(tiny_package):
    before = _shm_segments()
    image = synthetic_pairs(1, shape=(64, 64), seed=81)[0][0]
    with pytest.raises(CarekitError, match="cannot start Python"):
        run_in_fiji(tiny_package, image, python="/no/such/python")
    with pytest.raises(CarekitError, match="worker exited"):
        run_in_fiji(tiny_package, image, python=shutil.which("false"))
    big = np.random.default_rng(0).random((1024, 1024)).astype(np.float32)
    with pytest.raises(CarekitError, match="no answer from the Python worker within"):
        run_in_fiji(tiny_package, big, timeout=0.05)
    assert run_in_fiji(tiny_package, image).shape == (64, 64)  # a fresh worker after the timeout
    with pytest.raises(InputError, match="not found"):
        run_in_fiji("/no/such/model.zip", image)
    assert _shm_segments() == before
