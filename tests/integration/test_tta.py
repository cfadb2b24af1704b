"""Test-time augmentation with real models: restore(..., tta=True) averages the model over its 8 turned and flipped
inputs (the shipped generalist: better than alone on held-out images it never saw), carekit predict --tta writes
that, and what cannot run it is refused in one line."""

import numpy as np
import pytest

from carekit.cli import main
from carekit.errors import InputError
from carekit.evaluate.metrics import score
from carekit.io import Image, read_image, write_image
from carekit.models import load_model
from carekit.models.augmentation import transforms_for
from carekit.predict import restore
from tests.conftest import synthetic_pairs


def test_restore_with_tta_is_the_model_averaged_over_its_transforms(tiny_model):
    runner = load_model(tiny_model)
    low = synthetic_pairs(1, shape=(96, 128), seed=5)[0][0].astype(np.float32)
    plain = restore(runner, low, progress=False, check_domain=False)
    augmented = restore(runner, low, progress=False, check_domain=False, tta=True)
    assert augmented.image.shape == plain.image.shape and 1e-3 < np.abs(augmented.image - plain.image).max()
    turned_back = []
    for turns, flip in transforms_for(runner.spec.kind):  # each transformed input restored alone, turned back
        seen = np.rot90(low, turns)
        out = restore(runner, np.flip(seen, 1) if flip else seen, progress=False, check_domain=False).image
        turned_back.append(np.rot90(np.flip(out, 1) if flip else out, -turns))
    inner = (slice(16, -16),) * 2  # away from the borders, where padding to the pooling grid differs per transform
    np.testing.assert_allclose(augmented.image[inner], np.mean(turned_back, axis=0)[inner], atol=1e-4)


def test_the_generalist_with_tta_beats_itself_alone_on_held_out_planes():
    from carekit.config import SynthConfig
    from carekit.generalist import splits
    from carekit.synth.pairs import make_pairs
    from tests.integration.test_generalist_package import PACKAGE

    for dataset in ("nuclei3d", "gowt1"):  # never seen by the generalist
        test = splits([dataset])[dataset][1][1][:256, :256]
        (noisy,), (truth,) = make_pairs([test], SynthConfig(photons=[10.0], seed=2026))
        alone = score(truth, restore(PACKAGE, noisy, progress=False, check_domain=False,
                                     classical_blend=False).image).psnr
        with_tta = score(truth, restore(PACKAGE, noisy, progress=False, check_domain=False, tta=True,
                                        classical_blend=False).image).psnr
        assert with_tta > alone + 0.05, (dataset, alone, with_tta)


def test_predict_tta_writes_the_averaged_restoration_and_says_so(tiny_model, tmp_path, capsys):
    low = synthetic_pairs(1, shape=(64, 64), seed=6)[0][0].astype(np.float32)
    write_image(tmp_path / "in.tif", Image(low, "YX"))
    assert main(["predict", "--model", str(tiny_model), str(tmp_path / "in.tif"), "--out", str(tmp_path / "out"),
                 "--tta", "--quiet", "--no-classical-check"]) == 0
    assert "(test-time augmented: averaged over 8 turns and flips)" in capsys.readouterr().out
    expected = restore(tiny_model, low, progress=False, tta=True).image
    np.testing.assert_allclose(read_image(tmp_path / "out" / "in.tif").data, expected, atol=1e-5)


def test_a_package_made_elsewhere_is_refused_before_any_file(foreign_package, tmp_path, capsys):
    write_image(tmp_path / "in.tif", Image(np.ones((64, 64), np.float32), "YX"))
    assert main(["predict", "--model", str(foreign_package), str(tmp_path / "in.tif"), "--out",
                 str(tmp_path / "out"), "--tta"]) == 2
    assert "test-time augmentation (tta) runs carekit's own models only" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
    with pytest.raises(InputError, match="carekit's own models only"):
        restore(foreign_package, np.ones((64, 64), np.float32), tta=True)
