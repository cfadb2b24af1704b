"""Isotropic, projection and axial-upsampling models on the distributed path: chunks over Y/X (and T) with the whole
Z, the in-memory recipes run on each chunk, results equal to in-memory `restore` within 1e-5, Z scaled (or dropped)
with the pixel sizes to match. Tiny models trained for two steps: equality needs no trained weights."""

import numpy as np
import pytest
import zarr

from carekit.config import SynthConfig, TrainConfig
from carekit.io import Image
from carekit.ngff import open_source
from carekit.predict import restore
from carekit.predict.distributed import restore_large
from carekit.predict.percentiles import compute_levels

from .conftest import HELA_MODEL, nuclei_like, write_ngff

TINY = dict(patches_per_image=8, epochs=1, steps_per_epoch=2, batch_size=4, unet_first=8)


def _ngff_meta(path):
    return zarr.open_group(str(path), mode="r").attrs["multiscales"][0]


def test_isotropic_model_equals_in_memory_with_z_zoomed_and_its_pixel_size(tmp_path, client):
    from carekit.train.isotropic import train_isotropic

    pixel_size = {"Z": 1.0, "Y": 0.25, "X": 0.25}  # factor 4
    train_isotropic(Image(nuclei_like((6, 64, 64), seed=7), "ZYX", pixel_size), tmp_path / "iso",
                    TrainConfig(patch_size=(16, 16), **TINY), progress=False)
    stack = nuclei_like((5, 70, 90), seed=8)
    source = open_source(write_ngff(tmp_path / "in.ome.zarr", stack, "ZYX", pixel_size, (2, 32, 48)))
    result = restore_large(client, tmp_path / "iso", source, tmp_path / "out.ome.zarr", progress=False)
    expected = restore(tmp_path / "iso", Image(stack, "ZYX", pixel_size), progress=False)
    out = zarr.open_group(str(tmp_path / "out.ome.zarr"), mode="r")["0"]
    assert result.chunks_total == 2 * 2  # whole Z; Y chunks grown to twice the 24 px halo
    assert out.shape == expected.image.shape == (20, 70, 90) and out.chunks == (8, 64, 48)
    assert np.abs(out[:] - expected.image).max() <= 1e-5 and out[:].std() > 0
    scale = _ngff_meta(tmp_path / "out.ome.zarr")["datasets"][0]["coordinateTransformations"][0]["scale"]
    assert scale == [0.25, 0.25, 0.25] and expected.pixel_size["Z"] == 0.25


def test_projection_model_gives_one_2d_image_per_stack_equal_to_in_memory(tmp_path, client):
    from tests.integration.test_projection import _trained

    model = _trained(tmp_path, 1, 2)
    stacks = nuclei_like((2, 8, 150, 170), seed=9)  # T, Z, Y, X
    source = open_source(write_ngff(tmp_path / "in.ome.zarr", stacks, "TZYX", {"Z": 2.0, "Y": 0.5, "X": 0.5},
                                    (1, 4, 64, 64)))
    result = restore_large(client, model, source, tmp_path / "out.ome.zarr", progress=False)
    out = zarr.open_group(str(tmp_path / "out.ome.zarr"), mode="r")["0"]
    cy, cx = out.chunks[1:]
    assert out.shape == (2, 150, 170) and cy < 150 and cx < 170  # several chunks: their halos matter
    assert result.chunks_total == 2 * -(-150 // cy) * -(-170 // cx)
    for t in range(2):
        expected = restore(model, stacks[t], "ZYX", progress=False).image
        assert np.abs(out[t] - expected).max() <= 1e-5
    meta = _ngff_meta(tmp_path / "out.ome.zarr")
    assert [a["name"] for a in meta["axes"]] == ["t", "y", "x"]
    assert meta["datasets"][0]["coordinateTransformations"][0]["scale"] == [1.0, 0.5, 0.5]


def test_axial_upsampling_model_zooms_z_and_equals_in_memory(tmp_path, client):
    from carekit import workflows

    data = workflows.data_from_structures("granules", (16, 32, 32), 2, SynthConfig(axial_subsample=2, photons=[20.0]))
    config = TrainConfig(axes="ZYX", patch_size=(8, 16, 16), patches_per_image=4, epochs=1, steps_per_epoch=2,
                         batch_size=2, unet_first=4, unet_depth=1)
    workflows.train(data, tmp_path / "up", config, progress=False)
    raw = nuclei_like((6, 60, 70), seed=10)
    pixel_size = {"Z": 1.0, "Y": 0.5, "X": 0.5}
    source = open_source(write_ngff(tmp_path / "in.ome.zarr", raw, "ZYX", pixel_size, (3, 32, 32)))
    result = restore_large(client, tmp_path / "up", source, tmp_path / "out.ome.zarr", progress=False)
    expected = restore(tmp_path / "up", Image(raw, "ZYX", pixel_size), progress=False)
    out = zarr.open_group(str(tmp_path / "out.ome.zarr"), mode="r")["0"]
    assert result.chunks_total == 2 * 3 and out.shape == expected.image.shape == (12, 60, 70)
    assert np.abs(out[:] - expected.image).max() <= 1e-5
    assert _ngff_meta(tmp_path / "out.ome.zarr")["datasets"][0]["coordinateTransformations"][0]["scale"][0] == 0.5
    zoomed_exact = compute_levels(client, source, "ZYX", 1.0, 99.8, z_factor=2.0)
    zoomed_histogram = compute_levels(client, source, "ZYX", 1.0, 99.8, exact_bytes=0, z_factor=2.0)
    assert np.abs(np.subtract(zoomed_exact, zoomed_histogram)).max() <= (raw.max() - raw.min()) / 2**16


def test_kind_specific_refusals_are_one_line(tmp_path, client):
    from carekit.errors import InputError
    from tests.integration.test_projection import _trained

    model = _trained(tmp_path, 1, 2)
    source = open_source(write_ngff(tmp_path / "in.ome.zarr", nuclei_like((2, 64, 64)), "TYX", {}, (1, 64, 64)))
    with pytest.raises(InputError, match=r"projection models restore \(Z, Y, X\) stacks of at least 3 planes"):
        restore_large(client, model, source, tmp_path / "out.ome.zarr", progress=False)
    with pytest.raises(InputError, match="this care model does not zoom Z .* leave it out"):
        restore_large(client, HELA_MODEL, source, tmp_path / "out.ome.zarr", progress=False, z_factor=4.0)
    assert not (tmp_path / "out.ome.zarr").exists()
