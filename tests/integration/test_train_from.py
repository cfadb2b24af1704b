"""`carekit train --from MODEL_OR_ZIP`: a new supervised model starts from another model's weights (a model folder
or a package zip), takes its network settings, and a mismatched network is refused in one line."""

import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from carekit.cli import main
from carekit.config import ModelRecord, TrainConfig
from carekit.errors import InputError
from carekit.train.care import check_same_network
from carekit.train.history import best_value

GENERALIST = Path(__file__).resolve().parents[2] / "model-zoo" / "care-generalist-nuclei-denoising.zip"

FROM_TRAIN = ["--synthetic", "mixed", "--n-images", "2", "--size", "64", "64", "--patch-size", "32", "32",
              "--patches-per-image", "8", "--epochs", "1", "--steps-per-epoch", "2", "--batch-size", "4",
              "--learning-rate", "1e-9", "--quiet"]


def _kernels(weights_file) -> list[np.ndarray]:
    """Every array of a Keras weights file in the network's layer order (layer names carry a counter that depends
    on how many models the process built before: their alphabetical order is not the network's)."""
    def names(attrs, key):
        return [n.decode() if isinstance(n, bytes) else n for n in attrs[key]]

    with h5py.File(weights_file, "r") as fh:
        root = fh["model_weights"] if "model_weights" in fh else fh
        return [root[layer][weight][()] for layer in names(root.attrs, "layer_names")
                for weight in names(root[layer].attrs, "weight_names")]


def _max_difference(a, b) -> float:
    first, second = _kernels(a), _kernels(b)
    assert len(first) == len(second) and first
    return max(float(np.abs(x - y).max()) for x, y in zip(first, second))


def test_train_from_a_model_folder_starts_from_its_weights(tmp_path, tiny_model):
    # at a learning rate of 1e-9 two steps leave the weights where they started: the source's, not new random ones
    started = tmp_path / "from"
    assert main(["train", "--model", str(started), "--from", str(tiny_model), *FROM_TRAIN]) == 0
    assert _max_difference(started / "weights_last.h5", tiny_model / "weights_best.h5") < 1e-5
    record = ModelRecord.load(started)
    assert record.train.unet_first == ModelRecord.load(tiny_model).train.unet_first == 16  # taken from the source
    assert record.data["initialized_from"] == str(tiny_model)
    scratch = tmp_path / "scratch"
    assert main(["train", "--model", str(scratch), "--unet-first", "16", *FROM_TRAIN]) == 0
    assert _max_difference(scratch / "weights_last.h5", tiny_model / "weights_best.h5") > 1e-2


def test_fine_tuning_that_never_beats_the_start_keeps_its_weights_and_says_so(tmp_path, tiny_model, capsys):
    # a learning rate of 1 throws the network off: no epoch reaches the start's validation loss
    started = tmp_path / "from"
    harsh = [*FROM_TRAIN[:FROM_TRAIN.index("--learning-rate")], "--learning-rate", "1.0", "--quiet"]
    assert main(["train", "--model", str(started), "--from", str(tiny_model), *harsh]) == 0
    out = capsys.readouterr().out
    start_loss = ModelRecord.load(started).start_validation_loss
    assert f"never beat the starting weights' validation loss {start_loss:.4f}" in out
    assert f"best validation loss {start_loss:.4f}" in out
    assert _max_difference(started / "weights_best.h5", tiny_model / "weights_best.h5") < 1e-6
    assert _max_difference(started / "weights_last.h5", tiny_model / "weights_best.h5") > 1e-2
    # resumed, the start is still the loss to beat: worse epochs do not replace its weights
    assert main(["train", "--model", str(started), "--resume", "--epochs", "1", "--quiet"]) == 0
    assert "never beat the starting weights" in capsys.readouterr().out
    assert _max_difference(started / "weights_best.h5", tiny_model / "weights_best.h5") < 1e-6


