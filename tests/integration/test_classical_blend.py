"""The classical blend with a real model: restore(..., classical_blend=True) mixes every plane as chosen on the middle
one, carekit predict --classical-blend says how (instead of the classical check), what it is not for is refused, and
the shipped generalist blends by default (large data: tests/distributed/test_classical_blend_large.py)."""

import warnings
from pathlib import Path

import numpy as np
import pytest

from carekit.cli import main
from carekit.config import SynthConfig
from carekit.errors import InputError
from carekit.evaluate.metrics import score
from carekit.generalist import splits
from carekit.io import Image, read_image, write_image
from carekit.models import load_model
from carekit.predict import restore
from carekit.predict.classical_blend import SHARES, blended, choose_blends
from carekit.predict.classical_check import WorseThanClassicalWarning
from carekit.synth.pairs import make_pairs
from tests.conftest import synthetic_pairs

GENERALIST = Path(__file__).resolve().parents[2] / "model-zoo" / "care-generalist-nuclei-denoising.zip"


def _noisy_stack(planes=3, shape=(128, 128)):
    return np.stack([low for low in synthetic_pairs(planes, shape=shape, seed=21)[0]]).astype(np.float32)


def test_restore_mixes_every_plane_as_chosen_on_the_middle_one(tiny_model):
    runner, stack = load_model(tiny_model), _noisy_stack()
    plain = restore(runner, stack, axes="TYX", progress=False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        mixed = restore(runner, stack, axes="TYX", progress=False, classical_blend=True)
    blends = mixed.classical_blend
    (blend,) = blends
    warned = [w for w in caught if issubclass(w.category, WorseThanClassicalWarning)]
    assert len(warned) == blend.model_is_behind  # the tiny model may well be worse than any classical denoiser
    assert plain.classical_blend is None and blend.unjudged is None and blend.share in SHARES
    assert blends == choose_blends(runner, stack, "TYX", plain.factor)
    np.testing.assert_array_equal(mixed.image, blended(plain.image, stack, "TYX", blends, runner.spec))
    if blend.share < 1.0:
        assert not np.array_equal(mixed.image, plain.image)
    assert mixed.scale is None or np.array_equal(mixed.scale, plain.scale)  # the model's own uncertainty


def test_predict_cli_says_how_it_blended_instead_of_checking(tiny_model, tmp_path, capsys):
    write_image(tmp_path / "in" / "a.tif", Image(_noisy_stack(1)[0], "YX"))
    args = ["predict", "--model", str(tiny_model), str(tmp_path / "in" / "a.tif")]  # not quiet: the check would say
    assert main(args + ["--out", str(tmp_path / "blended"), "--classical-blend"]) == 0
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if line.startswith("restored "))
    assert any(words in line for words in ("(blended 0.", "(replaced by ", "(not blended: "))
    assert "the model is" not in out  # the classical check's line: the blend's estimate replaces it
    written = read_image(tmp_path / "blended" / "a.tif").data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WorseThanClassicalWarning)  # said on stderr by the command above
        expected = restore(tiny_model, _noisy_stack(1)[0], progress=False, classical_blend=True).image
    np.testing.assert_allclose(written, expected, rtol=1e-6, atol=1e-6)


def test_other_kinds_of_model_are_refused(tiny_model_3d, tmp_path, capsys):
    with pytest.raises(InputError, match="the classical blend is for carekit's 2D denoising models"):
        restore(tiny_model_3d, np.zeros((16, 64, 64), np.float32), progress=False, classical_blend=True)
    write_image(tmp_path / "stack.tif", Image(np.zeros((16, 64, 64), np.float32), "ZYX"))
    assert main(["predict", "--model", str(tiny_model_3d), str(tmp_path / "stack.tif"), "--out", str(tmp_path / "o"),
                 "--classical-blend"]) == 2
    assert "--classical-blend is for carekit's 2D denoising models" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # refused before any file


