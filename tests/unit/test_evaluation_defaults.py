"""Honest evaluation defaults (issue #16 part 4): the GAT camera is estimated from the data when not given,
contradicting values are warned about, the report names the parameters and every image gets a figure."""

import pytest

from carekit.cli import main
from carekit.data.noise_model import camera_contradiction, estimate_camera
from carekit.evaluate.baselines import gat_nlm
from carekit.evaluate.metrics import score
from carekit.io import Image, read_image, write_image
from carekit.synth import structures
from carekit.synth.noise import poisson_gaussian

TRUE = {"gain": 1.0, "read_noise": 1.0, "offset": 0.0}
OLD_DEFAULT = {"gain": 1.0, "read_noise": 2.0, "offset": 100.0}


def _offset_free(n=2, photons=10.0):
    clean = structures.synthetic_ground_truth("mixed", (128, 128), n, seed=3)
    return clean, [poisson_gaussian(gt * photons, 1.0, 1.0, offset=0.0, rng=i) for i, gt in enumerate(clean)]


def test_estimated_camera_recovers_gat_nlm_where_the_old_default_collapsed():
    clean, raws = _offset_free()
    for gt, raw in zip(clean, raws):
        estimated = estimate_camera(raw)
        assert estimated["gain"] == pytest.approx(1.0, rel=0.3)
        true, old = (score(gt, gat_nlm(raw, gt, **camera)).psnr for camera in (TRUE, OLD_DEFAULT))
        assert score(gt, gat_nlm(raw, gt, **estimated)).psnr == pytest.approx(true, abs=0.6)
        assert old < true - 5  # measured 16.0 / 14.0 dB vs 24.5 / 22.9 dB
        assert camera_contradiction(raw, OLD_DEFAULT, estimated) is not None
        assert camera_contradiction(raw, TRUE, estimated) is None


def test_estimate_on_a_camera_with_offset_and_gain():
    clean, _ = _offset_free(1, photons=20.0)
    raw = poisson_gaussian(clean[0] * 20.0, 3.0, 2.0, offset=100.0, rng=7)
    camera = estimate_camera(raw)
    assert camera["gain"] == pytest.approx(2.0, rel=0.2)
    # the GAT depends on read noise^2 - gain * offset only: that is what must match
    assert camera["read_noise"]**2 - camera["gain"] * camera["offset"] == pytest.approx(9.0 - 200.0, abs=25)


def test_evaluate_cli_estimates_reports_and_warns(tmp_path, capsys):
    clean, raws = _offset_free()
    for i, (gt, raw) in enumerate(zip(clean, raws)):
        write_image(tmp_path / "gt" / f"{i}.tif", Image(gt, "YX"))
        write_image(tmp_path / "raw" / f"{i}.tif", Image(raw, "YX"))
    args = ["evaluate", "--gt", str(tmp_path / "gt"), "--method", f"Raw={tmp_path / 'raw'}", "--baselines"]
    assert main([*args, "--out", str(tmp_path / "est")]) == 0
    assert "warning" not in capsys.readouterr().err
    text = (tmp_path / "est" / "results.md").read_text()
    assert "- 0.tif: gain " in text and "(estimated from the input: gain, read_noise, offset)" in text
    for i, (gt, raw) in enumerate(zip(clean, raws)):
        gat = read_image(tmp_path / "est" / "baselines" / "GAT+NLM" / f"{i}.tif").data
        assert score(gt, gat).psnr == pytest.approx(score(gt, gat_nlm(raw, gt, **TRUE)).psnr, abs=0.6)
    assert (tmp_path / "est" / "comparison.png").stat().st_size > 10_000
    assert (tmp_path / "est" / "comparison_1.png").stat().st_size > 10_000  # every image has its figure

    assert main([*args, "--offset", "100", "--read-noise", "2", "--gain", "1", "--out", str(tmp_path / "old")]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("warning: ") and "the data show" in line
                                 for line in err), err
    assert "(all given)" in (tmp_path / "old" / "results.md").read_text()
