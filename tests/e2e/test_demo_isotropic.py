"""`carekit demo --task isotropic` end to end on a lateral crop of the built-in stack (short training)."""

import json

import pytest

from carekit.io import read_image


@pytest.mark.slow
def test_isotropic_demo_restores_the_stack_to_full_z(tmp_path):
    from carekit.demo_isotropic import run_isotropic_demo

    summary = run_isotropic_demo(tmp_path, quick=True, progress=False, crop=64)
    restored = read_image(tmp_path / "restored.tif")
    assert restored.data.shape == (60, 64, 64) and restored.pixel_size["Z"] == pytest.approx(0.26, rel=1e-4)
    assert (tmp_path / "isotropic.zip").exists()
    assert json.loads((tmp_path / "summary.json").read_text())["scores"].keys() == {"linear", "care"}
    assert summary["scores"]["care"]["psnr"] > 0
