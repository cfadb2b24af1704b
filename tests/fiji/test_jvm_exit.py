"""Python exits cleanly after run_in_fiji even when the JVM's fault handlers were replaced, as pytest's faulthandler
plugin does at the end of every session (the ImageJ test files used to end in exit code 139)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from carekit.fiji import locate

pytestmark = pytest.mark.skipif(locate.imagej_jar() is None or locate.jython_jar() is None or os.name != "posix",
                                reason="needs apt packages imagej and jython")

# A Java stack overflow is a fault that HotSpot turns into StackOverflowError with its SIGSEGV handler: a
# deterministic stand-in for the JIT and safepoint faults that Java code running at exit may hit by chance.
SCRIPT = """
import faulthandler, sys
import numpy as np
from scyjava import jimport, when_jvm_stops
from carekit.fiji.run import run_in_fiji

def overflow_the_java_stack():
    items = jimport("java.util.ArrayList")()
    items.add(items)
    try:
        items.hashCode()
    except Exception as error:
        print("Java said:", type(error).__name__, flush=True)

faulthandler.enable()
when_jvm_stops(overflow_the_java_stack)  # at exit, after carekit's exit handler, before the JVM stops
print("restored", run_in_fiji(sys.argv[1], np.random.default_rng(0).random((64, 64), np.float32)).shape, flush=True)
faulthandler.disable()  # as pytest does when its session ends: SIGSEGV gets the action from before the JVM
"""


def test_exit_after_run_in_fiji_survives_a_replaced_sigsegv_handler(tiny_package, tmp_path):
    source = Path(__file__).resolve().parents[2] / "python"
    python_path = os.pathsep.join([str(source), os.environ.get("PYTHONPATH", "")])
    env = dict(os.environ, PYTHONPATH=python_path, CAREKIT_CACHE=str(tmp_path / "cache"))
    result = subprocess.run([sys.executable, "-c", SCRIPT, str(tiny_package)], env=env, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, (result.returncode, result.stdout, result.stderr[-3000:])
    assert "restored (64, 64)" in result.stdout
    assert "Java said: java.lang.StackOverflowError" in result.stdout, result.stdout


CRASH_LOG_SCRIPT = """
from scyjava import jimport
from carekit.fiji.runtime import session
session()
arguments = jimport("java.lang.management.ManagementFactory").getRuntimeMXBean().getInputArguments()
print("error file:", [str(a) for a in arguments if str(a).startswith("-XX:ErrorFile=")], flush=True)
"""


def test_a_jvm_crash_log_would_go_to_the_temporary_folder_not_the_working_directory(tmp_path):
    source = Path(__file__).resolve().parents[2] / "python"
    (tmp_path / "work").mkdir()
    (tmp_path / "tmp").mkdir()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(source), os.environ.get("PYTHONPATH", "")]),
               CAREKIT_CACHE=str(tmp_path / "cache"), TMPDIR=str(tmp_path / "tmp"))
    result = subprocess.run([sys.executable, "-c", CRASH_LOG_SCRIPT], cwd=tmp_path / "work", env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    expected = f"-XX:ErrorFile={tmp_path / 'tmp' / 'carekit-jvm-crash-pid%p.log'}"
    assert f"error file: [{expected!r}]" in result.stdout, result.stdout
