"""OME-Zarr in and out: NGFF 0.4 and 0.5 inputs (hand-written and written by ome-zarr), TIFF and plain Zarr inputs;
the output keeps the input's axes, pixel sizes and chunking, has a pyramid, and opens in ome-zarr's reader."""

import numpy as np
import tifffile
import zarr
from ome_zarr.io import parse_url
from ome_zarr.reader import Reader

from carekit.cli import main
from carekit.ngff import open_source
from carekit.predict import restore
from carekit.predict.distributed import restore_large

from .conftest import HELA_MODEL, nuclei_like, write_ngff


def test_ngff_05_round_trip_through_ome_zarr_reader(tmp_path, client):
    image = nuclei_like((2, 100, 140))
    source = open_source(write_ngff(tmp_path / "in.ome.zarr", image, "ZYX", {"Z": 2.0, "Y": 0.25, "X": 0.25},
                                    (1, 64, 64), version="0.5"))
    assert (source.axes, source.pixel_size, source.chunks) == ("ZYX", {"Z": 2.0, "Y": 0.25, "X": 0.25}, (1, 64, 64))
    restore_large(client, HELA_MODEL, source, tmp_path / "out.ome.zarr", progress=False)
    nodes = list(Reader(parse_url(str(tmp_path / "out.ome.zarr")))())
    meta = nodes[0].metadata
    assert [a["name"] for a in meta["axes"]] == ["z", "y", "x"]
    assert meta["coordinateTransformations"][0] == [{"type": "scale", "scale": [2.0, 0.25, 0.25]}]
    assert meta["coordinateTransformations"][1] == [{"type": "scale", "scale": [2.0, 0.5, 0.5]}]
    levels = nodes[0].data
    assert [level.shape for level in levels] == [(2, 100, 140), (2, 50, 70), (2, 25, 35)]
    assert levels[0].chunksize == (1, 64, 64)
    full = np.asarray(levels[0])
    np.testing.assert_allclose(np.asarray(levels[1]), full.reshape(2, 50, 2, 70, 2).mean(axis=(2, 4)), atol=1e-6)
    reopened = open_source(tmp_path / "out.ome.zarr")  # carekit reads its own output back
    assert (reopened.axes, reopened.pixel_size) == ("ZYX", {"Z": 2.0, "Y": 0.25, "X": 0.25})


def test_input_written_by_ome_zarr_is_read_at_full_resolution(tmp_path):
    from ome_zarr.format import FormatV05
    from ome_zarr.writer import write_image

    root = zarr.open_group(str(tmp_path / "w.ome.zarr"), mode="w", zarr_format=3)
    write_image(nuclei_like((3, 96, 80)), root, axes="tyx", fmt=FormatV05(), storage_options={"chunks": (1, 48, 40)})
    source = open_source(tmp_path / "w.ome.zarr")
    assert (source.axes, source.shape, source.chunks, source.array_path) == ("TYX", (3, 96, 80), (1, 48, 40), "s0")


def test_large_tiff_and_plain_zarr_inputs(tmp_path, client, capsys):
    image = nuclei_like((2, 90, 120))
    tifffile.imwrite(tmp_path / "big.tif", image, imagej=True, resolution=(1 / 0.4, 1 / 0.4),
                     metadata={"axes": "TYX", "unit": "um"})
    source = open_source(tmp_path / "big.tif")
    assert (source.kind, source.axes, source.chunks, source.pixel_size) == ("tiff", "TYX", (1, 90, 120),
                                                                            {"Y": 0.4, "X": 0.4})
    assert np.array_equal(source.read((slice(1, 2), slice(10, 20), slice(0, 120))), image[1:2, 10:20])
    restore_large(client, HELA_MODEL, source, tmp_path / "tif.ome.zarr", progress=False)
    expected = restore(HELA_MODEL, image, "TYX", progress=False).image
    assert np.abs(zarr.open_group(str(tmp_path / "tif.ome.zarr"))["0"][:] - expected).max() <= 1e-5

    zarr.create_array(str(tmp_path / "plain.zarr"), data=image, chunks=(1, 64, 64), zarr_format=3)
    argv = ["predict", "--model", str(HELA_MODEL), str(tmp_path / "plain.zarr"), "--axes", "TYX", "--out",
            str(tmp_path / "plain-out.ome.zarr"), "--workers", "1", "--threads-per-worker", "1", "--quiet"]
    assert main(argv) == 0
    assert "(8 chunks)" in capsys.readouterr().out  # 2 planes of 2 x 2 chunks of 64 px
    assert np.abs(zarr.open_group(str(tmp_path / "plain-out.ome.zarr"))["0"][:] - expected).max() <= 1e-5
