"""Out-of-range warnings on the distributed path (from a central sample of the middle plane, shown once by the CLI,
as in memory), and ensembles with their disagreement equal to in-memory restore."""

import numpy as np
import pytest
import zarr

from carekit.cli import main
from carekit.config import TrainConfig
from carekit.io import Image
from carekit.ngff import open_source
from carekit.predict import restore
from carekit.predict.distributed import restore_large
from carekit.predict.domain_check import OutOfRangeWarning

from .conftest import nuclei_like, write_ngff

TINY = dict(patch_size=(32, 32), patches_per_image=8, epochs=1, steps_per_epoch=2, batch_size=4, unet_first=8)


@pytest.mark.slow  # ~1-4 min: trains a tiny model, then the CLI starts a worker process that imports TensorFlow
def test_input_unlike_the_training_data_warns_once_as_in_memory(tmp_path, capsys):
    from carekit.train.care import train_care

    images = [nuclei_like((96, 96), seed=s) for s in range(2)]
    train_care(images, images, TrainConfig(**TINY), tmp_path / "m", pixel_size={"Y": 0.2, "X": 0.2}, progress=False)
    image = nuclei_like((3, 80, 90), seed=5)
    source = write_ngff(tmp_path / "in.ome.zarr", image, "TYX", {"Y": 2.0, "X": 2.0}, (1, 64, 64))
    with pytest.warns(OutOfRangeWarning, match=r"pixel size 2 vs 0.2 in training"):
        restore(tmp_path / "m", Image(image, "TYX", {"Y": 2.0, "X": 2.0}), progress=False)
    argv = ["predict", "--model", str(tmp_path / "m"), str(source), "--out", str(tmp_path / "out.ome.zarr"),
            "--workers", "1", "--threads-per-worker", "1", "--quiet"]
    assert main(argv) == 0
    warned = [line for line in capsys.readouterr().err.splitlines()
              if line.startswith("warning:") and "unlike the model's training data" in line]  # not the classical check
    assert len(warned) == 1 and "pixel size 2 vs 0.2 in training" in warned[0], warned


@pytest.mark.slow  # ~1-2 min: trains two tiny members
def test_ensemble_mean_and_disagreement_equal_in_memory(tmp_path, client):
    from carekit.train.ensemble import train_ensemble

    images = [nuclei_like((96, 96), seed=s) for s in range(2)]
    train_ensemble(images, images, TrainConfig(**TINY), tmp_path / "ens", members=2, progress=False)
    image = nuclei_like((2, 120, 100), seed=6)
    source = open_source(write_ngff(tmp_path / "in.ome.zarr", image, "TYX", {}, (1, 48, 48)))
    result = restore_large(client, tmp_path / "ens", source, tmp_path / "out.ome.zarr", progress=False)
    expected = restore(tmp_path / "ens", image, "TYX", progress=False)
    out = zarr.open_group(str(tmp_path / "out.ome.zarr"), mode="r")
    assert result.chunks_total == 2 * 3 * 3 and "scale" not in out
    assert np.abs(out["0"][:] - expected.image).max() <= 1e-5
    assert np.abs(out["disagreement/0"][:] - expected.disagreement).max() <= 1e-5
    assert expected.disagreement.max() > 0  # two members that differ
