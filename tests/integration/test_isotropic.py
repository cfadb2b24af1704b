"""Isotropic restoration and axial upsampling on tiny data: lateral degradation, training, tiled XZ/YZ prediction,
voxel sizes, packaging and the bad-input refusals."""

import numpy as np
import pytest

from carekit.config import ModelRecord, TrainConfig
from carekit.data import builtin
from carekit.errors import InputError
from carekit.io import Image, read_image
from carekit.models import load_model
from carekit.predict import restore
from carekit.synth import isotropic as iso
from carekit.synth.psf import blur, fwhm
from tests.conftest import TINY_TRAIN

FACTOR = 4.0
TINY_ISO = {**TINY_TRAIN, "unet_first": 8, "epochs": 3, "steps_per_epoch": 40, "patches_per_image": 24}


def _truth() -> np.ndarray:
    """A nearly isotropic real confocal crop (built-in nuclei3d: 0.29 um Z, 0.26 um XY)."""
    return builtin.load("nuclei3d").data[8:56, 64:160, 64:160]


def _anisotropic(truth: np.ndarray) -> Image:
    """Every 4th plane after axial blur: a stack with Z pixels 4x the lateral ones."""
    blurred = blur(np.moveaxis(truth, 0, 1), iso.axial_psf_gaussian(FACTOR / 2, 0.5))
    return Image(np.moveaxis(blurred, 0, 1)[::int(FACTOR)], "ZYX", {"Z": 0.26 * FACTOR, "Y": 0.26, "X": 0.26})


@pytest.fixture(scope="module")
def iso_model(tmp_path_factory):
    from carekit.train.isotropic import train_isotropic

    model_dir = tmp_path_factory.mktemp("iso") / "model"
    train_isotropic(_anisotropic(_truth()), model_dir, TrainConfig(**TINY_ISO), progress=False)
    return model_dir


def test_subsampling_keeps_the_rows_of_a_non_integer_factor():
    plane = np.random.default_rng(0).random((64, 40)).astype(np.float32)
    back = iso.subsample_and_back(plane, 10.2)
    assert back.shape == plane.shape
    for row in (0, 10, 20, 31, 41, 51):  # round(k * 10.2)
        np.testing.assert_allclose(back[row], plane[row], atol=1e-6)
    assert np.abs(back[5] - plane[5]).mean() > 0.1


def test_degradation_blurs_only_the_axis_that_plays_z():
    plane = np.zeros((64, 64), np.float32)
    plane[:, 31] = 1  # a line along axis 0: unchanged by blur/subsampling along axis 0
    plane[40, :] += 1  # a line across axis 0: spread out
    out = iso.degrade_plane(plane, 3.0, iso.axial_psf_gaussian(2.0, 0.3))
    assert fwhm(out[10]) < 1.5
    assert fwhm(out[:, 10]) > 4


