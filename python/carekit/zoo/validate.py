"""bioimageio.core test_model on a package, per weight format, in a child process.

bioimageio.core's TensorFlow adapter unzips SavedModel weights into ./bioimageio_unzipped_tf_weights of the working
directory. The child runs in a temporary folder, so that folder never lands in the caller's working directory and
the caller's working directory is never changed (the child also keeps bioimageio.core's logging, Keras backend
setting and TensorFlow sessions out of the caller's process; it costs one TensorFlow import, ~5 s).

    python -m carekit.zoo.validate PACKAGE [FORMAT ...]   prints the results and warnings per format as JSON

bioimageio.spec checks each maintainer's GitHub user name with the GitHub API (with no network that check fails
and the package reads as invalid). carekit validates offline: the package's own GitHub user names are taken as
given here, and bioimage.io checks them when the package is uploaded.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import site
import subprocess
import sys
import tempfile
from pathlib import Path

from ..errors import CarekitError

WEIGHT_FORMATS = ("keras_hdf5", "tensorflow_saved_model_bundle", "onnx")


def validate_package(package: str | Path, formats: tuple[str, ...] | None = None) -> dict[str, str]:
    """Run bioimageio.core test_model per weight format (default: every format the package has):
    {'onnx': 'passed' | failure report, ...}."""
    return check_package(package, formats)[0]


def check_package(package: str | Path, formats: tuple[str, ...] | None = None
                  ) -> tuple[dict[str, str], dict[str, list[str]]]:
    """validate_package's results, plus the warnings test_model gave per format (bioimage.io reviewers expect none)."""
    package = Path(package).resolve()
    with tempfile.TemporaryDirectory(prefix="carekit-validate-") as folder:
        child = subprocess.run([sys.executable, "-m", "carekit.zoo.validate", str(package), *(formats or ())],
                               cwd=folder, env=_child_environment(), capture_output=True, text=True)
    lines = child.stdout.strip().splitlines()
    if child.returncode != 0 or not lines:
        reason = (child.stderr.strip().splitlines() or [f"exit code {child.returncode}"])[-1]
        raise CarekitError(f"bioimageio.core could not test {package}: {reason}")
    report = json.loads(lines[-1])
    return report["results"], report["warnings"]


def _child_environment() -> dict[str, str]:
    """The caller's environment, with this carekit importable also when it was put on sys.path at run time (a
    site-packages folder is left out: on PYTHONPATH its .pth files would no longer be read)."""
    root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    if root not in {*site.getsitepackages(), site.getusersitepackages()}:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


def run_test_model(package: Path, formats: tuple[str, ...] = ()) -> dict[str, dict]:
    """test_model per weight format, in this process (the child's work): {"results": ..., "warnings": ...}."""
    from ..train.tf import import_tensorflow

    import_tensorflow()  # before bioimageio.core, which would otherwise pick the torch Keras backend
    from bioimageio.core import test_model
    from bioimageio.spec import load_model_description

    descr = load_model_description(package, perform_io_checks=False)
    _take_github_users_as_given(descr)
    formats = formats or tuple(fmt for fmt in WEIGHT_FORMATS if getattr(descr.weights, fmt, None) is not None)
    results, warnings = {}, {}
    for fmt in formats:
        with contextlib.redirect_stdout(io.StringIO()):  # Keras prints a progress bar per test prediction
            summary = test_model(package, weight_format=fmt)
        results[fmt] = "passed" if summary.status == "passed" else _failure_report(summary)
        warnings[fmt] = _warnings(summary)
    return {"results": results, "warnings": warnings}


def _take_github_users_as_given(descr) -> None:
    """bioimageio.spec skips its GitHub API lookup for the user names in this set (this child process only)."""
    from bioimageio.spec._internal.constants import KNOWN_GITHUB_USERS

    people = [*getattr(descr, "maintainers", []), *getattr(descr, "authors", [])]
    KNOWN_GITHUB_USERS.update(p.github_user.lower() for p in people if getattr(p, "github_user", None))


def _warnings(summary) -> list[str]:
    """Warnings of severity 'warning' or higher (test_model also reports passed comparisons as 'info')."""
    return [f"{detail.name}: {entry.msg}" for detail in summary.details for entry in detail.warnings
            if entry.severity >= 30]


def _failure_report(summary) -> str:
    lines = []
    for detail in summary.details:
        if detail.status != "passed":
            lines.append(f"- {detail.name}: " + "; ".join(str(e.msg) for e in detail.errors))
    return "\n".join(lines) or str(summary.status)


if __name__ == "__main__":
    print(json.dumps(run_test_model(Path(sys.argv[1]), tuple(sys.argv[2:]))))
