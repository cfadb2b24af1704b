"""Bad large-data input gives one clear line (exit code 2) and leaves no output marked complete; the input is
never touched."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import zarr

from carekit.cli import main
from carekit.ngff import open_source
from carekit.predict.distributed import restore_large

from .conftest import HELA_MODEL, nuclei_like, write_ngff


def _fails(capsys, argv, expected: str) -> str:
    assert main(["predict", "--model", str(HELA_MODEL), *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and expected in err, err
    return err


@pytest.fixture
def image_zarr(tmp_path):
    return write_ngff(tmp_path / "in.ome.zarr", nuclei_like((2, 64, 64)), "TYX", {"Y": 0.5, "X": 0.5}, (1, 64, 64))


def test_missing_and_malformed_inputs(tmp_path, capsys):
    out = str(tmp_path / "out.ome.zarr")
    _fails(capsys, [str(tmp_path / "nothing.ome.zarr"), "--out", out], "input not found")
    zarr.open_group(str(tmp_path / "plain.zarr"), mode="w")
    _fails(capsys, [str(tmp_path / "plain.zarr"), "--out", out], "without OME-Zarr 'multiscales' metadata")
    broken = write_ngff(tmp_path / "broken.ome.zarr", np.zeros((8, 8), np.uint16), "YX", {}, (8, 8))
    meta = json.loads((broken / ".zattrs").read_text())
    meta["multiscales"][0]["datasets"][0]["path"] = "s0"
    (broken / ".zattrs").write_text(json.dumps(meta))
    _fails(capsys, [str(broken), "--out", out], "names dataset 's0', which is missing")
    meta["multiscales"][0]["datasets"][0]["path"] = "0"
    meta["multiscales"][0]["axes"][0]["name"] = "angle"
    (broken / ".zattrs").write_text(json.dumps(meta))
    _fails(capsys, [str(broken), "--out", out], "axes ['angle', 'x'] are not all of t, c, z, y, x")
    zarr.create_array(str(tmp_path / "array.zarr"), shape=(2, 64, 64), dtype="uint16", zarr_format=2)
    _fails(capsys, [str(tmp_path / "array.zarr"), "--out", out], "give its axes with --axes, e.g. 'ZYX'")
    _fails(capsys, [str(tmp_path / "array.zarr"), "--out", out, "--axes", "TQX"], "unknown letters ['Q']")
    assert not (tmp_path / "out.ome.zarr").exists()


def test_existing_outputs_and_the_input_are_not_overwritten(tmp_path, capsys, image_zarr, client):
    before = {p: p.read_bytes() for p in image_zarr.rglob("*") if p.is_file()}
    _fails(capsys, [str(image_zarr), "--out", str(image_zarr / "restored.ome.zarr")], "would overlap the input")
    other = tmp_path / "other.ome.zarr"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    refusal = _fails(capsys, [str(image_zarr), "--out", str(other)], "is not an unfinished restoration of this input")
    assert "to resume" not in refusal  # not carekit's: nothing to resume
    assert (other / "notes.txt").read_text() == "mine"
    out = tmp_path / "out.ome.zarr"
    restore_large(client, HELA_MODEL, open_source(image_zarr), out, progress=False)
    _fails(capsys, [str(image_zarr), "--out", str(out)], "already holds a complete restoration; give --overwrite")
    result = restore_large(client, HELA_MODEL, open_source(image_zarr), out, overwrite=True, progress=False)
    assert result.chunks_done_before == 0 and zarr.open_group(str(out)).attrs["carekit"]["complete"] is True
    assert {p: p.read_bytes() for p in image_zarr.rglob("*") if p.is_file()} == before


def test_cluster_options_that_cannot_work(tmp_path, capsys, image_zarr):
    out = str(tmp_path / "out.ome.zarr")
    err = _fails(capsys, [str(image_zarr), "--out", out, "--scheduler", "tcp://127.0.0.1:9"],
                 "no dask scheduler answers at tcp://127.0.0.1:9 within 10 s")
    assert "dask-jobqueue" in err
    _fails(capsys, [str(image_zarr), "--out", out, "--scheduler-file", str(tmp_path / "none.json")],
           "scheduler file not found")
    _fails(capsys, [str(image_zarr), "--out", out, "--memory-limit", "lots"], "is not a size; give e.g. 2GiB")
    _fails(capsys, [str(image_zarr), str(image_zarr), "--out", out], "give one input")
    assert not os.path.exists(out)


@pytest.mark.slow  # ~1-2 min: each of the nanny's worker restarts imports TensorFlow again
def test_worker_out_of_memory_is_one_line_and_output_stays_unfinished(tmp_path, image_zarr):
    out = tmp_path / "out.ome.zarr"
    command = [sys.executable, "-m", "carekit.cli", "predict", "--model", str(HELA_MODEL), str(image_zarr), "--out",
               str(out), "--workers", "1", "--threads-per-worker", "1", "--memory-limit", "250MB", "--quiet"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert done.returncode == 2, done.stderr[-3000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "--memory-limit" in errors[0], done.stderr[-3000:]
    assert errors[0].startswith(("error: a dask worker died", "error: every dask worker has been paused"))
    assert zarr.open_group(str(out), mode="r").attrs["carekit"]["complete"] is False
