"""Bad inputs get one clear line and exit code 2, before any work starts: pipes and devices, images larger than
memory, tiny-plane floods, unknown or repeated axes, bad tile sizes, damaged model folders, non-finite pixels for
foreign packages (issue 14, items 7, 10 and 11)."""

import os
import shutil
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import tifffile
from ruyaml import YAML

from carekit.cli import main
from carekit.errors import InputError
from carekit.io import read_image, write_image

SHIPPED = Path(__file__).parents[2] / "model-zoo" / "care-hela-nuclei-denoising.zip"


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("CAREKIT_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def predict(capsys, inputs, *extra, model=SHIPPED, out) -> tuple[int, str]:
    rc = main(["predict", "--model", str(model), *map(str, inputs), "--out", str(out), "--quiet", *extra])
    return rc, capsys.readouterr().err


def one_clear_line(rc: int, err: str, *words: str) -> bool:
    lines = err.strip().splitlines()
    return rc == 2 and len(lines) == 1 and lines[0].startswith("error: ") and all(w in err for w in words)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_pipes_and_devices_are_refused_without_blocking(tmp_path, capsys, kind):
    path = tmp_path / "pipe.tif"
    if kind == "fifo":
        os.mkfifo(path)  # opening it for reading waits for a writer: forever
    else:
        path = Path("/dev/zero")
    rc, err = predict(capsys, [path], out=tmp_path / "out")
    assert one_clear_line(rc, err, "not a regular file"), err


def _declare_huge(path: Path, side: int) -> Path:
    """A small uint16 TIFF whose header claims side x side pixels."""
    tifffile.imwrite(path, np.zeros((64, 64), np.uint16))
    with tifffile.TiffFile(path, mode="r+b") as tif:
        for tag in ("ImageWidth", "ImageLength", "RowsPerStrip"):
            tif.pages[0].tags[tag].overwrite(side)
    return path


def test_image_larger_than_memory_is_refused_before_allocating(tmp_path, capsys):
    path = _declare_huge(tmp_path / "huge.tif", 1_000_000)
    assert path.stat().st_size < 100_000
    rc, err = predict(capsys, [path], out=tmp_path / "out")
    assert one_clear_line(rc, err, "1862.6 GiB", "crop it"), err


def test_flood_of_tiny_pages_is_refused_quickly(tmp_path, capsys):
    path = tmp_path / "pages.tif"
    tifffile.imwrite(path, np.zeros((20000, 4, 4), np.uint8), imagej=True, metadata={"axes": "TYX"})
    assert path.stat().st_size < 4 << 20
    start = time.perf_counter()
    rc, err = predict(capsys, [path], out=tmp_path / "out")
    assert one_clear_line(rc, err, "20000 planes", "halo"), err
    assert time.perf_counter() - start < 60
    # many small but sensible planes still run
    small = write_image(tmp_path / "small.tif", np.zeros((3, 32, 32), np.uint16), "TYX")
    assert predict(capsys, [small], out=tmp_path / "out")[0] == 0


def test_5d_tiff_without_axes_asks_for_them(tmp_path, capsys):
    path = tmp_path / "five.tif"
    tifffile.imwrite(path, np.random.default_rng(0).integers(0, 500, (2, 2, 2, 48, 48), dtype=np.uint16))
    rc, err = predict(capsys, [path], out=tmp_path / "out")
    assert one_clear_line(rc, err, "cannot tell", "--axes"), err
    rc, err = predict(capsys, [path], "--axes", "TZCYX", out=tmp_path / "out")
    assert rc == 0, err
    assert read_image(tmp_path / "out" / "five.tif").data.shape == (2, 2, 2, 48, 48)


@pytest.mark.parametrize("axes, word", [("TTTYX", "repeated"), ("KQZYX", "unknown"), ("TYX", "one letter")])
def test_bad_axes_are_refused_before_work(tmp_path, capsys, axes, word):
    path = write_image(tmp_path / "t.tif", np.zeros((2, 2, 2, 32, 32), np.uint16), "TZCYX")
    rc, err = predict(capsys, [path], "--axes", axes, out=tmp_path / "out")
    assert one_clear_line(rc, err, word), err
    assert not (tmp_path / "out").exists()


def test_bad_axes_in_the_python_api():
    from carekit.models import load_model
    from carekit.predict import restore

    model = load_model(SHIPPED)
    with pytest.raises(InputError, match="repeated"):
        restore(model, np.zeros((2, 2, 32, 32), np.float32), axes="TTYX", progress=False)


@pytest.mark.parametrize("tile", [["0", "0"], ["-5", "-5"], ["x", "8"]])
def test_bad_tile_sizes_are_refused(tmp_path, capsys, tile):
    path = write_image(tmp_path / "t.tif", np.zeros((32, 32), np.uint16))
    with pytest.raises(SystemExit) as exit_info:
        main(["predict", "--model", str(SHIPPED), str(path), "--out", str(tmp_path / "out"), "--tile", *tile])
    assert exit_info.value.code == 2
    assert "positive whole number" in capsys.readouterr().err


@pytest.mark.parametrize("tile", [(0, 0), (-5, -5), (8.5, 8)])
def test_bad_tile_sizes_in_the_python_api(tile):
    from carekit.models import load_model
    from carekit.predict import restore

    with pytest.raises(InputError, match="positive whole size"):
        restore(load_model(SHIPPED), np.zeros((32, 32), np.float32), tile=tile, progress=False)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    """A carekit model folder (untrained weights are enough to load it)."""
    from csbdeep.models import CARE

    from carekit import __version__
    from carekit.config import ModelRecord, TrainConfig
    from carekit.train.care import csbdeep_config

    config = TrainConfig(patch_size=(32, 32), unet_first=8)
    folder = tmp_path_factory.mktemp("models") / "model"
    care = CARE(csbdeep_config(config), folder.name, str(folder.parent))
    care.keras_model.save_weights(str(folder / "weights_best.h5"))
    ModelRecord(carekit_version=__version__, name="model", train=config).save(folder)
    return folder


@pytest.mark.parametrize("damage, word", [
    (lambda m: (m / "config.json").write_text("{not json"), "config.json or weights"),
    (lambda m: (m / "config.json").write_text('{"axes": "YX", "unet_kern_size": 5}'), "config.json or weights"),
    (lambda m: (m / "weights_best.h5").write_bytes((m / "weights_best.h5").read_bytes()[:3000]), "truncated"),
    (lambda m: (m / "carekit.json").write_bytes(b"\xff\xfe\x00garbage"), "not a valid carekit model config"),
    (lambda m: (m / "carekit.json").write_text('{"name": 3}'), "train: Field required"),
])
def test_damaged_model_folder_gives_one_clear_line(model_dir, tmp_path, capsys, damage, word):
    model = shutil.copytree(model_dir, tmp_path / "model")
    image = write_image(tmp_path / "t.tif", np.zeros((32, 32), np.uint16))
    assert predict(capsys, [image], model=model, out=tmp_path / "ok")[0] == 0
    damage(model)
    rc, err = predict(capsys, [image], model=model, out=tmp_path / "out")
    assert one_clear_line(rc, err, word), err


@pytest.fixture
def foreign(tmp_path) -> Path:
    """The shipped package without its carekit block: run like any bioimage.io model, through bioimageio.core."""
    folder = tmp_path / "foreign"
    with zipfile.ZipFile(SHIPPED) as zf:
        zf.extractall(folder)
    yaml = YAML(typ="safe")
    rdf = yaml.load((folder / "rdf.yaml").read_text())
    del rdf["config"]["carekit"]
    with (folder / "rdf.yaml").open("w") as fh:
        yaml.dump(rdf, fh)
    return folder


def test_foreign_package_refuses_non_finite_input(foreign, tmp_path, capsys):
    rng = np.random.default_rng(0)
    data = rng.normal(100, 10, (64, 64)).astype(np.float32)
    data[rng.random(data.shape) < 0.05] = np.nan
    nan_input = write_image(tmp_path / "nan.tif", data)
    rc, err = predict(capsys, [nan_input], model=foreign, out=tmp_path / "out")
    assert one_clear_line(rc, err, "NaN/Inf pixels"), err
    assert not (tmp_path / "out").exists()
    good = write_image(tmp_path / "good.tif", rng.poisson(20, (64, 64)).astype(np.uint16))
    rc, err = predict(capsys, [good], model=foreign, out=tmp_path / "out")
    assert rc == 0 and np.isfinite(read_image(tmp_path / "out" / "good.tif").data).all()


def test_foreign_package_refuses_non_finite_output(foreign, tmp_path, capsys):
    """Weights holding a NaN (with a matching sha256) make every output NaN: refused, nothing written."""
    import hashlib

    import onnx
    from onnx import numpy_helper

    net = onnx.load(foreign / "care.onnx")
    weights = next(w for w in net.graph.initializer if numpy_helper.to_array(w).size > 100)
    array = numpy_helper.to_array(weights).copy()
    array.flat[0] = np.nan
    weights.CopyFrom(numpy_helper.from_array(array, weights.name))
    onnx.save(net, foreign / "care.onnx")
    yaml = YAML(typ="safe")
    rdf = yaml.load((foreign / "rdf.yaml").read_text())
    rdf["weights"]["onnx"]["sha256"] = hashlib.sha256((foreign / "care.onnx").read_bytes()).hexdigest()
    with (foreign / "rdf.yaml").open("w") as fh:
        yaml.dump(rdf, fh)
    image = write_image(tmp_path / "good.tif", np.random.default_rng(0).poisson(20, (64, 64)).astype(np.uint16))
    rc, err = predict(capsys, [image], model=foreign, out=tmp_path / "out")
    assert one_clear_line(rc, err, "NaN/Inf values", "output"), err
    assert not (tmp_path / "out").exists()
