"""The comparison with classical denoising on the large-data path: carekit predict judges the central crop of an
OME-Zarr's middle plane as it judges a TIFF, and says so once for the input."""

import numpy as np

from carekit.cli import main
from carekit.io import Image, write_image
from carekit.ngff import open_source
from carekit.data.crops import middle_plane_crop
from tests.integration.test_classical_check import _held_out
from tests.integration.test_generalist_package import PACKAGE

from .conftest import write_ngff


def test_middle_plane_crop_reads_the_central_region_of_the_middle_plane(tmp_path):
    data = np.arange(2 * 10 * 40 * 50, dtype=np.uint16).reshape(2, 10, 40, 50)
    source = open_source(write_ngff(tmp_path / "in.ome.zarr", data, "TZYX", {}, (1, 1, 16, 16)))
    np.testing.assert_array_equal(middle_plane_crop(source.read, source.axes, source.shape, 20),
                                  data[1, 5, 10:30, 15:35])  # as in memory
    assert middle_plane_crop(source.read, source.axes, source.shape, 512).shape == (40, 50)


def test_large_input_is_compared_like_a_tiff(tmp_path, capsys):
    confocal = _held_out("nuclei3d", 10.0)
    stack = np.stack([confocal, confocal]).astype(np.float32)
    zarr_path = write_ngff(tmp_path / "in.ome.zarr", stack, "TYX", {}, (1, 128, 128))
    write_image(tmp_path / "in.tif", Image(confocal, "YX"))
    assert main(["predict", "--model", str(PACKAGE), str(zarr_path), "--out", str(tmp_path / "out.ome.zarr"),
                 "--workers", "1", "--quiet", "--rescale", "1", "--no-classical-blend"]) == 0  # where it clearly loses
    large = [line for line in capsys.readouterr().err.splitlines() if "out of its depth" in line]
    assert main(["predict", "--model", str(PACKAGE), str(tmp_path / "in.tif"), "--out", str(tmp_path / "out"),
                 "--quiet", "--rescale", "1", "--no-classical-blend"]) == 0
    small = [line for line in capsys.readouterr().err.splitlines() if "out of its depth" in line]
    assert len(large) == 1 and large[0].startswith(f"warning: {zarr_path}: the model is behind")
    assert large[0].split(": ", 2)[2] == small[0].split(": ", 2)[2]  # the same plane, the same message
