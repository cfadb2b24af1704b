"""The percentile pass (before any chunk is restored) turns a worker that runs out of memory into the same one clear
error as the chunk pass, and keeps whole-plane (exact) reads within what a worker's memory limit allows."""

import numpy as np
import pytest
import zarr

from carekit.errors import InputError
from carekit.ngff import open_source
from carekit.predict.cluster import dask_client
from carekit.predict.percentiles import compute_levels

from .conftest import write_ngff


@pytest.mark.slow  # ~30-60 s: the nanny restarts the killed worker three times before dask gives up
def test_worker_out_of_memory_in_the_percentile_pass_is_one_clear_error(tmp_path):
    root = zarr.open_group(str(tmp_path / "big.zarr"), mode="w", zarr_format=2)
    root.create_array("0", shape=(12000, 12000), chunks=(12000, 12000), dtype="uint16", fill_value=7)  # 288 MB read
    source = open_source(tmp_path / "big.zarr" / "0", axes="YX")
    with dask_client(workers=1, threads_per_worker=1, memory_limit="250MB") as client:
        with pytest.raises(InputError) as caught:
            compute_levels(client, source, "YX", 1.0, 99.8)
    message = str(caught.value)
    assert message.startswith(("a dask worker died while computing the normalization percentiles",
                               "every dask worker has been paused for 30 s while computing the normalization")), message
    assert "--memory-limit" in message and len(message.splitlines()) == 1


def test_planes_too_large_for_a_worker_memory_limit_use_the_histogram(tmp_path):
    data = np.random.default_rng(5).lognormal(0, 1, (1, 4096, 4096)).astype(np.float32)
    source = open_source(write_ngff(tmp_path / "in.ome.zarr", data, "TYX", {}, (1, 1024, 1024)))
    with dask_client(workers=1, threads_per_worker=1, memory_limit="400MB") as client:
        levels = compute_levels(client, source, "YX", 1.0, 99.8)  # a 64 MiB plane > 400 MB / 8: not read whole
    expected = [np.percentile(plane, [1.0, 99.8]) for plane in data]
    error = np.abs(np.asarray(levels, np.float64) - np.asarray(expected))
    assert error.max() > 0  # a histogram, not the exact whole-plane percentiles
    assert (error <= (data.max(axis=(1, 2)) - data.min(axis=(1, 2)))[:, None] / 2**16).all()
