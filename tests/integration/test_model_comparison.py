"""Choosing between two models without ground truth (predict.model_comparison, `carekit compare`), with the shipped
generalist (run with its own search) and the shipped HeLa model on held-out real images: the generalist restores
mahotas' large nuclei far better (+7.2 dB at 10 photons in benchmarks/results/model_comparison.md), the HeLa model its
own HeLa frames (+1.4 to +2.2 dB there)."""

import numpy as np
import pytest

from carekit.cli import main
from carekit.config import SynthConfig
from carekit.generalist import splits
from carekit.io import write_image
from carekit.models import load_model
from carekit.predict.model_comparison import compare_models
from carekit.synth.pairs import make_pairs
from tests.integration.test_generalist_package import PACKAGE

HELA = PACKAGE.with_name("care-hela-nuclei-denoising.zip")


def _held_out(dataset: str, photons: float) -> np.ndarray:
    test = splits([dataset])[dataset][1][0][:512, :512]  # the top-left crop (the benchmark: the central one)
    return make_pairs([test], SynthConfig(photons=[photons], seed=2026))[0][0]


@pytest.fixture(scope="module")
def generalist():
    return load_model(PACKAGE)


@pytest.fixture(scope="module")
def hela():
    return load_model(HELA)


def test_it_names_the_model_that_restores_each_image_better(generalist, hela):
    mahotas = _held_out("mahotas", 10.0)
    on_mahotas = compare_models(generalist, hela, mahotas)
    assert on_mahotas.better == 0 and on_mahotas.robust, on_mahotas
    assert on_mahotas.factors[0] > 1 and on_mahotas.factors[1] == 1  # each as it runs: the generalist searched
    swapped = compare_models(hela, generalist, mahotas)
    assert swapped.better == 1 and swapped.difference == pytest.approx(-on_mahotas.difference)
    assert compare_models(hela, generalist, _held_out("hela", 10.0)).better == 0  # on its own data, the specialist


def test_a_model_against_itself_is_level(hela):
    same = compare_models(hela, hela, _held_out("mahotas", 10.0))
    assert same.difference == 0 and same.better is None and same.summary(("a", "b")).startswith("level")


@pytest.mark.slow  # two searches more: ~20 s here
def test_a_rescale_mode_can_be_compared(generalist):
    searched = compare_models(generalist, generalist, _held_out("mahotas", 10.0), rescale=("model", 1))
    assert searched.better == 0 and searched.factors[1] == 1
    assert "a restores better" in searched.summary(("a", "b")) and "b at full size" in searched.summary(("a", "b"))


def test_compare_cli_reports_each_image_and_which_model_to_use(tmp_path, capsys):
    write_image(tmp_path / "mahotas.tif", _held_out("mahotas", 10.0), "YX")
    assert main(["compare", "--model", str(PACKAGE), str(HELA), str(tmp_path / "mahotas.tif")]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("differences in % of each image's noise variance")
    assert lines[1].startswith(f"{tmp_path / 'mahotas.tif'}: care-generalist-nuclei-denoising.zip restores better")
    assert lines[-1] == ("care-generalist-nuclei-denoising.zip better on 1, care-hela-nuclei-denoising.zip on 0, "
                         "level on 0: use care-generalist-nuclei-denoising.zip")


def test_compare_refuses_models_it_cannot_judge_and_skips_images_it_cannot(tmp_path, tiny_model_3d, capsys):
    write_image(tmp_path / "image.tif", _held_out("hela", 3.0), "YX")
    assert main(["compare", "--model", str(HELA), str(tiny_model_3d), str(tmp_path / "image.tif")]) == 2
    assert ("comparing models on noisy images is for carekit's 2D denoising models (kind care, axes YX); the second "
            "model is care with axes ZYX") in capsys.readouterr().err
    write_image(tmp_path / "flat.tif", np.full((64, 64), 100.0, np.float32), "YX")
    assert main(["compare", "--model", str(HELA), str(HELA), str(tmp_path / "flat.tif")]) == 2  # nothing compared
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith(f"{tmp_path / 'flat.tif'}: not compared: the image is too flat to estimate its noise")
    assert lines[-1].endswith("level on 0, not compared 1: no image could be compared")
