"""hot_pixels='replace' on the large-data path: every pass reads the source with its hot pixels replaced as
in-memory restore replaces them, so the result equals restore's with the option, where keeping them leaves a spot at
each."""

import numpy as np
import pytest
import zarr

from carekit.cli import main
from carekit.ngff import open_source
from carekit.predict import restore
from carekit.predict.distributed import restore_large
from carekit.data.hot_pixel_images import without_hot_pixels
from carekit.predict.hot_pixels import HotPixelWarning, source_without_hot_pixels

from .conftest import HELA_MODEL, nuclei_like, write_ngff


def _hot_series():
    image = nuclei_like((2, 150, 170), seed=3)
    rng = np.random.default_rng(4)
    mask = rng.random(image.shape) < 1e-3
    image[mask] += rng.integers(1000, 4000, int(mask.sum())).astype(np.uint16)
    return image, mask


def test_large_data_replaces_hot_pixels_as_restore_does(tmp_path, client, capsys):
    image, mask = _hot_series()
    path = write_ngff(tmp_path / "in.ome.zarr", image, "TYX", {"Y": 0.2, "X": 0.2}, (1, 50, 66))
    source = open_source(path)
    region = (slice(1, 2), slice(40, 90), slice(3, 30))  # a chunk-sized read, as in the whole image
    np.testing.assert_array_equal(source_without_hot_pixels(source).read(region),
                                  without_hot_pixels(image, "TYX")[0][region])

    restore_large(client, HELA_MODEL, source, tmp_path / "out.ome.zarr", progress=False, hot_pixels="replace")
    restored = zarr.open_group(str(tmp_path / "out.ome.zarr"), mode="r")["0"][:]
    replaced = restore(HELA_MODEL, image, "TYX", progress=False, hot_pixels="replace")
    with pytest.warns(HotPixelWarning, match="isolated hot"):
        kept = restore(HELA_MODEL, image, "TYX", progress=False)
    assert replaced.hot_pixels_replaced == mask.sum() > 30
    assert np.abs(restored - replaced.image).max() <= 1e-5
    spots = np.abs(kept.image - replaced.image)
    assert np.median(spots[mask]) > 0.2 > 100 * np.median(spots[~mask])  # kept, hot pixels leave spots

    assert main(["predict", "--model", str(HELA_MODEL), str(path), "--out", str(tmp_path / "cli.ome.zarr"),
                 "--hot-pixels", "replace", "--quiet", "--no-classical-check", "--workers", "1"]) == 0
    assert "hot pixels replaced by their neighbours' median)" in capsys.readouterr().out
    assert np.array_equal(zarr.open_group(str(tmp_path / "cli.ome.zarr"), mode="r")["0"][:], restored)
