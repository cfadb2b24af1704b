"""`carekit demo --task projection` end to end on small HeLa crops (short training)."""

import json

import pytest

from carekit.io import read_image


@pytest.mark.slow
def test_projection_demo_writes_the_package_projection_table_and_figures(tmp_path):
    from carekit.demo_projection import run_projection_demo

    summary = run_projection_demo(tmp_path, quick=True, progress=False, size=64)
    assert (tmp_path / "projection.zip").exists()
    assert read_image(tmp_path / "stack.tif").data.shape == (8, 64, 64)
    assert read_image(tmp_path / "projected.tif").data.shape == (64, 64)
    assert all(json.loads((tmp_path / "summary.json").read_text())["figures"])
    assert all((tmp_path / f"comparison_{p}photons.png").stat().st_size > 10_000 for p in (3, 10))
    rows = summary["rows"]
    assert {row["method"] for row in rows} == {"CARE", "MIP", "mean projection", "denoised MIP", "best-focus plane"}
    assert {row["dataset"] for row in rows} == {"3 photons", "10 photons"} and len(rows) == 2 * 2 * 5
    mip = {row["dataset"]: row["psnr"] for row in rows if row["method"] == "MIP"}
    care = [row for row in rows if row["method"] == "CARE"]
    assert all(row["psnr"] > mip[row["dataset"]] - 6 for row in care)  # a projection of the surface, not noise
    assert "| 3 photons |" in (tmp_path / "results.md").read_text()
