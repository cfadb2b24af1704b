"""A built carekit wheel carries the Fiji plugin: `carekit fiji install` works from an installed wheel (no checkout)
and the installed plugin runs in real ImageJ 1.x."""

import os
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from carekit.fiji import locate
from carekit.fiji.run import plugin_options
from carekit.io import read_image, write_image
from carekit.predict import restore
from tests.conftest import synthetic_pairs

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = "carekit/fiji/scripts/"
SHIPPED = ("plugins/CARE/CARE_Restore.py", "lib/carekit_fiji/__init__.py", "lib/carekit_fiji/restore.py",
           "lib/carekit_fiji/appose_client.py", "macros/care_restore_image.ijm", "macros/care_restore_folder.ijm",
           "imagej1/Jython.java")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """Built offline with the environment's setuptools (>= 77, from the test extra)."""
    out = tmp_path_factory.mktemp("wheel")
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "--no-build-isolation", "-w", str(out),
                             str(ROOT)], capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return next(out.glob("carekit-*.whl"))


@pytest.fixture(scope="module")
def fresh_env(wheel, tmp_path_factory) -> Path:
    """A new venv with the wheel installed; carekit's dependencies come from this environment's site-packages
    through a .pth line (directories named there do not have their own .pth files read, so the checkout's
    editable install of carekit stays invisible)."""
    env = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    python = env / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target", str(site),
                    str(wheel)], check=True, timeout=300)
    (site / "carekit-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return python


def _clean_env() -> dict:
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "CAREKIT_FIJI_SCRIPTS")}


def test_wheel_contains_plugin_helpers_macros_and_jython_runner(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in SHIPPED:
        assert SCRIPTS + path in names, path
    assert "carekit/fiji/contract.py" in names
    assert not any(name.endswith((".class", ".pyc")) for name in names)


NEEDS_IMAGEJ = pytest.mark.skipif(
    locate.imagej_jar() is None or locate.jython_jar() is None or locate.java_home() is None,
    reason="needs apt packages imagej, jython and a JDK (bash run.sh installs them)")


@pytest.fixture(scope="module")
def wheel_imagej(fresh_env, tmp_path_factory) -> Path:
    """`carekit fiji install` run by the wheel's carekit into a new ImageJ 1.x folder."""
    work = tmp_path_factory.mktemp("wheel-imagej")
    home = work / "ImageJ"
    code = ("import sys, carekit; from carekit.cli import main; print('carekit from', carekit.__file__); "
            f"sys.exit(main(['fiji', 'install', '--target', {str(home)!r}]))")
    result = subprocess.run([str(fresh_env), "-c", code], cwd=work, env=_clean_env(), capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"carekit from {fresh_env.parents[1]}" in result.stdout, result.stdout
    return home


def _run_macro(home: Path, macro: Path) -> str:
    java = str(locate.java_home() / "bin" / "java")
    log = subprocess.run([java, "-Djava.awt.headless=true", f"-Dplugins.dir={home}", "-cp", str(locate.imagej_jar()),
                          "ij.ImageJ", "-batch", str(macro)], capture_output=True, text=True, timeout=300)
    return log.stdout + log.stderr


@NEEDS_IMAGEJ
def test_fiji_install_from_the_installed_wheel_lays_out_the_plugin(wheel_imagej, fresh_env, tmp_path):
    home = wheel_imagej
    for path in ("plugins/CARE/CARE_Restore.py", "plugins/jars/Lib/carekit_fiji/restore.py",
                 "plugins/jars/Lib/carekit_fiji/contract.py", "plugins/jars/carekit-jython.jar",
                 "macros/carekit/care_restore_image.ijm"):
        assert (home / path).is_file(), path
    assert (home / "plugins/CARE/carekit.properties").read_text().strip() == f"python={fresh_env}"
    # The plugin, its helpers and the compiled Jython runner work: a missing model is reported in one line.
    macro = tmp_path / "check.ijm"
    plugin = home / "plugins" / "CARE" / "CARE_Restore.py"
    macro.write_text(f'result = runMacro("{plugin}", "model=[{tmp_path}/missing.zip] input=[{tmp_path}/in.tif]");\n'
                     'print("plugin said: " + result);\n')
    output = _run_macro(home, macro)
    assert f"plugin said: ERROR: model package not found: {tmp_path}/missing.zip" in output, output
    assert "Traceback" not in output and "ImportError" not in output, output


@NEEDS_IMAGEJ
def test_plugin_installed_from_the_wheel_restores_like_python(wheel_imagej, tiny_package, tmp_path):
    """The model runs in the wheel's environment (its Appose worker) and matches carekit predict."""
    image = synthetic_pairs(1, shape=(120, 100), seed=5)[0][0]
    write_image(tmp_path / "in.tif", image)
    options = plugin_options(tiny_package, input_path=tmp_path / "in.tif", output_path=tmp_path / "out.tif")
    macro = tmp_path / "restore.ijm"
    plugin = wheel_imagej / "plugins" / "CARE" / "CARE_Restore.py"
    macro.write_text(f'result = runMacro("{plugin}", "{options}");\nprint("plugin said: " + result);\n')
    output = _run_macro(wheel_imagej, macro)
    assert "plugin said: out.tif" in output, output
    expected = restore(tiny_package, image, progress=False).image
    assert abs(read_image(tmp_path / "out.tif").data - expected).max() <= 1e-4