def test_the_recorded_start_stays_the_loss_to_beat_and_the_cli_says_whether_it_was(tmp_path):
    from carekit.cli.train_report import summary
    from carekit.train.callbacks import HISTORY_FILE, EpochRecorder
    from carekit.train.care import TrainResult

    (tmp_path / HISTORY_FILE).write_text("epoch,loss,val_loss\n1,0.6,0.5\n2,0.55,0.45\n")
    record = ModelRecord(carekit_version="test", name="m", train=TrainConfig())
    assert EpochRecorder(tmp_path, record, 2).best_val_loss == 0.45  # not fine-tuned: its history
    record.start_validation_loss = 0.1
    assert EpochRecorder(tmp_path, record, 2).best_val_loss == 0.1  # resumed: the start is still a candidate
    with pytest.raises(ValueError):
        ModelRecord(carekit_version="test", name="m", train=TrainConfig(), start_validation_loss=float("nan"))
    lines = {start: summary(TrainResult(tmp_path, tmp_path / HISTORY_FILE, tmp_path / "history.png", 2, best, start,
                                        kept_start=start == best))
             for start, best in ((None, 0.45), (0.1, 0.1), (0.5, 0.45))}
    assert "validation loss 0.4500\n  history" in lines[None]
    assert "best validation loss 0.1000\n  fine-tuning never beat the starting weights' validation loss 0.1000" \
        in lines[0.1]
    assert "best validation loss 0.4500\n  improved on the starting weights' validation loss 0.5000" in lines[0.5]
    assert "restores with rescale" not in lines[0.5]
    chosen = summary(TrainResult(tmp_path, tmp_path / HISTORY_FILE, tmp_path / "history.png", 2, 0.45, 0.5, True))
    assert "still the starting weights, chosen on your images (--compare-on) over the fine-tuned weights of " \
           "validation loss 0.4500" in chosen  # resumed after --compare-on returned to the start, and no epoch beat 0.45


def test_a_start_with_its_own_rescale_mode_passes_it_on_while_its_weights_are_best(tmp_path, tiny_model, capsys):
    from carekit.cli.train_from import own_modes, resolve

    assert own_modes(resolve(str(GENERALIST))[0]) == "rescale search and the classical blend"
    assert own_modes(tiny_model) == ""
    start = shutil.copytree(tiny_model, tmp_path / "start")
    record = ModelRecord.load(start)
    record.rescale = "search"  # as the generalist's
    record.save(start)
    harsh = [*FROM_TRAIN[:FROM_TRAIN.index("--learning-rate")], "--learning-rate", "1.0", "--quiet"]
    assert main(["train", "--model", str(tmp_path / "kept"), "--from", str(start), *harsh]) == 0
    kept = ModelRecord.load(tmp_path / "kept")
    assert kept.rescale == "search"  # still the start's weights: its mode and training domain too
    assert kept.domain == record.domain
    assert "weights_best.h5 are still theirs, and so is what it does by default (rescale search)" in \
        capsys.readouterr().out


def test_fine_tuning_that_beats_its_start_is_described_by_the_users_data(tmp_path, tiny_model):
    from carekit.train.callbacks import save_weights
    from carekit.train.care import load_care

    start = shutil.copytree(tiny_model, tmp_path / "start")
    record = ModelRecord.load(start)
    record.rescale, record.pixel_size = "search", {"Y": 9.0, "X": 9.0}
    record.domain = {**record.domain, "noise": [9.0, 9.0, 9.0]}
    record.save(start)
    care = load_care(start)
    care.keras_model.set_weights([w * 5 for w in care.keras_model.get_weights()])  # thrown off: easy to beat
    save_weights(care.keras_model, start / "weights_best.h5")
    sane = [*FROM_TRAIN[:FROM_TRAIN.index("--learning-rate")], "--learning-rate", "1e-3", "--quiet"]
    assert main(["train", "--model", str(tmp_path / "tuned"), "--from", str(start), *sane]) == 0
    tuned = ModelRecord.load(tmp_path / "tuned")
    assert best_value(tmp_path / "tuned" / "history.csv", "val_loss") < tuned.start_validation_loss  # it beat it
    assert tuned.rescale is None and tuned.pixel_size == {} and tuned.domain["noise"] != [9.0, 9.0, 9.0]
    assert set(tuned.domain) >= {"noise", "scale_px", "foreground"}  # the fine-tuning images' own statistics


def test_a_kept_probabilistic_start_keeps_its_validation_uncertainty_level(tmp_path, prob_package):
    from carekit.cli.train_from import resolve

    start = ModelRecord.load(resolve(str(prob_package))[0])
    harsh = [*FROM_TRAIN[:FROM_TRAIN.index("--learning-rate")], "--learning-rate", "1.0", "--quiet"]
    assert main(["train", "--model", str(tmp_path / "kept"), "--from", str(prob_package), *harsh]) == 0
    kept = ModelRecord.load(tmp_path / "kept")
    assert best_value(tmp_path / "kept" / "history.csv", "val_loss") >= kept.start_validation_loss
    assert kept.domain["scale"] == start.domain["scale"] and kept.domain == start.domain


