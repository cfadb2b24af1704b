import json
import subprocess
import sys

from carekit.io import read_image


def test_quick_demo_end_to_end(tmp_path):
    """The README's main job in quick mode: train, package + validate, Python and ImageJ prediction, evaluation."""
    out = tmp_path / "demo"
    result = subprocess.run([sys.executable, "-m", "carekit.cli", "demo", "--quick", "--quiet", "--out", str(out)],
                            capture_output=True, text=True, timeout=1200)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert set(summary["bioimageio_test_model"].values()) == {"passed"}
    assert summary["imagej_vs_python_max_abs_diff"] <= 1e-4
    by_key = {(r["dataset"], r["method"]): r for r in summary["rows"]}
    datasets = {r["dataset"] for r in summary["rows"]}
    assert len(datasets) == 2
    for dataset in datasets:  # quick mode trains 500 steps: CARE beats raw, clearly so at 10 photons
        margin = 3 if "10 photons" in dataset else 0
        assert by_key[(dataset, "CARE")]["psnr"] > by_key[(dataset, "Raw")]["psnr"] + margin
        assert {"Gaussian", "NLM", "TV", "GAT+NLM"} <= {method for d, method in by_key if d == dataset}
    table = (out / "report" / "results.md").read_text()
    assert "CARE PSNR" in table and "CARE PSNR" in result.stdout
    assert all((out / "report" / f).exists() for f in ("results.csv", "HeLa_3_photons.png", "HeLa_10_photons.png"))
    assert read_image(out / "images" / "HeLa_10_photons_CARE.tif").data.shape == (384, 384)
