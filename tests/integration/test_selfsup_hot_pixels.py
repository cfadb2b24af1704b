"""`carekit finetune --hot-pixels`: noisy training images with hot pixels are warned about before training (keep,
the default) or trained on with them replaced (replace: counted in the output and in carekit.json), and the
--compare-on images are judged as predict --hot-pixels replace would restore them."""

import numpy as np

from carekit.cli import main
from carekit.config import ModelRecord
from carekit.io import Image, write_image
from tests.integration.test_hot_pixels_restore import _with_hot_pixels


def _folder(tmp_path):
    masks = []
    for index in range(2):
        image, mask = _with_hot_pixels((96 + 32 * index, 128))
        write_image(tmp_path / "noisy" / f"{index}.tif", Image(image, "YX"))
        masks.append(mask)
    return tmp_path / "noisy", masks


def test_finetune_warns_about_hot_pixels_or_replaces_them(tmp_path, tiny_model, capsys):
    noisy, masks = _folder(tmp_path)
    args = ["finetune", "--pretrained", str(tiny_model), "--noisy", str(noisy), "--epochs", "1", "--steps", "1",
            "--learning-rate", "1e-12", "--quiet"]
    assert main(args + ["--model", str(tmp_path / "kept")]) == 0
    captured = capsys.readouterr()
    assert "warning: 2 of the 2 noisy training images have many isolated hot (or dead) pixels" in captured.err
    assert "--hot-pixels replace" in captured.err and "hot pixels:" not in captured.out
    assert ModelRecord.load(tmp_path / "kept").data["images"]["hot_pixels"] == "keep"
    assert main(["train", "--model", str(tmp_path / "kept"), "--resume", "--epochs", "1", "--quiet"]) == 2
    assert "was trained self-supervised; resuming those is not supported yet" in capsys.readouterr().err
    assert main(args + ["--model", str(tmp_path / "replaced"), "--hot-pixels", "replace"]) == 0
    captured = capsys.readouterr()
    replaced = ModelRecord.load(tmp_path / "replaced").data["images"]
    assert replaced["hot_pixels"] == "replace" and replaced["hot_pixels_replaced"] == sum(m.sum() for m in masks)
    assert (f"hot pixels: {replaced['hot_pixels_replaced']} replaced by their neighbours' median in the noisy images "
            "before training") in captured.out
    assert "isolated hot" not in captured.err


def test_compare_on_images_are_judged_with_their_hot_pixels_replaced(tmp_path, tiny_model):
    from carekit.cli.start_comparison import prepared

    noisy, masks = _folder(tmp_path)
    path = str(noisy / "0.tif")
    kept = prepared(str(tiny_model), [path]).images[0][1].data
    replaced = prepared(str(tiny_model), [path], hot_pixels="replace").images[0][1].data
    changed = kept != replaced
    assert np.array_equal(changed, masks[0]) and replaced.max() < kept.max()
