"""Percentiles of planes/stacks too large for one worker come from a histogram: exact for integer images, within
one bin for float images, and the distributed result still equals in-memory restore for integer data."""

import numpy as np
import zarr

from carekit.ngff import open_source
from carekit.predict import restore
from carekit.predict.distributed import restore_large
from carekit.predict.percentiles import compute_levels, plane_regions

from .conftest import HELA_MODEL, nuclei_like, write_ngff


def test_histogram_percentiles_exact_for_integers_and_within_a_bin_for_floats(tmp_path, client):
    ints = nuclei_like((2, 120, 90), seed=3)
    floats = np.random.default_rng(0).lognormal(0, 1.5, (2, 120, 90)).astype(np.float32)
    for name, data in (("ints", ints), ("floats", floats)):
        source = open_source(write_ngff(tmp_path / f"{name}.ome.zarr", data, "TYX", {}, (1, 50, 40)))
        exact = compute_levels(client, source, "YX", 1.0, 99.8)
        histogram = compute_levels(client, source, "YX", 1.0, 99.8, exact_bytes=0)
        expected = [np.percentile(data[t].astype(np.float32), [1.0, 99.8]) for t in range(2)]
        np.testing.assert_array_equal(np.asarray(exact, np.float64), np.asarray(expected, np.float64))
        bin_width = [(data[t].max() - data[t].min()) / 2**16 for t in range(2)]
        error = np.abs(np.asarray(histogram, np.float64) - np.asarray(expected, np.float64)).max(axis=1)
        if name == "ints":
            assert error.max() <= 1e-3  # one bin per value: float32 rounding only
        else:
            assert (error <= np.asarray(bin_width)).all() and error.max() > 0
    assert len(plane_regions(source, "YX")) == 2


def test_distributed_result_with_histogram_percentiles_equals_in_memory(tmp_path, client):
    image = nuclei_like((2, 96, 96), seed=4)
    source = open_source(write_ngff(tmp_path / "in.ome.zarr", image, "TYX", {}, (1, 48, 96)))
    restore_large(client, HELA_MODEL, source, tmp_path / "out.ome.zarr", progress=False, exact_bytes=0)
    expected = restore(HELA_MODEL, image, "TYX", progress=False).image
    assert np.abs(zarr.open_group(str(tmp_path / "out.ome.zarr"))["0"][:] - expected).max() <= 1e-5
