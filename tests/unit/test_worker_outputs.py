"""The Fiji worker hands every output of a package not made by carekit to ImageJ as channels of one image; the
plugin sends the image's calibration in µm."""

import numpy as np
import pytest

from carekit.fiji.worker import _output_channels
from carekit.io import Image


def test_an_output_with_several_channels_keeps_them_all_named_by_output_id():
    outputs = {"prob": Image(np.arange(3 * 4 * 5, dtype=np.float32).reshape(3, 4, 5), "CYX", {}),
               "mask": Image(np.full((4, 5), 7, np.float32), "YX", {})}
    data, axes, names = _output_channels(outputs, "YX")
    assert axes == "CYX" and data.shape == (4, 4, 5) and names == ["prob 1", "prob 2", "prob 3", "mask"]
    np.testing.assert_array_equal(data[:3], outputs["prob"].data)
    np.testing.assert_array_equal(data[3], 7)


def test_channels_go_after_z_as_imagej_hyperstacks_expect():
    data, axes, names = _output_channels({"out": Image(np.zeros((2, 6, 4, 5), np.float32), "CZYX", {})}, "ZYX")
    assert axes == "ZCYX" and data.shape == (6, 2, 4, 5) and names == ["out 1", "out 2"]


def test_outputs_of_another_geometry_are_refused_with_what_to_do():
    with pytest.raises(ValueError, match="run carekit predict, which writes one file per output"):
        _output_channels({"out": Image(np.zeros((8, 10), np.float32), "YX", {})}, "ZYX")


@pytest.mark.parametrize("unit, expected", [("nm", 0.065), ("micron", 65.0), ("\u00b5m", 65.0), ("mm", 65000.0),
                                            ("inch", None), ("pixel", None)])
def test_imagej_calibration_becomes_microns_as_for_tiff_files(unit, expected):
    from carekit.fiji.contract import pixel_size_um

    size = pixel_size_um(unit, 65.0, 65.0)
    assert (size is None) if expected is None else size == pytest.approx({"X": expected, "Y": expected})
