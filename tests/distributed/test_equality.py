"""The distributed result equals in-memory `restore` (same recipe, normalization over whole planes/stacks, halo
around every chunk), for the shipped 2D package on a TYX time series and a tiny 3D probabilistic model on TZYX."""

import numpy as np
import pytest
import zarr

from carekit.ngff import open_source
from carekit.predict import restore
from carekit.predict.distributed import restore_large

from .conftest import HELA_MODEL, nuclei_like, write_ngff


def test_2d_time_series_equals_in_memory_restore(tmp_path, client):
    image = nuclei_like((3, 150, 170))
    source = open_source(write_ngff(tmp_path / "in.ome.zarr", image, "TYX", {"Y": 0.2, "X": 0.3}, (1, 50, 66)))
    result = restore_large(client, HELA_MODEL, source, tmp_path / "out.ome.zarr", progress=False)
    expected = restore(HELA_MODEL, image, "TYX", progress=False).image
    restored = zarr.open_group(str(tmp_path / "out.ome.zarr"), mode="r")["0"][:]
    assert result.chunks_total == 3 * 3 * 3 and result.chunks_done_before == 0  # 50x66 px chunks, not on the 4 px pooling grid
    assert np.abs(restored - expected).max() <= 1e-5
    assert restored.std() > 0.1  # a real restoration, not an empty array


@pytest.mark.slow  # ~80 s on 2 AVX2 cores, most of it training the tiny 3D model
def test_3d_probabilistic_stacks_equal_in_memory_restore(tmp_path, client):
    from carekit.config import TrainConfig
    from carekit.train.care import train_care

    volumes = [np.random.default_rng(i).random((16, 48, 48)).astype(np.float32) for i in range(2)]
    config = TrainConfig(axes="ZYX", patch_size=(8, 16, 16), patches_per_image=8, epochs=1, steps_per_epoch=2,
                         batch_size=4, unet_first=8, probabilistic=True)
    train_care(volumes, volumes, config, tmp_path / "m3", progress=False)
    image = nuclei_like((1, 12, 100, 96), seed=1)  # T, Z, Y, X
    source = open_source(write_ngff(tmp_path / "in.ome.zarr", image, "TZYX", {"Z": 1.0, "Y": 0.2, "X": 0.2},
                                    (1, 6, 50, 24)))
    restore_large(client, tmp_path / "m3", source, tmp_path / "out.ome.zarr", progress=False)
    expected = restore(tmp_path / "m3", image, "TZYX", progress=False)
    out = zarr.open_group(str(tmp_path / "out.ome.zarr"), mode="r")
    assert out["0"].chunks == (1, 12, 50, 48)  # X chunks grown to twice the 24 px halo
    assert np.abs(out["0"][:] - expected.image).max() <= 1e-5
    assert np.abs(out["scale/0"][:] - expected.scale).max() <= 1e-5


def test_test_time_augmentation_chunk_by_chunk_equals_in_memory(tmp_path, client, capsys):
    from carekit.cli import main

    image = nuclei_like((2, 150, 170), seed=3)
    path = write_ngff(tmp_path / "in.ome.zarr", image, "TYX", {"Y": 0.2, "X": 0.2}, (1, 50, 66))
    source = open_source(path)
    restore_large(client, HELA_MODEL, source, tmp_path / "out.ome.zarr", progress=False, tta=True)
    expected = restore(HELA_MODEL, image, "TYX", progress=False, tta=True).image
    plain = restore(HELA_MODEL, image, "TYX", progress=False).image
    restored = zarr.open_group(str(tmp_path / "out.ome.zarr"), mode="r")["0"][:]
    assert np.abs(restored - expected).max() <= 1e-5
    assert np.abs(expected - plain).max() > 1e-3  # the transforms changed something
    assert main(["predict", "--model", str(HELA_MODEL), str(path), "--out", str(tmp_path / "cli.ome.zarr"), "--tta",
                 "--quiet", "--no-classical-check", "--workers", "1"]) == 0
    assert "test-time augmented: averaged over 8 turns and flips)" in capsys.readouterr().out
    assert np.array_equal(zarr.open_group(str(tmp_path / "cli.ome.zarr"), mode="r")["0"][:], restored)
