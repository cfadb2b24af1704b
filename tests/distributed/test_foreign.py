"""A bioimage.io package carekit did not make (tests/foreign_package.py: fixed 64x64 blocks, output halo 8,
zero_mean_unit_variance over each image, two sigmoid outputs) on the distributed path: every chunk is normalized
with its whole plane's statistics, so the result is the package's whole-image result (its reference and carekit's
in-memory run), whatever the chunking."""

import json

import numpy as np
import pytest
import zarr

from carekit.errors import InputError
from carekit.ngff import open_source
from carekit.predict import restore
from carekit.predict.distributed import plan_large, restore_large
from tests.foreign_package import OUTPUTS, package_rdf, reference_outputs

from .conftest import write_ngff


pytestmark = pytest.mark.usefixtures("isolated_cache")


@pytest.fixture
def package(foreign_package):
    return foreign_package


def planes(n, shape=(150, 130)):
    rng = np.random.default_rng(5)
    # each plane a different brightness and contrast: a chunk's own statistics would differ from its plane's
    return np.stack([(rng.gamma(2.0, 40.0 * (i + 1), size=shape) + 100 * i) for i in range(n)]).astype(np.float32)


def test_chunks_normalized_with_their_whole_plane(package, tmp_path, client):
    image = planes(2)
    source = open_source(write_ngff(tmp_path / "in.ome.zarr", image, "TYX", {"Y": 0.3, "X": 0.3}, (1, 40, 48)))
    result = restore_large(client, package, source, tmp_path / "out.ome.zarr", progress=False)
    out = zarr.open_group(str(tmp_path / "out.ome.zarr"), mode="r")
    assert result.chunks_total == 2 * 4 * 3
    assert out.attrs["carekit"]["complete"] and out.attrs["carekit"]["images"] == list(OUTPUTS)
    written = {OUTPUTS[0]: out["0"][:], OUTPUTS[1]: out[f"{OUTPUTS[1]}/0"][:]}
    for t, plane in enumerate(image):
        expected = reference_outputs(plane.astype(np.float64))
        in_memory = restore(package, plane, "YX", progress=False).outputs
        for name in OUTPUTS:
            assert np.abs(written[name][t] - expected[name]).max() <= 1e-5
            assert np.abs(written[name][t] - in_memory[name].data).max() <= 1e-5
    assert written[OUTPUTS[0]].std() > 0.05  # a real output, not a constant


def variant(package, folder, **changes):
    """A copy of the package (same weights and test tensors) with `changes` to its description."""
    folder.mkdir()
    for f in package.parent.iterdir():
        if f.suffix in (".onnx", ".npy", ".md"):
            (folder / f.name).write_bytes(f.read_bytes())
    rdf = package_rdf(folder)
    for key, change in changes.items():
        for tensor in rdf[key]:
            tensor.update(change)
    (folder / "bioimageio.yaml").write_text(json.dumps(rdf))
    return folder / "bioimageio.yaml"


@pytest.mark.parametrize("changes, message", [
    ({"outputs": {"postprocessing": [{"id": "zero_mean_unit_variance"}]}}, "postprocessing needs statistics of the "
                                                                            "whole output"),
    ({"inputs": {"preprocessing": [{"id": "zero_mean_unit_variance", "kwargs": {"axes": ["x"]}}]}}, "per row or plane"),
])
def test_packages_that_chunks_would_change_are_refused(package, tmp_path, changes, message):
    other = variant(package, tmp_path / "variant", **changes)
    source = open_source(write_ngff(tmp_path / "in.ome.zarr", planes(1), "TYX", {}, (1, 64, 64)))
    with pytest.raises(InputError, match=f"{message}.*predict that in memory"):
        plan_large(other, source, tmp_path / "out.ome.zarr")
    assert not (tmp_path / "out.ome.zarr").exists()


def test_statistics_pass_reads_planes_only_when_needed(package, tmp_path):
    from carekit.predict.chunks import ModelRef
    from carekit.predict.cluster import dask_client
    from carekit.predict.package_stats import compute_package_stats

    source = open_source(write_ngff(tmp_path / "in.ome.zarr", planes(2, (1500, 1500)), "TYX", {}, (1, 512, 512)))
    plain = variant(package, tmp_path / "plain", inputs={"preprocessing": []})
    with dask_client(workers=1, threads_per_worker=1, memory_limit="60MB", processes=False) as small:
        # a 9 MB float32 plane is over an eighth of the 60 MB worker: a package that normalizes by it is refused ...
        with pytest.raises(InputError, match="at least 0.1 GiB each"):
            compute_package_stats(small, ModelRef(str(package)), source, "YX")
        # ... one that needs no statistics reads nothing here
        assert compute_package_stats(small, ModelRef(str(plain)), source, "YX") == [{}, {}]


def test_threads_of_a_worker_share_one_package(package):
    """A dask worker's threads call one loaded package at once: each call gets its own image's result (bioimageio.core's
    predict() reloads the model per call and, called from two threads, could leave one waiting forever)."""
    import threading
    import time

    from carekit.models import load_model

    runner = load_model(package)
    images = planes(4, (90, 80))
    results, errors = {}, []

    def run(i):
        try:
            for _ in range(5):
                results[i] = runner.predict_outputs(images[i], "YX", progress=False,
                                                    stats=runner.whole_image_stats(images[i], "YX"))
        except Exception as error:  # reported below: an exception in a thread would otherwise pass unseen
            errors.append(error)

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(4)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 120
    for thread in threads:
        thread.join(timeout=max(0.0, deadline - time.monotonic()))
    assert not any(t.is_alive() for t in threads), "a thread is still waiting for the model"
    assert not errors
    for i, image in enumerate(images):
        assert np.abs(results[i][OUTPUTS[0]] - reference_outputs(image.astype(np.float64))[OUTPUTS[0]]).max() <= 1e-5


def test_test_time_augmentation_is_refused_before_any_output(package, tmp_path):
    source = open_source(write_ngff(tmp_path / "in.ome.zarr", planes(1), "TYX", {}, (1, 64, 64)))
    with pytest.raises(InputError, match="test-time augmentation \\(tta\\) runs carekit's own models only"):
        plan_large(package, source, tmp_path / "out.ome.zarr", tta=True)
    assert not (tmp_path / "out.ome.zarr").exists()
