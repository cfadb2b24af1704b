import numpy as np
import pytest
import tifffile

from carekit.errors import InputError
from carekit.io import Image, check_image, load_pairs, pair_folders, read_image, write_image


def test_roundtrip_keeps_axes_and_pixel_size(tmp_path, rng):
    data = rng.random((5, 32, 40)).astype(np.float32)
    path = write_image(tmp_path / "stack.tif", Image(data, "ZYX", {"Z": 0.5, "Y": 0.1, "X": 0.1}))
    back = read_image(path)
    assert back.axes == "ZYX"
    np.testing.assert_array_equal(back.data, data)
    assert back.pixel_size["X"] == pytest.approx(0.1, rel=1e-4)
    assert back.pixel_size["Z"] == pytest.approx(0.5)


def test_time_series_axes_are_reordered_for_imagej(tmp_path, rng):
    data = rng.integers(0, 4000, (3, 16, 24), dtype=np.uint16)
    path = write_image(tmp_path / "t.tif", data, axes="TYX")
    back = read_image(path)
    assert back.axes == "TYX" and back.data.dtype == np.uint16
    np.testing.assert_array_equal(back.data, data)


def test_plain_tiff_stack_is_read_as_z_unless_axes_given(tmp_path, rng):
    tifffile.imwrite(tmp_path / "plain.tif", rng.random((4, 16, 16)).astype(np.float32))
    assert read_image(tmp_path / "plain.tif").axes == "ZYX"
    assert read_image(tmp_path / "plain.tif", axes="tyx").axes == "TYX"
    with pytest.raises(InputError, match="one letter per dimension"):
        read_image(tmp_path / "plain.tif", axes="YX")


def test_unreadable_and_missing_files_give_clear_errors(tmp_path):
    (tmp_path / "bad.tif").write_text("not a tiff")
    with pytest.raises(InputError, match="valid .tif"):
        read_image(tmp_path / "bad.tif")
    with pytest.raises(InputError, match="not found"):
        read_image(tmp_path / "nope.tif")


def _pairs_folders(tmp_path, names_low, names_high, shape=(16, 16)):
    for folder, names in (("low", names_low), ("high", names_high)):
        (tmp_path / folder).mkdir()
        for name in names:
            tifffile.imwrite(tmp_path / folder / name, np.ones(shape, np.float32))
    return tmp_path / "low", tmp_path / "high"


def test_pairing_by_name(tmp_path):
    low, high = _pairs_folders(tmp_path, ["a.tif", "b.tif"], ["b.tif", "a.tif"])
    pairs = pair_folders(low, high)
    assert [(p.name, q.name) for p, q in pairs] == [("a.tif", "a.tif"), ("b.tif", "b.tif")]


def test_missing_partners_are_all_listed(tmp_path):
    low, high = _pairs_folders(tmp_path, ["a.tif", "b.tif"], ["a.tif", "c.tif"])
    with pytest.raises(InputError) as err:
        pair_folders(low, high)
    assert "b.tif: no high-SNR partner" in str(err.value)
    assert "c.tif: no low-SNR partner" in str(err.value)


def test_shape_mismatch_and_nan_are_reported_together(tmp_path):
    low, high = _pairs_folders(tmp_path, ["a.tif", "b.tif"], ["a.tif", "b.tif"])
    tifffile.imwrite(high / "a.tif", np.ones((16, 20), np.float32))
    nan_image = np.ones((16, 16), np.float32)
    nan_image[3, 3] = np.nan
    tifffile.imwrite(low / "b.tif", nan_image)
    with pytest.raises(InputError) as err:
        load_pairs(low, high)
    message = str(err.value)
    assert "a.tif: shape differs" in message and "1 NaN/Inf pixels" in message


def test_empty_folder_and_unsupported_dtype(tmp_path):
    (tmp_path / "low").mkdir()
    (tmp_path / "high").mkdir()
    with pytest.raises(InputError, match="no .tif"):
        pair_folders(tmp_path / "low", tmp_path / "high")
    assert "not supported" in check_image(np.zeros((4, 4), bool), "mask")[0]
    assert "not supported" in check_image(np.zeros((4, 4), np.complex64), "fft")[0]
    assert check_image(np.zeros((4, 4), np.uint16), "ok") == []


def test_image_axes_must_match_dimensions():
    with pytest.raises(InputError, match="do not match"):
        Image(np.zeros((4, 4)), "ZYX")


@pytest.mark.parametrize("unit, factor", [("nm", 1e-3), ("nanometer", 1e-3), ("mm", 1e3), ("millimeter", 1e3),
                                          ("um", 1.0), ("micron", 1.0)])
def test_pixel_size_in_imagej_metadata_is_converted_to_micrometres(tmp_path, unit, factor):
    path = tmp_path / f"{unit}.tif"
    tifffile.imwrite(path, np.zeros((3, 8, 8), np.float32), imagej=True, resolution=(1 / 65, 1 / 80),
                     metadata={"axes": "ZYX", "unit": unit, "spacing": 300})
    image = read_image(path)
    assert image.pixel_size["X"] == pytest.approx(65 * factor, rel=1e-4)
    assert image.pixel_size["Y"] == pytest.approx(80 * factor, rel=1e-4)
    assert image.pixel_size["Z"] == pytest.approx(300 * factor, rel=1e-6)
