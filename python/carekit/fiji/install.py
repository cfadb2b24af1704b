"""Install the CARE Restore plugin into a Fiji.app or a plain ImageJ 1.x folder (`carekit fiji install`)."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import EnvironmentProblem, InputError
from ..models.package_files import cache_dir
from . import contract, locate

PLUGIN = locate.PLUGIN_FILE
CONTRACT = Path(contract.__file__)


def scripts_dir() -> Path:
    """The Fiji scripts shipped with carekit ($CAREKIT_FIJI_SCRIPTS overrides)."""
    path = locate.fiji_scripts()
    if not (path / PLUGIN).exists():
        raise EnvironmentProblem(f"carekit's Fiji scripts not found at {path}: reinstall carekit, or set "
                                 "CAREKIT_FIJI_SCRIPTS to a fiji-scripts folder")
    return path


def is_fiji(target: Path) -> bool:
    return (target / "jars").is_dir() and any((target / "jars").glob("ij-1.*.jar"))


@dataclass
class Installation:
    target: Path
    kind: str
    plugin: Path
    python: str


def scripts_digest() -> str:
    digest = hashlib.sha256()
    for path in sorted(scripts_dir().rglob("*")):
        if path.is_file():
            digest.update(str(path.relative_to(scripts_dir())).encode())
            digest.update(path.read_bytes())
    digest.update(CONTRACT.read_bytes())
    return digest.hexdigest()[:16]


def copy_helpers(lib_dir: Path, source: Path | None = None) -> None:
    """The plugin's Jython helpers into `lib_dir` (a carekit_fiji package folder), with the contract they import."""
    if lib_dir.exists():
        shutil.rmtree(lib_dir)
    shutil.copytree((source or scripts_dir()) / "lib" / "carekit_fiji", lib_dir,
                    ignore=shutil.ignore_patterns("*.class", "__pycache__"))
    shutil.copy(CONTRACT, lib_dir / CONTRACT.name)


def install(target: str | Path, python: str | None = None) -> Installation:
    """Copy the plugin, its Jython helpers and example macros; record which Python runs the models.

    Fiji.app: plugins/CARE/, jars/Lib/carekit_fiji/, macros/carekit/.
    ImageJ 1.x folder: plugins/CARE/, plugins/jars/Lib/carekit_fiji/, plus jython.jar and a small Jython
    interpreter class compiled here with javac (ImageJ 1.x runs .py plugins through a class named Jython).
    """
    target = Path(target).expanduser().resolve()
    python = python or sys.executable
    source = scripts_dir()
    fiji = is_fiji(target)
    if not fiji and target.exists() and not target.is_dir():
        raise InputError(f"{target} is not a folder")
    try:
        _copy_files(source, target, fiji, python)
    except OSError as error:
        where = f" ({error.filename})" if error.filename else ""
        raise InputError(f"cannot install into {target}: {error.strerror or error}{where}; choose a folder you can "
                         "write to, or fix its permissions") from None
    return Installation(target, "fiji" if fiji else "imagej1", target / PLUGIN, python)


def _copy_files(source: Path, target: Path, fiji: bool, python: str) -> None:
    lib_dir = target / ("jars" if fiji else "plugins/jars") / "Lib" / "carekit_fiji"
    (target / PLUGIN).parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(source / PLUGIN, target / PLUGIN)
    copy_helpers(lib_dir, source)
    shutil.copytree(source / "macros", target / "macros" / "carekit", dirs_exist_ok=True)
    (target / PLUGIN).parent.joinpath(contract.PROPERTIES_FILE).write_text(contract.properties_text(python))
    if not fiji:
        _install_jython(target / "plugins" / "jars", source / "imagej1" / "Jython.java")
    (target / PLUGIN).parent.joinpath("carekit.version").write_text(scripts_digest() + "\n")


def _install_jython(jars: Path, java_source: Path) -> None:
    ij_jar, jython_jar, home = locate.imagej_jar(), locate.jython_jar(), locate.java_home()
    missing = [name for name, value in (("ij.jar", ij_jar), ("jython.jar", jython_jar), ("a JDK", home)) if value is None]
    javac = home / "bin" / "javac" if home else None
    if javac is not None and not javac.exists():
        missing.append("javac (install a JDK, e.g. apt-get install default-jdk-headless)")
    if missing:
        raise EnvironmentProblem(f"cannot set up Jython for ImageJ 1.x: missing {', '.join(missing)} "
                                 "(apt-get install imagej jython default-jdk-headless)")
    jars.mkdir(parents=True, exist_ok=True)
    shutil.copy(jython_jar.resolve(), jars / "jython.jar")
    with tempfile.TemporaryDirectory() as tmp:
        result = subprocess.run([str(javac), "-nowarn", "-cp", f"{ij_jar}{os.pathsep}{jython_jar}", "-d", tmp,
                                 str(java_source)], capture_output=True, text=True)
        if result.returncode != 0:
            raise EnvironmentProblem(f"javac failed to build the Jython runner:\n{result.stderr}")
        subprocess.run([str(home / "bin" / "jar"), "cf", str(jars / "carekit-jython.jar"), "-C", tmp, "Jython.class"],
                       check=True)


def ensure_local_imagej(home: Path | None = None, python: str | None = None) -> Installation:
    """The ImageJ 1.x folder carekit uses itself (run_in_fiji without Fiji), installed or refreshed as needed."""
    home = home or cache_dir() / "imagej"
    version = home / PLUGIN.parent / "carekit.version"
    properties = home / PLUGIN.parent / contract.PROPERTIES_FILE
    python = python or sys.executable
    if (version.exists() and version.read_text().strip() == scripts_digest()
            and properties.exists() and properties.read_text().strip() == contract.properties_text(python).strip()
            and (home / "plugins" / "jars" / "carekit-jython.jar").exists()):
        return Installation(home, "imagej1", home / PLUGIN, python)
    return install(home, python)