def test_the_own_modes_and_domain_follow_the_best_weights(tmp_path, tiny_model):
    from carekit.train.callbacks import EpochRecorder
    from carekit.train.care import load_care

    care = load_care(tiny_model)
    care.keras_model.compile(optimizer="adam", loss="mae")
    start = ModelRecord.load(tiny_model)
    start.rescale, start.classical_blend, start.domain = "search", True, {"noise": [0.1, 0.2, 0.3]}  # the generalist
    own = {"noise": [0.01, 0.02, 0.03]}  # the fine-tuning data's
    model_dir = tmp_path / "fine-tuned"
    model_dir.mkdir()
    record = ModelRecord(carekit_version="test", name="m", train=start.train, domain=own)
    recorder = EpochRecorder(model_dir, record, 0)
    recorder.set_model(care.keras_model)
    patches = np.zeros((2, 32, 32, 1), np.float32)
    start_loss = recorder.start_as_best(care.keras_model, (patches, patches), start)
    saved = ModelRecord.load(model_dir)
    assert (saved.rescale, saved.classical_blend, saved.domain) == ("search", True, start.domain)
    assert recorder.start_is_best
    recorder.on_epoch_end(0, {"loss": 1.0, "val_loss": start_loss + 1})  # worse: the start's weights stay best
    assert (ModelRecord.load(model_dir).rescale, ModelRecord.load(model_dir).classical_blend) == ("search", True)
    recorder.on_epoch_end(1, {"loss": 1.0, "val_loss": start_loss - 1})  # fine-tuned weights: the user's images
    saved = ModelRecord.load(model_dir)
    assert (saved.rescale, saved.classical_blend, saved.domain) == (None, False, own) and not recorder.start_is_best


def test_an_improving_epoch_keeps_the_mode_of_a_model_not_fine_tuned(tmp_path, tiny_model):
    from carekit.train.callbacks import EpochRecorder
    from carekit.train.care import load_care

    care = load_care(tiny_model)
    care.keras_model.compile(optimizer="adam", loss="mae")
    record = ModelRecord(carekit_version="test", name="m", train=ModelRecord.load(tiny_model).train, rescale="search")
    recorder = EpochRecorder(tmp_path, record, 0)  # as the generalist's own training (or its resume): no start
    recorder.set_model(care.keras_model)
    recorder.on_epoch_end(0, {"loss": 1.0, "val_loss": 0.5})
    assert ModelRecord.load(tmp_path).rescale == "search"


def test_fine_tuning_the_generalist_says_whether_it_keeps_its_default_rescale(tmp_path):
    from carekit.cli.train_report import summary
    from carekit.train.care import TrainResult

    mine = tmp_path / "my model"
    modes = "rescale search and the classical blend"
    improved = summary(TrainResult(mine, tmp_path / "h.csv", tmp_path / "h.png", 2, 0.45, 0.5),
                       start_modes=modes, start="generalist.zip").splitlines()[3]
    assert improved.startswith("  the starting model restores with rescale search and the classical blend by "
                               "default, this one without (carekit predict's --rescale and --classical-blend ask")
    assert f"carekit compare --model generalist.zip '{mine}' IMAGES" in improved
    compared = summary(TrainResult(mine, tmp_path / "h.csv", tmp_path / "h.png", 2, 0.45, 0.5),
                       start_modes=modes, start="generalist.zip", compared=True)
    assert "improved on" in compared and "carekit compare" not in compared  # --compare-on compares them next
    kept = summary(TrainResult(tmp_path, tmp_path / "h.csv", tmp_path / "h.png", 2, 0.5, 0.5, True),
                   start_modes=modes)
    assert f"still theirs, and so is what it does by default ({modes})" in kept and "restores with rescale" not in kept
    assert summary(TrainResult(tmp_path, tmp_path / "h.csv", tmp_path / "h.png", 2, 0.45), start_modes=modes
                   ).count("\n") == 2  # not fine-tuned: nothing to compare


def test_a_resumed_model_names_the_start_and_the_mode_it_held_before_resuming(tmp_path, tiny_model):
    from carekit.cli.train import resumed_start

    model = shutil.copytree(tiny_model, tmp_path / "mine")
    record = ModelRecord.load(model)
    record.rescale, record.data = "search", {**record.data, "initialized_from": "generalist.zip"}
    record.classical_blend = True
    record.save(model)
    assert resumed_start(str(model)) == ("rescale search and the classical blend", "generalist.zip", False)
    assert resumed_start(str(tmp_path / "missing")) == ("", None, False)  # resume() itself refuses it