def test_widefield_section_is_longer_along_z_and_measured_psf_is_normalised():
    section = iso.axial_psf_widefield(1.2, 520, 100)
    assert section.shape[0] > section.shape[1]
    assert fwhm(section[:, section.shape[1] // 2]) > 2 * fwhm(section[section.shape[0] // 2])
    measured = iso.measured_psf_section(np.ones((5, 7, 9)))
    assert measured.shape == (5, 9) and abs(measured.sum() - 1) < 1e-5
    with pytest.raises(InputError, match="measured PSF"):
        iso.measured_psf_section(-np.ones((3, 3)))


def test_z_factor_needs_pixel_sizes_or_an_explicit_value():
    assert iso.z_factor_from_pixel_size({"Z": 1.0, "X": 0.25}) == 4.0
    with pytest.raises(InputError, match="--z-factor"):
        iso.z_factor_from_pixel_size({"X": 0.25})


def test_training_restores_held_out_xz_planes_better_than_interpolation(iso_model):
    record = ModelRecord.load(iso_model)
    assert record.kind == "isotropic" and record.z_factor == FACTOR
    truth = builtin.load("nuclei3d").data[8:56, 160:256, 160:256]  # lateral region not used for training
    stack = _anisotropic(truth)
    result = restore(iso_model, stack, progress=False)
    assert result.image.shape == (len(stack.data) * 4, 96, 96) and result.axes == "ZYX"
    assert result.pixel_size["Z"] == pytest.approx(0.26)
    linear = iso.zoom_z(stack.data, FACTOR)
    from carekit.evaluate.metrics import score

    care_psnr, linear_psnr = score(truth[:-4], result.image[:-4]).psnr, score(truth[:-4], linear[:-4]).psnr
    # measured +0.25 to +0.36 dB over runs (TF's multithreaded CPU training is not bit-reproducible under load)
    assert care_psnr > linear_psnr + 0.15, (care_psnr, linear_psnr)


def test_slabs_and_tiles_do_not_change_the_result(iso_model, monkeypatch):
    from carekit.predict import isotropic as predict_iso

    stack = _anisotropic(_truth()[:, :24, :20]).data
    runner = load_model(iso_model)
    whole, _, _ = predict_iso.restore_isotropic(runner, stack, tile=(1024, 1024), progress=False)
    monkeypatch.setattr(predict_iso, "MAX_SLAB", 8)  # several slabs per pass
    out = np.lib.format.open_memmap(str(iso_model.parent / "out.npy"), "w+", np.float32, whole.shape)
    tiled, _, _ = predict_iso.restore_isotropic(runner, stack, tile=(32, 32), progress=False, out=out)
    assert tiled is out
    np.testing.assert_allclose(np.asarray(tiled), whole, atol=1e-4)


def test_bad_inputs_get_one_clear_line(iso_model):
    stack = _anisotropic(_truth())
    with pytest.raises(InputError, match=r"one \(Z, Y, X\) stack"):
        restore(iso_model, stack.data[0], progress=False)
    with pytest.raises(InputError, match="at least 2 Z planes"):
        restore(iso_model, stack.data[:1], progress=False)
    wrong = Image(stack.data, "ZYX", {"Z": 0.26 * 8, "Y": 0.26, "X": 0.26})
    with pytest.raises(InputError, match="trained for a Z/XY factor of 4"):
        restore(iso_model, wrong, progress=False)
    with pytest.raises(InputError, match="factor given is 10"):
        restore(iso_model, stack.data, progress=False, z_factor=10)


def test_cli_refuses_a_stack_without_pixel_sizes_and_writes_the_voxel_size(tmp_path, iso_model, capsys):
    from carekit.cli import main
    from carekit.io import write_image

    stack = _anisotropic(_truth()[:, :48, :48])
    write_image(tmp_path / "aniso.tif", stack)
    write_image(tmp_path / "nometa.tif", stack.data, "ZYX")
    assert main(["train", "--isotropic", "--stack", str(tmp_path / "nometa.tif"), "--model", str(tmp_path / "m")]) == 2
    assert "--z-factor" in capsys.readouterr().err
    assert main(["predict", "--model", str(iso_model), str(tmp_path / "aniso.tif"), "--out", str(tmp_path / "out"),
                 "--quiet"]) == 0
    restored = read_image(tmp_path / "out" / "aniso.tif")
    assert restored.data.shape == (len(stack.data) * 4, 48, 48)
    assert restored.pixel_size["Z"] == pytest.approx(0.26, rel=1e-4)


@pytest.mark.slow
def test_package_passes_and_runs_the_full_recipe(tmp_path, iso_model):
    from carekit.zoo.package import build_package

    result = build_package(iso_model, tmp_path / "iso.zip")
    assert set(result.test_results.values()) == {"passed"}
    stack = _anisotropic(_truth()[:, :40, :40])
    from_folder = restore(iso_model, stack, progress=False).image
    from_package = restore(tmp_path / "iso.zip", stack, progress=False).image
    np.testing.assert_allclose(from_package, from_folder, atol=1e-4)


def test_axial_upsampling_model_zooms_z_first(tmp_path):
    from carekit import workflows
    from carekit.config import SynthConfig

    data = workflows.data_from_structures("granules", (16, 32, 32), 2, SynthConfig(axial_subsample=2, photons=[20.0]))
    config = TrainConfig(axes="ZYX", patch_size=(8, 16, 16), patches_per_image=4, epochs=1, steps_per_epoch=2,
                         batch_size=2, unet_first=4, unet_depth=1)
    workflows.train(data, tmp_path / "up", config, progress=False)
    assert ModelRecord.load(tmp_path / "up").z_factor == 2
    raw = Image(np.random.default_rng(0).random((5, 24, 24)).astype(np.float32), "ZYX", {"Z": 1.0, "X": 0.5})
    result = restore(tmp_path / "up", raw, progress=False)
    assert result.image.shape == (10, 24, 24) and result.pixel_size["Z"] == 0.5
    with pytest.raises(InputError, match="at least 2 Z planes"):
        restore(tmp_path / "up", raw.data[:1], axes="ZYX", progress=False)
