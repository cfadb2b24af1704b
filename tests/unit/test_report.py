import numpy as np
import pytest

from carekit.cli import main
from carekit.errors import InputError
from carekit.classical import anscombe, inverse_anscombe
from carekit.evaluate.baselines import run_baselines
from carekit.evaluate.metrics import score
from carekit.evaluate.report import evaluate_folders, evaluate_images, markdown_table, summary
from carekit.io import Image, write_image
from tests.conftest import png_panels, synthetic_pairs


def test_anscombe_stabilizes_poisson_gaussian_variance(rng):
    for photons in (5.0, 50.0):
        counts = 2.0 * rng.poisson(photons, 200_000) + rng.normal(0, 3.0, 200_000) + 100
        assert anscombe(counts, 2.0, 3.0, 100).var() == pytest.approx(1.0, abs=0.08)
    d = anscombe(np.array([2.0 * 20 + 100]), 2.0, 3.0, 100)
    assert inverse_anscombe(d, 2.0, 3.0, 100)[0] == pytest.approx(2.0 * 20 + 100, rel=0.05)


def test_baselines_beat_the_raw_noisy_image():
    lows, highs = synthetic_pairs(1, shape=(96, 96), photons=10)
    results = run_baselines(lows[0], highs[0], camera={"gain": 1.0, "read_noise": 2.0, "offset": 100.0})
    assert {"Gaussian", "NLM", "TV", "GAT+NLM"} <= set(results)
    raw = score(highs[0], lows[0]).psnr
    for name, image in results.items():
        assert image.shape == lows[0].shape
        assert score(highs[0], image).psnr > raw + 1, name
    with pytest.raises(InputError, match="unknown baselines"):
        run_baselines(lows[0], names=("Wiener",))


def test_table_layout_mean_std_and_best_in_bold():
    gts = [np.random.default_rng(i).random((32, 32)) for i in range(3)]
    noisy = [g + np.random.default_rng(9).normal(0, 0.2, g.shape) for g in gts]
    less = [g + np.random.default_rng(9).normal(0, 0.05, g.shape) for g in gts]
    rows = evaluate_images(gts, {"Raw": noisy, "CARE": less}, dataset="toy")
    stats = summary(rows)
    assert stats[("toy", "CARE")]["psnr"][0] > stats[("toy", "Raw")]["psnr"][0]
    table = markdown_table(rows)
    assert table.splitlines()[0] == "| dataset | Raw PSNR | Raw SSIM | CARE PSNR | CARE SSIM |"
    assert f"**{stats[('toy', 'CARE')]['psnr'][0]:.2f} ± " in table


def test_evaluate_cli_with_baselines_writes_csv_table_and_figure(tmp_path, capsys):
    lows, highs = synthetic_pairs(2, shape=(64, 64), photons=10)
    for i, (low, high) in enumerate(zip(lows, highs)):
        write_image(tmp_path / "gt" / f"{i}.tif", high)
        write_image(tmp_path / "raw" / f"{i}.tif", low)
        scale = np.full(high.shape, 0.1, np.float32)
        write_image(tmp_path / "prob" / f"{i}.tif", Image(np.stack([high, scale]), "CYX"))
    code = main(["evaluate", "--gt", str(tmp_path / "gt"), "--method", f"Raw={tmp_path / 'raw'}",
                 "--method", f"Prob={tmp_path / 'prob'}", "--baselines", "--out", str(tmp_path / "report")])
    assert code == 0
    out = tmp_path / "report"
    assert (out / "results.csv").exists()
    # input | Prob | Gaussian | NLM | TV | GAT+NLM | ground truth over a line profile: 2.6 x 5.6 inches each, 100 dpi
    pixels, images = png_panels(out / "comparison.png", 7, top=0.1, bottom=0.6)
    assert pixels.shape[:2] == (560, 1820)
    assert all(ink > 0.3 and spread > 0.15 for ink, spread in images), images
    profile = pixels[int(0.7 * 560):int(0.95 * 560), :, :3]
    assert np.count_nonzero(np.ptp(profile, axis=-1) > 0.3) > 100  # coloured curves in the line profile
    text = (out / "results.md").read_text()
    assert "NLM PSNR" in text and "Calibration, gt, Prob" in text
    rows = evaluate_folders(tmp_path / "gt", {"Raw": tmp_path / "raw", "Prob": tmp_path / "prob"})
    assert all(r["coverage90"] == "" for r in rows if r["method"] == "Raw")
    assert all(0 <= r["coverage90"] <= 1 for r in rows if r["method"] == "Prob")
    with pytest.raises(InputError, match="no restored image"):
        evaluate_folders(tmp_path / "gt", {"Raw": tmp_path / "prob" / "missing"})
