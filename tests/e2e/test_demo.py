import json
import subprocess
import sys

from carekit.io import read_image


def test_quick_demo_end_to_end(tmp_path):
    """The README's main job in quick mode: trains on built-in data and beats the raw input."""
    out = tmp_path / "demo"
    result = subprocess.run([sys.executable, "-m", "carekit.cli", "demo", "--quick", "--out", str(out)],
                            capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text())
    assert len(summary["results"]) == 2
    best = max(summary["results"], key=lambda r: r["photons"])
    assert best["care"]["psnr"] > best["raw"]["psnr"] + 2
    assert read_image(out / "images" / "photons10_restored.tif").data.shape == (700, 1100)
    assert "CARE PSNR" in result.stdout
