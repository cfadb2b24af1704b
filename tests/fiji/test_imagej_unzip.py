"""The deepImageJ engine's unzip in real ImageJ 1.53t + Jython 2.7: a malicious package zip is refused with one clear
line and nothing is written; a good one is extracted whole into the cache."""

import os
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from carekit.fiji import locate
from carekit.fiji.install import install
from tests.conftest import require

pytestmark = pytest.mark.imagej


@pytest.fixture(scope="module")
def imagej_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("imagej")
    install(home, python=sys.executable)
    return home


def _run_macro(home: Path, macro: Path, cache: Path) -> str:
    java = str(locate.java_home() / "bin" / "java")
    command = [str(locate.xvfb_run()), "-a", java, f"-Dplugins.dir={home}", "-cp", str(locate.imagej_jar()),
               "ij.ImageJ", "-batch", str(macro)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "CAREKIT_CACHE": str(cache)})
    return result.stdout + result.stderr


def _zip(path: Path, entries) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data, mode in entries:
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return path


def test_plugin_refuses_zip_slip_and_links_and_extracts_good_zips(imagej_home, tmp_path):
    require(None if locate.xvfb_run() else "needs xvfb-run (apt-get install xvfb)")
    weights = bytes(range(256)) * 4000
    good = _zip(tmp_path / "good.zip", [("bioimageio.yaml", b"name: m\n", 0o100644),
                                        ("weights/model.onnx", weights, 0o100644)])
    slip = _zip(tmp_path / "slip.zip", [("bioimageio.yaml", b"name: m\n", 0o100644),
                                        ("../../escaped.txt", b"x", 0o100644)])
    absolute = _zip(tmp_path / "abs.zip", [(f"{tmp_path}/absolute.txt", b"x", 0o100644)])
    link = _zip(tmp_path / "link.zip", [("rdf.yaml", b"/etc/passwd", stat.S_IFLNK | 0o777)])
    image = tmp_path / "in.tif"
    plugin = imagej_home / "plugins" / "CARE" / "CARE_Restore.py"
    lines = ['newImage("in", "32-bit ramp", 64, 48, 1);', f'saveAs("Tiff", "{image}");', 'close();',
             # deepImageJ is not installed here: its command name is all the engine checks before it unzips
             'eval("python", "from ij import Menus; Menus.getCommands().put(\'DeepImageJ Run\', \'ij.plugin.Text\')");']
    for package in (slip, absolute, link):
        lines.append(f'r = runMacro("{plugin}", "model=[{package}] input=[{image}] engine=deepimagej");')
        lines.append(f'print("{package.name} said: " + r);')
    lines.append('print("extracted: " + eval("python", "import sys; sys.path.append(\'%s\'); '
                 'from carekit_fiji import unzip; print(unzip.extract(\'%s\'))"));'
                 % (imagej_home / "plugins" / "jars" / "Lib", good))
    macro = tmp_path / "unzip.ijm"
    macro.write_text("\n".join(lines) + "\n")
    cache = tmp_path / "cache"
    log = _run_macro(imagej_home, macro, cache)
    said = {line.split(" said: ")[0]: line.split(" said: ")[1] for line in log.splitlines() if " said: " in line}
    assert said["slip.zip"] == (f"ERROR: {slip} holds the entry '../../escaped.txt' that points outside the package; "
                                "refusing to extract it (the archive is damaged or malicious)"), log
    assert "holds the entry '/" in said["abs.zip"] and "points outside the package" in said["abs.zip"], log
    assert "holds the symbolic link 'rdf.yaml'" in said["link.zip"], log
    assert not (tmp_path.parent / "escaped.txt").exists() and not (tmp_path / "absolute.txt").exists()
    folders = list((cache / "deepimagej").iterdir())
    assert len(folders) == 1 and str(folders[0]) in log, log  # only the good zip, complete, no partial folder
    assert (folders[0] / "weights" / "model.onnx").read_bytes() == weights
