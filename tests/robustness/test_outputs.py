"""Outputs never destroy data (issue 14, items 1, 4, 5 and the --out checks of 10): results never replace an input
or write through a link, names never collide, files appear complete or not at all (real kills, a real full disk)."""

import os
import resource
import signal
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from carekit.cli import main
from carekit.fiji import locate
from carekit.fiji.install import install
from carekit.fiji.run import plugin_options
from carekit.io import read_image, write_image
from tests.conftest import synthetic_pairs

PYTHON_PATH = str(Path(__file__).resolve().parents[2] / "python")


def _image(shape=(96, 96), seed=3) -> np.ndarray:
    return synthetic_pairs(1, shape=shape, seed=seed)[0][0]


def _cli(capsys, *argv) -> tuple[int, str, str]:
    rc = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return rc, captured.out, captured.err.strip()


def _refused(rc: int, err: str, *phrases: str) -> None:
    assert rc == 2 and err.startswith("error: ") and "\n" not in err, err
    for phrase in phrases:
        assert phrase in err, err


def _visible(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if not p.name.startswith(".")) if folder.exists() else []


@pytest.mark.parametrize("layout", ["same folder", "hard link in --out"])
def test_predict_never_overwrites_an_input(tiny_package, tmp_path, capsys, layout):
    folder = tmp_path / "same"
    write_image(folder / "in.tif", _image())
    before = (folder / "in.tif").read_bytes()
    out = folder
    if layout == "hard link in --out":
        out = tmp_path / "out"
        out.mkdir()
        os.link(folder / "in.tif", out / "in.tif")
    rc, stdout, err = _cli(capsys, "predict", "--model", tiny_package, folder / "in.tif", "--out", out)
    _refused(rc, err, "would overwrite the input", "nothing was written")
    assert (folder / "in.tif").read_bytes() == before and "restored" not in stdout


def test_predict_and_fiji_run_refuse_a_symlinked_target(tiny_package, tmp_path, capsys):
    write_image(tmp_path / "a" / "x.tif", _image())
    victim = tmp_path / "elsewhere" / "victim.tif"
    write_image(victim, _image(seed=4))
    before = victim.read_bytes()
    out = tmp_path / "out"
    out.mkdir()
    (out / "x.tif").symlink_to(victim)
    for command in (["predict", "--model", tiny_package], ["fiji", "run", "--model", tiny_package]):
        rc, _, err = _cli(capsys, *command, tmp_path / "a" / "x.tif", "--out", out)
        _refused(rc, err, f"{out / 'x.tif'} is a symbolic link", "does not write through links")
    assert victim.read_bytes() == before and (out / "x.tif").is_symlink()


def test_fiji_run_refuses_to_overwrite_its_input_before_starting_imagej(tiny_package, tmp_path, capsys):
    write_image(tmp_path / "in.tif", _image())
    before = (tmp_path / "in.tif").read_bytes()
    rc, _, err = _cli(capsys, "fiji", "run", "--model", tiny_package, tmp_path / "in.tif", "--out", tmp_path)
    _refused(rc, err, "would overwrite the input")
    assert (tmp_path / "in.tif").read_bytes() == before


def test_results_with_the_same_name_are_refused_before_predicting(tiny_package, tmp_path, capsys):
    for folder in ("a", "b"):
        write_image(tmp_path / folder / "x.tif", _image())
    out = tmp_path / "out"
    rc, stdout, err = _cli(capsys, "predict", "--model", tiny_package, tmp_path / "a" / "x.tif",
                           tmp_path / "b" / "x.tif", "--out", out)
    _refused(rc, err, f"2 results would be written to {out.resolve() / 'x.tif'}", "a/x.tif", "b/x.tif")
    assert _visible(out) == [] and "restored" not in stdout


def test_probabilistic_scale_output_colliding_with_an_input_result_is_refused(prob_package, tmp_path, capsys):
    write_image(tmp_path / "in" / "x.tif", _image())
    write_image(tmp_path / "in" / "x_scale.tif", _image(seed=5))
    out = tmp_path / "out"
    rc, _, err = _cli(capsys, "predict", "--model", prob_package, tmp_path / "in" / "x.tif",
                      tmp_path / "in" / "x_scale.tif", "--out", out)
    _refused(rc, err, "2 results would be written to", "x_scale.tif")
    assert _visible(out) == []
    rc, _, _ = _cli(capsys, "predict", "--model", prob_package, tmp_path / "in" / "x.tif", "--out", out)
    assert rc == 0 and _visible(out) == ["x.tif", "x_scale.tif"]


