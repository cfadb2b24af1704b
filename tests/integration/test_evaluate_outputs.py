"""predict -> evaluate: the scale that `carekit predict` writes next to each restoration gives the calibration
(coverage) column, as the C channel of Fiji outputs does."""

import csv

import numpy as np
import pytest

from carekit.cli import main
from carekit.errors import InputError
from carekit.evaluate.report import evaluate_folders
from carekit.io import write_image
from carekit.outputs import extra_path
from tests.conftest import synthetic_pairs


def _write_pairs(root, n=2):
    lows, highs = synthetic_pairs(n, shape=(96, 96), seed=5)
    for index, (low, high) in enumerate(zip(lows, highs)):
        write_image(root / "low" / f"{index}.tif", low)
        write_image(root / "gt" / f"{index}.tif", high)
    return lows, highs


def test_predict_then_evaluate_reports_coverage(prob_package, tmp_path, capsys):
    _write_pairs(tmp_path)
    inputs = [str(tmp_path / "low" / f"{i}.tif") for i in range(2)]
    assert main(["predict", "--model", str(prob_package), *inputs, "--out", str(tmp_path / "care"), "--quiet"]) == 0
    assert all(extra_path(tmp_path / "care" / f"{i}.tif", "scale").exists() for i in range(2))
    code = main(["evaluate", "--gt", str(tmp_path / "gt"), "--method", f"Raw={tmp_path / 'low'}",
                 "--method", f"CARE={tmp_path / 'care'}", "--out", str(tmp_path / "report")])
    assert code == 0
    with (tmp_path / "report" / "results.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["image"] for r in rows if r["method"] == "CARE"] == ["0.tif", "1.tif"]
    coverages = [float(r["coverage90"]) for r in rows if r["method"] == "CARE"]
    assert all(np.isfinite(c) and 0 < c <= 1 for c in coverages), coverages
    assert all(r["coverage90"] == "" for r in rows if r["method"] == "Raw")
    assert "Calibration, gt, CARE" in (tmp_path / "report" / "results.md").read_text()
    assert "Calibration, gt, CARE" in capsys.readouterr().out


def test_disagreement_is_no_scale_and_a_mismatched_scale_is_refused(tmp_path):
    _, highs = _write_pairs(tmp_path, n=1)
    restored = tmp_path / "ensemble" / "0.tif"
    write_image(restored, highs[0])
    write_image(extra_path(restored, "disagreement"), np.full(highs[0].shape, 0.2, np.float32))
    rows = evaluate_folders(tmp_path / "gt", {"Ensemble": tmp_path / "ensemble"})
    assert rows[0]["coverage90"] == ""
    write_image(extra_path(restored, "scale"), np.full((48, 48), 0.1, np.float32))
    with pytest.raises(InputError, match="0_scale.tif has shape"):
        evaluate_folders(tmp_path / "gt", {"Ensemble": tmp_path / "ensemble"})
    write_image(extra_path(restored, "scale"), np.full(highs[0].shape, 0.1, np.float32))
    coverage = evaluate_folders(tmp_path / "gt", {"Ensemble": tmp_path / "ensemble"})[0]["coverage90"]
    assert 0 < coverage <= 1