def test_the_generalist_blends_by_default_and_says_so(tmp_path, capsys):
    # benchmarks/results/light_range.md: BBBC007 at 100 photons, far more light than the generalist was trained at:
    # the model alone 3.25 dB behind the best baseline, with the blend it takes by default 0.11 (share 0.1)
    held_out = splits(["bbbc007"])["bbbc007"][1][0][:256, :256].astype(np.float32)
    lows, highs = make_pairs([held_out], SynthConfig(photons=[100.0], seed=2026))
    runner = load_model(GENERALIST)
    assert runner.spec.classical_blend and runner.spec.rescale == "search"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", WorseThanClassicalWarning)
        by_default = restore(runner, lows[0], progress=False, check_domain=False)
        alone = restore(runner, lows[0], progress=False, check_domain=False, classical_blend=False)
    (blend,) = by_default.classical_blend
    assert alone.classical_blend is None and blend.share < 1.0 and blend.model_is_behind
    assert score(highs[0], by_default.image).psnr > score(highs[0], alone.image).psnr + 1.0

    write_image(tmp_path / "in" / "bright.tif", Image(lows[0], "YX"))
    args = ["predict", "--model", str(GENERALIST), str(tmp_path / "in" / "bright.tif")]
    assert main(args + ["--out", str(tmp_path / "default")]) == 0
    captured = capsys.readouterr()
    assert f"the model's default classical blend: blended {blend.share:g} model + " in captured.out
    assert "the model alone is estimated behind" in captured.err  # the blend's warning, not the check's
    assert "the model is behind" not in captured.err  # the classical check did not run: the blend judged
    assert "more light than in training" in captured.err and "on for this run" in captured.err
    assert main(args + ["--out", str(tmp_path / "asked"), "--classical-blend", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert f"blended {blend.share:g} model + " in out and "the model's default classical blend" not in out
    assert main(args + ["--out", str(tmp_path / "off"), "--no-classical-blend"]) == 0
    captured = capsys.readouterr()
    assert "classical blend" not in captured.out and "the model is behind" in captured.err  # the check ran instead
    assert "--classical-blend" in captured.err  # and the out-of-range warning points to the blend
    np.testing.assert_allclose(read_image(tmp_path / "off" / "bright.tif").data, alone.image, rtol=1e-6, atol=1e-6)


def test_a_models_own_blend_never_costs_the_restoration(tiny_model, tmp_path, monkeypatch):
    """A model's own blend (not asked for) is left out on planes too large to blend whole, with a warning, and a
    failure inside it leaves the restoration as the model made it, with the failure as its note; asked for, the
    failure is raised."""
    import importlib
    import shutil

    import carekit.predict.classical_blend as classical_blend_module
    from carekit.config import ModelRecord
    from carekit.predict.domain_check import PredictionWarning

    own = shutil.copytree(tiny_model, tmp_path / "own")
    record = ModelRecord.load(own)
    record.classical_blend = True
    record.save(own)
    image = _noisy_stack(1)[0]
    alone = restore(tiny_model, image, progress=False, check_domain=False).image
    monkeypatch.setattr(classical_blend_module, "MAX_PLANE_PIXELS", 128 * 128 - 1)
    with pytest.warns(PredictionWarning, match="restored by the model alone: its default classical blend"):
        skipped = restore(own, image, progress=False, check_domain=False)
    assert skipped.classical_blend is None and np.array_equal(skipped.image, alone)
    monkeypatch.undo()

    def broken(*args, **kwargs):
        raise RuntimeError("injected")

    monkeypatch.setattr(importlib.import_module("carekit.predict.restore"), "choose_blends", broken)
    failed = restore(own, image, progress=False, check_domain=False)
    assert np.array_equal(failed.image, alone)
    assert failed.classical_blend[0].summary() == ("not blended with classical denoising: the blend failed: "
                                                   "RuntimeError: injected")
    with pytest.raises(RuntimeError, match="injected"):
        restore(own, image, progress=False, check_domain=False, classical_blend=True)