def test_train_from_a_package_zip_takes_its_probabilistic_network(tmp_path, prob_package):
    started = tmp_path / "from-zip"
    assert main(["train", "--model", str(started), "--from", str(prob_package), *FROM_TRAIN]) == 0
    record = ModelRecord.load(started)
    assert record.train.probabilistic and record.train.unet_first == 16
    from carekit.models.package_files import open_package

    source_weights = open_package(prob_package).checked_weights("keras_hdf5")["keras_hdf5"]
    assert _max_difference(started / "weights_last.h5", source_weights) < 1e-5


def test_train_from_refuses_a_different_network_in_one_line(tmp_path, tiny_model, capsys):
    assert main(["train", "--model", str(tmp_path / "m"), "--from", str(tiny_model), "--unet-first", "8",
                 *FROM_TRAIN]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "cannot start from" in err and "unet_first 16 there, 8 here" in err
    assert not (tmp_path / "m").exists()
    assert main(["train", "--model", str(tiny_model), "--resume", "--from", str(tiny_model), "--quiet"]) == 2
    assert "--from starts a new CARE or projection model" in capsys.readouterr().err
    assert main(["train", "--model", str(tmp_path / "n"), "--from", str(tmp_path / "missing.zip"), *FROM_TRAIN]) == 2


def test_train_from_keeps_network_options_given_even_at_their_default(tmp_path, tiny_model, capsys):
    # 32 filters is TrainConfig's default; given explicitly it must not be replaced by the source's 16
    assert main(["train", "--model", str(tmp_path / "m"), "--from", str(tiny_model), "--unet-first", "32",
                 *FROM_TRAIN]) == 2
    assert "unet_first 16 there, 32 here" in capsys.readouterr().err


def test_train_from_refuses_models_of_another_kind_in_one_line(tmp_path, tiny_model, capsys):
    import json
    import shutil

    for kind, z_factor in (("projection", 1.0), ("isotropic", 4.0), ("care", 2.0)):
        source = tmp_path / f"{kind}-{z_factor:g}"
        shutil.copytree(tiny_model, source)
        record = json.loads((source / "carekit.json").read_text())
        (source / "carekit.json").write_text(json.dumps({**record, "kind": kind, "z_factor": z_factor}))
        assert main(["train", "--model", str(tmp_path / "m"), "--from", str(source), *FROM_TRAIN]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "--from starts a CARE denoising" in err
    assert not (tmp_path / "m").exists()


def test_check_same_network_names_every_difference():
    with pytest.raises(InputError, match="unet_depth 3 there, 2 here; probabilistic True there, False here"):
        check_same_network(TrainConfig(unet_depth=3, probabilistic=True), TrainConfig(), "generalist.zip")
    check_same_network(TrainConfig(patch_size=(32, 32), epochs=3), TrainConfig(), "same network")


def test_train_projection_from_a_probabilistic_package_starts_its_unet_there(tmp_path, prob_package):
    """`train --projection --from generalist.zip`: the projection network's 2D U-Net takes the package's network
    settings (not probabilistic: a projection model has one output) and starts from its mean branch."""
    from carekit.train.projection import load_projection_model
    from tests.conftest import synthetic_pairs

    model = tmp_path / "projection"
    from carekit.io import write_image

    for i, image in enumerate(synthetic_pairs(2, shape=(64, 64), seed=21)[1]):
        write_image(tmp_path / "clean" / f"{i}.tif", image)
    assert main(["train", "--projection", "--model", str(model), "--from", str(prob_package), "--clean",
                 str(tmp_path / "clean"), "--planes", "6", "--photons", "10", *FROM_TRAIN[7:]]) == 0
    record = ModelRecord.load(model)
    assert record.kind == "projection" and not record.train.probabilistic
    assert record.data["initialized_from"] == str(prob_package) and record.train.unet_first == 16
    from carekit.models.package_files import open_package

    source_weights = open_package(prob_package).checked_weights("keras_hdf5")["keras_hdf5"]
    unet_kernels = [w.numpy() for w in load_projection_model(model, "weights_last.h5").layers[-1].weights]
    package_kernels = _kernels(source_weights)
    first = unet_kernels[0]
    assert any(k.shape == first.shape and np.abs(k - first).max() < 1e-5 for k in package_kernels)
