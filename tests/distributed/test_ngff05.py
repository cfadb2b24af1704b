"""NGFF 0.5 output (Zarr v3): written with --ngff-version 0.5, opened by ome-zarr's Reader with its axes, pixel
sizes and pyramid, equal to in-memory restore, and refused as already complete on a second run."""

import json

import numpy as np
import zarr
from ome_zarr.io import parse_url
from ome_zarr.reader import Reader

from carekit.cli import main
from carekit.predict import restore

from .conftest import HELA_MODEL, nuclei_like, write_ngff


def test_ngff_05_output_opens_in_ome_zarr_reader_and_equals_in_memory(tmp_path, capsys):
    image = nuclei_like((2, 100, 140), seed=11)
    source = write_ngff(tmp_path / "in.ome.zarr", image, "TYX", {"Y": 0.3, "X": 0.3}, (1, 64, 64))
    out = tmp_path / "out.ome.zarr"
    argv = ["predict", "--model", str(HELA_MODEL), str(source), "--out", str(out), "--ngff-version", "0.5",
            "--workers", "1", "--threads-per-worker", "1", "--quiet"]
    assert main(argv) == 0
    meta = json.loads((out / "zarr.json").read_text())
    assert meta["zarr_format"] == 3 and meta["attributes"]["ome"]["version"] == "0.5"
    assert meta["attributes"]["carekit"]["complete"] is True and not (out / ".zattrs").exists()
    nodes = list(Reader(parse_url(str(out)))())
    assert [a["name"] for a in nodes[0].metadata["axes"]] == ["t", "y", "x"]
    assert nodes[0].metadata["coordinateTransformations"][1] == [{"type": "scale", "scale": [1.0, 0.6, 0.6]}]
    levels = nodes[0].data
    assert [level.shape for level in levels] == [(2, 100, 140), (2, 50, 70), (2, 25, 35)]
    expected = restore(HELA_MODEL, image, "TYX", progress=False).image
    assert np.abs(np.asarray(levels[0]) - expected).max() <= 1e-5
    assert zarr.open_array(str(out / "0"), mode="r").metadata.dimension_names == ("t", "y", "x")
    capsys.readouterr()
    assert main(argv) == 2
    assert "already holds a complete restoration" in capsys.readouterr().err
