import subprocess
import sys

import numpy as np
import pytest

from carekit.cli import main
from carekit.io import read_image


def test_cli_imports_without_tensorflow():
    code = "import sys, carekit.cli, carekit.workflows, carekit.evaluate.metrics, carekit.synth.pairs; " \
           "sys.exit('tensorflow' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


def test_help_lists_commands(capsys):
    try:
        main(["--help"])
    except SystemExit as exit_:
        assert exit_.code == 0
    out = capsys.readouterr().out
    for command in ("synth", "train", "doctor", "demo", "predict"):
        assert command in out


def test_train_without_data_is_a_clear_error(capsys, tmp_path):
    assert main(["train", "--model", str(tmp_path / "m")]) == 2
    assert "give training data" in capsys.readouterr().err


def test_bad_config_values_are_reported(capsys, tmp_path):
    code = main(["train", "--model", str(tmp_path / "m"), "--synthetic", "tubules", "--patch-size", "30", "30"])
    assert code == 2
    assert "multiples of 2**unet_depth" in capsys.readouterr().err


def test_synth_writes_pairs_for_training(tmp_path, capsys):
    assert main(["synth", "--synthetic", "granules", "--n-images", "2", "--size", "48", "64",
                 "--photons", "5", "--psf", "widefield", "--out", str(tmp_path)]) == 0
    low = read_image(tmp_path / "low" / "000.tif")
    high = read_image(tmp_path / "high" / "000.tif")
    assert low.data.shape == high.data.shape == (48, 64)
    assert low.data.mean() > 90 and np.percentile(high.data, 99.9) == pytest.approx(1.0, abs=1e-3)


def test_missing_builtin_data_says_how_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CAREKIT_DATA", str(tmp_path / "empty"))
    assert main(["synth", "--builtin", "hela", "--out", str(tmp_path / "o")]) == 2
    assert "carekit data install" in capsys.readouterr().err


def test_train_options_build_the_config_given_on_the_command_line():
    from carekit.cli import build_parser
    from carekit.cli.train import _config

    args = build_parser().parse_args(["train", "--model", "m", "--synthetic", "mixed", "--probabilistic",
                                      "--unet-first", "8"])
    config = _config(args)
    assert config.probabilistic and config.unet_first == 8 and config.unet_depth == 2
    assert not _config(build_parser().parse_args(["train", "--model", "m", "--synthetic", "mixed"])).probabilistic


def test_warnings_before_an_error_are_reported_with_the_input_named(capsys):
    import warnings

    from carekit.cli.predict_checks import warnings_reported
    from carekit.errors import InputError
    from carekit.predict.domain_check import PredictionWarning

    with pytest.raises(InputError, match="later"):
        with warnings_reported("big.ome.zarr"):
            warnings.warn("no halo declared", PredictionWarning)
            raise InputError("later")
    assert capsys.readouterr().err == "warning: big.ome.zarr: no halo declared\n"
