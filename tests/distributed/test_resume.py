"""A run killed part way resumes where it stopped: finished chunks are neither redone nor rewritten, the output is
marked complete only at the end, and the result equals in-memory `restore`."""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import zarr

from carekit.ngff import open_source
from carekit.ngff_write import DONE_FOLDER
from carekit.predict import restore
from carekit.predict.distributed import restore_large

from .conftest import HELA_MODEL, nuclei_like, write_ngff


def _chunk_files(out, keys):
    return {k: os.stat(out / "0" / k.replace(".", "/")).st_mtime_ns for k in keys}


def test_killed_run_resumes_without_redoing_finished_chunks(tmp_path, client):
    image = nuclei_like((4, 128, 192))
    source_path = write_ngff(tmp_path / "in.ome.zarr", image, "TYX", {"Y": 0.5, "X": 0.5}, (1, 64, 64))
    out = tmp_path / "out.ome.zarr"
    command = [sys.executable, "-m", "carekit.cli", "predict", "--model", str(HELA_MODEL), str(source_path), "--out",
               str(out), "--workers", "1", "--threads-per-worker", "1", "--quiet"]
    process = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and process.poll() is None:
            if (out / DONE_FOLDER).is_dir() and len(os.listdir(out / DONE_FOLDER)) >= 3:
                break
            time.sleep(0.05)
        assert process.poll() is None, f"the run ended before it could be killed: {process.stderr.read()[-2000:]}"
        os.killpg(process.pid, signal.SIGKILL)
    finally:
        process.wait()
    done = set(os.listdir(out / DONE_FOLDER))
    assert 3 <= len(done) < 24
    assert zarr.open_group(str(out), mode="r").attrs["carekit"]["complete"] is False
    written = _chunk_files(out, done)

    result = restore_large(client, HELA_MODEL, open_source(source_path), out, progress=False)
    assert result.chunks_total == 24 and result.chunks_done_before == len(done)
    assert len(result.chunk_seconds) == 24 - len(done)
    assert _chunk_files(out, done) == written  # finished chunks were not rewritten
    restored = zarr.open_group(str(out), mode="r")
    assert restored.attrs["carekit"]["complete"] is True and not (out / DONE_FOLDER).exists()
    expected = restore(HELA_MODEL, image, "TYX", progress=False).image
    assert np.abs(restored["0"][:] - expected).max() <= 1e-5
