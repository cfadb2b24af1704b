"""Packaging takes its sample image from the model folder, kept there by training (no training data is read or
regenerated), and never changes the caller's working directory."""

import contextlib
import os
import shutil
import threading

import numpy as np
import pytest

from carekit.config import ModelRecord, TrainConfig
from carekit.errors import InputError
from carekit.io import read_image, write_image
from carekit.train.sample import SAMPLE_INPUT_FILE
from carekit.zoo.package import build_package
from carekit.zoo.sample import sample_image
from tests.conftest import synthetic_pairs


@contextlib.contextmanager
def working_directories_seen():
    """Every working directory a concurrent thread (a notebook, a server) observes meanwhile."""
    seen, stop = set(), threading.Event()

    def watch():
        while not stop.is_set():
            seen.add(os.getcwd())
            stop.wait(0.005)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join()


def test_package_from_the_kept_sample_leaves_the_working_directory_alone(tiny_model, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with working_directories_seen() as seen:
        result = build_package(tiny_model, tmp_path / "pkg" / "tiny.zip", name="tiny test model")
    assert seen == {os.getcwd()}
    assert [p.name for p in tmp_path.iterdir()] == ["pkg"]  # no bioimageio_unzipped_tf_weights here
    assert set(result.test_results.values()) == {"passed"}
    first_training_input = synthetic_pairs(8)[0][0]  # tiny_model's first source image (128x128: kept whole)
    test_input = np.load(tmp_path / "pkg" / "tiny" / "test_input.npy")
    np.testing.assert_array_equal(test_input[0, ..., 0], first_training_input.astype(np.float32))


def test_folders_trained_before_the_kept_sample(tiny_model, tmp_path):
    old = tmp_path / "old"
    shutil.copytree(tiny_model, old)
    (old / SAMPLE_INPUT_FILE).unlink()
    with pytest.raises(InputError, match=f"keeps no {SAMPLE_INPUT_FILE} .*give a sample image .*--sample"):
        build_package(old, tmp_path / "packages" / "old.zip")
    assert not (tmp_path / "packages" / "old.zip").exists()
    lows = synthetic_pairs(2, shape=(64, 64), seed=5)[0]
    for index, low in enumerate(lows):
        write_image(tmp_path / "low" / f"{index}.tif", low, "YX")
    pairs = {"source": "pairs", "low": str(tmp_path / "low"), "high": str(tmp_path / "high")}
    record = ModelRecord.load(old).model_copy(update={"data": pairs})
    np.testing.assert_array_equal(sample_image(record, old, None), lows[0])


def test_ensemble_and_selfsupervised_training_keep_their_first_input(tmp_path):
    from carekit.train.ensemble import train_ensemble
    from carekit.train.selfsup import train_selfsupervised

    lows, highs = synthetic_pairs(2, shape=(64, 64), seed=3)
    config = TrainConfig(patch_size=(32, 32), patches_per_image=8, epochs=1, steps_per_epoch=2, batch_size=4,
                         unet_first=8)
    train_ensemble(lows, highs, config, tmp_path / "ensemble", members=2, progress=False)
    train_selfsupervised(lows, config, tmp_path / "n2v", progress=False)
    for folder in ("ensemble", "ensemble/member_1", "n2v"):
        np.testing.assert_array_equal(read_image(tmp_path / folder / SAMPLE_INPUT_FILE).data, lows[0], err_msg=folder)
