"""The shipped generalist (model-zoo/care-generalist-nuclei-denoising.zip): small, probabilistic, restores held-out
images of every built-in dataset, documents its protocol, and is a starting point for `carekit train --from`."""

import zipfile
from pathlib import Path

import pytest

from carekit.cli import main
from carekit.config import ModelRecord, SynthConfig
from carekit.evaluate.metrics import score
from carekit.generalist import DATASETS, INDEPENDENT_DATASETS, TRAINING_DATASETS, UNSEEN_DATASETS, recipe, splits
from carekit.models import load_model
from carekit.predict import restore
from carekit.synth.pairs import make_pairs
from carekit.train.history import best_value

PACKAGE = Path(__file__).resolve().parents[2] / "model-zoo" / "care-generalist-nuclei-denoising.zip"


def test_generalist_package_is_small_probabilistic_and_documents_its_protocol():
    # three weight formats of its 0.33M-parameter U-Net (5.2 MB of the 5.7 MB) and small 160x160 test tensors
    assert PACKAGE.stat().st_size < 6_000_000
    with zipfile.ZipFile(PACKAGE) as zf:
        readme = zf.read("README.md").decode()
    assert "Leave-one-dataset-out protocol" in readme and "| mahotas | 10 |" in readme
    assert "margin with search |" in readme and "carekit runs it with `--rescale search`" in readme  # its best use
    assert "margin with its defaults |" in readme and "with its defaults, search and the blend, in" in readme
    record = ModelRecord.model_validate_json(PACKAGE.with_suffix(".carekit.json").read_text())
    assert record.train.probabilistic and record.data["source"] == "generalist"
    recipe_fields = ("unet_depth", "unet_first", "unet_kern_size", "probabilistic", "epochs", "steps_per_epoch",
                     "precision")
    assert {k: getattr(record.train, k) for k in recipe_fields} == {k: getattr(recipe(), k) for k in recipe_fields}
    assert record.data["datasets"] == list(TRAINING_DATASETS) and record.data["left_out"] is None
    assert record.rescale == "search" and load_model(PACKAGE).spec.rescale == "search"  # its own mode, in the rdf too
    assert record.classical_blend and load_model(PACKAGE).spec.classical_blend  # and its own blend


@pytest.mark.parametrize("dataset", DATASETS + UNSEEN_DATASETS + INDEPENDENT_DATASETS)
def test_generalist_restores_held_out_images_of_every_dataset(dataset):  # nuclei3d, gowt1, dsb2018: never seen
    test = splits([dataset])[dataset][1][-1][:256, :256]  # the last held-out image: its first nuclei3d plane is dim
    lows, highs = make_pairs([test], SynthConfig(photons=[10.0], seed=5))
    result = restore(PACKAGE, lows[0], axes="YX", progress=False)
    assert result.scale is not None and result.scale.shape == test.shape
    assert score(highs[0], result.image).psnr > score(highs[0], lows[0]).psnr + 3


def test_train_from_the_generalist_zip(tmp_path):
    model = tmp_path / "mine"
    assert main(["train", "--model", str(model), "--from", str(PACKAGE), "--builtin", "bbbc007", "--max-images", "2",
                 "--photons", "3", "10", "--patches-per-image", "8", "--epochs", "1", "--steps-per-epoch", "2",
                 "--batch-size", "4", "--quiet"]) == 0
    record = ModelRecord.load(model)
    assert record.train.probabilistic
    assert (record.train.unet_depth, record.train.unet_first) == (recipe().unet_depth, recipe().unet_first)
    assert record.data["initialized_from"] == str(PACKAGE)  # what the user named, not the unpacked cache copy
    # fine-tuned weights learnt the user's images at their own scale; the generalist's, if kept, keep its mode
    kept = best_value(model / "history.csv", "val_loss") >= record.start_validation_loss
    assert (record.rescale, record.classical_blend) == (("search", True) if kept else (None, False))
