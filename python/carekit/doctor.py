"""`carekit doctor`: what this machine can run (Java, ImageJ, Jython, TensorFlow, GPU, data), with fixes."""

from __future__ import annotations

import importlib.metadata as metadata
from dataclasses import dataclass


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def _package(name: str) -> Check:
    try:
        return Check(name, True, metadata.version(name))
    except metadata.PackageNotFoundError:
        return Check(name, False, "not installed", "run `bash run.sh setup` (or pip install -e .)")


def run_checks(with_tensorflow: bool = True) -> list[Check]:
    from .data import builtin
    from .fiji import locate

    checks = []
    version = locate.java_version()
    checks.append(Check("java", version is not None, version or "not found",
                        "apt-get install default-jdk-headless, or set JAVA_HOME"))
    for name, path, fix in [
        ("imagej (ij.jar)", locate.imagej_jar(), "apt-get install imagej, or set CAREKIT_IJ_JAR"),
        ("jython", locate.jython_jar(), "apt-get install jython, or set CAREKIT_JYTHON_JAR"),
        ("xvfb-run", locate.xvfb_run(), "apt-get install xvfb (needed for ImageJ menu commands without a screen)"),
    ]:
        checks.append(Check(name, path is not None, str(path) if path else "not found", fix))
    fiji = locate.fiji_app()
    checks.append(Check("Fiji.app (optional)", True, str(fiji) if fiji else "none (set FIJI_HOME to use a local Fiji via PyImageJ)"))
    for package in ("csbdeep", "bioimageio.core", "onnxruntime", "tensorflow-cpu", "appose", "scyjava"):
        checks.append(_package(package))
    if with_tensorflow:
        from .train.tf import gpu_devices, import_tensorflow

        tf = import_tensorflow()
        gpus = gpu_devices()
        checks.append(Check("tensorflow", True, tf.__version__))
        checks.append(Check("GPU", True, ", ".join(gpus) if gpus else "none: training and prediction run on the CPU "
                            "(for an NVIDIA GPU: pip install 'tensorflow[and-cuda]==2.21.0')"))
    for name in sorted(builtin.DATASETS):
        checks.append(Check(f"built-in data '{name}'", builtin.is_installed(name), str(builtin.data_dir() / f"{name}.tif"),
                            "carekit data install"))
    return checks


def report(checks: list[Check]) -> str:
    width = max(len(c.name) for c in checks)
    lines = []
    for c in checks:
        lines.append(f"{'ok ' if c.ok else 'MISSING'.ljust(3)} {c.name.ljust(width)}  {c.detail}")
        if not c.ok and c.fix:
            lines.append(f"{'':3} {'':{width}}  -> {c.fix}")
    return "\n".join(lines)
