"""A built carekit wheel carries the Fiji plugin: `carekit fiji install` works from an installed wheel (no checkout)
and the installed plugin runs in real ImageJ 1.x."""

import os
import subprocess
import sys
import sysconfig
import zipfile
from importlib.metadata import version
from pathlib import Path

import pytest

from carekit.fiji import locate

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = "carekit/fiji/scripts/"
SHIPPED = ("plugins/CARE/CARE_Restore.py", "lib/carekit_fiji/__init__.py", "lib/carekit_fiji/restore.py",
           "lib/carekit_fiji/appose_client.py", "macros/care_restore_image.ijm", "macros/care_restore_folder.ijm",
           "imagej1/Jython.java")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """pyproject needs setuptools >= 77: the running environment's when it has it, else pip's build isolation."""
    out = tmp_path_factory.mktemp("wheel")
    isolation = ["--no-build-isolation"] if int(version("setuptools").split(".")[0]) >= 77 else []
    result = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", *isolation, "-w", str(out),
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


@pytest.mark.skipif(locate.imagej_jar() is None or locate.jython_jar() is None or locate.java_home() is None,
                    reason="needs apt packages imagej, jython and a JDK (bash run.sh installs them)")
def test_fiji_install_from_the_installed_wheel_runs_in_imagej(fresh_env, tmp_path):
    home = tmp_path / "ImageJ"
    code = ("import sys, carekit; from carekit.cli import main; print('carekit from', carekit.__file__); "
            f"sys.exit(main(['fiji', 'install', '--target', {str(home)!r}]))")
    result = subprocess.run([str(fresh_env), "-c", code], cwd=tmp_path, env=_clean_env(), capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"carekit from {fresh_env.parents[1]}" in result.stdout, result.stdout
    for path in ("plugins/CARE/CARE_Restore.py", "plugins/jars/Lib/carekit_fiji/restore.py",
                 "plugins/jars/Lib/carekit_fiji/contract.py", "plugins/jars/carekit-jython.jar",
                 "macros/carekit/care_restore_image.ijm"):
        assert (home / path).is_file(), path
    assert (home / "plugins/CARE/carekit.properties").read_text().strip() == f"python={fresh_env}"

    # The installed plugin, its helpers and the compiled Jython runner work: a missing model is reported in one line.
    macro = tmp_path / "check.ijm"
    plugin = home / "plugins" / "CARE" / "CARE_Restore.py"
    macro.write_text(f'result = runMacro("{plugin}", "model=[{tmp_path}/missing.zip] input=[{tmp_path}/in.tif]");\n'
                     'print("plugin said: " + result);\n')
    java = str(locate.java_home() / "bin" / "java")
    log = subprocess.run([java, "-Djava.awt.headless=true", f"-Dplugins.dir={home}", "-cp", str(locate.imagej_jar()),
                          "ij.ImageJ", "-batch", str(macro)], capture_output=True, text=True, timeout=300)
    output = log.stdout + log.stderr
    assert f"plugin said: ERROR: model package not found: {tmp_path}/missing.zip" in output, output
    assert "Traceback" not in output and "ImportError" not in output, output
