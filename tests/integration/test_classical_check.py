"""The comparison with classical denoising at prediction (predict.classical_check), with the shipped generalist on
held-out real images: it warns where the generalist loses to classical denoising (nuclei3d's confocal planes at 10
photons: -1.65 dB in benchmarks/results/generalist-100x40-f32.md) and stays quiet where it wins (BBBC007 at 3
photons: +2.5 dB), in Python and on the CLI; --no-classical-check skips it; other kinds of models are refused.
The generalist is run without rescaling here (rescale off, not its own mode, search): where it loses clearly."""

import warnings

import numpy as np
import pytest

from carekit.cli import main
from carekit.config import SynthConfig
from carekit.errors import InputError
from carekit.predict.classical_check import WorseThanClassicalWarning, compare_with_classical, warn_if_worse
from carekit.generalist import splits
from carekit.io import Image, write_image
from carekit.models import load_model
from carekit.synth.pairs import make_pairs
from tests.integration.test_generalist_package import PACKAGE


def _held_out(dataset: str, photons: float):
    test = splits([dataset])[dataset][1][1][:256, :256]
    return make_pairs([test], SynthConfig(photons=[photons], seed=2026))[0][0]


@pytest.fixture(scope="module")
def generalist():
    return load_model(PACKAGE)


def test_it_warns_where_classical_denoising_wins_and_not_where_the_model_does(generalist):
    behind = compare_with_classical(generalist, _held_out("nuclei3d", 10.0), "YX", rescale=None)
    ahead = compare_with_classical(generalist, _held_out("bbbc007", 3.0), "YX", rescale=None)
    assert behind.verdict == "behind" and behind.model_is_worse and behind.robust, behind
    assert ahead.difference < 0 and not ahead.model_is_worse, ahead  # ahead, or level on this small crop
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert warn_if_worse(ahead) is None
        message = warn_if_worse(behind)
    assert [w.category for w in caught] == [WorseThanClassicalWarning]
    assert "likely out of its depth" in message and behind.classical in message and "--rescale search" in message
    assert "--classical-blend" in message


def test_the_cli_reports_the_comparison_per_input_unless_told_not_to(tmp_path, capsys):
    inputs = tmp_path / "in"
    write_image(inputs / "confocal.tif", Image(_held_out("nuclei3d", 10.0), "YX"))
    write_image(inputs / "widefield.tif", Image(_held_out("bbbc007", 3.0), "YX"))
    files = [str(inputs / "confocal.tif"), str(inputs / "widefield.tif")]
    assert main(["predict", "--model", str(PACKAGE), *files, "--out", str(tmp_path / "out"), "--rescale", "1",
                 "--no-classical-blend"]) == 0  # blended (the generalist's default), the blend's estimate judges
    out, err = capsys.readouterr()
    warned = [line for line in err.splitlines() if "out of its depth" in line]
    assert len(warned) == 1 and warned[0].startswith(f"warning: {files[0]}: the model is behind")
    assert f"{files[1]}: the model is " in out and "widefield.tif" not in err
    assert main(["predict", "--model", str(PACKAGE), *files, "--out", str(tmp_path / "out2"), "--no-classical-check",
                 "--no-classical-blend"]) == 0
    out, err = capsys.readouterr()
    assert "classical" not in out + err and "ahead of" not in out
    assert (tmp_path / "out2" / "confocal.tif").exists()


def test_a_failing_comparison_leaves_the_restoration_written(tmp_path, capsys, monkeypatch):
    import carekit.predict.classical_check as check

    def broken(*args, **kwargs):
        raise RuntimeError("injected")

    monkeypatch.setattr(check, "compare_with_classical", broken)
    write_image(tmp_path / "in" / "a.tif", Image(_held_out("nuclei3d", 10.0), "YX"))
    write_image(tmp_path / "in" / "b.tif", Image(_held_out("bbbc007", 3.0), "YX"))
    inputs = [str(tmp_path / "in" / name) for name in ("a.tif", "b.tif")]
    assert main(["predict", "--model", str(PACKAGE), *inputs, "--out", str(tmp_path / "out"), "--quiet",
                 "--no-classical-blend"]) == 0
    err = capsys.readouterr().err
    assert err.count("the comparison failed: RuntimeError: injected") == 2
    assert (tmp_path / "out" / "a.tif").exists() and (tmp_path / "out" / "b.tif").exists()
    from carekit.fiji.worker import restore_array  # the same in ImageJ: the result comes back with a note

    messages = []
    restored, _, _ = restore_array(_held_out("nuclei3d", 10.0), "YX", str(PACKAGE), uncertainty=False,
                                   on_warning=messages.append, classical_blend=False)
    assert restored.shape == (256, 256) and messages == [
        "not compared with classical denoising, the comparison failed: RuntimeError: injected"]


def test_an_image_too_small_to_judge_is_said_to_be_unchecked(tmp_path, capsys):
    write_image(tmp_path / "small.tif", Image(_held_out("bbbc007", 3.0)[:48, :48], "YX"))
    assert main(["predict", "--model", str(PACKAGE), str(tmp_path / "small.tif"), "--out", str(tmp_path / "out"),
                 "--no-classical-blend"]) == 0
    assert "small.tif: not compared with classical denoising: need a 2D or 3D image of at least 64x64" in \
        capsys.readouterr().out
    assert (tmp_path / "out" / "small.tif").exists()


def test_the_fiji_worker_passes_the_warning_on_for_a_multichannel_image():
    from carekit.fiji.worker import restore_array

    channels = np.stack([_held_out("bbbc007", 3.0), _held_out("nuclei3d", 10.0), _held_out("bbbc007", 3.0)])
    messages = []
    restored, axes, _ = restore_array(channels, "CYX", str(PACKAGE), uncertainty=False, on_warning=messages.append,
                                      rescale=None, classical_blend=False)
    assert restored.shape == channels.shape and axes == "CYX"
    assert len(messages) == 1 and "the model is behind" in messages[0]  # the middle channel is the confocal plane
    messages.clear()
    restore_array(channels, "CYX", str(PACKAGE), uncertainty=False, on_warning=messages.append,
                  classical_check=False, classical_blend=False)
    assert messages == []


def test_other_kinds_of_models_are_refused(tiny_model_3d, rng):
    with pytest.raises(InputError, match="2D denoising models"):
        compare_with_classical(tiny_model_3d, rng.random((8, 64, 64)).astype("float32"), "ZYX")
