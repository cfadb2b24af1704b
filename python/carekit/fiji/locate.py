"""Find Java, ImageJ, Jython and carekit's Fiji scripts on this machine (no JVM is started here)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

PLUGIN_FILE = Path("plugins") / "CARE" / "CARE_Restore.py"
IMAGEJ_JAR_CANDIDATES = ("/usr/share/java/ij.jar", "/usr/share/imagej/ij.jar")
JYTHON_JAR_CANDIDATES = ("/usr/share/java/jython.jar",)


def java_home() -> Path | None:
    """JAVA_HOME if set, else the JDK behind the `java` on PATH."""
    if os.environ.get("JAVA_HOME") and (Path(os.environ["JAVA_HOME"]) / "bin" / "java").exists():
        return Path(os.environ["JAVA_HOME"])
    java = shutil.which("java")
    return Path(java).resolve().parent.parent if java else None


def java_version() -> str | None:
    home = java_home()
    if home is None:
        return None
    result = subprocess.run([str(home / "bin" / "java"), "-version"], capture_output=True, text=True)
    return (result.stderr or result.stdout).splitlines()[0] if result.returncode == 0 else None


def _first_existing(env_var: str, candidates: tuple[str, ...]) -> Path | None:
    for path in ([os.environ[env_var]] if os.environ.get(env_var) else []) + list(candidates):
        if Path(path).exists():
            return Path(path)
    return None


def imagej_jar() -> Path | None:
    """ImageJ 1.x jar: $CAREKIT_IJ_JAR or Debian's /usr/share/java/ij.jar."""
    return _first_existing("CAREKIT_IJ_JAR", IMAGEJ_JAR_CANDIDATES)


def jython_jar() -> Path | None:
    """Jython 2.7 jar: $CAREKIT_JYTHON_JAR or Debian's /usr/share/java/jython.jar."""
    return _first_existing("CAREKIT_JYTHON_JAR", JYTHON_JAR_CANDIDATES)


def fiji_app() -> Path | None:
    """A local Fiji.app given by $FIJI_HOME (used through PyImageJ when present)."""
    path = os.environ.get("FIJI_HOME")
    return Path(path) if path and Path(path).is_dir() else None


def xvfb_run() -> Path | None:
    found = shutil.which("xvfb-run")
    return Path(found) if found else None


def fiji_scripts() -> Path:
    """The Fiji scripts: $CAREKIT_FIJI_SCRIPTS, else carekit/fiji/scripts (package data in an installed wheel; in a
    checkout a symlink to the top-level fiji-scripts/), else that fiji-scripts/ folder itself (a checkout whose
    symlink was not created, e.g. on Windows). The path returned may lack the plugin; the caller checks."""
    if os.environ.get("CAREKIT_FIJI_SCRIPTS"):
        return Path(os.environ["CAREKIT_FIJI_SCRIPTS"])
    here = Path(__file__).resolve().parent
    candidates = (here / "scripts", here.parents[2] / "fiji-scripts")
    return next((path for path in candidates if (path / PLUGIN_FILE).is_file()), candidates[0])
