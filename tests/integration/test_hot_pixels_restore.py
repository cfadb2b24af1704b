"""Hot camera pixels at prediction: a model restores them as spots; restore and carekit predict warn about them by
default and replace them first with hot_pixels='replace' (exactly as restoring the image with them replaced; the
large-data path: tests/distributed/test_hot_pixels_large.py)."""

import warnings

import numpy as np
import pytest

from carekit.cli import main
from carekit.io import Image, write_image
from carekit.predict import restore
from carekit.data.hot_pixel_images import without_hot_pixels
from carekit.predict.hot_pixels import HotPixelWarning
from tests.conftest import synthetic_pairs


def _with_hot_pixels(shape=(192, 192)):
    low = synthetic_pairs(1, shape=shape, seed=11)[0][0].astype(np.float32)
    rng = np.random.default_rng(12)
    mask = rng.random(low.shape) < 1e-3
    low[mask] += rng.uniform(300, 3000, int(mask.sum())).astype(np.float32)
    return low, mask


def _restored(model, image, hot_pixels):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = restore(model, image, progress=False, hot_pixels=hot_pixels)
    return result, [w for w in caught if issubclass(w.category, HotPixelWarning)]


def test_restore_warns_by_default_and_replaces_on_request(tiny_model):
    image, mask = _with_hot_pixels()
    kept, warned = _restored(tiny_model, image, "keep")
    assert len(warned) == 1 and f"have {mask.sum()} isolated hot" in str(warned[0].message)
    replaced, warned = _restored(tiny_model, image, "replace")
    assert warned == [] and replaced.hot_pixels_replaced == mask.sum() > 20
    by_hand = restore(tiny_model, without_hot_pixels(image, "YX")[0], progress=False)
    np.testing.assert_array_equal(replaced.image, by_hand.image)
    spots = np.abs(kept.image - replaced.image)[mask]
    assert np.median(spots) > 0.5 and np.abs(kept.image - replaced.image)[~mask].mean() < 0.1 * np.median(spots)


def test_predict_cli_warns_replaces_and_says_how_many(tiny_model, tmp_path, capsys):
    image, mask = _with_hot_pixels()
    write_image(tmp_path / "in" / "hot.tif", Image(image, "YX"))
    args = ["predict", "--model", str(tiny_model), str(tmp_path / "in" / "hot.tif"), "--quiet",
            "--no-classical-check"]
    assert main(args + ["--out", str(tmp_path / "kept")]) == 0
    err = capsys.readouterr().err
    assert f"hot.tif: the central 192x192 px of the middle plane have {mask.sum()} isolated hot (or dead) pixels" in err
    assert "--hot-pixels replace" in err
    assert main(args + ["--out", str(tmp_path / "replaced"), "--hot-pixels", "replace"]) == 0
    captured = capsys.readouterr()
    assert f"(replaced {mask.sum()} hot pixels by their neighbours' median)" in captured.out
    assert "hot" not in captured.err


def test_the_classical_check_sees_what_the_model_saw(tiny_model):
    from carekit.predict.classical_check import compare_with_classical

    image, _ = _with_hot_pixels((256, 256))
    cleaned = without_hot_pixels(image, "YX")[0]
    for rescale in (None, "search"):  # search chooses its factor on the image the model sees too
        replaced, on_cleaned, kept = (compare_with_classical(tiny_model, im, "YX", rescale=rescale, hot_pixels=mode)
                                      for im, mode in ((image, "replace"), (cleaned, "keep"), (image, "keep")))
        assert replaced.difference == pytest.approx(on_cleaned.difference, rel=1e-6)
        assert replaced.difference != pytest.approx(kept.difference, rel=0.01)


def test_carekit_compare_judges_the_image_the_models_will_see(tiny_model, prob_package, tmp_path, capsys):
    from carekit.cli.compare import model_names
    from carekit.predict.model_comparison import compare_models

    image, _ = _with_hot_pixels()
    replaced, on_cleaned = (compare_models(tiny_model, prob_package, im, "YX", rescale=(None, None), hot_pixels=mode)
                            for im, mode in ((image, "replace"), (without_hot_pixels(image, "YX")[0], "keep")))
    assert replaced.errors == pytest.approx(on_cleaned.errors, rel=1e-6)
    write_image(tmp_path / "hot.tif", Image(image, "YX"))
    assert main(["compare", "--model", str(tiny_model), str(prob_package), str(tmp_path / "hot.tif"),
                 "--hot-pixels", "replace"]) == 0
    names = model_names(str(tiny_model), str(prob_package))
    assert f"{tmp_path / 'hot.tif'}: {on_cleaned.summary(names)}" in capsys.readouterr().out
