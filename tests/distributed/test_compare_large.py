"""`carekit compare` on an OME-Zarr: it reads the central crop of the middle plane alone and judges it as it judges
the same plane in a TIFF."""

import numpy as np

from carekit.cli import main
from carekit.io import Image, write_image
from tests.integration.test_generalist_package import PACKAGE
from tests.integration.test_model_comparison import HELA, _held_out

from .conftest import write_ngff


def test_an_ome_zarr_is_compared_like_a_tiff_of_its_middle_plane(tmp_path, capsys):
    plane = _held_out("mahotas", 10.0).astype(np.float32)
    stack = np.stack([plane[::-1], plane, plane[:, ::-1]])  # the middle of T is the plane
    zarr_path = write_ngff(tmp_path / "in.ome.zarr", stack, "TYX", {}, (1, 128, 128))
    write_image(tmp_path / "in.tif", Image(plane, "YX"))
    for path in (zarr_path, tmp_path / "in.tif"):
        assert main(["compare", "--model", str(PACKAGE), str(HELA), str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    large, small = (line for line in lines if ": care-generalist-nuclei-denoising.zip restores better" in line)
    assert large.split(": ", 1)[1] == small.split(": ", 1)[1]  # the same plane, the same verdict and numbers
