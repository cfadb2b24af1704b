"""ImageJ side under kills and bad input: real ImageJ 1.53t JVMs, real signals, real /dev/shm segments."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from carekit.fiji import locate
from carekit.fiji.install import install
from carekit.fiji.run import plugin_options
from carekit.io import read_image, write_image
from carekit.predict import restore
from tests.conftest import synthetic_pairs

pytestmark = pytest.mark.skipif(locate.imagej_jar() is None or locate.jython_jar() is None
                                or not Path("/dev/shm").is_dir(),
                                reason="needs Linux shared memory and apt packages imagej and jython")

SHM = Path("/dev/shm")


@pytest.fixture(scope="module")
def imagej_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("imagej")
    install(home, python=sys.executable)
    return home


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory) -> dict:
    """`carekit fiji run` with its own ImageJ folder (not the user's cache, which other runs may refresh)."""
    return dict(os.environ, CAREKIT_CACHE=str(tmp_path_factory.mktemp("cache")))


@pytest.fixture(scope="module")
def big_tif(tmp_path_factory) -> Path:
    """Large enough that the worker computes for a while (3000², 36 MB; its two segments hold 108 MB)."""
    path = tmp_path_factory.mktemp("big") / "big.tif"
    write_image(path, np.random.default_rng(0).random((3000, 3000)).astype(np.float32))
    return path


def _imagej(home: Path, macro: Path) -> list[str]:
    java = str(locate.java_home() / "bin" / "java")
    return [java, "-Djava.awt.headless=true", f"-Dplugins.dir={home}", "-cp", str(locate.imagej_jar()), "ij.ImageJ",
            "-batch", str(macro)]


def _restore_macro(home: Path, folder: Path, name: str, options: str) -> Path:
    plugin = home / "plugins" / "CARE" / "CARE_Restore.py"
    macro = folder / f"{name}.ijm"
    options = options.replace("\\", "\\\\").replace('"', '\\"')
    macro.write_text(f'r = runMacro("{plugin}", "{options}");\nprint("{name} said: " + r);\n')
    return macro


def _segments(owner: int) -> set[str]:
    return {p.name for p in SHM.glob(f"psm_carekit_{owner}_*")}


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _workers(parent: int) -> list[int]:
    """Python worker processes started by `parent` (found through /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if (entry.name.isdigit() and f"\nPPid:\t{parent}\n" in (entry / "status").read_text()
                    and b"worker" in (entry / "cmdline").read_bytes()):
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def _terminal_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start_and_wait_for_task(command: list[str], env: dict | None = None) -> tuple[subprocess.Popen, list[int]]:
    """Start `command` and return once its worker holds the image in shared memory (computing).

    The child gets SIGINT's default action, as a command started from a terminal has: a test run started in the
    background (`cmd &`, nohup) passes SIGINT on as ignored (POSIX), and then the CLI rightly ignores ^C."""
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=_terminal_sigint)
    deadline = time.time() + 150
    while len(_segments(process.pid)) < 2:
        assert process.poll() is None, f"finished before it could be killed:\n{process.communicate()}"
        if time.time() > deadline:
            process.kill()
            pytest.fail(f"no shared memory segment of {process.pid} appeared:\n{process.communicate()}")
        time.sleep(0.05)
    workers = _workers(process.pid)
    assert len(workers) == 1, workers
    return process, workers


def _assert_gone(pids: list[int], within: float = 3.0) -> None:
    deadline = time.time() + within
    while any(_alive(pid) for pid in pids) and time.time() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in pids), f"orphan worker still running {within} s after its parent died"


def test_sigkill_of_imagej_stops_the_worker_and_next_start_frees_the_segments(imagej_home, tiny_package, big_tif,
                                                                               tmp_path):
    options = plugin_options(tiny_package, input_path=big_tif, output_path=tmp_path / "big_out.tif")
    jvm, workers = _start_and_wait_for_task(_imagej(imagej_home, _restore_macro(imagej_home, tmp_path, "big", options)))
    left = _segments(jvm.pid)
    os.kill(jvm.pid, signal.SIGKILL)
    jvm.communicate()
    _assert_gone(workers)
    assert not (tmp_path / "big_out.tif").exists()
    assert left <= {p.name for p in SHM.iterdir()}  # a SIGKILLed JVM cannot remove them itself

    image = synthetic_pairs(1, shape=(64, 64), seed=91)[0][0]
    write_image(tmp_path / "small.tif", image)
    options = plugin_options(tiny_package, input_path=tmp_path / "small.tif", output_path=tmp_path / "small_out.tif")
    log = subprocess.run(_imagej(imagej_home, _restore_macro(imagej_home, tmp_path, "next", options)),
                         capture_output=True, text=True, timeout=150).stdout
    assert "next said: small_out.tif" in log, log
    assert not left & {p.name for p in SHM.iterdir()}, "the next start did not remove the dead JVM's segments"
    expected = restore(tiny_package, image, progress=False).image
    assert np.abs(read_image(tmp_path / "small_out.tif").data - expected).max() <= 1e-4


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_sigterm_and_sigint_of_carekit_fiji_run_leave_no_worker_and_no_segments(signum, cli_env, tiny_package,
                                                                                 big_tif, tmp_path):
    command = [sys.executable, "-m", "carekit.cli", "fiji", "run", "--model", str(tiny_package), str(big_tif),
               "--out", str(tmp_path / "out")]
    cli, workers = _start_and_wait_for_task(command, cli_env)
    os.kill(cli.pid, signum)
    _, stderr = cli.communicate(timeout=30)
    _assert_gone(workers)
    assert not _segments(cli.pid)  # removed by the JVM's shutdown hook
    assert not (tmp_path / "out" / big_tif.name).exists()
    assert "Traceback" not in stderr, stderr


def test_macro_reads_a_model_path_with_bracket_in_quotes_and_explains_the_bracket_form(imagej_home, tiny_package,
                                                                                       tmp_path):
    model = tmp_path / "run]2" / "tiny.zip"
    model.parent.mkdir()
    model.write_bytes(tiny_package.read_bytes())
    image = synthetic_pairs(1, shape=(64, 64), seed=93)[0][0]
    write_image(tmp_path / "in.tif", image)
    quoted = _restore_macro(imagej_home, tmp_path, "quoted",
                            f"model='{model}' input=[{tmp_path / 'in.tif'}] output=[{tmp_path / 'out.tif'}]")
    brackets = _restore_macro(imagej_home, tmp_path, "brackets", f"model=[{model}] input=[{tmp_path / 'in.tif'}]")
    macro = tmp_path / "both.ijm"
    macro.write_text(brackets.read_text() + quoted.read_text())
    log = subprocess.run(_imagej(imagej_home, macro), capture_output=True, text=True, timeout=150).stdout
    assert (f"brackets said: ERROR: model=[{tmp_path}/run] is followed by '2/tiny.zip]': a path whose [ ] do not "
            "pair up cannot be written in [brackets]: put it in single quotes instead") in log, log
    assert "quoted said: out.tif" in log, log
    expected = restore(tiny_package, image, progress=False).image
    assert np.abs(read_image(tmp_path / "out.tif").data - expected).max() <= 1e-4


def test_carekit_fiji_run_passes_a_model_path_with_brackets_and_quotes(cli_env, tiny_package, tmp_path):
    model = tmp_path / "it's [run]2]" / "tiny.zip"  # neither [..] nor '..' can carry this path
    model.parent.mkdir()
    model.write_bytes(tiny_package.read_bytes())
    image = synthetic_pairs(1, shape=(64, 64), seed=95)[0][0]
    write_image(tmp_path / "in.tif", image)
    result = subprocess.run([sys.executable, "-m", "carekit.cli", "fiji", "run", "--model", str(model),
                             str(tmp_path / "in.tif"), "--out", str(tmp_path / "out")],
                            env=cli_env, capture_output=True, text=True, timeout=150)
    assert result.returncode == 0, result.stderr
    expected = restore(tiny_package, image, progress=False).image
    assert np.abs(read_image(tmp_path / "out" / "in.tif").data - expected).max() <= 1e-4


def test_python_errors_reach_imagej_as_one_line_with_the_log_that_holds_the_traceback(imagej_home, tmp_path):
    garbage = tmp_path / "garbage.zip"
    garbage.write_bytes(b"not a zip file" * 10)
    write_image(tmp_path / "in.tif", np.zeros((32, 32), np.float32))
    macro = _restore_macro(imagej_home, tmp_path, "garbage", f"model=[{garbage}] input=[{tmp_path / 'in.tif'}]")
    log = subprocess.run(_imagej(imagej_home, macro), capture_output=True, text=True, timeout=150).stdout
    said = next((line for line in log.splitlines() if line.startswith("garbage said: ")), log)
    assert said.startswith(f"garbage said: ERROR: the restoration failed in Python: InputError: {garbage} is not a "
                           "zip file"), log
    assert "Traceback" not in log, log
    worker_log = Path(said.rsplit("(Python traceback in ", 1)[1].rstrip(")"))
    assert "Traceback (most recent call last)" in worker_log.read_text()
    assert "carekit.errors.InputError" in worker_log.read_text()


@pytest.mark.parametrize("inside", ["", "ImageJ"], ids=["folder", "new-subfolder"])
def test_fiji_install_into_a_read_only_folder_is_one_clear_line(read_only_folder, inside):
    target = read_only_folder / inside
    result = subprocess.run([sys.executable, "-m", "carekit.cli", "fiji", "install", "--target", str(target)],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert result.stderr.startswith(f"error: cannot install into {target.resolve()}: "), result.stderr
    assert "choose a folder you can write to" in result.stderr