def test_bad_output_folders_are_refused_in_one_line_before_predicting(tiny_package, tmp_path, capsys, read_only_folder):
    write_image(tmp_path / "in.tif", _image())
    (tmp_path / "a_file.tif").write_bytes(b"not a folder")
    cases = {tmp_path / "a_file.tif": "is an existing file",
             tmp_path / "a_file.tif" / "sub": "cannot write into the output folder",
             Path("/proc/carekit_out"): "cannot write into the output folder",
             Path("/proc"): "cannot write into the output folder",
             read_only_folder / "sub": "cannot write into the output folder",
             read_only_folder: "cannot write into the output folder"}
    for out, phrase in cases.items():
        for command in (["predict", "--model", tiny_package], ["fiji", "run", "--model", tiny_package]):
            rc, stdout, err = _cli(capsys, *command, tmp_path / "in.tif", "--out", out)
            _refused(rc, err, phrase, str(out))
            assert "restored" not in stdout
    assert (tmp_path / "a_file.tif").read_bytes() == b"not a folder"


def _limit_file_size(limit: int):
    def apply():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return apply


def _child(argv: list[str], limit: int, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": PYTHON_PATH, "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run([sys.executable, *argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=300,
                          preexec_fn=_limit_file_size(limit))


def test_predict_killed_while_writing_leaves_the_previous_result(tiny_package, tmp_path):
    """The kernel kills the process with SIGXFSZ when the TIFF write passes a 256 KB file-size limit: the
    result name keeps the previous complete file (old code: a truncated TIFF under the final name)."""
    write_image(tmp_path / "in" / "big.tif", _image(shape=(512, 512)))
    previous = tmp_path / "out" / "big.tif"
    write_image(previous, np.ones((8, 8), np.float32))
    before = previous.read_bytes()
    folder = tiny_package.with_suffix("")  # the unzipped package: nothing to extract
    # Python ignores SIGXFSZ by default (writes then fail with EFBIG): restore the kernel's default, a kill
    killable = ("import signal, sys\nsignal.signal(signal.SIGXFSZ, signal.SIG_DFL)\nfrom carekit.cli import main\n"
                "sys.exit(main(sys.argv[1:]))\n")
    result = _child(["-c", killable, "predict", "--quiet", "--model", str(folder), str(tmp_path / "in" / "big.tif"),
                     "--out", str(tmp_path / "out")], 256 * 1024, cwd=tmp_path)
    assert result.returncode == -signal.SIGXFSZ, result.stderr[-2000:]
    assert previous.read_bytes() == before
    np.testing.assert_array_equal(read_image(previous).data, np.ones((8, 8), np.float32))
    assert _visible(tmp_path / "out") == ["big.tif"]


def test_write_image_failing_midway_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    """A real EFBIG from the kernel in the middle of a TIFF write (file-size limit; Python ignores SIGXFSZ): one clear
    error, the old file unchanged, no temporary file left."""
    target = tmp_path / "result.tif"
    write_image(target, np.zeros((8, 8), np.float32))
    before = target.read_bytes()
    script = ("import sys, numpy as np\nfrom carekit.errors import CarekitError\nfrom carekit.io import write_image\n"
              "try:\n    write_image(sys.argv[1], np.ones((512, 512), np.float32))\n"
              "except CarekitError as err:\n    print(err)\n    sys.exit(2)\n")
    result = _child(["-c", script, str(target)], 64 * 1024, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stdout.startswith(f"cannot write {target}: ") and result.stdout.count("\n") == 1, result.stdout
    assert result.stdout.strip().endswith("; the previous file is unchanged"), result.stdout
    assert target.read_bytes() == before and sorted(os.listdir(tmp_path)) == ["result.tif"]


@pytest.fixture
def nearly_full_disk(tmp_path):
    """A small tmpfs whose free space is filled up to 32 KB after the test copies its files in."""
    mount = tmp_path / "disk"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)]).returncode:
        pytest.skip("needs root to mount a small tmpfs (a real full disk)")

    def fill():
        stat = os.statvfs(mount)
        (mount / ".filler").write_bytes(b"\0" * (stat.f_bavail * stat.f_frsize - 32 * 1024))

    try:
        yield mount, fill
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_package_on_a_full_disk_keeps_the_previous_package(tiny_model, tmp_path, capsys, nearly_full_disk):
    """Replacing a small package by a larger one on a nearly full disk: old code truncated the zip first and died
    half-way (ENOSPC traceback, corrupt zip); now the previous package stays as it was."""
    disk, fill = nearly_full_disk
    package, folder = disk / "tiny.zip", disk / "tiny"
    write_image(tmp_path / "sample.tif", _image(shape=(128, 128)))
    args = ["package", "--model", tiny_model, "--out", package, "--sample", tmp_path / "sample.tif"]
    assert _cli(capsys, *args, "--formats", "keras_hdf5")[0] == 0  # the previous package: Keras weights only
    fill()
    before = package.read_bytes()
    folder_before = {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    rc, _, err = _cli(capsys, *args)  # all weight formats: a larger zip than the space left
    _refused(rc, err, f"cannot write {package}: No space left on device; the previous file is unchanged")
    assert package.read_bytes() == before and zipfile.ZipFile(package).testzip() is None
    assert {p.relative_to(folder): p.read_bytes() for p in folder.rglob("*") if p.is_file()} == folder_before
    assert sorted(os.listdir(disk)) == [".filler", "tiny", "tiny.zip"]


def test_synth_refuses_a_non_empty_folder(tmp_path, capsys):
    args = ["synth", "--synthetic", "granules", "--n-images", "2", "--size", "32", "32", "--out", tmp_path / "pairs"]
    assert _cli(capsys, *args)[0] == 0
    before = {p: p.read_bytes() for p in (tmp_path / "pairs").rglob("*.tif")}
    assert len(before) == 4
    rc, _, err = _cli(capsys, *args[:-1], tmp_path / "pairs")
    _refused(rc, err, "is not empty (holds high/, low/)", "give a new or empty folder")
    assert {p: p.read_bytes() for p in (tmp_path / "pairs").rglob("*.tif")} == before
    (tmp_path / "a_file").write_text("x")
    _refused(*_cli(capsys, *args[:-1], tmp_path / "a_file")[::2], "is an existing file")


# --- the CARE Restore plugin in real ImageJ 1.53t + Jython (output = input, links) ---

@pytest.fixture(scope="module")
def imagej_home(tmp_path_factory) -> Path:
    if locate.imagej_jar() is None or locate.jython_jar() is None:
        pytest.skip("needs apt packages imagej and jython (bash run.sh installs them)")
    home = tmp_path_factory.mktemp("imagej")
    install(home, python=sys.executable)
    return home


def _plugin_says(home: Path, tmp_path: Path, options: str) -> str:
    plugin = home / "plugins" / "CARE" / "CARE_Restore.py"
    macro = tmp_path / "run.ijm"
    macro.write_text(f'result = runMacro("{plugin}", "{options}");\nprint("plugin said: " + result);\n')
    java = str(locate.java_home() / "bin" / "java")
    command = [java, "-Djava.awt.headless=true", f"-Dplugins.dir={home}", "-cp", str(locate.imagej_jar()), "ij.ImageJ",
               "-batch", str(macro)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    return result.stdout + result.stderr


@pytest.mark.parametrize("output", ["in.tif", "in.png"])  # ImageJ saves in.png as in.tif
def test_imagej_plugin_never_overwrites_its_input(imagej_home, tiny_package, tmp_path, output):
    write_image(tmp_path / "in.tif", _image())
    before = (tmp_path / "in.tif").read_bytes()
    options = plugin_options(tiny_package, input_path=tmp_path / "in.tif", output_path=tmp_path / output)
    log = _plugin_says(imagej_home, tmp_path, options)
    assert f"plugin said: ERROR: output {tmp_path / 'in.tif'} is the input image" in log, log
    assert (tmp_path / "in.tif").read_bytes() == before


def test_imagej_plugin_refuses_a_symlinked_output_and_saves_atomically(imagej_home, tiny_package, tmp_path):
    write_image(tmp_path / "in.tif", _image())
    victim = tmp_path / "victim.tif"
    victim.write_bytes(b"keep me")
    (tmp_path / "link.tif").symlink_to(victim)
    options = plugin_options(tiny_package, input_path=tmp_path / "in.tif", output_path=tmp_path / "link.tif")
    log = _plugin_says(imagej_home, tmp_path, options)
    assert "is a symbolic link; CARE Restore does not write through links" in log, log
    assert victim.read_bytes() == b"keep me"
    write_image(tmp_path / "out" / "res.tif", np.zeros((4, 4), np.float32))  # an earlier result is replaced
    options = plugin_options(tiny_package, input_path=tmp_path / "in.tif", output_path=tmp_path / "out" / "res.tif")
    assert "plugin said: res.tif" in _plugin_says(imagej_home, tmp_path, options)
    assert os.listdir(tmp_path / "out") == ["res.tif"] and read_image(tmp_path / "out" / "res.tif").data.shape == (96, 96)
